import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ECSClient, RunTaskCommand } from '@aws-sdk/client-ecs';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHandler, outcomeError, type JobOutcome } from '../../../cloud/lambda/handler.ts';
import { TiercastError } from '../../../shared/common/errors.ts';
import type { JobStore } from '../../../shared/common/job-store.ts';
import type { JobSpecInput } from '../../../shared/common/job.ts';
import { change } from '../../../shared/common/job-lifecycle.ts';
import { getLadder } from '../../../shared/common/ladders.ts';
import { createLocalStore } from '../../../shared/node/local-store.ts';
import type { ObjectStore } from '../../../shared/node/object-store.ts';
import { openSqliteJobStore } from '../../../shared/node/sqlite-job-store.ts';
import { newJob as storedJob, testSpec } from '../../helpers/jobs.ts';

/**
 * The handler's automatic escalation: a job it refuses for the tier's limits goes straight to the next tier through
 * the jobs service (jobs.escalate, with the loop guard) and the tier adapters built from the function's environment (the
 * names the stack sets). Job state is a real SQLite job store handed in (the configuration still says S3, as on
 * Lambda, so the cloud tiers are enabled);
 * Lambda and ECS are aws-sdk-client-mock, asserting the exact commands. The refusal happens before any download, so
 * no ffmpeg runs here (handler.slow.test.ts covers the transcode paths against s3rver).
 */

const lambda = mockClient(LambdaClient);
const ecs = mockClient(ECSClient);

let dir: string;
let store: ObjectStore;
let jobStore: JobStore;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-handler-escalation-'));
  store = createLocalStore(path.join(dir, 'store'));
  jobStore = openSqliteJobStore(path.join(dir, 'jobs.db'));
  lambda.reset();
  ecs.reset();
  lambda.on(InvokeCommand).resolves({ StatusCode: 202, $metadata: { requestId: 'invoke-1' } });
  ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn: 'arn:aws:ecs:us-east-1:123456789012:task/tiercast/abc' }], failures: [] });
});
afterEach(async () => {
  await jobStore.close();
  rmSync(dir, { recursive: true, force: true });
});

/** What cloud/infra gives the standard function (resolved values). */
const stackEnv = {
  AWS_REGION: 'us-east-1',
  TIERCAST_STORE: 's3',
  TIERCAST_BUCKET: 'tiercast-media',
  LAMBDA_FUNCTION_NAME_ENHANCED: 'tiercast-lambda-enhanced',
  ECS_CLUSTER_NAME: 'tiercast-cluster',
  ECS_TASK_DEFINITION: 'tiercast-task',
  ECS_SUBNETS: 'subnet-0a1,subnet-0b2',
  ECS_SECURITY_GROUPS: 'sg-0c3',
  TIERCAST_ECS_ASSIGN_PUBLIC_IP: 'true',
  TIERCAST_ECS_CONTAINER_NAME: 'tiercast',
  // On-demand for every job, so the Fargate command is known in advance.
  TIERCAST_FARGATE_SPOT_SHARE: '0',
};

const context = (remainingMs: number) => ({ getRemainingTimeInMillis: () => remainingMs, awsRequestId: 'req-1', functionName: 'tiercast-lambda' });

function handlerFor(env: Record<string, string>) {
  return createHandler({ env: { ...env, TIERCAST_HOME: path.join(dir, 'home') }, store, jobStore, metricsSink: () => {}, safetySec: 10 });
}

/** A job as the dispatcher leaves it for a Lambda tier (tier recorded before the invoke). */
async function newJob(id: string, media: JobSpecInput['media'], extra: Partial<JobSpecInput> = {}, tier: 'lambda' | 'lambda-enhanced' = 'lambda'): Promise<void> {
  const spec = testSpec({ id, input: { key: `inputs/${id}/clip.mp4`, name: 'clip.mp4', sizeBytes: 40 * 1024 * 1024 }, media, ladder: getLadder('default'), formats: ['hls'], ...extra });
  await jobStore.insert([storedJob(spec, { tier, tierReason: 'test dispatch' })]);
  const queued = (await jobStore.get(id)).status;
  await jobStore.write(change(queued, { stage: 'dispatched', dispatchedAt: new Date().toISOString() }, new Date(), `admitted to ${tier}`).next, queued.version, null);
}
const statusOf = async (id: string) => (await jobStore.get(id)).status;
const notesOf = async (id: string) => (await jobStore.events(id)).map((e) => e.note ?? '');

const hour1080 = { durationSec: 3600, width: 1920, height: 1080, fps: 30 };

describe('Lambda handler: which failures escalate', () => {
  it('out of time or memory goes one tier up; a stalled ffmpeg is retried, not escalated (it would stall there too)', () => {
    expect(outcomeError(new TiercastError('TIMEOUT', 'ffmpeg did not finish within 100 s'))).toMatchObject({ retryable: true, escalate: true });
    expect(outcomeError(new TiercastError('OUT_OF_MEMORY', 'ffmpeg ran out of memory'))).toMatchObject({ escalate: true });
    expect(outcomeError(new TiercastError('TIMEOUT', 'ffmpeg stalled: no progress for 300 s (before any output)', { details: { stalled: true } }))).toMatchObject({
      code: 'TIMEOUT',
      retryable: true,
      escalate: false,
    });
    expect(outcomeError(new TiercastError('DECODE_FAILED', 'bad input'))).toMatchObject({ retryable: false, escalate: false });
  });
});

describe('Lambda handler: automatic escalation', () => {
  it('lambda refuses a job that cannot fit its time: invokes the enhanced function with the job pointer, hop recorded, no attempt spent', async () => {
    // A minute of 1080p: ~150 s of work on lambda (110 s left), well inside the enhanced function's limits.
    await newJob('esc-up', { ...hour1080, durationSec: 60 });
    const handler = handlerFor({ ...stackEnv, TIERCAST_TIER: 'lambda', AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '2048', TIERCAST_TIERS: 'lambda-enhanced,fargate,fargate-spot' });
    const out = (await handler({ jobId: 'esc-up' }, context(120_000))) as JobOutcome;

    expect(out).toMatchObject({ ok: false, tier: 'lambda', stage: 'queued', error: { code: 'TIER_LIMIT_EXCEEDED', escalate: true } });
    expect(out).not.toHaveProperty('escalation');
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 1);
    expect(lambda).toHaveReceivedCommandWith(InvokeCommand, {
      FunctionName: 'tiercast-lambda-enhanced',
      InvocationType: 'Event',
      Payload: new TextEncoder().encode(JSON.stringify({ schemaVersion: 1, jobId: 'esc-up' })),
    });
    expect(ecs).toHaveReceivedCommandTimes(RunTaskCommand, 0);

    const status = await statusOf('esc-up');
    expect(status).toMatchObject({ stage: 'dispatched', tier: 'lambda-enhanced', error: { code: 'TIER_LIMIT_EXCEEDED' }, attempts: 0 });
    const notes = await notesOf('esc-up');
    expect(notes.at(-2)).toMatch(/^escalated from lambda after TIER_LIMIT_EXCEEDED to lambda-enhanced/);
    expect(notes.at(-1)).toBe('admitted to lambda-enhanced');
  });

  it('lambda-enhanced refuses a longer job: one RunTask on on-demand FARGATE with the exact task settings', async () => {
    await newJob('esc-fargate', { ...hour1080, durationSec: 7200 }, {}, 'lambda-enhanced');
    const handler = handlerFor({ ...stackEnv, TIERCAST_TIER: 'lambda-enhanced', AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '3008', TIERCAST_TIERS: 'fargate,fargate-spot' });
    const out = (await handler({ jobId: 'esc-fargate' }, context(600_000))) as JobOutcome;

    expect(out).toMatchObject({ ok: false, tier: 'lambda-enhanced', stage: 'queued', error: { code: 'TIER_LIMIT_EXCEEDED' } });
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 0);
    expect(ecs).toHaveReceivedCommandTimes(RunTaskCommand, 1);
    expect(ecs.commandCalls(RunTaskCommand)[0]!.args[0].input).toEqual({
      cluster: 'tiercast-cluster',
      taskDefinition: 'tiercast-task',
      count: 1,
      capacityProviderStrategy: [{ capacityProvider: 'FARGATE', weight: 1 }],
      networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-0a1', 'subnet-0b2'], securityGroups: ['sg-0c3'], assignPublicIp: 'ENABLED' } },
      overrides: { containerOverrides: [{ name: 'tiercast', environment: [{ name: 'TIERCAST_JOB_ID', value: 'esc-fargate' }] }] },
      startedBy: 'tiercast-esc-fargate',
      tags: [{ key: 'tiercast:job-id', value: 'esc-fargate' }],
    });
    expect(await statusOf('esc-fargate')).toMatchObject({ stage: 'dispatched', tier: 'fargate' });
    expect((await notesOf('esc-fargate')).at(-2)).toMatch(/^escalated from lambda-enhanced after TIER_LIMIT_EXCEEDED to fargate/);
  });

  it('no tier above enabled: the job is marked failed with the router\'s reason, nothing is invoked', async () => {
    await newJob('esc-top', { ...hour1080, durationSec: 7200 }, {}, 'lambda-enhanced');
    const handler = handlerFor({ ...stackEnv, TIERCAST_TIER: 'lambda-enhanced', AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '3008', TIERCAST_TIERS: 'lambda-enhanced' });
    const out = (await handler({ jobId: 'esc-top' }, context(600_000))) as JobOutcome;
    expect(out).toMatchObject({ ok: false, stage: 'failed', error: { code: 'TIER_LIMIT_EXCEEDED' } });
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 0);
    expect(ecs).toHaveReceivedCommandTimes(RunTaskCommand, 0);
    expect((await statusOf('esc-top')).error?.message).toMatch(/no enabled tier above it can take it/);
  });

  it('a refusal spends no attempt: a job at its attempt limit still goes one tier up', async () => {
    await newJob('esc-spent', hour1080, { maxAttempts: 1 });
    const dispatched = await statusOf('esc-spent');
    await jobStore.write(change(dispatched, { attempts: 1 }, new Date()).next, dispatched.version, null);
    const handler = handlerFor({ ...stackEnv, TIERCAST_TIER: 'lambda', AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '2048', TIERCAST_TIERS: 'lambda-enhanced,fargate,fargate-spot' });
    const out = (await handler({ jobId: 'esc-spent' }, context(120_000))) as JobOutcome;
    expect(out).toMatchObject({ stage: 'queued', error: { code: 'TIER_LIMIT_EXCEEDED' } });
    expect(await statusOf('esc-spent')).toMatchObject({ attempts: 1 });
    expect((await statusOf('esc-spent')).tier).not.toBe('lambda');
  });

  it('a duplicate event for a job already sent on to another tier is skipped: the job is not pulled back nor escalated twice', async () => {
    await newJob('esc-dup', { ...hour1080, durationSec: 60 });
    const handler = handlerFor({ ...stackEnv, TIERCAST_TIER: 'lambda', AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '2048', TIERCAST_TIERS: 'lambda-enhanced,fargate,fargate-spot' });
    const first = (await handler({ jobId: 'esc-dup' }, context(120_000))) as JobOutcome;
    expect(first).toMatchObject({ stage: 'queued', error: { code: 'TIER_LIMIT_EXCEEDED' } });
    const before = await statusOf('esc-dup');
    // Lambda's async queue delivers at least once: the same event again.
    const again = (await handler({ jobId: 'esc-dup' }, context(120_000))) as JobOutcome;
    expect(again).toEqual({ jobId: 'esc-dup', ok: false, tier: 'lambda', stage: 'dispatched', skipped: 'job esc-dup belongs to lambda-enhanced, not lambda: this event is stale' });
    expect(await statusOf('esc-dup')).toEqual(before);
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 1);
  });

  it('a function with no tier adapters configured records the refusal and leaves the job queued for the sweep', async () => {
    await newJob('esc-none', hour1080);
    const handler = handlerFor({ AWS_REGION: 'us-east-1', TIERCAST_STORE: 's3', TIERCAST_BUCKET: 'tiercast-media', TIERCAST_TIER: 'lambda', AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '2048' });
    const out = (await handler({ jobId: 'esc-none' }, context(120_000))) as JobOutcome;
    expect(out).toMatchObject({ ok: false, error: { code: 'TIER_LIMIT_EXCEEDED' } });
    expect(await statusOf('esc-none')).toMatchObject({ stage: out.stage, error: { code: 'TIER_LIMIT_EXCEEDED' } });
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 0);
    expect(ecs).toHaveReceivedCommandTimes(RunTaskCommand, 0);
  });
});
