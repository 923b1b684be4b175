import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TiercastError } from '../../../shared/common/errors.ts';
import { ledgerKeys, type JobSpecInput, type OutputManifest } from '../../../shared/common/job.ts';
import { cancelJob, createLedger, type JobLedger } from '../../../shared/node/ledger.ts';
import { createLocalStore } from '../../../shared/node/local-store.ts';
import type { ObjectStore } from '../../../shared/node/object-store.ts';

const ladder = {
  name: 'tiny',
  rungs: [{ name: '180p', shortEdge: 180, videoBitrate: 300_000, maxrate: 400_000, bufsize: 600_000 }],
};

function spec(id: string, extra: Partial<JobSpecInput> = {}): JobSpecInput {
  return {
    schemaVersion: 1,
    id,
    createdAt: new Date().toISOString(),
    input: { key: `inputs/${id}.mp4`, name: `${id}.mp4`, sizeBytes: 1234 },
    ladder,
    ...extra,
  };
}

let root: string;
let work: string;
let store: ObjectStore;
let ledger: JobLedger;

beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'tiercast-ledger-'));
  work = mkdtempSync(path.join(os.tmpdir(), 'tiercast-ledger-out-'));
  store = createLocalStore(root);
  ledger = createLedger(store);
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

describe('job ledger: jobs and statuses', () => {
  it('creates a job as spec then queued status, and refuses the same id twice', async () => {
    const { spec: s, status } = await ledger.createJob(spec('job-1'), { tier: 'local', tierReason: 'no AWS configured', estimatedCostUsd: 0, priceDate: '2026-01-01' });
    expect(s.formats).toEqual(['hls', 'dash']);
    expect(status).toMatchObject({ id: 'job-1', stage: 'queued', attempts: 0, tier: 'local', tierReason: 'no AWS configured', priceDate: '2026-01-01' });
    expect(status.history).toEqual([expect.objectContaining({ stage: 'queued', tier: 'local', note: 'no AWS configured' })]);
    expect(await ledger.getSpec('job-1')).toEqual(s);
    expect(await ledger.getStatus('job-1')).toEqual(status);
    expect(await codeOf(ledger.createJob(spec('job-1')))).toBe('INVALID_JOB');
  });

  it('rejects invalid specs and ids, and reports missing or corrupt jobs', async () => {
    expect(await codeOf(ledger.createJob(spec('bad id with spaces')))).toBe('INVALID_JOB');
    expect(await codeOf(ledger.createJob({ ...spec('j2'), ladder: { name: 'x', rungs: [] } }))).toBe('INVALID_JOB');
    expect(await codeOf(ledger.getStatus('absent'))).toBe('JOB_NOT_FOUND');
    expect(await codeOf(ledger.getSpec('../etc'))).toBe('INVALID_JOB');
    await ledger.createJob(spec('j3'));
    await store.put(ledgerKeys.status('j3'), '{"stage": "teleporting"}');
    expect(await codeOf(ledger.getStatus('j3'))).toBe('INVALID_JOB');
    await store.put(ledgerKeys.status('j3'), 'not json');
    expect(await codeOf(ledger.getStatus('j3'))).toBe('INVALID_JOB');
  });

  it('updates status with patches or functions, recording transitions only', async () => {
    const { status: created } = await ledger.createJob(spec('u1'));
    await new Promise((r) => setTimeout(r, 5));
    const s1 = await ledger.updateStatus('u1', (s) => ({ stage: 'downloading', attempts: s.attempts + 1, startedAt: new Date().toISOString(), worker: 'host/1', note: 'picked up' }));
    expect(s1.attempts).toBe(1);
    expect(s1.updatedAt > created.updatedAt).toBe(true);
    const s2 = await ledger.updateStatus('u1', { progress: 0.4 });
    expect(s2.history).toHaveLength(2);
    expect(s2.history[1]).toMatchObject({ stage: 'downloading', note: 'picked up' });
    const s3 = await ledger.updateStatus('u1', { stage: 'failed', error: { code: 'DECODE_FAILED', message: 'bad' }, finishedAt: new Date().toISOString() });
    expect(s3.history.map((h) => h.stage)).toEqual(['queued', 'downloading', 'failed']);
    expect(await codeOf(ledger.updateStatus('u1', { progress: 2 }))).toBe('INVALID_JOB');
    expect((await ledger.getStatus('u1')).progress).toBe(0.4);
  });

  it('cancelJob re-asserts a cancel that a racing runner write put back, and leaves a job that finished alone', async () => {
    await ledger.createJob(spec('race'));
    await ledger.updateStatus('race', { stage: 'encoding', tier: 'fargate', attempts: 1 });
    // A runner's write that read the status before the cancel landed and writes after it (no conditional writes).
    const stale = await ledger.getStatus('race');
    const cancelling = cancelJob(ledger, 'race', 'the console', { settleMs: 40 });
    await new Promise((r) => setTimeout(r, 10));
    await store.put(ledgerKeys.status('race'), Buffer.from(JSON.stringify({ ...stale, progress: 0.5 })));
    expect((await ledger.getStatus('race')).stage).toBe('encoding');
    const { before, after } = await cancelling;
    expect(before.stage).toBe('encoding');
    expect(after).toMatchObject({ stage: 'failed', error: { code: 'CANCELLED', message: 'cancelled from the console' } });
    expect(await ledger.getStatus('race')).toMatchObject({ stage: 'failed', error: { code: 'CANCELLED' } });

    // A job that completes right after the cancel (its final write goes over a late cancel) is not turned back.
    await ledger.createJob(spec('late'));
    await ledger.updateStatus('late', { stage: 'finalizing' });
    const late = cancelJob(ledger, 'late', 'the CLI', { settleMs: 40 });
    await new Promise((r) => setTimeout(r, 10));
    await ledger.updateStatus('late', { stage: 'done', progress: 1, error: null });
    expect((await late).after.stage).toBe('done');
    expect((await ledger.getStatus('late')).stage).toBe('done');
    expect(await codeOf(cancelJob(ledger, 'late', 'the CLI'))).toBe('INVALID_REQUEST');
  });

  it('lists jobs in id order with stage filter, limit and paging, skipping half-created ones', async () => {
    const ids = Array.from({ length: 70 }, (_, i) => `job-${String(i).padStart(3, '0')}`);
    for (const id of ids) await ledger.createJob(spec(id));
    for (const id of ids.filter((_, i) => i % 7 === 0)) await ledger.updateStatus(id, { stage: 'done', progress: 1 });
    await store.put(ledgerKeys.spec('job-half'), JSON.stringify(spec('job-half'))); // status not yet written
    const all: string[] = [];
    for await (const s of ledger.listJobs({ concurrency: 3 })) all.push(s.id);
    expect(all).toEqual(ids);
    const done: string[] = [];
    for await (const s of ledger.listJobs({ stage: 'done' })) done.push(s.id);
    expect(done).toEqual(ids.filter((_, i) => i % 7 === 0));
    const page1: string[] = [];
    for await (const s of ledger.listJobs({ limit: 25, concurrency: 2 })) page1.push(s.id);
    const page2: string[] = [];
    for await (const s of ledger.listJobs({ limit: 25, startAfter: page1.at(-1) })) page2.push(s.id);
    expect([...page1, ...page2]).toEqual(ids.slice(0, 50));
    const queuedOrDone: string[] = [];
    for await (const s of ledger.listJobs({ stage: ['queued', 'done'], limit: 3 })) queuedOrDone.push(s.id);
    expect(queuedOrDone).toEqual(ids.slice(0, 3));
  });
});

describe('job ledger: publishing outputs', () => {
  it('uploads into a version folder, verifies, and writes the manifest last with relative paths', async () => {
    await ledger.createJob(spec('p1'));
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
    await ledger.createJob(spec('p2'));
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
    await ledger.createJob(spec('p3'));
    // Slow the uploads down so the reader gets many looks while files are landing.
    const slow: ObjectStore = {
      ...store,
      putFile: async (key, file, opts) => {
        await new Promise((r) => setTimeout(r, 3));
        return store.putFile(key, file, opts);
      },
    };
    const slowLedger = createLedger(slow);
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
    await ledger.createJob(spec('p4'));
    let calls = 0;
    const flaky: ObjectStore = {
      ...store,
      putFile: async (key, file, opts) => {
        if (++calls === 4) throw new TiercastError('STORE_ERROR', 'disk full');
        return store.putFile(key, file, opts);
      },
    };
    expect(await codeOf(createLedger(flaky).publishOutputs('p4', outputFolder('a', 'A'), 1, { concurrency: 1 }))).toBe('STORE_ERROR');
    expect(await ledger.readManifest('p4')).toBeNull();
    const left: string[] = [];
    for await (const o of store.list(ledgerKeys.outputPrefix('p4'))) left.push(o.key);
    expect(left).toEqual([]);

    const controller = new AbortController();
    controller.abort(new Error('stop'));
    expect(await codeOf(ledger.publishOutputs('p4', outputFolder('b', 'B'), 1, { signal: controller.signal }))).toBe('CANCELLED');
    expect(await ledger.readManifest('p4')).toBeNull();
  });

  it('writes the given report when the folder has none and refuses an empty folder', async () => {
    await ledger.createJob(spec('p5'));
    const dir = path.join(work, 'noreport');
    mkdirSync(dir);
    expect(await codeOf(ledger.publishOutputs('p5', dir, 1, { report: { a: 1 } }))).toBe('OUTPUT_VERIFY_FAILED');
    writeFileSync(path.join(dir, 'out.m3u8'), '#EXTM3U\n');
    const m = await ledger.publishOutputs('p5', dir, 1, { report: { speed: 2 } });
    expect(m.hls?.endsWith('/out.m3u8')).toBe(true);
    expect(JSON.parse((await store.getBuffer(ledgerKeys.outputPrefix('p5') + m.report)).toString())).toEqual({ speed: 2 });
  });
});
