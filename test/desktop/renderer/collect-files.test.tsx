import { describe, expect, it } from 'vitest';
import { pickedFromInput, walkEntries } from '../../../desktop/renderer/src/features/upload/hooks/collect-files.ts';

/** Minimal File System Entry doubles: a directory reader that answers in batches of 2, like browsers cap it (~100). */
function file(name: string, fail = false): FileSystemEntry {
  return {
    name, isFile: true, isDirectory: false,
    file: (ok: (f: File) => void, err: (e: unknown) => void) => (fail ? err(new Error('gone')) : ok(new File(['x'], name))),
  } as unknown as FileSystemEntry;
}
function dir(name: string, children: FileSystemEntry[]): FileSystemEntry {
  return {
    name, isFile: false, isDirectory: true,
    createReader: () => {
      let at = 0;
      return { readEntries: (ok: (e: FileSystemEntry[]) => void) => { const batch = children.slice(at, at + 2); at += 2; ok(batch); } };
    },
  } as unknown as FileSystemEntry;
}

describe('collecting dropped folders', () => {
  it('walks folders recursively, reads every batch of a directory, keeps relative folders and skips unreadable files', async () => {
    const tree = [
      file('loose.mp4'),
      dir('shoot', [file('a.mp4'), file('b.mp4'), file('c.mp4'), dir('day1', [file('d.mp4'), file('gone.mp4', true)]), file('e.mp4')]),
    ];
    const got = (await walkEntries(tree)).map((p) => `${p.relativeDir}|${p.file.name}`);
    expect(got).toEqual(['|loose.mp4', 'shoot|a.mp4', 'shoot|b.mp4', 'shoot|c.mp4', 'shoot/day1|d.mp4', 'shoot|e.mp4']);
  });

  it('takes folders from webkitRelativePath of a folder picker', () => {
    const f = new File(['x'], 'take.mp4');
    Object.defineProperty(f, 'webkitRelativePath', { value: 'shoot/day1/take.mp4' });
    const g = new File(['x'], 'solo.mp4');
    const list = Object.assign([f, g], { item: (i: number) => [f, g][i] ?? null }) as unknown as FileList;
    expect(pickedFromInput(list).map((p) => p.relativeDir)).toEqual(['shoot/day1', '']);
  });
});
