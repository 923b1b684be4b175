import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ECSClient, RunTaskCommand } from '@aws-sdk/client-ecs';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { classifyFailure, createEscalationHandler, type DestinationSummary, type SweepSummary, type TaskStoppedSummary } from '../../../cloud/lambda/escalation.ts';
import { ledgerKeys, type Stage, type Tier } from '../../../shared/common/job.ts';
import { getLadder } from '../../../shared/common/ladders.ts';
import { createLedger, type JobLedger } from '../../../shared/node/ledger.ts';
import { createLocalStore } from '../../../shared/node/local-store.ts';
import type { ObjectStore } from '../../../shared/node/object-store.ts';

/**
 * The escalation function: on-failure destination records of the transcode functions and the stuck-job sweep. The
 * ledger is a real local-folder ledger (handed in as the store; the configuration says S3 as in the stack); Lambda
 * and ECS are aws-sdk-client-mock with exact command inputs.
 */

const lambda = mockClient(LambdaClient);
const ecs = mockClient(ECSClient);

let dir: string;
let store: ObjectStore;
let ledger: JobLedger;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-escalation-'));
  store = createLocalStore(path.join(dir, 'store'));
  ledger = createLedger(store);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => {
  lambda.reset();
  ecs.reset();
  lambda.on(InvokeCommand).resolves({ StatusCode: 202, $metadata: { requestId: 'invoke-1' } });
  ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn: 'arn:aws:ecs:us-east-1:123456789012:task/tiercast/t1' }], failures: [] });
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
  TIERCAST_SWEEP_MARGIN_SEC: '300',
};

const handler = () => createEscalationHandler({ env: { ...env, TIERCAST_HOME: path.join(dir, 'home') }, store });

/** A job as a Lambda worker leaves it while running: dispatched to `tier`, attempt 1 started, in `stage`. */
async function runningJob(id: string, tier: Tier, stage: Stage, opts: { idleSec?: number; attempts?: number; maxAttempts?: number; durationSec?: number } = {}) {
  await ledger.createJob(
    {
      schemaVersion: 1,
      id,
      createdAt: new Date().toISOString(),
      input: { key: `inputs/${id}/clip.mp4`, name: `${id}.mp4`, sizeBytes: 30 * 1024 * 1024 },
      media: { durationSec: opts.durationSec ?? 60, width: 1920, height: 1080, fps: 30 },
      ladder: getLadder('default'),
      formats: ['hls'],
      maxAttempts: opts.maxAttempts ?? 3,
    },
    { tier, tierReason: 'test dispatch' },
  );
  const status = await ledger.updateStatus(id, { stage, attempts: opts.attempts ?? 1, startedAt: new Date().toISOString(), worker: `lambda:${tier}:req` });
  if (opts.idleSec) {
    // Nothing in the ledger's API writes an old timestamp: age the status file as a killed invocation leaves it.
    const old = new Date(Date.now() - opts.idleSec * 1000).toISOString();
    await store.put(ledgerKeys.status(id), JSON.stringify({ ...status, updatedAt: old }), { contentType: 'application/json' });
  }
}

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
  it('Sandbox.Timedout on lambda-enhanced: the stuck job is marked TIMEOUT and one RunTask goes to on-demand Fargate', async () => {
    await runningJob('d-timeout', 'lambda-enhanced', 'encoding', { durationSec: 120 });
    const out = (await handler()(record('d-timeout', 'tiercast-lambda-enhanced', { errorType: 'Sandbox.Timedout', errorMessage: 'RequestId: 1 Error: Task timed out after 600.00 seconds' }))) as DestinationSummary;
    expect(out.result).toMatchObject({ action: 'dispatched', from: 'lambda-enhanced', tier: 'fargate', ref: 'arn:aws:ecs:us-east-1:123456789012:task/tiercast/t1' });
    expect(ecs).toHaveReceivedCommandTimes(RunTaskCommand, 1);
    expect(ecs.commandCalls(RunTaskCommand)[0]!.args[0].input).toEqual({
      cluster: 'tiercast-cluster',
      taskDefinition: 'tiercast-task',
      count: 1,
      capacityProviderStrategy: [{ capacityProvider: 'FARGATE', weight: 1 }],
      networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-0a1'], securityGroups: ['sg-0c3'], assignPublicIp: 'ENABLED' } },
      overrides: { containerOverrides: [{ name: 'tiercast', environment: [{ name: 'TIERCAST_JOB_ID', value: 'd-timeout' }] }] },
      startedBy: 'tiercast-d-timeout',
      tags: [{ key: 'tiercast:job-id', value: 'd-timeout' }],
    });
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 0);
    const status = await ledger.getStatus('d-timeout');
    expect(status).toMatchObject({ stage: 'queued', tier: 'fargate', error: null, worker: null });
    const notes = status.history.map((h) => `${h.stage}/${h.tier}: ${h.note ?? ''}`);
    expect(notes.at(-2)).toBe('queued/lambda-enhanced: TIMEOUT on lambda-enhanced');
    expect(notes.at(-1)).toMatch(/^queued\/fargate: escalated from lambda-enhanced after TIMEOUT to fargate: tiercast-lambda-enhanced hit its Lambda timeout/);
  });

  it('Runtime.OutOfMemory on lambda: invokes the enhanced function with the job pointer', async () => {
    await runningJob('d-oom', 'lambda', 'encoding');
    const out = (await handler()(record('d-oom', 'tiercast-lambda', { errorType: 'Runtime.OutOfMemory', errorMessage: 'RequestId: 2 Error: Runtime exited with error: signal: killed' }))) as DestinationSummary;
    expect(out.result).toMatchObject({ action: 'dispatched', from: 'lambda', tier: 'lambda-enhanced' });
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 1);
    expect(lambda).toHaveReceivedCommandWith(InvokeCommand, {
      FunctionName: 'tiercast-lambda-enhanced',
      InvocationType: 'Event',
      Payload: new TextEncoder().encode(JSON.stringify({ schemaVersion: 1, jobId: 'd-oom' })),
    });
    expect((await ledger.getStatus('d-oom')).history.at(-1)!.note).toMatch(/^escalated from lambda after OUT_OF_MEMORY to lambda-enhanced: /);
  });

  it('leaves alone a job that is done, or that has moved on to another tier since', async () => {
    await runningJob('d-done', 'lambda', 'encoding');
    await ledger.updateStatus('d-done', { stage: 'done', progress: 1 });
    await runningJob('d-moved', 'fargate', 'encoding');
    const h = handler();
    const done = (await h(record('d-done', 'tiercast-lambda', { errorType: 'Sandbox.Timedout', errorMessage: 'x' }))) as DestinationSummary;
    const moved = (await h(record('d-moved', 'tiercast-lambda', { errorType: 'Sandbox.Timedout', errorMessage: 'x' }))) as DestinationSummary;
    expect(done.result).toMatchObject({ action: 'skipped', why: 'job is done' });
    expect(moved.result).toMatchObject({ action: 'skipped', why: 'job is on fargate now, not lambda' });
    expect(await ledger.getStatus('d-moved')).toMatchObject({ stage: 'encoding', tier: 'fargate', error: null });
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 0);
    expect(ecs).toHaveReceivedCommandTimes(RunTaskCommand, 0);
  });

  it('a killed run on the last attempt fails the job with the code; nothing is dispatched', async () => {
    await runningJob('d-last', 'lambda', 'encoding', { attempts: 2, maxAttempts: 2 });
    const out = (await handler()(record('d-last', 'tiercast-lambda', { errorType: 'Runtime.OutOfMemory', errorMessage: 'x' }))) as DestinationSummary;
    expect(out.result).toMatchObject({ action: 'failed', code: 'OUT_OF_MEMORY' });
    expect(await ledger.getStatus('d-last')).toMatchObject({ stage: 'failed', error: { code: 'OUT_OF_MEMORY' } });
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 0);
  });

  it('an event that expired in the async queue never ran: re-dispatched afresh (same tier), not escalated', async () => {
    await ledger.createJob(
      {
        schemaVersion: 1, id: 'd-expired', createdAt: new Date().toISOString(),
        input: { key: 'inputs/d-expired/clip.mp4', name: 'd-expired.mp4', sizeBytes: 10 * 1024 * 1024 },
        media: { durationSec: 10, width: 1280, height: 720, fps: 30 }, ladder: getLadder('default'), formats: ['hls'],
      },
      { tier: 'lambda', tierReason: 'test dispatch' },
    );
    const out = (await handler()(record('d-expired', 'tiercast-lambda', null, 'EventAgeExceeded'))) as DestinationSummary;
    expect(out.result).toMatchObject({ action: 'dispatched', from: 'lambda', tier: 'lambda' });
    expect(lambda).toHaveReceivedCommandWith(InvokeCommand, {
      FunctionName: 'tiercast-lambda',
      InvocationType: 'Event',
      Payload: new TextEncoder().encode(JSON.stringify({ schemaVersion: 1, jobId: 'd-expired' })),
    });
    const status = await ledger.getStatus('d-expired');
    expect(status).toMatchObject({ stage: 'queued', tier: 'lambda', error: null, attempts: 0 });
    expect(status.tierReason).toMatch(/retry after THROTTLED on lambda/);
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
  it('OutOfMemoryError on Fargate Spot: the stuck job is marked OUT_OF_MEMORY and sent one tier up (on-demand, EC2 not enabled here)', async () => {
    await runningJob('t-oom', 'fargate-spot', 'encoding');
    const out = (await handler()(taskStopped('t-oom', { exitCode: 137, reason: 'OutOfMemoryError: Container killed due to memory usage' }))) as TaskStoppedSummary;
    expect(out).toMatchObject({ kind: 'task-stopped', result: { action: 'dispatched', from: 'fargate-spot', tier: 'fargate' } });
    expect(ecs).toHaveReceivedCommandTimes(RunTaskCommand, 1);
    expect(ecs).toHaveReceivedCommandWith(RunTaskCommand, { capacityProviderStrategy: [{ capacityProvider: 'FARGATE', weight: 1 }], overrides: { containerOverrides: [{ name: 'tiercast', environment: [{ name: 'TIERCAST_JOB_ID', value: 't-oom' }] }] } });
    const status = await ledger.getStatus('t-oom');
    expect(status.history.at(-2)!.note).toBe('OUT_OF_MEMORY on fargate-spot');
    expect(status.history.at(-1)!.note).toMatch(/^escalated from fargate-spot after OUT_OF_MEMORY to fargate: Fargate task 0123456789abcdef was killed for memory \(OutOfMemoryError/);
  });

  it('a task that exited on its own terms (done, failed, interrupted) was reported by the entry: left alone', async () => {
    await runningJob('t-exit', 'fargate', 'encoding');
    const before = await ledger.getStatus('t-exit');
    for (const exitCode of [0, 1, 143]) {
      const out = (await handler()(taskStopped('t-exit', { exitCode }, 'FARGATE'))) as TaskStoppedSummary;
      expect(out).toEqual({ kind: 'task-stopped', result: null, why: 'the task ended on its own terms (the entry reported it)' });
    }
    expect(await ledger.getStatus('t-exit')).toEqual(before);
    expect(ecs).toHaveReceivedCommandTimes(RunTaskCommand, 0);
  });
});

describe('escalation handler: the scheduled sweep', () => {
  it('escalates a Lambda job idle past its time limit plus the margin; leaves fresh, queued, Fargate and terminal jobs alone', async () => {
    await runningJob('s-stuck', 'lambda', 'encoding', { idleSec: 120 + 300 + 60 });
    await runningJob('s-fresh', 'lambda', 'encoding', { idleSec: 30 });
    // Within the enhanced function's 600 s + 300 s: could still be running.
    await runningJob('s-enhanced-young', 'lambda-enhanced', 'uploading', { idleSec: 700 });
    await runningJob('s-fargate', 'fargate', 'encoding', { idleSec: 7200 });
    await runningJob('s-failed', 'lambda', 'encoding', { idleSec: 3600 });
    await ledger.updateStatus('s-failed', { stage: 'failed', error: { code: 'DECODE_FAILED', message: 'bad' } });
    await store.put(ledgerKeys.status('s-failed'), JSON.stringify({ ...(await ledger.getStatus('s-failed')), updatedAt: new Date(Date.now() - 3600_000).toISOString() }));
    const before = {
      fresh: await ledger.getStatus('s-fresh'),
      young: await ledger.getStatus('s-enhanced-young'),
      fargate: await ledger.getStatus('s-fargate'),
      failed: await ledger.getStatus('s-failed'),
    };

    const out = (await handler()({ version: '0', 'detail-type': 'Scheduled Event', source: 'aws.events', detail: {} })) as SweepSummary;
    expect(out.kind).toBe('sweep');
    expect(out.results.map((r) => r.jobId)).toEqual(['s-stuck']);
    expect(out.results[0]).toMatchObject({ action: 'dispatched', from: 'lambda', tier: 'lambda-enhanced' });
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 1);
    expect(lambda).toHaveReceivedCommandWith(InvokeCommand, {
      FunctionName: 'tiercast-lambda-enhanced',
      InvocationType: 'Event',
      Payload: new TextEncoder().encode(JSON.stringify({ schemaVersion: 1, jobId: 's-stuck' })),
    });
    const stuck = await ledger.getStatus('s-stuck');
    expect(stuck).toMatchObject({ stage: 'queued', tier: 'lambda-enhanced' });
    expect(stuck.history.at(-2)!.note).toBe('TIMEOUT on lambda');
    expect(stuck.history.at(-1)!.note).toMatch(/^escalated from lambda after TIMEOUT to lambda-enhanced: no status change for \d+ s in stage encoding on lambda \(time limit 120 s\)/);
    // Untouched, byte for byte.
    expect(await ledger.getStatus('s-fresh')).toEqual(before.fresh);
    expect(await ledger.getStatus('s-enhanced-young')).toEqual(before.young);
    expect(await ledger.getStatus('s-fargate')).toEqual(before.fargate);
    expect(await ledger.getStatus('s-failed')).toEqual(before.failed);

    // A second sweep finds nothing more to do: the escalated job is queued on its new tier.
    lambda.resetHistory();
    const again = (await handler()({ sweep: true })) as SweepSummary;
    expect(again.results).toEqual([]);
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 0);
  });

  it('takes at most TIERCAST_SWEEP_LIMIT stuck jobs per run, healthy running jobs not counted; the next run takes the rest', async () => {
    // A ledger of its own, so the count is exact.
    const other = createLocalStore(path.join(dir, 'store-limit'));
    const otherLedger = createLedger(other);
    const save = { store, ledger };
    store = other;
    ledger = otherLedger;
    try {
      // Healthy long Fargate jobs first in key order, then three stuck Lambda jobs.
      for (const id of ['a-fargate-1', 'a-fargate-2', 'a-fargate-3']) await runningJob(id, 'fargate', 'encoding', { idleSec: 7200 });
      for (const id of ['b-stuck-1', 'b-stuck-2', 'b-stuck-3']) await runningJob(id, 'lambda', 'encoding', { idleSec: 3600 });
      const limited = createEscalationHandler({ env: { ...env, TIERCAST_HOME: path.join(dir, 'home'), TIERCAST_SWEEP_LIMIT: '2' }, store: other });
      const first = (await limited({ sweep: true })) as SweepSummary;
      expect(first.results.map((r) => [r.jobId, r.action])).toEqual([['b-stuck-1', 'dispatched'], ['b-stuck-2', 'dispatched']]);
      expect(first.examined).toBe(5);
      const second = (await limited({ sweep: true })) as SweepSummary;
      expect(second.results.map((r) => [r.jobId, r.action])).toEqual([['b-stuck-3', 'dispatched']]);
      expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 3);
      for (const id of ['a-fargate-1', 'a-fargate-2', 'a-fargate-3']) expect((await otherLedger.getStatus(id)).stage).toBe('encoding');
    } finally {
      ({ store, ledger } = save);
    }
  });
});
