import type { PickedFile } from '../stores/upload-slice.ts';

/**
 * Turns a drop into files with the folder each came from. Folders are walked recursively through the
 * File System Entry API (webkitGetAsEntry), the only way a browser exposes a dropped folder's contents.
 * Entries must be taken synchronously during the drop event: the DataTransfer is emptied afterwards.
 */
export function entriesFromDrop(dt: DataTransfer): { entries: FileSystemEntry[]; loose: File[]; topLevel: File[] } {
  const entries: FileSystemEntry[] = [];
  const loose: File[] = [];
  // What was dropped itself, folders included: Electron can turn these into paths and let the main process walk them.
  const topLevel: File[] = [];
  for (const item of Array.from(dt.items ?? [])) {
    if (item.kind !== 'file') continue;
    const top = item.getAsFile();
    if (top) topLevel.push(top);
    const entry = typeof item.webkitGetAsEntry === 'function' ? item.webkitGetAsEntry() : null;
    if (entry) entries.push(entry);
    else {
      const f = item.getAsFile();
      if (f) loose.push(f);
    }
  }
  if (!entries.length && !loose.length) loose.push(...Array.from(dt.files ?? []));
  return { entries, loose, topLevel };
}

function fileOf(entry: FileSystemFileEntry): Promise<File> {
  return new Promise((resolve, reject) => entry.file(resolve, reject));
}

/** readEntries answers at most ~100 entries per call: call it until it returns none. */
async function readAll(dir: FileSystemDirectoryEntry): Promise<FileSystemEntry[]> {
  const reader = dir.createReader();
  const all: FileSystemEntry[] = [];
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (!batch.length) return all;
    all.push(...batch);
  }
}

export async function walkEntries(entries: readonly FileSystemEntry[], parent = ''): Promise<PickedFile[]> {
  const out: PickedFile[] = [];
  for (const entry of entries) {
    if (entry.isFile) {
      try {
        out.push({ file: await fileOf(entry as FileSystemFileEntry), relativeDir: parent });
      } catch {
        // Unreadable (permissions, vanished): the browser gives no file to flag; skip it.
      }
    } else if (entry.isDirectory) {
      const dir = parent ? `${parent}/${entry.name}` : entry.name;
      out.push(...(await walkEntries(await readAll(entry as FileSystemDirectoryEntry), dir)));
    }
  }
  return out;
}

/** Files from an <input type=file> (webkitdirectory gives each file's relative path). */
export function pickedFromInput(list: FileList | null): PickedFile[] {
  return Array.from(list ?? []).map((file) => {
    const rel = file.webkitRelativePath ?? '';
    const cut = rel.lastIndexOf('/');
    return { file, relativeDir: cut > 0 ? rel.slice(0, cut) : '' };
  });
}
