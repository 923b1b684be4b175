import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TiercastError } from '../../../shared/common/errors.ts';
import { storeKeys as ledgerKeys, type OutputManifest } from '../../../shared/common/job.ts';
import { createJobOutputs, type JobOutputs } from '../../../shared/node/job-outputs.ts';
import { createLocalStore } from '../../../shared/node/local-store.ts';
import type { ObjectStore } from '../../../shared/node/object-store.ts';

const ladder = {
  name: 'tiny',
  rungs: [{ name: '180p', shortEdge: 180, videoBitrate: 300_000, maxrate: 400_000, bufsize: 600_000 }],
};

let root: string;
let work: string;
let store: ObjectStore;
let ledger: JobOutputs;

beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'tiercast-ledger-'));
  work = mkdtempSync(path.join(os.tmpdir(), 'tiercast-ledger-out-'));
  store = createLocalStore(root);
  ledger = createJobOutputs(store);
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(TiercastError);
  return (err as TiercastError).code;
}

/** A finished output folder like transcode leaves: playlists, segments, a poster and report.json. */
function outputFolder(name: string, marker: string): string {
  const dir = path.join(work, name);
  mkdirSync(path.join(dir, 'hls', '180p'), { recursive: true });
  writeFileSync(path.join(dir, 'hls', 'master.m3u8'), `#EXTM3U\n# ${marker}\n`);
  writeFileSync(path.join(dir, 'hls', '180p', 'index.m3u8'), `#EXTM3U\n# ${marker}\n`);
  for (let i = 0; i < 5; i++) writeFileSync(path.join(dir, 'hls', '180p', `seg${i}.m4s`), Buffer.alloc(20_000 + i, marker));
  writeFileSync(path.join(dir, 'manifest.mpd'), `<MPD>${marker}</MPD>`);
  writeFileSync(path.join(dir, 'poster.jpg'), Buffer.alloc(3000, 1));
  writeFileSync(path.join(dir, 'report.json'), JSON.stringify({ marker }));
  return dir;
}

/** Every file a manifest names exists with its size and hash: what any reader relies on. */
async function manifestIsWhole(id: string, m: OutputManifest): Promise<boolean> {
  for (const f of m.files) {
    try {
      const buf = await store.getBuffer(ledgerKeys.outputPrefix(id) + f.path);
      if (buf.length !== f.sizeBytes || createHash('sha256').update(buf).digest('hex') !== f.sha256) return false;
    } catch {
      return false;
    }
  }
  return true;
}

describe('job outputs: publishing', () => {
  it('uploads into a version folder, verifies, and writes the manifest last with relative paths', async () => {
    const dir = outputFolder('a', 'A');
    const events: number[] = [];
    const m = await ledger.publishOutputs('p1', dir, 1, { onProgress: (p) => events.push(p.loaded) });
    expect(m.attempt).toBe(1);
    const version = m.report.split('/')[0]!;
    expect(version).toMatch(/^v1-[0-9a-f]{8}$/);
    expect(m.hls).toBe(`${version}/hls/master.m3u8`);
    expect(m.dash).toBe(`${version}/manifest.mpd`);
    expect(m.poster).toBe(`${version}/poster.jpg`);
    expect(m.thumbnails).toBeNull();
    expect(m.files).toHaveLength(10);
    expect(await manifestIsWhole('p1', m)).toBe(true);
    expect(await ledger.readManifest('p1')).toEqual(m);
    expect(events.at(-1)).toBe(m.files.reduce((a, f) => a + f.sizeBytes, 0));
    expect(await ledger.readManifest('nothing')).toBeNull();
  });

  it('publishing the same job twice swaps whole sets; an older attempt never replaces a newer one', async () => {
    const m1 = await ledger.publishOutputs('p2', outputFolder('a', 'A'), 1);
    const m2 = await ledger.publishOutputs('p2', outputFolder('b', 'B'), 2);
    expect(m2.report).not.toBe(m1.report);
    expect(await manifestIsWhole('p2', m2)).toBe(true);
    expect(JSON.parse((await store.getBuffer(ledgerKeys.outputPrefix('p2') + m2.report)).toString())).toEqual({ marker: 'B' });
    // Every file named by the current manifest is from one version folder: never a mix.
    expect(new Set(m2.files.map((f) => f.path.split('/')[0])).size).toBe(1);
    const m3 = await ledger.publishOutputs('p2', outputFolder('c', 'C'), 3);
    // v1 is gone (two publishes old), v2 kept for readers part-way through it, v3 current.
    const versions: string[] = [];
    for await (const p of store.listPrefixes(ledgerKeys.outputPrefix('p2'))) versions.push(p.split('/')[2]!);
    expect(versions.sort()).toEqual([m2.report.split('/')[0], m3.report.split('/')[0]].sort());
    // A slow, older attempt finishing late is discarded and leaves nothing behind.
    expect(await codeOf(ledger.publishOutputs('p2', outputFolder('d', 'D'), 1))).toBe('OUTPUT_VERIFY_FAILED');
    expect(await ledger.readManifest('p2')).toEqual(m3);
    const after: string[] = [];
    for await (const p of store.listPrefixes(ledgerKeys.outputPrefix('p2'))) after.push(p);
    expect(after).toHaveLength(2);
  });

  it('a reader polling during publishes never sees a manifest whose files are not all there', async () => {
    // Slow the uploads down so the reader gets many looks while files are landing.
    const slow: ObjectStore = {
      ...store,
      putFile: async (key, file, opts) => {
        await new Promise((r) => setTimeout(r, 3));
        return store.putFile(key, file, opts);
      },
    };
    const slowLedger = createJobOutputs(slow);
    let stop = false;
    let looks = 0;
    const seen = new Set<string>();
    const bad: string[] = [];
    const reader = (async () => {
      while (!stop) {
        const m = await ledger.readManifest('p3');
        looks++;
        if (m) {
          seen.add(m.report);
          if (!(await manifestIsWhole('p3', m))) bad.push(m.report);
        }
        await new Promise((r) => setImmediate(r));
      }
    })();
    await slowLedger.publishOutputs('p3', outputFolder('a', 'A'), 1);
    await slowLedger.publishOutputs('p3', outputFolder('b', 'B'), 2);
    await slowLedger.publishOutputs('p3', outputFolder('c', 'C'), 3);
    stop = true;
    await reader;
    expect(bad).toEqual([]);
    expect(looks).toBeGreaterThan(10);
    expect(seen.size).toBeGreaterThanOrEqual(2);
  });

  it('a failed or cancelled publish leaves no manifest and no files', async () => {
    let calls = 0;
    const flaky: ObjectStore = {
      ...store,
      putFile: async (key, file, opts) => {
        if (++calls === 4) throw new TiercastError('STORE_ERROR', 'disk full');
        return store.putFile(key, file, opts);
      },
    };
    expect(await codeOf(createJobOutputs(flaky).publishOutputs('p4', outputFolder('a', 'A'), 1, { concurrency: 1 }))).toBe('STORE_ERROR');
    expect(await ledger.readManifest('p4')).toBeNull();
    const left: string[] = [];
    for await (const o of store.list(ledgerKeys.outputPrefix('p4'))) left.push(o.key);
    expect(left).toEqual([]);

    const controller = new AbortController();
    controller.abort(new Error('stop'));
    expect(await codeOf(ledger.publishOutputs('p4', outputFolder('b', 'B'), 1, { signal: controller.signal }))).toBe('CANCELLED');
    expect(await ledger.readManifest('p4')).toBeNull();
  });

  it('deleteOutputs removes the manifest and every version', async () => {
    const m = await ledger.publishOutputs('del', outputFolder('d', 'D'), 1);
    expect(await manifestIsWhole('del', m)).toBe(true);
    await ledger.deleteOutputs('del');
    expect(await ledger.readManifest('del')).toBeNull();
    const left: string[] = [];
    for await (const o of store.list(ledgerKeys.outputPrefix('del'))) left.push(o.key);
    expect(left).toEqual([]);
  });

  it('a beforeManifest hook that throws (the job was cancelled) publishes nothing', async () => {
    const err = await ledger
      .publishOutputs('bm', outputFolder('b', 'B'), 1, { beforeManifest: async () => { throw new TiercastError('CANCELLED', 'cancelled meanwhile'); } })
      .catch((e: unknown) => e);
    expect((err as TiercastError).code).toBe('CANCELLED');
    expect(await ledger.readManifest('bm')).toBeNull();
    const left: string[] = [];
    for await (const o of store.list(ledgerKeys.outputPrefix('bm'))) left.push(o.key);
    expect(left).toEqual([]);
  });

  it('writes the given report when the folder has none and refuses an empty folder', async () => {
    const dir = path.join(work, 'noreport');
    mkdirSync(dir);
    expect(await codeOf(ledger.publishOutputs('p5', dir, 1, { report: { a: 1 } }))).toBe('OUTPUT_VERIFY_FAILED');
    writeFileSync(path.join(dir, 'out.m3u8'), '#EXTM3U\n');
    const m = await ledger.publishOutputs('p5', dir, 1, { report: { speed: 2 } });
    expect(m.hls?.endsWith('/out.m3u8')).toBe(true);
    expect(JSON.parse((await store.getBuffer(ledgerKeys.outputPrefix('p5') + m.report)).toString())).toEqual({ speed: 2 });
  });
});
