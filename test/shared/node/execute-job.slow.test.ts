import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Store } from '../../../cloud/s3-store.ts';
import { TiercastError } from '../../../shared/common/errors.ts';
import { storeKeys as ledgerKeys, type JobSpecInput, type JobStatus, type Tier } from '../../../shared/common/job.ts';
import { createJobsService, type JobsService } from '../../../shared/common/jobs-service.ts';
import { loadConfig } from '../../../shared/node/config.ts';
import { executeJob } from '../../../shared/node/execute-job.ts';
import { createJobOutputs } from '../../../shared/node/job-outputs.ts';
import { createLocalStore } from '../../../shared/node/local-store.ts';
import { openSqliteJobStore } from '../../../shared/node/sqlite-job-store.ts';
import type { ObjectStore } from '../../../shared/node/object-store.ts';
import { makeClip } from '../../helpers/clips.ts';
import { fixtureClip } from '../../helpers/media.ts';
import { startS3rver, type S3rverHandle } from '../../helpers/s3rver.ts';

const ladder = {
  name: 'tiny',
  segmentSeconds: 1,
  preset: 'ultrafast' as const,
  rungs: [{ name: '180p', shortEdge: 180, videoBitrate: 200_000, maxrate: 300_000, bufsize: 400_000 }],
};

function spec(id: string, inputKey: string, name: string, sizeBytes: number, extra: Partial<JobSpecInput> = {}): JobSpecInput {
  return { schemaVersion: 1, id, createdAt: new Date().toISOString(), input: { key: inputKey, name, sizeBytes }, ladder, ...extra };
}

function metricsRecorder() {
  const emitted: { tier: Tier; values: Record<string, number>; jobId?: string }[] = [];
  return {
    emitted,
    sink: { emit: (tier: Tier, values: Record<string, number>, extra?: { jobId?: string }) => emitted.push({ tier, values, jobId: extra?.jobId }) },
  };
}

let tmp: string;
let store: ObjectStore;
let jobs: JobsService;
let workRoot: string;
let clip: string;

/** The jobs service on a SQLite store, and the reads these tests make of it and of the outputs. */
async function jobsOn(objects: ObjectStore, dir: string) {
  const service = createJobsService({ store: openSqliteJobStore(path.join(dir, 'jobs.db')), dispatchers: {}, config: await loadConfig({ env: {}, home: dir }), maxInFlight: {} });
  return {
    service,
    createJob: (s: JobSpecInput) => service.submit([{ spec: s, route: { tier: 'local', reason: 'test' } }]),
    getStatus: async (id: string) => (await service.get(id)).status,
    readManifest: (id: string) => createJobOutputs(objects).readManifest(id),
  };
}
let ledger: Awaited<ReturnType<typeof jobsOn>>;

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'tiercast-exec-'));
  store = createLocalStore(path.join(tmp, 'store'));
  ledger = await jobsOn(store, tmp);
  jobs = ledger.service;
  workRoot = path.join(tmp, 'work');
  clip = makeClip({ durationSec: 2, width: 320, height: 180, fps: 25 });
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function submit(id: string, file: string, extra: Partial<JobSpecInput> = {}): Promise<void> {
  const key = `${ledgerKeys.inputPrefix}${id}${path.extname(file)}`;
  await store.putFile(key, file);
  await ledger.createJob(spec(id, key, path.basename(file), statSync(file).size, extra));
}

const workLeft = () => {
  try {
    return readdirSync(workRoot);
  } catch {
    return [];
  }
};

describe('executeJob on the local store with real ffmpeg', () => {
  it('runs a tiny clip through every stage to a published, verified manifest', async () => {
    await submit('ok-1', clip);
    const seen: JobStatus[] = [];
    const metrics = metricsRecorder();
    const result = await executeJob({ jobId: 'ok-1', store, jobs, tier: 'local', workRoot, worker: 'test/1', onProgress: (s) => seen.push(s), metrics: metrics.sink });
    if (!result.ok) throw result.error;
    const status = await ledger.getStatus('ok-1');
    expect(status).toMatchObject({ stage: 'done', progress: 1, attempts: 1, tier: 'local', worker: 'test/1', error: null });
    expect(status.finishedAt).not.toBeNull();
    expect(status.history.map((h) => h.stage)).toEqual(['queued', 'downloading', 'analyzing', 'encoding', 'packaging', 'uploading', 'finalizing', 'done']);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.progress).toBeGreaterThanOrEqual(seen[i - 1]!.progress);

    const manifest = await ledger.readManifest('ok-1');
    expect(manifest).toEqual(result.manifest);
    expect(manifest!.hls).toMatch(/^v1-[0-9a-f]+\/master\.m3u8$/);
    expect(manifest!.dash).toMatch(/\.mpd$/);
    const master = (await store.getBuffer(ledgerKeys.outputPrefix('ok-1') + manifest!.hls!)).toString();
    expect(master).toContain('#EXT-X-STREAM-INF');
    for (const f of manifest!.files) expect((await store.head(ledgerKeys.outputPrefix('ok-1') + f.path))?.size).toBe(f.sizeBytes);
    expect((result.report as { renditions: unknown[] }).renditions).toHaveLength(1);

    const m = metrics.emitted.find((e) => e.values.JobsSucceeded === 1)!;
    expect(m.tier).toBe('local');
    expect(m.jobId).toBe('ok-1');
    expect(m.values.BytesIn).toBe(statSync(clip).size);
    expect(m.values.BytesOut).toBe(manifest!.files.reduce((a, f) => a + f.sizeBytes, 0));
    expect(m.values.EncodeSeconds).toBeGreaterThan(0);
    expect(m.values.JobLatencySeconds).toBeGreaterThan(0);
    expect(workLeft()).toEqual([]);

    // A second delivery finds the published result and does not run again.
    const again = await executeJob({ jobId: 'ok-1', store, jobs, tier: 'local', workRoot });
    expect(again.ok).toBe(true);
    expect(again.ok && again.manifest).toEqual(manifest);
    expect((await ledger.getStatus('ok-1')).attempts).toBe(1);
  });

  it('fails a corrupt input with DECODE_FAILED, publishes nothing and cleans up', async () => {
    await submit('corrupt-1', fixtureClip('corruptVp9'));
    const metrics = metricsRecorder();
    const result = await executeJob({ jobId: 'corrupt-1', store, jobs, tier: 'local', workRoot, metrics: metrics.sink });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error.code).toBe('DECODE_FAILED');
    const status = await ledger.getStatus('corrupt-1');
    expect(status.stage).toBe('failed');
    expect(status.error?.code).toBe('DECODE_FAILED');
    expect(await ledger.readManifest('corrupt-1')).toBeNull();
    const outputs: string[] = [];
    for await (const o of store.list(ledgerKeys.outputPrefix('corrupt-1'))) outputs.push(o.key);
    expect(outputs).toEqual([]);
    expect(metrics.emitted.some((e) => e.values.JobsFailed === 1)).toBe(true);
    expect(workLeft()).toEqual([]);
  });

  it('on abort puts the job back in the queue as INTERRUPTED without using up an attempt', async () => {
    await submit('abort-1', clip);
    const controller = new AbortController();
    const result = await executeJob({
      jobId: 'abort-1',
      store,
      jobs,
      tier: 'fargate-spot',
      workRoot,
      signal: controller.signal,
      onProgress: (s) => {
        if (s.stage === 'encoding') controller.abort(new Error('SIGTERM: Spot interruption'));
      },
    });
    expect(!result.ok && result.error.code).toBe('INTERRUPTED');
    const status = await ledger.getStatus('abort-1');
    expect(status).toMatchObject({ stage: 'queued', attempts: 0, worker: null, lease: null, error: { code: 'INTERRUPTED' } });
    expect(status.error?.message).toContain('Spot interruption');
    expect(await ledger.readManifest('abort-1')).toBeNull();
    expect(workLeft()).toEqual([]);
  });
});

describe('executeJob failure paths', () => {
  it('reports a missing job and a missing input', async () => {
    const missing = await executeJob({ jobId: 'no-such-job', store, jobs, tier: 'local', workRoot });
    expect(!missing.ok && [missing.error.code, missing.outcome]).toEqual(['JOB_NOT_FOUND', 'skipped']);
    await ledger.createJob(spec('noinput-1', 'inputs/absent.mp4', 'absent.mp4', 10));
    const r = await executeJob({ jobId: 'noinput-1', store, jobs, tier: 'local', workRoot });
    expect(!r.ok && r.error.code).toBe('INPUT_NOT_FOUND');
    expect((await ledger.getStatus('noinput-1')).stage).toBe('failed');
  });

  it('fails early with TIER_LIMIT_EXCEEDED when the deadline leaves no time, before downloading', async () => {
    await submit('deadline-1', clip);
    let downloads = 0;
    const counting: ObjectStore = { ...store, getFile: (...a) => (downloads++, store.getFile(...a)) };
    const r = await executeJob({ jobId: 'deadline-1', store: counting, jobs, tier: 'lambda', workRoot, deadline: Date.now() + 3_000 });
    expect(r.ok).toBe(false);
    const error = (r as { error: TiercastError }).error;
    expect(error.code).toBe('TIER_LIMIT_EXCEEDED');
    expect(error.escalate).toBe(true);
    expect(downloads).toBe(0);
    // Nothing above lambda is enabled here: the router says so and the job fails with its reason.
    const status = await ledger.getStatus('deadline-1');
    expect(status).toMatchObject({ stage: 'failed', error: { code: 'TIER_LIMIT_EXCEEDED' } });
  });

  it('a retryable store error waits to retry (retry-wait) until attempts run out, then fails dead-lettered', async () => {
    await submit('retry-1', clip, { maxAttempts: 2 });
    const broken: ObjectStore = {
      ...store,
      getFile: async () => {
        throw new TiercastError('STORE_ERROR', 'connection reset');
      },
    };
    const first = await executeJob({ jobId: 'retry-1', store: broken, jobs, tier: 'ec2', workRoot });
    expect(!first.ok && first.error.code).toBe('STORE_ERROR');
    expect(await ledger.getStatus('retry-1')).toMatchObject({ stage: 'retry-wait', attempts: 1, error: { code: 'STORE_ERROR' } });
    // Before its backoff is over the job is not claimable; the operator's retry makes it due now.
    expect(await executeJob({ jobId: 'retry-1', store: broken, jobs, tier: 'ec2', workRoot })).toMatchObject({ ok: false, outcome: 'skipped' });
    await jobs.retry('retry-1', 'the test');
    const second = await executeJob({ jobId: 'retry-1', store: broken, jobs, tier: 'ec2', workRoot });
    expect(!second.ok && second.error.code).toBe('STORE_ERROR');
    expect(await ledger.getStatus('retry-1')).toMatchObject({ stage: 'failed', deadLettered: true, attempts: 2, error: { code: 'STORE_ERROR' } });
    expect(workLeft()).toEqual([]);
  });
});

describe('executeJob on S3 (s3rver)', () => {
  let s3: S3rverHandle;
  beforeAll(async () => {
    s3 = await startS3rver();
  });
  afterAll(async () => {
    await s3?.stop();
  });

  it('downloads from and publishes to S3 the same way', async () => {
    const s3store = createS3Store({ client: s3.client, bucket: s3.bucket, prefix: 'tiercast' });
    const s3ledger = await jobsOn(s3store, mkdtempSync(path.join(tmp, 's3-')));
    await s3store.putFile('inputs/s3-1.mp4', clip);
    await s3ledger.createJob(spec('s3-1', 'inputs/s3-1.mp4', 'clip.mp4', statSync(clip).size));
    const r = await executeJob({ jobId: 's3-1', store: s3store, jobs: s3ledger.service, tier: 'lambda', workRoot, deadline: Date.now() + 120_000 });
    if (!r.ok) throw r.error;
    expect((await s3ledger.getStatus('s3-1')).stage).toBe('done');
    const m = await s3ledger.readManifest('s3-1');
    expect(m?.files.length).toBeGreaterThan(3);
    for (const f of m!.files) expect((await s3store.head(ledgerKeys.outputPrefix('s3-1') + f.path))?.size).toBe(f.sizeBytes);
  });
});
