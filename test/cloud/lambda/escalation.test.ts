import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ECSClient, RunTaskCommand } from '@aws-sdk/client-ecs';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { classifyFailure, createEscalationHandler, type DestinationSummary, type SweepSummary, type TaskStoppedSummary } from '../../../cloud/lambda/escalation.ts';
import { change } from '../../../shared/common/job-lifecycle.ts';
import type { JobStore } from '../../../shared/common/job-store.ts';
import type { Stage, Tier } from '../../../shared/common/job.ts';
import { createJobsService } from '../../../shared/common/jobs-service.ts';
import { getLadder } from '../../../shared/common/ladders.ts';
import { loadConfig } from '../../../shared/node/config.ts';
import { createLocalStore } from '../../../shared/node/local-store.ts';
import type { ObjectStore } from '../../../shared/node/object-store.ts';
import { openSqliteJobStore } from '../../../shared/node/sqlite-job-store.ts';
import { newJob, testSpec } from '../../helpers/jobs.ts';

/**
 * The escalation function: on-failure destination records of the transcode functions, ECS OOM events and the
 * scheduled sweep. Job state is a real SQLite job store (handed in; the configuration says S3 as in the stack); Lambda
 * and ECS are aws-sdk-client-mock with exact command inputs (the tier adapters are the real ones, built from the env).
 */

const lambda = mockClient(LambdaClient);
const ecs = mockClient(ECSClient);

let dir: string;
let store: ObjectStore;
let jobStore: JobStore;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-escalation-'));
  store = createLocalStore(path.join(dir, 'store'));
  jobStore = openSqliteJobStore(path.join(dir, 'jobs.db'));
  lambda.reset();
  ecs.reset();
  lambda.on(InvokeCommand).resolves({ StatusCode: 202, $metadata: { requestId: 'invoke-1' } });
  ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn: 'arn:aws:ecs:us-east-1:123456789012:task/tiercast/t1' }], failures: [] });
});
afterEach(async () => {
  await jobStore.close();
  rmSync(dir, { recursive: true, force: true });
});

const FN = 'arn:aws:lambda:us-east-1:123456789012:function';
/** The escalation function's environment as the stack sets it (resolved). */
const env = {
  AWS_REGION: 'us-east-1',
  TIERCAST_STORE: 's3',
  TIERCAST_BUCKET: 'tiercast-media',
  LAMBDA_FUNCTION_NAME: 'tiercast-lambda',
  LAMBDA_FUNCTION_NAME_ENHANCED: 'tiercast-lambda-enhanced',
  ECS_CLUSTER_NAME: 'tiercast-cluster',
  ECS_TASK_DEFINITION: 'tiercast-task',
  ECS_SUBNETS: 'subnet-0a1',
  ECS_SECURITY_GROUPS: 'sg-0c3',
  TIERCAST_ECS_ASSIGN_PUBLIC_IP: 'true',
  TIERCAST_TIERS: 'lambda,lambda-enhanced,fargate,fargate-spot',
  TIERCAST_FARGATE_SPOT_SHARE: '0',
  TIERCAST_LAMBDA_TIMEOUT_SEC: '120',
  TIERCAST_LAMBDA_ENHANCED_TIMEOUT_SEC: '600',
};

const handler = () => createEscalationHandler({ env: { ...env, TIERCAST_HOME: path.join(dir, 'home') }, store, jobStore });

/** The jobs service a runner uses, with its own lease length (1 ms: a run that died at once). */
async function runnerJobs(leaseMs: number) {
  const config = await loadConfig({ env, home: path.join(dir, 'home') });
  return createJobsService({ store: jobStore, dispatchers: {}, config, maxInFlight: {}, leaseMs });
}

/**
 * A job as a worker leaves it while running on `tier`: claimed `attempts` times (earlier runs died), now in `stage`.
 * leaseLapsed: the last run stopped renewing its lease too (killed without a word).
 */
async function runningJob(id: string, tier: Tier, stage: Stage, opts: { leaseLapsed?: boolean; attempts?: number; maxAttempts?: number; durationSec?: number } = {}) {
  const spec = testSpec({
    id,
    input: { key: `inputs/${id}/clip.mp4`, name: `${id}.mp4`, sizeBytes: 30 * 1024 * 1024 },
    media: { durationSec: opts.durationSec ?? 60, width: 1920, height: 1080, fps: 30 },
    ladder: getLadder('default'),
    formats: ['hls'],
    maxAttempts: opts.maxAttempts ?? 3,
  });
  await jobStore.insert([newJob(spec, { tier, tierReason: 'test dispatch' })]);
  const attempts = opts.attempts ?? 1;
  for (let i = 1; i <= attempts; i++) {
    const last = i === attempts;
    const jobs = await runnerJobs(last && !opts.leaseLapsed ? 600_000 : 1);
    const claimed = await jobs.claim(id, { worker: `lambda:${tier}:req`, tier, runToken: `run-${i}` });
    if (!claimed.ok) throw new Error(`test setup: claim refused: ${claimed.why}`);
    if (!last) await new Promise((r) => setTimeout(r, 5));
  }
  const { status } = await jobStore.get(id);
  if (stage !== status.stage) await jobStore.write(change(status, { stage }, new Date()).next, status.version, null);
}

const notes = async (id: string) => (await jobStore.events(id)).map((e) => `${e.stage}/${e.tier}: ${e.note ?? ''}`);

/** The RunTask the Fargate adapter sends for a job (on-demand: the Spot share is 0 here). */
const RUN_TASK = (jobId: string) => ({
  cluster: 'tiercast-cluster',
  taskDefinition: 'tiercast-task',
  count: 1,
  capacityProviderStrategy: [{ capacityProvider: 'FARGATE', weight: 1 }],
  networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-0a1'], securityGroups: ['sg-0c3'], assignPublicIp: 'ENABLED' } },
  overrides: { containerOverrides: [{ name: 'tiercast', environment: [{ name: 'TIERCAST_JOB_ID', value: jobId }] }] },
  startedBy: `tiercast-${jobId}`,
  tags: [{ key: 'tiercast:job-id', value: jobId }],
});

/** An on-failure destination record (shape from the Lambda docs' "invocation record" example). */
function record(jobId: string, fn: string, responsePayload: Record<string, string> | null, condition = 'RetriesExhausted') {
  return {
    version: '1.0',
    timestamp: '2026-11-22T04:00:00.000Z',
    requestContext: { requestId: 'e4b46cbf-b738-4a1b-8880-a18cdf61200e', functionArn: `${FN}:${fn}:$LATEST`, condition, approximateInvokeCount: 1 },
    requestPayload: { schemaVersion: 1, jobId },
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    responsePayload,
  };
}

describe('classifyFailure', () => {
  it.each([
    [{ errorType: 'Sandbox.Timedout', errorMessage: 'RequestId: 1 Error: Task timed out after 600.00 seconds' }, 'RetriesExhausted', 'TIMEOUT'],
    [{ errorMessage: '2026-11-22T04:00:00.000Z 1 Task timed out after 120.02 seconds' }, 'RetriesExhausted', 'TIMEOUT'],
    [{ errorType: 'Runtime.OutOfMemory', errorMessage: 'RequestId: 1 Error: Runtime exited with error: signal: killed' }, 'RetriesExhausted', 'OUT_OF_MEMORY'],
    [{ errorType: 'Runtime.ExitError', errorMessage: 'RequestId: 1 Error: Runtime exited with error: signal: killed' }, 'RetriesExhausted', 'OUT_OF_MEMORY'],
    [{ errorType: 'TiercastError', errorMessage: 'event must be { "jobId": "..." }' }, 'RetriesExhausted', 'INTERNAL'],
    [null, 'EventAgeExceeded', 'THROTTLED'],
  ] as const)('%j (%s) -> %s', (payload, condition, code) => {
    expect(classifyFailure(record('j', 'tiercast-lambda', payload as Record<string, string> | null, condition)).code).toBe(code);
  });
});

describe('escalation handler: on-failure destination records', () => {
  it('Sandbox.Timedout on lambda-enhanced: the job is marked TIMEOUT, sent one tier up and one RunTask goes to on-demand Fargate', async () => {
    await runningJob('d-timeout', 'lambda-enhanced', 'encoding', { durationSec: 120 });
    const out = (await handler()(record('d-timeout', 'tiercast-lambda-enhanced', { errorType: 'Sandbox.Timedout', errorMessage: 'RequestId: 1 Error: Task timed out after 600.00 seconds' }))) as DestinationSummary;
    expect(out.kind).toBe('destination');
    // The status as recorded (queued on the next tier); admission then dispatched it.
    expect(out.result).toMatchObject({ stage: 'queued', tier: 'fargate', lease: null, worker: null, error: { code: 'TIMEOUT' } });
    expect(ecs).toHaveReceivedCommandTimes(RunTaskCommand, 1);
    expect(ecs.commandCalls(RunTaskCommand)[0]!.args[0].input).toEqual(RUN_TASK('d-timeout'));
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 0);
    const status = (await jobStore.get('d-timeout')).status;
    expect(status).toMatchObject({ stage: 'dispatched', tier: 'fargate', attempts: 1 });
    const n = await notes('d-timeout');
    expect(n.at(-2)).toMatch(/^queued\/fargate: escalated from lambda-enhanced after TIMEOUT to fargate/);
    expect(n.at(-1)).toBe('dispatched/fargate: admitted to fargate');
  });

  it('Runtime.OutOfMemory on lambda: invokes the enhanced function with the job pointer', async () => {
    await runningJob('d-oom', 'lambda', 'encoding');
    const out = (await handler()(record('d-oom', 'tiercast-lambda', { errorType: 'Runtime.OutOfMemory', errorMessage: 'RequestId: 2 Error: Runtime exited with error: signal: killed' }))) as DestinationSummary;
    expect(out.result).toMatchObject({ stage: 'queued', tier: 'lambda-enhanced', error: { code: 'OUT_OF_MEMORY' } });
    expect((await jobStore.get('d-oom')).status).toMatchObject({ stage: 'dispatched', tier: 'lambda-enhanced' });
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 1);
    expect(lambda).toHaveReceivedCommandWith(InvokeCommand, {
      FunctionName: 'tiercast-lambda-enhanced',
      InvocationType: 'Event',
      Payload: new TextEncoder().encode(JSON.stringify({ schemaVersion: 1, jobId: 'd-oom' })),
    });
    expect((await notes('d-oom')).at(-2)).toMatch(/^queued\/lambda-enhanced: escalated from lambda after OUT_OF_MEMORY to lambda-enhanced/);
  });

  it('leaves alone a job that is done, or that has moved on to another tier since', async () => {
    await runningJob('d-done', 'lambda', 'encoding');
    const running = (await jobStore.get('d-done')).status;
    const finalizing = change(running, { stage: 'finalizing' }, new Date()).next;
    await jobStore.write(finalizing, running.version, null);
    await jobStore.write(change(finalizing, { stage: 'done', progress: 1, lease: null }, new Date()).next, finalizing.version, null);
    await runningJob('d-moved', 'fargate', 'encoding');
    const before = { done: (await jobStore.get('d-done')).status, moved: (await jobStore.get('d-moved')).status };
    const h = handler();
    const done = (await h(record('d-done', 'tiercast-lambda', { errorType: 'Sandbox.Timedout', errorMessage: 'x' }))) as DestinationSummary;
    const moved = (await h(record('d-moved', 'tiercast-lambda', { errorType: 'Sandbox.Timedout', errorMessage: 'x' }))) as DestinationSummary;
    expect(done.result).toMatchObject({ stage: 'done', version: before.done.version });
    expect(moved.result).toMatchObject({ stage: 'encoding', tier: 'fargate', version: before.moved.version });
    expect((await jobStore.get('d-done')).status).toEqual(before.done);
    expect((await jobStore.get('d-moved')).status).toEqual(before.moved);
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 0);
    expect(ecs).toHaveReceivedCommandTimes(RunTaskCommand, 0);
  });

  it('a killed run on the last attempt fails the job with the code; nothing is dispatched', async () => {
    await runningJob('d-last', 'lambda', 'encoding', { attempts: 2, maxAttempts: 2 });
    const out = (await handler()(record('d-last', 'tiercast-lambda', { errorType: 'Runtime.OutOfMemory', errorMessage: 'x' }))) as DestinationSummary;
    expect(out.result).toMatchObject({ stage: 'failed', error: { code: 'OUT_OF_MEMORY' } });
    expect((await jobStore.get('d-last')).status).toMatchObject({ stage: 'failed', attempts: 2, error: { code: 'OUT_OF_MEMORY' } });
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 0);
  });

  it('an event that expired in the async queue never ran: sent again on the same tier, no attempt spent, not escalated', async () => {
    const spec = testSpec({
      id: 'd-expired',
      input: { key: 'inputs/d-expired/clip.mp4', name: 'd-expired.mp4', sizeBytes: 10 * 1024 * 1024 },
      media: { durationSec: 10, width: 1280, height: 720, fps: 30 },
      formats: ['hls'],
    });
    await jobStore.insert([newJob(spec, { tier: 'lambda', tierReason: 'test dispatch' })]);
    const queued = (await jobStore.get('d-expired')).status;
    await jobStore.write(change(queued, { stage: 'dispatched', dispatchedAt: new Date().toISOString() }, new Date()).next, queued.version, null);
    const out = (await handler()(record('d-expired', 'tiercast-lambda', null, 'EventAgeExceeded'))) as DestinationSummary;
    expect(out.result).toMatchObject({ stage: 'queued', tier: 'lambda', attempts: 0, error: { code: 'THROTTLED' } });
    expect((await jobStore.get('d-expired')).status).toMatchObject({ stage: 'dispatched', tier: 'lambda', attempts: 0 });
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 1);
    expect(lambda).toHaveReceivedCommandWith(InvokeCommand, {
      FunctionName: 'tiercast-lambda',
      InvocationType: 'Event',
      Payload: new TextEncoder().encode(JSON.stringify({ schemaVersion: 1, jobId: 'd-expired' })),
    });
    expect((await notes('d-expired')).at(-2)).toBe('queued/lambda: THROTTLED on lambda before it started; back to the queue');
  });

  it('a record without a Tiercast job id is ignored', async () => {
    const out = (await handler()({ ...record('x', 'tiercast-lambda', null), requestPayload: { ORDER_IDS: ['1'] } })) as DestinationSummary;
    expect(out).toEqual({ kind: 'destination', result: null, why: 'no job id in requestPayload' });
  });
});

/** An ECS "Task State Change" event for a stopped Tiercast task (the fields EventBridge delivers that matter here). */
function taskStopped(jobId: string, container: { exitCode?: number; reason?: string }, provider = 'FARGATE_SPOT') {
  return {
    version: '0',
    id: '3317b2af-7005-947d-b652-f55e762e571a',
    'detail-type': 'ECS Task State Change',
    source: 'aws.ecs',
    account: '123456789012',
    time: '2026-11-22T04:00:00Z',
    region: 'us-east-1',
    resources: ['arn:aws:ecs:us-east-1:123456789012:task/tiercast-cluster/0123456789abcdef'],
    detail: {
      clusterArn: 'arn:aws:ecs:us-east-1:123456789012:cluster/tiercast-cluster',
      taskArn: 'arn:aws:ecs:us-east-1:123456789012:task/tiercast-cluster/0123456789abcdef',
      capacityProviderName: provider,
      lastStatus: 'STOPPED',
      desiredStatus: 'STOPPED',
      stopCode: 'EssentialContainerExited',
      stoppedReason: 'Essential container in task exited',
      startedBy: `tiercast-${jobId}`,
      containers: [{ name: 'tiercast', lastStatus: 'STOPPED', ...container }],
      overrides: { containerOverrides: [{ name: 'tiercast', environment: [{ name: 'TIERCAST_JOB_ID', value: jobId }] }] },
    },
  };
}

describe('escalation handler: Fargate tasks killed for memory', () => {
  it('OutOfMemoryError on Fargate Spot: the job is marked OUT_OF_MEMORY and sent one tier up (on-demand, EC2 not enabled here)', async () => {
    await runningJob('t-oom', 'fargate-spot', 'encoding');
    const out = (await handler()(taskStopped('t-oom', { exitCode: 137, reason: 'OutOfMemoryError: Container killed due to memory usage' }))) as TaskStoppedSummary;
    expect(out).toMatchObject({ kind: 'task-stopped', result: { stage: 'queued', tier: 'fargate', error: { code: 'OUT_OF_MEMORY' } } });
    expect((await jobStore.get('t-oom')).status).toMatchObject({ stage: 'dispatched', tier: 'fargate' });
    expect(ecs).toHaveReceivedCommandTimes(RunTaskCommand, 1);
    expect(ecs.commandCalls(RunTaskCommand)[0]!.args[0].input).toEqual(RUN_TASK('t-oom'));
    expect((await notes('t-oom')).at(-2)).toMatch(/^queued\/fargate: escalated from fargate-spot after OUT_OF_MEMORY to fargate/);
  });

  it('a task that exited on its own terms (done, failed, interrupted) was reported by the entry: left alone', async () => {
    await runningJob('t-exit', 'fargate', 'encoding');
    const before = (await jobStore.get('t-exit')).status;
    for (const exitCode of [0, 1, 143]) {
      const out = (await handler()(taskStopped('t-exit', { exitCode }, 'FARGATE'))) as TaskStoppedSummary;
      expect(out).toEqual({ kind: 'task-stopped', result: null, why: 'the task ended on its own terms (the entry reported it)' });
    }
    expect((await jobStore.get('t-exit')).status).toEqual(before);
    expect(ecs).toHaveReceivedCommandTimes(RunTaskCommand, 0);
  });
});

describe('escalation handler: the scheduled sweep', () => {
  it('a lapsed lease on a Lambda tier is a kill at its limit: TIMEOUT, one tier up; live leases, Fargate and finished jobs are left alone', async () => {
    await runningJob('s-stuck', 'lambda', 'encoding', { leaseLapsed: true });
    await runningJob('s-fresh', 'lambda', 'encoding');
    await runningJob('s-enhanced', 'lambda-enhanced', 'uploading');
    await runningJob('s-fargate', 'fargate', 'encoding');
    await runningJob('s-failed', 'lambda', 'encoding', { leaseLapsed: true });
    const running = (await jobStore.get('s-failed')).status;
    await jobStore.write(change(running, { stage: 'failed', error: { code: 'DECODE_FAILED', message: 'bad' }, lease: null }, new Date()).next, running.version, null);
    await new Promise((r) => setTimeout(r, 5));
    const before = await Promise.all(['s-fresh', 's-enhanced', 's-fargate', 's-failed'].map(async (id) => (await jobStore.get(id)).status));

    const out = (await handler()({ version: '0', 'detail-type': 'Scheduled Event', source: 'aws.events', detail: {} })) as SweepSummary;
    expect(out).toEqual({ kind: 'sweep', retried: 0, reclaimed: 1, redispatched: 0, admitted: 1 });
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 1);
    expect(lambda).toHaveReceivedCommandWith(InvokeCommand, {
      FunctionName: 'tiercast-lambda-enhanced',
      InvocationType: 'Event',
      Payload: new TextEncoder().encode(JSON.stringify({ schemaVersion: 1, jobId: 's-stuck' })),
    });
    const stuck = (await jobStore.get('s-stuck')).status;
    expect(stuck).toMatchObject({ stage: 'dispatched', tier: 'lambda-enhanced', lease: null, error: { code: 'TIMEOUT' } });
    expect(stuck.error!.message).toMatch(/stopped renewing its lease/);
    expect((await notes('s-stuck')).at(-2)).toMatch(/^queued\/lambda-enhanced: escalated from lambda after TIMEOUT to lambda-enhanced/);
    // Untouched, field for field.
    const after = await Promise.all(['s-fresh', 's-enhanced', 's-fargate', 's-failed'].map(async (id) => (await jobStore.get(id)).status));
    expect(after).toEqual(before);

    // A second sweep finds nothing more to do: the escalated job is dispatched on its new tier.
    lambda.resetHistory();
    const again = (await handler()({ sweep: true })) as SweepSummary;
    expect(again).toEqual({ kind: 'sweep', retried: 0, reclaimed: 0, redispatched: 0, admitted: 0 });
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 0);
  });

  it('a retry whose backoff is over is sent again on its own tier; one still waiting is not', async () => {
    for (const [id, notBefore] of [['r-due', new Date(Date.now() - 1000)], ['r-wait', new Date(Date.now() + 3600_000)]] as const) {
      await runningJob(id, 'lambda', 'encoding');
      const s = (await jobStore.get(id)).status;
      await jobStore.write(change(s, { stage: 'retry-wait', notBefore: notBefore.toISOString(), lease: null, error: { code: 'THROTTLED', message: 'slow down' } }, new Date()).next, s.version, null);
    }
    const out = (await handler()({ sweep: true })) as SweepSummary;
    expect(out).toEqual({ kind: 'sweep', retried: 1, reclaimed: 0, redispatched: 0, admitted: 1 });
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 1);
    expect(lambda).toHaveReceivedCommandWith(InvokeCommand, { FunctionName: 'tiercast-lambda', Payload: new TextEncoder().encode(JSON.stringify({ schemaVersion: 1, jobId: 'r-due' })) });
    expect((await jobStore.get('r-due')).status).toMatchObject({ stage: 'dispatched', tier: 'lambda', attempts: 1 });
    expect((await jobStore.get('r-wait')).status).toMatchObject({ stage: 'retry-wait', tier: 'lambda' });
  });
});
