import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LADDERS } from '../../../shared/common/ladders.ts';
import { contract } from '../../../shared/common/api-contract.ts';
import { listLadders, loadLadder, loadNamedLadder, MAX_LADDER_FILE_BYTES, saveLadder } from '../../../shared/node/ladder-files.ts';

const home = mkdtempSync(path.join(os.tmpdir(), 'tiercast-ladders-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

const mine = {
  name: 'mine',
  description: 'two rungs',
  rungs: [
    { name: 'hi', shortEdge: 720, videoBitrate: 2_000_000, maxrate: 2_200_000, bufsize: 3_000_000 },
    { name: 'lo', shortEdge: 360, videoBitrate: 600_000, maxrate: 660_000, bufsize: 900_000 },
  ],
};

describe('ladder files', () => {
  it('loads a built-in ladder by name', async () => {
    expect(await loadLadder('reference', { home })).toBe(LADDERS.reference);
  });

  it('saves, lists and loads a ladder from the data home, refusing overwrites and built-in names', async () => {
    const file = await saveLadder(mine, { home });
    expect(file).toBe(path.join(home, 'ladders', 'mine.json'));
    expect(readdirSync(path.join(home, 'ladders'))).toEqual(['mine.json']); // no temp file left behind
    const loaded = await loadLadder('mine', { home });
    expect(loaded.rungs.map((r) => r.name)).toEqual(['hi', 'lo']);
    expect(loaded.segmentSeconds).toBe(4);
    await expect(saveLadder(mine, { home })).rejects.toThrow(/exists already/);
    await expect(saveLadder({ ...mine, description: 'v2' }, { home, overwrite: true })).resolves.toBe(file);
    expect((await loadLadder('mine', { home })).description).toBe('v2');
    await expect(saveLadder({ ...mine, name: 'default' }, { home })).rejects.toThrow(/built-in/);
    const list = await listLadders({ home });
    expect(list.map((l) => `${l.origin}:${l.name}`)).toEqual(['builtin:default', 'builtin:reference', 'builtin:mobile', 'saved:mine']);
  });

  it('loads a JSON file by path and names the bad field of an invalid one', async () => {
    const dir = mkdtempSync(path.join(home, 'files-'));
    const good = path.join(dir, 'good ladder.json');
    writeFileSync(good, JSON.stringify(mine));
    expect((await loadLadder(good)).name).toBe('mine');
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ ...mine, rungs: [{ ...mine.rungs[0], shortEdge: 10 }] }));
    await expect(loadLadder(bad)).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(/^bad\.json is invalid: rungs\.0\.shortEdge/) });
    const broken = path.join(dir, 'broken.json');
    writeFileSync(broken, '{ nope');
    await expect(loadLadder(broken)).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(/broken\.json: not valid JSON/) });
    await expect(loadLadder(path.join(dir, 'missing.json'))).rejects.toThrow(/missing\.json: no such ladder file/);
  });

  it('fails on an unknown name listing built-in and saved ladders, and never reads outside the ladders folder', async () => {
    await expect(loadLadder('nope', { home })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringMatching(/unknown ladder "nope"; known ladders: default, reference, mobile, mine/),
    });
    await expect(loadLadder('..', { home })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });

  it('lists a saved ladder that no longer validates with its problem instead of failing the list', async () => {
    const other = mkdtempSync(path.join(os.tmpdir(), 'tiercast-ladders-bad-'));
    try {
      mkdirSync(path.join(other, 'ladders'));
      writeFileSync(path.join(other, 'ladders', 'old.json'), JSON.stringify({ name: 'old', rungs: [] }));
      const list = await listLadders({ home: other });
      expect(list.at(-1)).toMatchObject({ name: 'old', origin: 'saved', description: expect.stringMatching(/invalid: .*rungs/) });
      await expect(loadLadder('old', { home: other })).rejects.toThrow(/saved ladder old is invalid: rungs/);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});

describe('a ladder name is a name, not a path (issue 9)', () => {
  const secret = 'root:x:0:0:do-not-echo:/root:/bin/bash';

  it('a JSON file that is not JSON: the error never quotes its bytes', async () => {
    const dir = mkdtempSync(path.join(home, 'secret-'));
    const file = path.join(dir, 'passwd.json');
    writeFileSync(file, `${secret}\n`);
    const err = await loadLadder(file).catch((e: unknown) => e as Error);
    expect(err).toMatchObject({ code: 'CONFIG_INVALID', message: 'passwd.json: not valid JSON' });
    expect(JSON.stringify(err)).not.toContain('do-not-echo');
    expect(String((err as Error).cause ?? '')).not.toContain('do-not-echo');
  });

  it('/dev/zero, a folder and a FIFO are refused at once as not regular files; an oversized file by its size', async () => {
    const started = Date.now();
    await expect(loadLadder('/dev/zero')).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: 'zero: not a regular file, so not a ladder JSON file' });
    await expect(loadLadder(home + '/')).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(/not a regular file/) });
    const fifo = path.join(mkdtempSync(path.join(home, 'fifo-')), 'ladder.json');
    execFileSync('mkfifo', [fifo]);
    await expect(loadLadder(fifo)).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(/not a regular file/) });
    expect(Date.now() - started).toBeLessThan(5000);
    const big = path.join(mkdtempSync(path.join(home, 'big-')), 'big.json');
    writeFileSync(big, `{"name":"big","pad":"${'x'.repeat(MAX_LADDER_FILE_BYTES)}"}`);
    await expect(loadLadder(big)).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(/over the 262144 bytes/) });
  });

  it('the console resolves names only: a path is refused before any file is read, and its contract refuses it first', async () => {
    for (const bad of ['/etc/passwd', '/dev/zero', '../ladders/mine', 'mine.json', 'a/b']) {
      const err = await loadNamedLadder(bad, { home }).catch((e: unknown) => e as Error);
      expect(err, bad).toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(/^not a ladder name/) });
      if (!bad.includes('/')) continue;
      expect(contract['files.reroute'].request.safeParse({ ladder: bad }).success, bad).toBe(false);
      expect(contract['ladders.get'].request.safeParse({ name: bad }).success, bad).toBe(false);
      expect(contract['jobs.dispatch'].request.safeParse({ fileIds: ['f1'], tier: 'auto', ladder: bad }).success, bad).toBe(false);
    }
    expect((await loadNamedLadder('default', { home })).name).toBe('default');
    expect(contract['files.reroute'].request.safeParse({ ladder: 'my-ladder_2.v1' }).success).toBe(true);
  });
});
