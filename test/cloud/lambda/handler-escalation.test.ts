import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ECSClient, RunTaskCommand } from '@aws-sdk/client-ecs';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHandler, outcomeError, type JobOutcome } from '../../../cloud/lambda/handler.ts';
import { TiercastError } from '../../../shared/common/errors.ts';
import type { JobSpecInput } from '../../../shared/common/job.ts';
import { getLadder } from '../../../shared/common/ladders.ts';
import { createLedger, type JobLedger } from '../../../shared/node/ledger.ts';
import { createLocalStore } from '../../../shared/node/local-store.ts';
import type { ObjectStore } from '../../../shared/node/object-store.ts';

/**
 * The handler's automatic escalation: a job it refuses for the tier's limits goes straight to the next tier through
 * the dispatchers built from the function's environment (the names the stack sets). The ledger is a real local-folder
 * ledger handed in as the store (the configuration still says S3, as on Lambda, so the cloud tiers are enabled);
 * Lambda and ECS are aws-sdk-client-mock, asserting the exact commands. The refusal happens before any download, so
 * no ffmpeg runs here (handler.slow.test.ts covers the transcode paths against s3rver).
 */

const lambda = mockClient(LambdaClient);
const ecs = mockClient(ECSClient);

let dir: string;
let store: ObjectStore;
let ledger: JobLedger;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-handler-escalation-'));
  store = createLocalStore(path.join(dir, 'store'));
  ledger = createLedger(store);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => {
  lambda.reset();
  ecs.reset();
  lambda.on(InvokeCommand).resolves({ StatusCode: 202, $metadata: { requestId: 'invoke-1' } });
  ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn: 'arn:aws:ecs:us-east-1:123456789012:task/tiercast/abc' }], failures: [] });
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
  return createHandler({ env: { ...env, TIERCAST_HOME: path.join(dir, 'home') }, store, metricsSink: () => {}, safetySec: 10 });
}

/** A job as the dispatcher leaves it for a Lambda tier (tier recorded before the invoke). */
async function newJob(id: string, media: JobSpecInput['media'], extra: Partial<JobSpecInput> = {}, tier: 'lambda' | 'lambda-enhanced' = 'lambda'): Promise<void> {
  await ledger.createJob({
    schemaVersion: 1,
    id,
    createdAt: new Date().toISOString(),
    input: { key: `inputs/${id}/clip.mp4`, name: 'clip.mp4', sizeBytes: 40 * 1024 * 1024 },
    media,
    ladder: getLadder('default'),
    formats: ['hls'],
    ...extra,
  }, { tier, tierReason: 'test dispatch' });
}

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
  it('lambda refuses a job that cannot fit its time: invokes the enhanced function with the job pointer, hop recorded', async () => {
    // A minute of 1080p: ~150 s of work on lambda (110 s left), well inside the enhanced function's limits.
    await newJob('esc-up', { ...hour1080, durationSec: 60 });
    const handler = handlerFor({ ...stackEnv, TIERCAST_TIER: 'lambda', AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '2048', TIERCAST_TIERS: 'lambda-enhanced,fargate,fargate-spot' });
    const out = (await handler({ jobId: 'esc-up' }, context(120_000))) as JobOutcome;

    expect(out).toMatchObject({ ok: false, tier: 'lambda', stage: 'queued', error: { code: 'TIER_LIMIT_EXCEEDED', escalate: true } });
    expect(out.escalation).toMatchObject({ action: 'dispatched', from: 'lambda', tier: 'lambda-enhanced', ref: 'invoke-1' });
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 1);
    expect(lambda).toHaveReceivedCommandWith(InvokeCommand, {
      FunctionName: 'tiercast-lambda-enhanced',
      InvocationType: 'Event',
      Payload: new TextEncoder().encode(JSON.stringify({ schemaVersion: 1, jobId: 'esc-up' })),
    });
    expect(ecs).toHaveReceivedCommandTimes(RunTaskCommand, 0);

    const status = await ledger.getStatus('esc-up');
    expect(status).toMatchObject({ stage: 'queued', tier: 'lambda-enhanced', error: null, attempts: 0 });
    const hop = status.history.at(-1)!;
    expect(hop).toMatchObject({ stage: 'queued', tier: 'lambda-enhanced' });
    expect(hop.note).toMatch(/^escalated from lambda after TIER_LIMIT_EXCEEDED to lambda-enhanced: job esc-up cannot finish on lambda: predicted \d+ s of work/);
    expect(status.tierReason).toMatch(/one tier up after TIER_LIMIT_EXCEEDED on lambda/);
  });

  it('lambda-enhanced refuses a longer job: one RunTask on on-demand FARGATE with the exact task settings', async () => {
    await newJob('esc-fargate', { ...hour1080, durationSec: 7200 }, {}, 'lambda-enhanced');
    const handler = handlerFor({ ...stackEnv, TIERCAST_TIER: 'lambda-enhanced', AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '3008', TIERCAST_TIERS: 'fargate,fargate-spot' });
    const out = (await handler({ jobId: 'esc-fargate' }, context(600_000))) as JobOutcome;

    expect(out.escalation).toMatchObject({ action: 'dispatched', from: 'lambda-enhanced', tier: 'fargate', ref: 'arn:aws:ecs:us-east-1:123456789012:task/tiercast/abc' });
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
    const status = await ledger.getStatus('esc-fargate');
    expect(status).toMatchObject({ stage: 'queued', tier: 'fargate' });
    expect(status.history.at(-1)!.note).toMatch(/^escalated from lambda-enhanced after TIER_LIMIT_EXCEEDED to fargate: /);
  });

  it('no tier above enabled: the job is marked failed with the router\'s reason, nothing is invoked', async () => {
    await newJob('esc-top', { ...hour1080, durationSec: 7200 }, {}, 'lambda-enhanced');
    const handler = handlerFor({ ...stackEnv, TIERCAST_TIER: 'lambda-enhanced', AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '3008', TIERCAST_TIERS: 'lambda-enhanced' });
    const out = (await handler({ jobId: 'esc-top' }, context(600_000))) as JobOutcome;
    expect(out.escalation).toMatchObject({ action: 'failed', code: 'TIER_LIMIT_EXCEEDED' });
    expect(out.stage).toBe('failed');
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 0);
    expect(ecs).toHaveReceivedCommandTimes(RunTaskCommand, 0);
    expect((await ledger.getStatus('esc-top')).error?.message).toMatch(/no enabled tier above it can take it/);
  });

  it('out of attempts: the refusal fails the job and nothing is re-dispatched', async () => {
    await newJob('esc-spent', hour1080, { maxAttempts: 1 });
    await ledger.updateStatus('esc-spent', { attempts: 1 });
    const handler = handlerFor({ ...stackEnv, TIERCAST_TIER: 'lambda', AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '2048', TIERCAST_TIERS: 'lambda-enhanced,fargate,fargate-spot' });
    const out = (await handler({ jobId: 'esc-spent' }, context(120_000))) as JobOutcome;
    expect(out).toMatchObject({ stage: 'failed', error: { code: 'TIER_LIMIT_EXCEEDED' } });
    expect(out.escalation).toBeUndefined();
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 0);
  });

  it('a duplicate event for a job already sent on to another tier is skipped: the job is not pulled back nor escalated twice', async () => {
    await newJob('esc-dup', { ...hour1080, durationSec: 60 });
    const handler = handlerFor({ ...stackEnv, TIERCAST_TIER: 'lambda', AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '2048', TIERCAST_TIERS: 'lambda-enhanced,fargate,fargate-spot' });
    const first = (await handler({ jobId: 'esc-dup' }, context(120_000))) as JobOutcome;
    expect(first.escalation).toMatchObject({ action: 'dispatched', tier: 'lambda-enhanced' });
    const before = await ledger.getStatus('esc-dup');
    // Lambda's async queue delivers at least once: the same event again.
    const again = (await handler({ jobId: 'esc-dup' }, context(120_000))) as JobOutcome;
    expect(again).toMatchObject({ ok: false, tier: 'lambda', stage: 'queued', skipped: 'job esc-dup is queued for lambda-enhanced, not lambda: this event is stale' });
    expect(again.escalation).toBeUndefined();
    expect(await ledger.getStatus('esc-dup')).toEqual(before);
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 1);
  });

  it('a function with no dispatcher configured leaves the refused job queued for `tiercast dispatch --retry`', async () => {
    // Invoked by hand (no tier recorded by a dispatcher): the refusal records the tier it happened on.
    await ledger.createJob({
      schemaVersion: 1, id: 'esc-none', createdAt: new Date().toISOString(),
      input: { key: 'inputs/esc-none/clip.mp4', name: 'clip.mp4', sizeBytes: 40 * 1024 * 1024 }, media: hour1080, ladder: getLadder('default'),
    });
    const handler = handlerFor({ AWS_REGION: 'us-east-1', TIERCAST_STORE: 's3', TIERCAST_BUCKET: 'tiercast-media', TIERCAST_TIER: 'lambda', AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '2048' });
    const out = (await handler({ jobId: 'esc-none' }, context(120_000))) as JobOutcome;
    expect(out).toMatchObject({ stage: 'queued', error: { code: 'TIER_LIMIT_EXCEEDED' } });
    expect(out.escalation).toBeUndefined();
    expect(await ledger.getStatus('esc-none')).toMatchObject({ stage: 'queued', tier: 'lambda', error: { code: 'TIER_LIMIT_EXCEEDED' } });
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 0);
  });
});
