import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler, type JobOutcome, type SqsBatchResponse } from '../../../cloud/lambda/handler.ts';
import { createS3Store } from '../../../cloud/s3-store.ts';
import type { JobStore } from '../../../shared/common/job-store.ts';
import type { JobSpecInput, OutputManifest } from '../../../shared/common/job.ts';
import { parseEmfLine } from '../../../shared/common/metrics-query.ts';
import type { ObjectStore } from '../../../shared/node/object-store.ts';
import { openSqliteJobStore } from '../../../shared/node/sqlite-job-store.ts';
import { newJob as storedJob, testSpec } from '../../helpers/jobs.ts';
import { makeClip } from '../../helpers/clips.ts';
import { S3RVER_CREDENTIALS, startS3rver, type S3rverHandle } from '../../helpers/s3rver.ts';

const tiny = {
  name: 'tiny',
  preset: 'ultrafast' as const,
  segmentSeconds: 1,
  rungs: [
    { name: '180p', shortEdge: 180, videoBitrate: 300_000, maxrate: 400_000, bufsize: 600_000 },
    { name: '144p', shortEdge: 144, videoBitrate: 150_000, maxrate: 200_000, bufsize: 300_000 },
  ],
};

let s3: S3rverHandle;
let store: ObjectStore;
let jobStore: JobStore;
let home: string;
let clip: string;
const savedEnv = { ...process.env };
const emf: string[] = [];
let handler: ReturnType<typeof createHandler>;
let handlerEnv: NodeJS.ProcessEnv;

const context = (remainingMs: number, requestId = 'req-1') => ({
  getRemainingTimeInMillis: () => remainingMs,
  awsRequestId: requestId,
  functionName: 'tiercast-lambda',
});

/** A job as admission leaves it for the lambda tier. */
async function newJob(id: string, media: JobSpecInput['media'] = null, file = clip, extra: Partial<JobSpecInput> = {}): Promise<void> {
  const key = `inputs/${id}/clip.mp4`;
  await store.putFile(key, file);
  const spec = testSpec({ id, input: { key, name: 'clip.mp4', sizeBytes: statSync(file).size }, media, ladder: tiny, formats: ['hls', 'dash'], ...extra });
  await jobStore.insert([storedJob(spec, { tier: 'lambda', tierReason: 'test dispatch' })]);
}
const statusOf = async (id: string) => (await jobStore.get(id)).status;
const stagesOf = async (id: string) => (await jobStore.events(id)).map((e) => e.stage);
async function manifestOf(id: string): Promise<OutputManifest | null> {
  if (!(await store.head(`outputs/${id}/manifest.json`))) return null;
  return JSON.parse((await store.getBuffer(`outputs/${id}/manifest.json`)).toString('utf8')) as OutputManifest;
}

async function keys(prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of store.list(prefix)) out.push(o.key);
  return out;
}

beforeAll(async () => {
  clip = makeClip({ durationSec: 2, width: 320, height: 180 });
  s3 = await startS3rver();
  store = createS3Store({ client: s3.client, bucket: s3.bucket });
  home = mkdtempSync(path.join(os.tmpdir(), 'tiercast-lambda-home-'));
  jobStore = openSqliteJobStore(path.join(home, 'test-jobs.db'));
  // What Lambda gives a function: credentials and region in the environment (here s3rver's fixed test pair).
  process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;
  delete process.env.AWS_PROFILE;
  const env = {
    ...process.env,
    AWS_REGION: 'us-east-1',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '2048',
    TIERCAST_HOME: home,
    TIERCAST_TIER: 'lambda',
    TIERCAST_STORE: 's3',
    TIERCAST_BUCKET: s3.bucket,
    TIERCAST_S3_ENDPOINT: s3.endpoint,
    TIERCAST_S3_FORCE_PATH_STYLE: 'true',
    LAMBDA_FUNCTION_NAME: 'tiercast-lambda',
    LAMBDA_FUNCTION_NAME_ENHANCED: 'tiercast-lambda-enhanced',
    ECS_CLUSTER_NAME: 'tiercast-cluster',
    ECS_TASK_DEFINITION: 'tiercast-task',
    ECS_SUBNETS: 'subnet-0a1',
    TIERCAST_FARGATE_SPOT_SHARE: '0',
    TIERCAST_TIERS: 'lambda,lambda-enhanced,fargate',
  };
  handlerEnv = env;
  // No tier adapters: a job sent one tier up waits queued there (handler-escalation.test.ts covers the sending).
  handler = createHandler({ env, jobStore, dispatchers: {}, metricsSink: (line) => emf.push(line) });
});

afterAll(async () => {
  process.env = savedEnv;
  await jobStore?.close();
  await s3?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
});

describe('Lambda handler against s3rver and real ffmpeg', () => {
  it('runs a job from an SQS event end to end: outputs published, status done, EMF on the sink, cost recorded', async () => {
    await newJob('sqs-ok');
    const res = (await handler({ Records: [{ messageId: 'm-1', body: JSON.stringify({ schemaVersion: 1, jobId: 'sqs-ok' }), eventSource: 'aws:sqs' }] }, context(120_000))) as SqsBatchResponse;
    expect(res).toEqual({ batchItemFailures: [] });

    const status = await statusOf('sqs-ok');
    expect(status.stage).toBe('done');
    expect(status.tier).toBe('lambda');
    expect(status.attempts).toBe(1);
    expect(status.worker).toBe('lambda:tiercast-lambda:req-1');
    expect(status.costUsd).toBeGreaterThan(0);
    expect(status.priceDate).toMatch(/^\d{4}-\d{2}-\d{2}$/);

    const manifest = await manifestOf('sqs-ok');
    expect(manifest).not.toBeNull();
    expect(manifest!.hls).toBeTruthy();
    expect(manifest!.dash).toBeTruthy();
    for (const f of manifest!.files) expect(await store.head(`outputs/sqs-ok/${f.path}`), f.path).not.toBeNull();
    const hls = (await store.getBuffer(`outputs/sqs-ok/${manifest!.hls}`)).toString('utf8');
    expect(hls).toContain('#EXTM3U');
    expect((hls.match(/#EXT-X-STREAM-INF/g) ?? []).length).toBe(2);

    const records = emf.map((l) => parseEmfLine(l)).filter((r) => r?.jobId === 'sqs-ok');
    const succeeded = records.find((r) => r!.values.JobsSucceeded === 1)!;
    expect(succeeded.tier).toBe('lambda');
    expect(succeeded.values.BytesIn).toBe(statSync(clip).size);
    expect(succeeded.values.BytesOut).toBeGreaterThan(0);
    expect(records.some((r) => (r!.values.JobCostUSD ?? 0) > 0)).toBe(true);
    // Job state lives in the job store: nothing but the input and the outputs in the bucket.
    expect(await keys('jobs/sqs-ok/')).toEqual([]);
  });

  it('refuses up front, without downloading or encoding, a job the model says cannot fit the time left', async () => {
    // The probe says one hour of 1080p: far beyond what 60 s can encode on Lambda.
    await newJob('too-long', { durationSec: 3600, width: 1920, height: 1080, fps: 30 });
    const before = emf.length;
    const out = (await handler({ jobId: 'too-long' }, context(60_000))) as JobOutcome;
    expect(out).toMatchObject({ jobId: 'too-long', ok: false, tier: 'lambda', stage: 'queued', error: { code: 'TIER_LIMIT_EXCEEDED', escalate: true, retryable: true } });
    expect(out.error!.message).toMatch(/predicted \d+ s of work, \d+ s left/);
    const status = await statusOf('too-long');
    expect(status).toMatchObject({ stage: 'queued', tier: 'fargate' });
    expect(status.error?.code).toBe('TIER_LIMIT_EXCEEDED');
    // Never started: no attempt used, no download stage in the history, nothing published.
    expect(status.attempts).toBe(0);
    expect(status.startedAt).toBeNull();
    expect(await stagesOf('too-long')).not.toContain('downloading');
    expect(await keys('outputs/too-long/')).toEqual([]);
    expect(emf.slice(before).map((l) => parseEmfLine(l)!.values.JobsFailed).filter(Boolean)).toEqual([]);
  });

  it('refuses a job the model says needs more memory than the function has', async () => {
    await newJob('too-big', { durationSec: 2, width: 3840, height: 2160, fps: 30 });
    const small = createHandler({ env: { ...handlerEnv, AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512' }, jobStore, dispatchers: {}, metricsSink: () => {} });
    const out = (await small({ jobId: 'too-big' }, context(120_000))) as JobOutcome;
    expect(out.error?.code).toBe('TIER_LIMIT_EXCEEDED');
    expect(out.error!.message).toMatch(/needs ~\d+ MB of memory, the function has 512 MB/);
    expect(out.error!.message).not.toMatch(/predicted/);
    expect((await statusOf('too-big')).attempts).toBe(0);
  });

  it('fails with TIER_LIMIT_EXCEEDED when the invocation is about to time out, before ffmpeg runs', async () => {
    await newJob('no-time');
    // 10 s safety margin + 8 s: less than the executor's minimum run after its upload reserve.
    const out = (await handler({ schemaVersion: 1, jobId: 'no-time' }, context(18_000))) as JobOutcome;
    expect(out.error?.code).toBe('TIER_LIMIT_EXCEEDED');
    expect(out.stage).toBe('queued');
    const status = await statusOf('no-time');
    expect(status.error?.code).toBe('TIER_LIMIT_EXCEEDED');
    expect(await keys('outputs/no-time/')).toEqual([]);
    // Sent one tier up at once: the lambda function no longer takes it (a late event is stale), the enhanced one runs it to done.
    expect(status.tier).toBe('lambda-enhanced');
    const stale = (await handler({ jobId: 'no-time' }, context(120_000))) as JobOutcome;
    expect(stale.skipped).toBe('job no-time belongs to lambda-enhanced, not lambda: this event is stale');
    const enhanced = createHandler({ env: { ...handlerEnv, TIERCAST_TIER: 'lambda-enhanced' }, jobStore, dispatchers: {}, metricsSink: () => {} });
    const again = (await enhanced({ jobId: 'no-time' }, context(120_000))) as JobOutcome;
    expect(again).toMatchObject({ ok: true, tier: 'lambda-enhanced', stage: 'done' });
    expect(await statusOf('no-time')).toMatchObject({ stage: 'done', attempts: 2 });
  });

  it('stops ffmpeg mid-encode at the deadline and records TIER_LIMIT_EXCEEDED, publishing nothing', async () => {
    // 20 s of 720p at preset veryslow: far more encoding than the ~7 s this invocation leaves, even on fast machines.
    const longer = makeClip({ durationSec: 20, width: 1280, height: 720 });
    await newJob('mid-encode', null, longer, {
      ladder: { ...tiny, preset: 'veryslow', rungs: [{ name: '720p', shortEdge: 720, videoBitrate: 2_500_000, maxrate: 3_000_000, bufsize: 5_000_000 }, ...tiny.rungs] },
      formats: ['hls'],
    });
    const out = (await handler({ jobId: 'mid-encode' }, context(22_000))) as JobOutcome;
    expect(out.error?.code).toBe('TIER_LIMIT_EXCEEDED');
    const status = await statusOf('mid-encode');
    expect(status.stage).toBe('queued');
    expect(status.error?.code).toBe('TIER_LIMIT_EXCEEDED');
    // It did start: downloaded and handed to ffmpeg, then was cut off.
    expect(await stagesOf('mid-encode')).toEqual(expect.arrayContaining(['downloading', 'analyzing']));
    expect(await manifestOf('mid-encode')).toBeNull();
    expect(await keys('outputs/mid-encode/')).toEqual([]);
  });

  it('SQS batches: reports bad bodies and out-of-time records, not escalations or finished jobs', async () => {
    const res = (await handler(
      {
        Records: [
          { messageId: 'bad', body: '{"jobId": "../etc"}' },
          { messageId: 'escalate', body: JSON.stringify({ schemaVersion: 1, jobId: 'too-long' }) },
          { messageId: 'done-already', body: JSON.stringify({ schemaVersion: 1, jobId: 'sqs-ok' }) },
        ],
      },
      context(60_000),
    )) as SqsBatchResponse;
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: 'bad' }]);
    expect((await statusOf('sqs-ok')).stage).toBe('done');

    const late = (await handler({ Records: [{ messageId: 'late', body: JSON.stringify({ schemaVersion: 1, jobId: 'sqs-ok' }) }] }, context(12_000))) as SqsBatchResponse;
    expect(late.batchItemFailures).toEqual([{ itemIdentifier: 'late' }]);
  });

  it('a malformed direct invocation is a Lambda error', async () => {
    await expect(handler({ jobId: '' } as never, context(60_000))).rejects.toMatchObject({ code: 'INVALID_JOB' });
  });
});
