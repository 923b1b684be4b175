import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorker, type ExecuteJobFn, type WorkerOptions } from '../../shared/node/worker.ts';
import { createJobOutputs } from '../../shared/node/job-outputs.ts';
import { createS3Store } from '../../cloud/s3-store.ts';
import { createSqsJobQueue } from '../../cloud/sqs-queue.ts';
import type { JobQueue } from '../../shared/common/job-queue.ts';
import { noopMetrics } from '../../shared/common/metrics-query.ts';
import { executeJob } from '../../shared/node/execute-job.ts';
import { createJobsService, type JobsService } from '../../shared/common/jobs-service.ts';
import type { JobStore } from '../../shared/common/job-store.ts';
import { loadConfig } from '../../shared/node/config.ts';
import { openSqliteJobStore } from '../../shared/node/sqlite-job-store.ts';
import { createEc2Dispatcher } from '../../cloud/dispatch/queue.ts';
import type { ObjectStore } from '../../shared/node/object-store.ts';
import { makeClip } from '../helpers/clips.ts';
import { startFauxqs, type Fauxqs } from '../helpers/fauxqs.ts';
import { fixtureClip } from '../helpers/media.ts';
import { S3RVER_CREDENTIALS, startS3rver, type S3rverHandle } from '../helpers/s3rver.ts';
import { expectIntactOutputs, outputVersions, sleep, slowFfmpeg, spawnAgent, submitJob, waitFor, waitForStage } from './helpers.ts';

/** EC2 mode: SQS (fauxqs) + S3 (s3rver) + real executeJob and ffmpeg, in-process and as real `tiercast agent` children. */

let tmp: string;
let clip: string;
let fx: Fauxqs;
let s3: S3rverHandle;
let store: ObjectStore;
let jobStore: JobStore;
let jobDb: string;
/** A jobs service that admits ec2 jobs to this test's queue; the agents share the job store file (DynamoDB in AWS). */
async function jobsFor(queue: JobQueue): Promise<JobsService> {
  return createJobsService({ store: jobStore, dispatchers: { ec2: createEc2Dispatcher(queue) }, config: await loadConfig({ env: {}, home: tmp }), maxInFlight: { ec2: 20 } });
}
const statusOf = async (id: string) => (await jobStore.get(id)).status;
const log = pino({ level: 'silent' });
let n = 0;

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'tiercast-agent-sqs-'));
  clip = makeClip({ durationSec: 1, width: 320, height: 180, fps: 25 });
  [fx, s3] = await Promise.all([startFauxqs(), startS3rver()]);
  store = createS3Store({ client: s3.client, bucket: s3.bucket, prefix: 'tc/' });
  jobDb = path.join(tmp, 'jobs.db');
  jobStore = openSqliteJobStore(jobDb);
});
afterAll(async () => {
  await Promise.all([fx?.stop(), s3?.stop()]);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function queues(opts: { maxReceiveCount?: number; visibilityTimeout?: number } = {}) {
  n += 1;
  const dlq = await fx.createQueue(`agent-dlq-${n}`);
  const normal = await fx.createQueue(`agent-jobs-${n}`, { dlq, maxReceiveCount: opts.maxReceiveCount ?? 3, visibilityTimeout: opts.visibilityTimeout ?? 30 });
  const queue = createSqsJobQueue({ client: fx.client, queueUrls: { normal } });
  return { dlq, normal, queue, jobs: await jobsFor(queue) };
}

function workerOptions(queue: JobQueue, jobs: JobsService, over: Partial<WorkerOptions> = {}): WorkerOptions {
  return {
    queue, store, jobs, sweepIntervalSec: 0, tier: 'ec2', concurrency: 2, workRoot: path.join(tmp, 'work'), minFreeDiskBytes: 0,
    visibilityTimeoutSec: 60, heartbeatSec: 20, waitSeconds: 1, maxReceives: 3, graceMs: 10_000, log, metrics: noopMetrics, execute: executeJob,
    ...over,
  };
}

function childEnv(queueUrl: string, name: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    TIERCAST_HOME: path.join(tmp, name),
    TIERCAST_STORE: 's3',
    TIERCAST_BUCKET: s3.bucket,
    TIERCAST_PREFIX: 'tc/',
    TIERCAST_S3_ENDPOINT: s3.endpoint,
    TIERCAST_S3_FORCE_PATH_STYLE: 'true',
    TIERCAST_QUEUE: 'sqs',
    TIERCAST_QUEUE_URL: queueUrl,
    TIERCAST_SQS_ENDPOINT: fx.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    TIERCAST_AGENT_HEALTH_PORT: '0',
    TIERCAST_AGENT_WAIT_SECONDS: '1',
    TIERCAST_JOB_DB: jobDb,
    ...extra,
  };
}

describe('agent on SQS + S3', () => {
  it('runs several jobs two at a time; a corrupt input fails alone with DECODE_FAILED', async () => {
    const { queue, jobs } = await queues();
    for (const id of ['s1', 's2', 's3']) await submitJob(store, jobs, id, clip, {}, 'ec2');
    await submitJob(store, jobs, 's-corrupt', fixtureClip('corruptVp9'), {}, 'ec2');
    let now = 0;
    let max = 0;
    const execute: ExecuteJobFn = async (args) => {
      now += 1;
      max = Math.max(max, now);
      try {
        return await executeJob(args);
      } finally {
        now -= 1;
      }
    };
    const worker = createWorker(workerOptions(queue, jobs, { execute }));
    await worker.once();
    expect(max).toBeLessThanOrEqual(2);
    expect(worker.status()).toMatchObject({ done: 3, failed: 1 });
    for (const id of ['s1', 's2', 's3']) await expectIntactOutputs(store, id);
    expect(await statusOf('s-corrupt')).toMatchObject({ stage: 'failed', error: { code: 'DECODE_FAILED' } });
    expect(await queue.depth()).toEqual({ visible: 0, inFlight: 0 });
  });

  it('a poison message reaches the DLQ through the redrive policy, never retried for ever', async () => {
    const { queue, dlq, jobs } = await queues({ maxReceiveCount: 2 });
    await queue.send('this is not a job');
    const worker = createWorker(workerOptions(queue, jobs, { maxReceives: 2 }));
    await worker.once();
    expect(worker.status().invalid).toBe(2);
    const dead = await fx.client.send(new ReceiveMessageCommand({ QueueUrl: dlq, WaitTimeSeconds: 1 }));
    expect(dead.Messages?.map((m) => m.Body)).toEqual(['this is not a job']);
    expect(await queue.depth()).toEqual({ visible: 0, inFlight: 0 });
  });

  it('a job that runs longer than the visibility timeout is not delivered twice (heartbeat)', async () => {
    const { queue, jobs } = await queues({ visibilityTimeout: 2 });
    await submitJob(store, jobs, 'long-1', clip, {}, 'ec2');
    let calls = 0;
    // The real executor, made to outlast the 2 s visibility timeout by a delay before it starts.
    const execute: ExecuteJobFn = async (args) => {
      calls += 1;
      await sleep(4000);
      return executeJob(args);
    };
    const opts = { execute, visibilityTimeoutSec: 2, heartbeatSec: 0.5, concurrency: 1 };
    const a = createWorker(workerOptions(queue, jobs, opts));
    const b = createWorker(workerOptions(queue, jobs, opts));
    await a.start();
    await waitFor('a took the job', async () => a.status().running.length === 1, 10_000, 20);
    await b.start();
    await waitForStage(jobStore, 'long-1', ['done']);
    await Promise.all([a.stop(), b.stop()]);
    expect(calls).toBe(1);
    expect((await statusOf('long-1')).attempts).toBe(1);
    await expectIntactOutputs(store, 'long-1');
  });

  it('SIGTERM mid-job: the agent exits 0 and hands the job back; a second agent finishes it exactly once', async () => {
    const { queue, normal, jobs } = await queues();
    await submitJob(store, jobs, 'term-1', clip, {}, 'ec2');
    const first = spawnAgent(['--concurrency', '1'], childEnv(normal, 'term-a', {
      TIERCAST_FFMPEG: slowFfmpeg(tmp, 30),
      TIERCAST_FFPROBE: '/usr/bin/ffprobe',
      TIERCAST_AGENT_GRACE_MS: '500',
    }));
    try {
      await waitForStage(jobStore, 'term-1', ['analyzing', 'encoding']);
      const url = await waitFor('health url', async () => /health on (http:\/\/127\.0\.0\.1:\d+)/.exec(first.stderr())?.[1], 10_000);
      const ready = await fetch(`${url}/readyz`);
      expect(ready.status).toBe(200);
      first.child.kill('SIGTERM');
      const { code } = await first.exited;
      expect(code, first.stderr()).toBe(0);
    } finally {
      first.killGroup();
    }
    const interrupted = await statusOf('term-1');
    expect(interrupted).toMatchObject({ attempts: 0, error: { code: 'INTERRUPTED' } });
    expect(['queued', 'dispatched']).toContain(interrupted.stage);
    expect(await createJobOutputs(store).readManifest('term-1')).toBeNull();
    // Released at once (visibility 0), not after the 30 s queue visibility timeout (the requeue may add a second
    // wake-up: a duplicate is refused at the claim).
    expect((await queue.depth()).visible).toBeGreaterThanOrEqual(1);
    expect(first.logs().some((l) => l.jobId === 'term-1')).toBe(true);

    const second = spawnAgent(['--once', '--concurrency', '1'], childEnv(normal, 'term-b'));
    const { code } = await second.exited;
    expect(code, second.stderr()).toBe(0);
    const status = await statusOf('term-1');
    // An interruption does not use up an attempt, but both runs are in the history; one finished.
    expect(status).toMatchObject({ stage: 'done', attempts: 1, error: null });
    const history = await jobStore.events('term-1');
    expect(history.filter((h) => h.stage === 'downloading')).toHaveLength(2);
    expect(history.filter((h) => h.stage === 'done')).toHaveLength(1);
    const manifest = await expectIntactOutputs(store, 'term-1');
    expect(manifest.attempt).toBe(1);
    expect(await outputVersions(store, 'term-1')).toHaveLength(1);
    expect(await queue.depth()).toEqual({ visible: 0, inFlight: 0 });
    // EC2 mode: EMF metrics on stdout.
    expect(second.stdout()).toMatch(/"JobsSucceeded":1/);
  });

  it('SIGKILL mid-job: the lease lapses, the sweep sends the job again and another agent completes it', async () => {
    const { queue, normal, jobs } = await queues({ visibilityTimeout: 4 });
    await submitJob(store, jobs, 'kill-1', clip, {}, 'ec2');
    const first = spawnAgent(['--concurrency', '1'], childEnv(normal, 'kill-a', {
      TIERCAST_FFMPEG: slowFfmpeg(tmp, 30),
      TIERCAST_FFPROBE: '/usr/bin/ffprobe',
      TIERCAST_AGENT_VISIBILITY_TIMEOUT_SEC: '4',
      TIERCAST_AGENT_HEARTBEAT_SEC: '1',
      TIERCAST_JOB_LEASE_SEC: '5',
    }));
    try {
      await waitForStage(jobStore, 'kill-1', ['analyzing', 'encoding']);
      first.child.kill('SIGKILL');
      expect((await first.exited).signal).toBe('SIGKILL');
    } finally {
      first.killGroup();
    }
    expect((await queue.depth()).inFlight).toBe(1);
    const second = spawnAgent(['--once', '--concurrency', '1'], childEnv(normal, 'kill-b', {
      TIERCAST_AGENT_VISIBILITY_TIMEOUT_SEC: '4',
      TIERCAST_AGENT_HEARTBEAT_SEC: '1',
      TIERCAST_AGENT_WAIT_SECONDS: '8',
      TIERCAST_JOB_LEASE_SEC: '5',
    }));
    const { code } = await second.exited;
    expect(code, second.stderr()).toBe(0);
    expect(await statusOf('kill-1')).toMatchObject({ stage: 'done', attempts: 2 });
    expect((await expectIntactOutputs(store, 'kill-1')).attempt).toBe(2);
    expect(await queue.depth()).toEqual({ visible: 0, inFlight: 0 });
  });
});
