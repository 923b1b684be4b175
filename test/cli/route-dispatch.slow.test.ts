import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSqsJobQueue } from '../../cloud/sqs-queue.ts';
import { createS3Store } from '../../cloud/s3-store.ts';
import { homePaths } from '../../shared/node/data-home.ts';
import { openSqliteJobStore } from '../../shared/node/sqlite-job-store.ts';
import { makeClip } from '../helpers/clips.ts';
import { startFauxqs, type Fauxqs } from '../helpers/fauxqs.ts';
import { fixtureClip } from '../helpers/media.ts';
import { S3RVER_CREDENTIALS, s3rverClient, startS3rver, type S3rverHandle } from '../helpers/s3rver.ts';
import { runTiercast, type CliRun } from '../helpers/cli.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-cli-route-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));


/** `node bin/tiercast.js ...args` (argument array, no shell) with a scratch data home and only the env we give. */
function tiercast(env: Record<string, string>, ...args: string[]): Promise<CliRun> {
  const base: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: dir, NO_COLOR: '1', TIERCAST_LOG_LEVEL: 'warn' };
  return runTiercast(args, { cwd: dir, env: { ...base, ...env } });
}

const localHome = { TIERCAST_HOME: path.join(dir, 'home-local') };
const awsNames = {
  TIERCAST_HOME: path.join(dir, 'home-aws'),
  TIERCAST_BUCKET: 'media-bucket',
  AWS_REGION: 'us-east-1',
  LAMBDA_FUNCTION_NAME: 'tiercast-transcode',
  LAMBDA_FUNCTION_NAME_ENHANCED: 'tiercast-transcode-xl',
  ECS_CLUSTER_NAME: 'tiercast',
  ECS_TASK_DEFINITION: 'tiercast:1',
  ECS_SUBNETS: 'subnet-0a1b',
};

describe('tiercast route', () => {
  it('with no AWS configuration: every real clip routes to local with the reason; a corrupt one fails alone', async () => {
    const r = await tiercast(localHome, 'route', '--json', fixtureClip('bbbInterlaced'), fixtureClip('corruptVp9'), fixtureClip('rooftopHdr10'));
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ schemaVersion: 1, verb: 'route', ok: false, enabledTiers: ['local'] });
    const [bbb, corrupt, rooftop] = doc.files;
    expect(bbb).toMatchObject({ ok: true, tier: 'local', media: { width: 1920, height: 1080 } });
    expect(bbb.reason).toMatch(/no AWS tiers configured/);
    expect(bbb.estimate.costUsd).toBe(0);
    expect(bbb.ladder.rungs[0]).toBe('1080p 1920x1080@30');
    expect(corrupt).toMatchObject({ ok: false, tier: null, error: { code: 'DECODE_FAILED' } });
    expect(rooftop).toMatchObject({ ok: true, tier: 'local', media: { width: 720, height: 1280 } });
    expect(r.stderr).toContain('DECODE_FAILED: corrupt_vp9_invalid_bitstream.webm');
  });

  it('with AWS tiers named in the environment: small clips go to Lambda with an estimate in USD and the price date', async () => {
    const r = await tiercast(awsNames, 'route', '--json', fixtureClip('portrait4k60'), fixtureClip('roadtrip10bit'));
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.enabledTiers).toEqual(['local', 'lambda', 'lambda-enhanced', 'fargate', 'fargate-spot']);
    expect(doc.totalEstimatedUsd).toBeCloseTo(doc.files[0].estimate.costUsd + doc.files[1].estimate.costUsd, 10);
    for (const f of doc.files) {
      expect(f.tier).toBe('lambda');
      expect(f.reason).toMatch(/under 50 MB/);
      expect(f.estimate.costUsd).toBeGreaterThan(0);
      expect(f.estimate.priceDate).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(f.alternatives.find((a: { tier: string }) => a.tier === 'ec2')).toMatchObject({ enabled: false });
    }
  });

  it('human output names tier, cost and why; a bad --tier is a usage error', async () => {
    const r = await tiercast(awsNames, 'route', fixtureClip('bbbInterlaced'));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^bbb_1080i30_mpeg2_ac3-5\.1_tff_DERIVED\.ts: lambda {2}~\d+ s {2}\$[0-9.e-]+ \(compute/m);
    expect(r.stdout).toMatch(/why: lambda: 2 MB is under 50 MB/);
    const bad = await tiercast(awsNames, 'route', '--tier', 'gpu', fixtureClip('bbbInterlaced'));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/CONFIG_INVALID: --tier "gpu"/);
    const notOn = await tiercast(localHome, 'route', '--json', '--tier', 'lambda', fixtureClip('bbbInterlaced'));
    expect(notOn.code).toBe(2);
    expect(JSON.parse(notOn.stdout).files[0].error.message).toMatch(/lambda was requested but is not enabled/);
  });

  it('a config error names the variable: exit 2', async () => {
    const r = await tiercast({ ...localHome, TIERCAST_LAMBDA_MEMORY_MB: 'lots' }, 'route', fixtureClip('bbbInterlaced'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/CONFIG_INVALID: tiers\.lambda\.memoryMb \(from env TIERCAST_LAMBDA_MEMORY_MB="lots"\)/);
  });
});

/** The data home's job store (jobs.db), as the CLI opens it. */
async function withJobStore<T>(home: string, fn: (store: ReturnType<typeof openSqliteJobStore>) => Promise<T>): Promise<T> {
  const store = openSqliteJobStore(homePaths(home).jobsDb);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

describe('tiercast submit and jobs (local tier)', () => {
  it('submit --wait runs the job here; jobs lists it done on local; a missing file fails alone', async () => {
    const clip = makeClip({ durationSec: 1, width: 320, height: 180 });
    const r = await tiercast(localHome, 'submit', '--wait', '--json', '--priority', '9', clip, path.join(dir, 'missing.mp4'));
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(doc.jobs).toHaveLength(2);
    const [ok, missing] = doc.jobs;
    expect(ok).toMatchObject({ tier: 'local', status: { stage: 'done', progress: 1 }, error: null });
    expect(ok.jobId).toMatch(/^j[0-9a-z]+-[0-9a-f]{8}$/);
    expect(missing).toMatchObject({ jobId: null, error: { code: 'INPUT_NOT_FOUND' } });

    const jobs = await tiercast(localHome, 'jobs', '--json');
    expect(jobs.code).toBe(0);
    const listed = JSON.parse(jobs.stdout);
    expect(listed.jobs.map((j: { id: string }) => j.id)).toEqual([ok.jobId]);
    expect(listed.jobs[0]).toMatchObject({ stage: 'done', tier: 'local', priceDate: expect.any(String) });
    expect(listed.jobs[0].tierReason).toMatch(/no AWS tiers configured/);

    const table = await tiercast(localHome, 'jobs');
    expect(table.stdout).toMatch(/^ID\s+STAGE\s+PRI\s+PROGRESS\s+TIER\s+ATTEMPTS\s+ELAPSED\s+COST\s+ERROR/);
    expect(table.stdout).toContain(`${ok.jobId}  done   9    100%      local  1`);

    const failed = await tiercast(localHome, 'jobs', '--json', '--stage', 'failed');
    expect(JSON.parse(failed.stdout).jobs).toEqual([]);
    expect((await tiercast(localHome, 'jobs', '--stage', 'nope')).code).toBe(2);

    // `dispatch` is still the alias of `submit`, and both read job state from the data home's job store.
    expect(await withJobStore(localHome.TIERCAST_HOME, async (s) => (await s.get(ok.jobId)).status)).toMatchObject({ stage: 'done', tier: 'local', attempts: 1 });

    // retry: a done job is refused, naming its stage.
    const done = await tiercast(localHome, 'retry', '--json', ok.jobId);
    expect(done.code).toBe(1);
    expect(JSON.parse(done.stdout).jobs[0]).toMatchObject({ id: ok.jobId, ok: false, error: { code: 'INVALID_REQUEST' } });
    expect(JSON.parse(done.stdout).jobs[0].error.message).toMatch(/it is done/);
    // A waiting job cancelled (its own stage), then retried: back in line on local with a fresh attempt budget.
    const waiting = await tiercast(localHome, 'dispatch', '--json', clip);
    expect(waiting.code, waiting.stderr).toBe(0);
    const waitingId = JSON.parse(waiting.stdout).jobs[0].jobId as string;
    const cancelled = await tiercast(localHome, 'cancel', '--json', waitingId);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(JSON.parse(cancelled.stdout).jobs[0]).toMatchObject({ id: waitingId, ok: true, stage: 'cancelled' });
    const again = await tiercast(localHome, 'retry', '--json', waitingId);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).jobs[0]).toMatchObject({ id: waitingId, ok: true, tier: 'local' });
    const retried = await withJobStore(localHome.TIERCAST_HOME, async (s) => (await s.get(waitingId)).status);
    expect(['queued', 'dispatched']).toContain(retried.stage);
    expect(retried).toMatchObject({ tier: 'local', attempts: 0, error: null });
    const unknown = await tiercast(localHome, 'retry', 'no-such-job');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/JOB_NOT_FOUND: job no-such-job/);
  });
});

describe('tiercast submit to the EC2 tier (S3 store on s3rver, SQS on fauxqs)', () => {
  let s3: S3rverHandle;
  let sqs: Fauxqs;
  let queueUrl: string;
  beforeAll(async () => {
    [s3, sqs] = await Promise.all([startS3rver(), startFauxqs()]);
    queueUrl = await sqs.createQueue('tiercast-agents');
  });
  afterAll(async () => {
    await Promise.all([s3?.stop(), sqs?.stop()]);
  });

  it('uploads the input to the bucket, creates the job there and queues a pointer for the agents', async () => {
    const clip = makeClip({ durationSec: 1, width: 320, height: 180 });
    const env = {
      TIERCAST_HOME: path.join(dir, 'home-ec2'),
      TIERCAST_BUCKET: s3.bucket,
      TIERCAST_S3_ENDPOINT: s3.endpoint,
      TIERCAST_S3_FORCE_PATH_STYLE: 'true',
      TIERCAST_QUEUE_URL: queueUrl,
      TIERCAST_SQS_ENDPOINT: sqs.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    };
    const r = await tiercast(env, 'submit', '--json', clip);
    expect(r.code, r.stderr).toBe(0);
    const job = JSON.parse(r.stdout).jobs[0];
    expect(job).toMatchObject({ tier: 'ec2', error: null });
    expect(job.reason).toMatch(/^ec2: /);

    const store = createS3Store({ client: s3rverClient(s3.endpoint), bucket: s3.bucket });
    const { spec, status } = await withJobStore(env.TIERCAST_HOME, (s) => s.get(job.jobId));
    expect(spec.input.key).toBe(`inputs/${job.jobId}/clip_320x180_25fps_1s_a.mp4`);
    expect((await store.head(spec.input.key))?.size).toBe(spec.input.sizeBytes);
    // Admitted to the agents' queue at once (under the ec2 cap).
    expect(status).toMatchObject({ stage: 'dispatched', tier: 'ec2' });
    expect(status.tierReason).toMatch(/queued on the agents' SQS queue \(normal priority\)/);

    const queue = createSqsJobQueue({ client: sqs.client, queueUrls: { normal: queueUrl } });
    const [message] = await queue.receive({ maxMessages: 1, waitSeconds: 1 });
    expect(JSON.parse(message!.body)).toEqual({ schemaVersion: 1, jobId: job.jobId });
  });
});
