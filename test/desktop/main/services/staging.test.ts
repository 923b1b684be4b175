import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStaging } from '../../../../desktop/main/services/staging.ts';

/** Web staging: a dropped file is copied under the staging folder only, within the size cap, or not at all. */
describe('web staging', () => {
  let dir: string;
  const warnings: unknown[] = [];
  let staging: ReturnType<typeof createStaging>;
  const filesUnder = (d: string): string[] => fs.readdirSync(d, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-staging-'));
    staging = createStaging({ dir, maxInputBytes: () => 1000, log: { warn: (obj: unknown) => warnings.push(obj) } });
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('keeps a dropped folder structure inside the staging folder, never outside it', async () => {
    const { path: file } = await staging.stage({ name: '../clip: one?.mp4', relativeDir: '../../shows/./s1\\..\\ep', body: Readable.from([Buffer.from('abc')]), declaredSize: 3 });
    expect(path.relative(dir, file).split(path.sep).slice(1)).toEqual(['shows', 's1', 'ep', '__clip_ one_.mp4']);
    expect(fs.readFileSync(file, 'utf8')).toBe('abc');
  });

  it('refuses a declared size over the cap before writing, and a body that runs over it half-way, leaving no file', async () => {
    const before = filesUnder(dir);
    await expect(staging.stage({ name: 'big.mp4', relativeDir: '', body: Readable.from([]), declaredSize: 1001 })).rejects.toMatchObject({ code: 'INPUT_TOO_LARGE' });
    const body = Readable.from([Buffer.alloc(600), Buffer.alloc(600)]);
    await expect(staging.stage({ name: 'liar.mp4', relativeDir: '', body, declaredSize: null })).rejects.toMatchObject({ code: 'INPUT_TOO_LARGE', message: 'liar.mp4: over the 1000-byte limit' });
    expect(filesUnder(dir)).toEqual(before);
    await expect(staging.stage({ name: '  ', relativeDir: '', body: Readable.from([]), declaredSize: 0 })).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
  });

  it('sweeps drops older than a week and keeps the recent ones', async () => {
    const old = path.join(dir, 'old-drop');
    fs.mkdirSync(old);
    const weekAgo = new Date(Date.now() - 8 * 24 * 3600 * 1000);
    fs.utimesSync(old, weekAgo, weekAgo);
    const recent = fs.readdirSync(dir).filter((n) => n !== 'old-drop');
    await staging.sweep();
    expect(fs.readdirSync(dir).sort()).toEqual(recent.sort());
    expect(warnings).toEqual([]);
  });
});
