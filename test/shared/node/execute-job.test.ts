import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TiercastError } from '../../../shared/common/errors.ts';
import { storeKeys } from '../../../shared/common/job.ts';
import type { JobStore } from '../../../shared/common/job-store.ts';
import { createJobsService, type JobsService } from '../../../shared/common/jobs-service.ts';
import type { TranscodeReport } from '../../../shared/common/transcode-report.ts';
import { loadConfig } from '../../../shared/node/config.ts';
import { executeJob } from '../../../shared/node/execute-job.ts';
import { createJobOutputs } from '../../../shared/node/job-outputs.ts';
import { createLocalStore } from '../../../shared/node/local-store.ts';
import { openSqliteJobStore } from '../../../shared/node/sqlite-job-store.ts';
import type { ObjectStore } from '../../../shared/node/object-store.ts';
import type { TranscodeOptions } from '../../../shared/node/transcode.ts';

/**
 * executeJob's own logic with a stand-in transcoder (the real one is exercised in execute-job.slow.test.ts):
 * status write throttling, deadline escalation, metrics that throw.
 */
const ladder = { name: 'tiny', rungs: [{ name: '180p', shortEdge: 180, videoBitrate: 300_000, maxrate: 400_000, bufsize: 600_000 }] };

let root: string;
let store: ObjectStore;
let jobStore: JobStore;
let jobs: JobsService;
let statusWrites: number;
const status = async () => (await jobStore.get('j1')).status;
const manifestOf = () => createJobOutputs(store).readManifest('j1');

async function service(leaseMs = 30_000): Promise<JobsService> {
  return createJobsService({ store: jobStore, dispatchers: {}, config: await loadConfig({ env: {}, home: root }), maxInFlight: {}, leaseMs });
}

beforeEach(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'tiercast-exec-unit-'));
  store = createLocalStore(path.join(root, 'store'));
  const inner = openSqliteJobStore(path.join(root, 'jobs.db'));
  statusWrites = 0;
  // The real SQLite store, counting its writes.
  jobStore = { ...inner, write: (next, expected, event) => (statusWrites++, inner.write(next, expected, event)) };
  jobs = await service();
  await store.put('inputs/a.mp4', Buffer.alloc(1000, 7));
  await jobs.submit([{ spec: { schemaVersion: 1, id: 'j1', createdAt: new Date().toISOString(), input: { key: 'inputs/a.mp4', name: 'a.mp4', sizeBytes: 1000 }, ladder }, route: { tier: 'local', reason: 'test' } }]);
  statusWrites = 0;
});
afterEach(async () => {
  await jobStore.close();
  rmSync(root, { recursive: true, force: true });
});

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
    const r = await executeJob({ jobId: 'j1', store, jobs, tier: 'local', workRoot: path.join(root, 'work'), transcode: fakeTranscode(200), onProgress: (s) => seen.push(s.progress) });
    expect(r.ok).toBe(true);
    // The claim, 6 stage transitions (analyzing .. done) plus the first progress write; 200 progress events do not become 200 writes.
    expect(statusWrites).toBeLessThanOrEqual(1 + 6 + 3);
    expect(seen.length).toBeGreaterThan(100);
    const view = await jobs.get('j1');
    expect(view.status.history.map((h) => h.stage)).toEqual(['queued', 'downloading', 'analyzing', 'encoding', 'packaging', 'uploading', 'finalizing', 'done']);
    expect((await manifestOf())?.hls).toMatch(/master\.m3u8$/);
  });

  it('turns a transcode timeout under a deadline into TIER_LIMIT_EXCEEDED so the router escalates', async () => {
    const r = await executeJob({
      jobId: 'j1', store, jobs, tier: 'lambda', workRoot: path.join(root, 'work'),
      deadline: Date.now() + 60_000,
      transcode: fakeTranscode(10, new TiercastError('TIMEOUT', 'transcode did not finish within 48 s')),
    });
    expect(!r.ok && r.error.code).toBe('TIER_LIMIT_EXCEEDED');
    expect(!r.ok && r.error.escalate).toBe(true);
    // Only the local tier is enabled here, and it is not above lambda: the router has nowhere to send it, so it fails
    // at once with the reason (escalation that finds a tier: test/shared/common/jobs-service.test.ts).
    expect(!r.ok && r.outcome).toBe('failed');
    expect(await status()).toMatchObject({ stage: 'failed', attempts: 1, error: { code: 'TIER_LIMIT_EXCEEDED', message: expect.stringMatching(/no enabled tier above it/) } });
    expect(await store.head(storeKeys.manifest('j1'))).toBeNull();
  });

  it('a stalled encode under a deadline stays TIMEOUT: more time on a bigger tier would not help it', async () => {
    const r = await executeJob({
      jobId: 'j1', store, jobs, tier: 'lambda', workRoot: path.join(root, 'work'),
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
      jobId: 'j1', store, jobs, tier: 'lambda', workRoot: path.join(root, 'work'),
      deadline: Date.now() + 100_000,
      deadlineReserveMs: 20_000,
      transcode: (o) => ((timeoutMs = o.timeoutMs), inner(o)),
    });
    expect(timeoutMs).toBeGreaterThan(70_000);
    expect(timeoutMs).toBeLessThanOrEqual(80_000);
  });

  it('a run whose lapsed lease another runner reclaimed stops at its next write and leaves the job to it', async () => {
    // A short lease and no heartbeat: this run's lease lapses mid-encode, as when its host froze.
    jobs = await service(200);
    const other = await service(30_000);
    const r = await executeJob({
      jobId: 'j1', store, jobs, tier: 'ec2', workRoot: path.join(root, 'work'), heartbeatMs: 3_600_000, statusIntervalMs: 0,
      transcode: async (o) => {
        o.onProgress?.({ stage: 'encoding', percent: 10 });
        await new Promise((res) => setTimeout(res, 400));
        const second = await other.claim('j1', { worker: 'host-b', tier: 'ec2', runToken: 'b' });
        expect(second.ok).toBe(true);
        for (let i = 0; i < 100 && !o.signal?.aborted; i++) {
          o.onProgress?.({ stage: 'encoding', percent: 20 + i * 0.5 });
          await new Promise((res) => setTimeout(res, 10));
        }
        throw new TiercastError('CANCELLED', 'ffmpeg stopped');
      },
    });
    expect(!r.ok && r.outcome).toBe('lost');
    expect(await status()).toMatchObject({ stage: 'downloading', worker: 'host-b', attempts: 2 });
    expect(await store.head(storeKeys.manifest('j1'))).toBeNull();
  });

  it('a cancel written to the ledger by the console stops a run on another tier at its next status write', async () => {
    let sawAbort = false;
    const r = await executeJob({
      jobId: 'j1', store, jobs, tier: 'fargate', workRoot: path.join(root, 'work'), statusIntervalMs: 0,
      transcode: async (o) => {
        o.onProgress?.({ stage: 'encoding', percent: 20 });
        // The operator cancels from the console while ffmpeg runs on Fargate: one compare-and-set, no re-assertion.
        await jobs.cancel('j1', 'the console');
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
    expect(!r.ok && r.error).toMatchObject({ code: 'CANCELLED', message: expect.stringMatching(/cancelled by the console; stopped on tier fargate/) });
    // The cancel stands: not written back to encoding or queued, nothing published.
    expect(await status()).toMatchObject({ stage: 'cancelled', error: { code: 'CANCELLED', message: 'cancelled by the console' } });
    expect(await store.head(storeKeys.manifest('j1'))).toBeNull();
  });

  it('a metrics sink that throws does not fail the job', async () => {
    const r = await executeJob({
      jobId: 'j1', store, jobs, tier: 'local', workRoot: path.join(root, 'work'), transcode: fakeTranscode(2),
      metrics: { emit: () => { throw new Error('sink down'); } },
    });
    expect(r.ok).toBe(true);
  });
});
