import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TiercastError } from '../../../shared/common/errors.ts';
import { ledgerKeys } from '../../../shared/common/job.ts';
import type { TranscodeReport } from '../../../shared/common/transcode-report.ts';
import { executeJob } from '../../../shared/node/execute-job.ts';
import { cancelJob, createLedger, type JobLedger } from '../../../shared/node/ledger.ts';
import { createLocalStore } from '../../../shared/node/local-store.ts';
import type { ObjectStore } from '../../../shared/node/object-store.ts';
import type { TranscodeOptions } from '../../../shared/node/transcode.ts';

/**
 * executeJob's own logic with a stand-in transcoder (the real one is exercised in execute-job.slow.test.ts):
 * status write throttling, deadline escalation, metrics that throw.
 */
const ladder = { name: 'tiny', rungs: [{ name: '180p', shortEdge: 180, videoBitrate: 300_000, maxrate: 400_000, bufsize: 600_000 }] };

let root: string;
let store: ObjectStore;
let ledger: JobLedger;
let statusWrites: number;

beforeEach(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'tiercast-exec-unit-'));
  const inner = createLocalStore(path.join(root, 'store'));
  statusWrites = 0;
  store = {
    ...inner,
    put: (key, body, opts) => {
      if (key.endsWith('/status.json')) statusWrites++;
      return inner.put(key, body, opts);
    },
  };
  ledger = createLedger(store);
  await store.put('inputs/a.mp4', Buffer.alloc(1000, 7));
  await ledger.createJob({ schemaVersion: 1, id: 'j1', createdAt: new Date().toISOString(), input: { key: 'inputs/a.mp4', name: 'a.mp4', sizeBytes: 1000 }, ladder });
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** Writes a plausible output folder and reports `steps` progress events in quick succession. */
function fakeTranscode(steps: number, fail?: TiercastError) {
  return async (o: TranscodeOptions): Promise<TranscodeReport> => {
    for (let i = 0; i <= steps; i++) {
      const percent = (i / steps) * 100;
      o.onProgress?.({ stage: percent < 5 ? 'analyzing' : percent < 90 ? 'encoding' : 'packaging', percent });
      await new Promise((r) => setImmediate(r));
      if (fail && i === steps / 2) throw fail;
    }
    mkdirSync(o.outDir, { recursive: true });
    writeFileSync(path.join(o.outDir, 'master.m3u8'), '#EXTM3U\n');
    writeFileSync(path.join(o.outDir, 'report.json'), '{}');
    return {
      files: { hlsMaster: 'master.m3u8', dashManifest: null, poster: null, sprite: null, thumbnailsVtt: null },
      stages: { analyzingSec: 0, encodingSec: 1.5, packagingSec: 0, finalizingSec: 0, totalSec: 1.5 },
    } as unknown as TranscodeReport;
  };
}

describe('executeJob (stand-in transcoder)', () => {
  it('writes stage changes at once but throttles progress-only status writes', async () => {
    const seen: number[] = [];
    const r = await executeJob({ jobId: 'j1', store, ledger, tier: 'local', workRoot: path.join(root, 'work'), transcode: fakeTranscode(200), onProgress: (s) => seen.push(s.progress) });
    expect(r.ok).toBe(true);
    // 7 stage transitions (downloading .. done) plus the first progress write; 200 progress events do not become 200 writes.
    expect(statusWrites).toBeLessThanOrEqual(1 + 7 + 3);
    expect(seen.length).toBeGreaterThan(100);
    const status = await ledger.getStatus('j1');
    expect(status.history.map((h) => h.stage)).toEqual(['queued', 'downloading', 'analyzing', 'encoding', 'packaging', 'uploading', 'finalizing', 'done']);
    expect((await ledger.readManifest('j1'))?.hls).toMatch(/master\.m3u8$/);
  });

  it('turns a transcode timeout under a deadline into TIER_LIMIT_EXCEEDED so the router escalates', async () => {
    const r = await executeJob({
      jobId: 'j1', store, ledger, tier: 'lambda', workRoot: path.join(root, 'work'),
      deadline: Date.now() + 60_000,
      transcode: fakeTranscode(10, new TiercastError('TIMEOUT', 'transcode did not finish within 48 s')),
    });
    expect(!r.ok && r.error.code).toBe('TIER_LIMIT_EXCEEDED');
    expect(!r.ok && r.error.escalate).toBe(true);
    expect(await ledger.getStatus('j1')).toMatchObject({ stage: 'queued', attempts: 1, error: { code: 'TIER_LIMIT_EXCEEDED' } });
    expect(await store.head(ledgerKeys.manifest('j1'))).toBeNull();
  });

  it('a stalled encode under a deadline stays TIMEOUT: more time on a bigger tier would not help it', async () => {
    const r = await executeJob({
      jobId: 'j1', store, ledger, tier: 'lambda', workRoot: path.join(root, 'work'),
      deadline: Date.now() + 60_000,
      transcode: fakeTranscode(10, new TiercastError('TIMEOUT', 'ffmpeg stalled: no progress for 300 s (before any output)', { details: { stalled: true } })),
    });
    expect(!r.ok && r.error.code).toBe('TIMEOUT');
    expect(!r.ok && r.error.message).toMatch(/stalled/);
  });

  it('passes the time left before the deadline, minus the upload reserve, to the transcoder', async () => {
    let timeoutMs: number | undefined;
    const inner = fakeTranscode(2);
    await executeJob({
      jobId: 'j1', store, ledger, tier: 'lambda', workRoot: path.join(root, 'work'),
      deadline: Date.now() + 100_000,
      deadlineReserveMs: 20_000,
      transcode: (o) => ((timeoutMs = o.timeoutMs), inner(o)),
    });
    expect(timeoutMs).toBeGreaterThan(70_000);
    expect(timeoutMs).toBeLessThanOrEqual(80_000);
  });

  it('once the caller has lost its claim (ownsJob false), the run writes no status: the new holder owns the ledger', async () => {
    let owns = true;
    const ac = new AbortController();
    const inner = fakeTranscode(20);
    const r = await executeJob({
      jobId: 'j1', store, ledger, tier: 'ec2', workRoot: path.join(root, 'work'), signal: ac.signal,
      ownsJob: () => owns,
      transcode: async (o) => {
        // The lease lapses mid-encode; the new holder writes its own status; then the worker aborts this run.
        await ledger.updateStatus('j1', { stage: 'encoding', worker: 'host-b', note: 'attempt 2 on ec2 by host-b' });
        owns = false;
        const before = statusWrites;
        o.onProgress?.({ stage: 'packaging', percent: 95 });
        ac.abort(new TiercastError('INTERRUPTED', 'lease lost'));
        await new Promise((res) => setTimeout(res, 20));
        expect(statusWrites).toBe(before);
        await inner(o);
        throw new TiercastError('CANCELLED', 'ffmpeg stopped');
      },
    });
    expect(!r.ok && r.error.code).toBe('INTERRUPTED');
    expect(await ledger.getStatus('j1')).toMatchObject({ stage: 'encoding', worker: 'host-b' });
    expect(await store.head(ledgerKeys.manifest('j1'))).toBeNull();
  });

  it('a cancel written to the ledger by the console stops a run on another tier at its next status write', async () => {
    let sawAbort = false;
    const r = await executeJob({
      jobId: 'j1', store, ledger, tier: 'fargate', workRoot: path.join(root, 'work'), statusIntervalMs: 0,
      transcode: async (o) => {
        o.onProgress?.({ stage: 'encoding', percent: 20 });
        // The operator cancels from the console (jobs.cancel writes this), while ffmpeg runs on Fargate.
        // (Concurrently with the runner's own status writes for the progress above: cancelJob re-asserts a cancel a
        // racing write put back.)
        await cancelJob(ledger, 'j1', 'the console', { settleMs: 50 });
        for (let i = 0; i < 1000 && !o.signal?.aborted; i++) {
          o.onProgress?.({ stage: 'encoding', percent: 21 + i * 0.3 });
          await new Promise((res) => setTimeout(res, 10));
        }
        sawAbort = o.signal?.aborted === true;
        throw new TiercastError('CANCELLED', 'ffmpeg was cancelled');
      },
    });
    expect(sawAbort).toBe(true);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatchObject({ code: 'CANCELLED', message: expect.stringMatching(/cancelled from the console; stopped on tier fargate/) });
    // The cancel stands: not written back to encoding or queued, nothing published.
    expect(await ledger.getStatus('j1')).toMatchObject({ stage: 'failed', error: { code: 'CANCELLED', message: 'cancelled from the console' } });
    expect(await store.head(ledgerKeys.manifest('j1'))).toBeNull();
  });

  it('a metrics sink that throws does not fail the job', async () => {
    const r = await executeJob({
      jobId: 'j1', store, ledger, tier: 'local', workRoot: path.join(root, 'work'), transcode: fakeTranscode(2),
      metrics: { emit: () => { throw new Error('sink down'); } },
    });
    expect(r.ok).toBe(true);
  });
});
