import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isAtomicTemp, sweepStaleFiles, writeFileAtomic, writeFileAtomicSync } from '../../../shared/node/atomic-file.ts';
import { saveConfig } from '../../../shared/node/config.ts';
import { createLocalQueue, STALE_TMP_MS } from '../../../shared/node/local-queue.ts';

const dirs: string[] = [];
function tmpDir(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'tiercast-atomic-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const age = (file: string, ms: number) => {
  const t = new Date(Date.now() - ms);
  utimesSync(file, t, t);
};

describe('writeFileAtomic', () => {
  it('replaces the file whole, with the given mode, and leaves no temporary behind', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'config.json');
    writeFileSync(file, 'old');
    await writeFileAtomic(file, 'new contents', { mode: 0o600 });
    writeFileAtomicSync(path.join(dir, 'state.json'), '{}');
    expect(readFileSync(file, 'utf8')).toBe('new contents');
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'state.json']);
    expect(statSync(path.join(dir, 'state.json')).isFile()).toBe(true);
  });

  it('a write that fails leaves the old file intact and no temporary', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'config.json');
    writeFileSync(file, 'old');
    // The temporary cannot even be created (its folder is missing): nothing of the old file may change.
    await expect(writeFileAtomic(path.join(dir, 'missing', 'config.json'), 'x')).rejects.toThrow();
    expect(readFileSync(file, 'utf8')).toBe('old');
    expect(readdirSync(dir)).toEqual(['config.json']);
  });
});

describe('crash leftovers are swept at start-up, live writers never', () => {
  it('saveConfig removes temporaries an earlier crashed save left, keeping a fresh one and the config', async () => {
    const home = tmpDir();
    writeFileSync(path.join(home, 'config.json'), '{}\n');
    const crashed = path.join(home, '.config.json.tc-tmp-4242-0a1b2c3d');
    const live = path.join(home, '.config.json.tc-tmp-4243-0a1b2c3e');
    writeFileSync(crashed, '{"half":');
    writeFileSync(live, '{"being":"written"}');
    age(crashed, 60 * 60 * 1000);
    expect(isAtomicTemp(path.basename(crashed))).toBe(true);
    await saveConfig(home, { queue: { kind: 'local' } });
    const names = readdirSync(home);
    expect(names).not.toContain(path.basename(crashed));
    expect(names).toContain(path.basename(live));
    expect(JSON.parse(readFileSync(path.join(home, 'config.json'), 'utf8'))).toMatchObject({ queue: { kind: 'local' } });
  });

  it('the local queue sweeps bodies a crashed sender left in tmp/ when it opens, not fresh ones', () => {
    const dir = tmpDir();
    createLocalQueue(dir);
    const crashed = path.join(dir, 'tmp', '1-0000000000001-aaaaaaaaaaaa.999');
    const live = path.join(dir, 'tmp', '1-0000000000002-bbbbbbbbbbbb.998');
    writeFileSync(crashed, 'half a bo');
    writeFileSync(live, 'being written');
    age(crashed, STALE_TMP_MS + 1000);
    createLocalQueue(dir);
    expect(readdirSync(path.join(dir, 'tmp'))).toEqual([path.basename(live)]);
  });

  it('sweepStaleFiles goes into sub-folders when asked and only takes matching, old entries', async () => {
    const dir = tmpDir();
    const sub = path.join(dir, 'a', 'b');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(sub, { recursive: true });
    const oldTemp = path.join(sub, '.x.json.tc-tmp-1-00000000');
    const keep = path.join(sub, 'x.json');
    writeFileSync(oldTemp, '');
    writeFileSync(keep, '');
    age(oldTemp, 10_000);
    age(keep, 10_000);
    expect(await sweepStaleFiles(dir, { match: isAtomicTemp, olderThanMs: 5_000, recursive: true })).toEqual([oldTemp]);
    expect(readdirSync(sub)).toEqual(['x.json']);
  });
});
