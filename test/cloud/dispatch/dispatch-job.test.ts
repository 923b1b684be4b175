import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dispatchJob, redispatchJob } from '../../../cloud/dispatch/dispatch-job.ts';
import { createLocalDispatcher } from '../../../cloud/dispatch/local.ts';
import { queueLane } from '../../../cloud/dispatch/queue.ts';
import type { TierDispatcher } from '../../../shared/common/tier-dispatch.ts';
import { TiercastError } from '../../../shared/common/errors.ts';
import { getLadder } from '../../../shared/common/ladders.ts';
import { routeSpec } from '../../../shared/common/router.ts';
import { loadConfig } from '../../../shared/node/config.ts';
import { createLedger, type JobLedger } from '../../../shared/node/ledger.ts';
import { createLocalQueue } from '../../../shared/node/local-queue.ts';
import { createLocalStore } from '../../../shared/node/local-store.ts';

let dir: string;
let ledger: JobLedger;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-dispatch-'));
  ledger = createLedger(createLocalStore(path.join(dir, 'store')));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const awsEnv = {
  TIERCAST_BUCKET: 'media-bucket',
  ECS_CLUSTER_NAME: 'c',
  ECS_TASK_DEFINITION: 't',
  ECS_SUBNETS: 'subnet-0a',
  LAMBDA_FUNCTION_NAME: 'f',
};

async function newJob(id: string, priority = 5) {
  const { spec } = await ledger.createJob({
    schemaVersion: 1,
    id,
    createdAt: new Date().toISOString(),
    input: { key: `inputs/${id}/clip.mp4`, name: 'clip.mp4', sizeBytes: 300 * 1024 * 1024 },
    media: { durationSec: 240, width: 1920, height: 1080, fps: 30 },
    ladder: getLadder('default'),
    priority,
  });
  return spec;
}

describe('dispatchJob', () => {
  it('local tier: records tier, reason, estimate and price date, and the job lands on the local queue', async () => {
    const config = await loadConfig({ env: {}, home: dir });
    const spec = await newJob('job-local', 9);
    const route = routeSpec(spec, config);
    const queue = createLocalQueue(path.join(dir, 'queue'));
    const outcome = await dispatchJob(spec, route, { ledger, dispatchers: { local: createLocalDispatcher(queue) } });
    expect(outcome.tier).toBe('local');
    const status = await ledger.getStatus('job-local');
    expect(status).toMatchObject({ stage: 'queued', tier: 'local', priceDate: route.estimate.priceDate, estimatedCostUsd: route.estimate.costUsd });
    expect(status.tierReason).toMatch(/no AWS tiers configured/);
    expect(status.tierReason).toMatch(/queued on the local queue \(high priority\)/);
    const [message] = await queue.receive({ maxMessages: 1, waitSeconds: 0 });
    expect(JSON.parse(message!.body)).toEqual({ schemaVersion: 1, jobId: 'job-local' });
    expect(message!.queue).toBe('high');
  });

  it('records an adapter\'s Spot -> on-demand fallback with the on-demand estimate', async () => {
    const config = await loadConfig({ env: awsEnv, home: dir });
    const spec = await newJob('job-spot');
    const route = routeSpec(spec, config, { random: () => 0.1 });
    expect(route.tier).toBe('fargate-spot');
    const fake: TierDispatcher = {
      tiers: ['fargate', 'fargate-spot'],
      dispatch: async () => ({ tier: 'fargate', ref: 'arn:task/1', note: 'Fargate Spot capacity unavailable (test): fell back to on-demand FARGATE' }),
    };
    const outcome = await dispatchJob(spec, route, { ledger, dispatchers: { 'fargate-spot': fake, fargate: fake } });
    const onDemand = route.alternatives.find((a) => a.tier === 'fargate')!.costUsd;
    expect(outcome).toMatchObject({ tier: 'fargate', ref: 'arn:task/1', estimatedCostUsd: onDemand });
    const status = await ledger.getStatus('job-spot');
    expect(status.tier).toBe('fargate');
    expect(status.tierReason).toMatch(/fell back to on-demand/);
    expect(status.estimatedCostUsd).toBe(onDemand);
    expect(onDemand).toBeGreaterThan(route.estimate.costUsd);
  });

  it('a failed dispatch marks the job failed with DISPATCH_FAILED and the cause, never lost', async () => {
    const config = await loadConfig({ env: awsEnv, home: dir });
    const spec = await newJob('job-fail');
    const route = routeSpec(spec, config, { random: () => 0.9 });
    const failing: TierDispatcher = {
      tiers: ['fargate'],
      dispatch: async () => {
        throw new TiercastError('THROTTLED', 'ECS RunTask on FARGATE: ThrottlingException: Rate exceeded');
      },
    };
    const err = (await dispatchJob(spec, route, { ledger, dispatchers: { fargate: failing } }).catch((e: unknown) => e)) as TiercastError;
    expect(err.code).toBe('DISPATCH_FAILED');
    const status = await ledger.getStatus('job-fail');
    expect(status.stage).toBe('failed');
    expect(status.error).toEqual({ code: 'DISPATCH_FAILED', message: expect.stringContaining('THROTTLED: ECS RunTask') });
    expect(status.finishedAt).not.toBeNull();
    expect(status.tier).toBe('fargate');
  });

  it('a tier with no dispatcher is a failure too', async () => {
    const config = await loadConfig({ env: awsEnv, home: dir });
    const spec = await newJob('job-none');
    const route = routeSpec(spec, config, { random: () => 0.9 });
    await expect(dispatchJob(spec, route, { ledger, dispatchers: {} })).rejects.toMatchObject({ code: 'DISPATCH_FAILED' });
    expect((await ledger.getStatus('job-none')).error?.message).toMatch(/no dispatcher for tier fargate/);
  });
});

describe('redispatchJob', () => {
  const recorder = () => {
    const calls: { jobId: string; tier: string }[] = [];
    const d: TierDispatcher = {
      tiers: ['lambda', 'lambda-enhanced', 'fargate', 'fargate-spot', 'ec2'],
      dispatch: async (r) => {
        calls.push({ jobId: r.jobId, tier: r.tier });
        return { tier: r.tier, ref: `ref-${calls.length}` };
      },
    };
    return { calls, dispatchers: { lambda: d, 'lambda-enhanced': d, fargate: d, 'fargate-spot': d, ec2: d } };
  };

  it('a job refused by Lambda for its time limit goes one tier up, with the error cleared and the reason recorded', async () => {
    const config = await loadConfig({ env: { ...awsEnv, LAMBDA_FUNCTION_NAME_ENHANCED: 'g' }, home: dir });
    const { spec } = await ledger.createJob({
      schemaVersion: 1, id: 'job-up', createdAt: new Date().toISOString(),
      input: { key: 'inputs/job-up/a.mp4', name: 'a.mp4', sizeBytes: 20 * 1024 * 1024 },
      media: { durationSec: 30, width: 1920, height: 1080, fps: 30 }, ladder: getLadder('default'),
    });
    await ledger.updateStatus(spec.id, { tier: 'lambda', attempts: 1, stage: 'queued', error: { code: 'TIER_LIMIT_EXCEEDED', message: 'cannot finish on lambda' } });
    const { calls, dispatchers } = recorder();
    const outcome = await redispatchJob(spec.id, { ledger, dispatchers, config });
    expect(outcome.tier).toBe('lambda-enhanced');
    expect(calls).toEqual([{ jobId: 'job-up', tier: 'lambda-enhanced' }]);
    const status = await ledger.getStatus(spec.id);
    expect(status).toMatchObject({ stage: 'queued', tier: 'lambda-enhanced', error: null });
    expect(status.tierReason).toMatch(/one tier up after TIER_LIMIT_EXCEEDED on lambda/);
    // The hop is in the history: from where, after what, to where (the loop guard reads these back).
    expect(status.history.at(-1)).toMatchObject({ stage: 'queued', tier: 'lambda-enhanced', note: 'escalated from lambda after TIER_LIMIT_EXCEEDED to lambda-enhanced' });
  });

  it('nothing above: the job is marked failed with the router\'s reason and nothing is dispatched', async () => {
    const config = await loadConfig({ env: awsEnv, home: dir });
    const spec = await newJob('job-top');
    await ledger.updateStatus(spec.id, { tier: 'fargate', attempts: 1, stage: 'queued', error: { code: 'OUT_OF_MEMORY', message: 'oom' } });
    const { calls, dispatchers } = recorder();
    await expect(redispatchJob(spec.id, { ledger, dispatchers, config })).rejects.toMatchObject({ code: 'TIER_LIMIT_EXCEEDED' });
    expect(calls).toEqual([]);
    expect(await ledger.getStatus(spec.id)).toMatchObject({ stage: 'failed', error: { code: 'TIER_LIMIT_EXCEEDED' } });
  });

  it('refuses a running job and one out of attempts', async () => {
    const config = await loadConfig({ env: awsEnv, home: dir });
    const spec = await newJob('job-busy');
    await ledger.updateStatus(spec.id, { stage: 'encoding', tier: 'fargate' });
    await expect(redispatchJob(spec.id, { ledger, dispatchers: recorder().dispatchers, config })).rejects.toMatchObject({ code: 'INVALID_JOB' });
    await ledger.updateStatus(spec.id, { stage: 'queued', attempts: 3, error: { code: 'TIMEOUT', message: 't' } });
    await expect(redispatchJob(spec.id, { ledger, dispatchers: recorder().dispatchers, config })).rejects.toThrow(/used its 3 attempts/);
  });
});

describe('redispatchJob: loop guard, forced tier, keeping the job queued', () => {
  const recorder = () => {
    const calls: { jobId: string; tier: string }[] = [];
    const d: TierDispatcher = {
      tiers: ['lambda', 'lambda-enhanced', 'fargate', 'fargate-spot', 'ec2'],
      dispatch: async (r) => {
        calls.push({ jobId: r.jobId, tier: r.tier });
        return { tier: r.tier, ref: `ref-${calls.length}` };
      },
    };
    return { calls, dispatchers: { lambda: d, 'lambda-enhanced': d, fargate: d, 'fargate-spot': d, ec2: d } };
  };
  it('never escalates onto a tier the job already left for a limit: marked failed, nothing dispatched', async () => {
    const config = await loadConfig({ env: { ...awsEnv, LAMBDA_FUNCTION_NAME_ENHANCED: 'g' }, home: dir });
    const { spec } = await ledger.createJob({
      schemaVersion: 1, id: 'job-loop', createdAt: new Date().toISOString(),
      input: { key: 'inputs/job-loop/a.mp4', name: 'a.mp4', sizeBytes: 20 * 1024 * 1024 },
      media: { durationSec: 30, width: 1920, height: 1080, fps: 30 }, ladder: getLadder('default'),
    });
    // First hop lambda -> lambda-enhanced, recorded by redispatchJob itself.
    await ledger.updateStatus(spec.id, { tier: 'lambda', stage: 'queued', error: { code: 'TIER_LIMIT_EXCEEDED', message: 'x' } });
    const first = recorder();
    expect((await redispatchJob(spec.id, { ledger, dispatchers: first.dispatchers, config, reason: 'predicted 200 s, 110 s left' })).tier).toBe('lambda-enhanced');
    expect((await ledger.getStatus(spec.id)).history.at(-1)!.note).toBe('escalated from lambda after TIER_LIMIT_EXCEEDED to lambda-enhanced: predicted 200 s, 110 s left');
    // Second hop: lambda-enhanced could not finish either -> Fargate.
    await ledger.updateStatus(spec.id, { error: { code: 'TIMEOUT', message: 'z' } });
    expect((await redispatchJob(spec.id, { ledger, dispatchers: first.dispatchers, config })).tier).toMatch(/^fargate/);
    expect(first.calls.map((c) => c.tier)).toEqual(['lambda-enhanced', expect.stringMatching(/^fargate/)]);
    // A failure then recorded against lambda would route back up to lambda-enhanced, which the job already left for a
    // limit: refused as a loop.
    await ledger.updateStatus(spec.id, { tier: 'lambda', error: { code: 'TIMEOUT', message: 'y' } });
    const second = recorder();
    await expect(redispatchJob(spec.id, { ledger, dispatchers: second.dispatchers, config })).rejects.toThrow(/already left for a limit \(lambda, lambda-enhanced\)|already left for a limit \(lambda-enhanced, lambda\)/);
    expect(second.calls).toEqual([]);
    expect(await ledger.getStatus(spec.id)).toMatchObject({ stage: 'failed', error: { code: 'TIER_LIMIT_EXCEEDED' } });
  });

  it('forced tier: an interrupted Spot job goes to on-demand fargate with the given reason', async () => {
    const config = await loadConfig({ env: awsEnv, home: dir });
    const spec = await newJob('job-spot');
    await ledger.updateStatus(spec.id, { tier: 'fargate-spot', stage: 'queued', error: { code: 'INTERRUPTED', message: 'SIGTERM' } });
    const { calls, dispatchers } = recorder();
    const out = await redispatchJob(spec.id, { ledger, dispatchers, config, tier: 'fargate', reason: 'interrupted on fargate-spot by SIGTERM' });
    expect(out.tier).toBe('fargate');
    expect(calls).toEqual([{ jobId: 'job-spot', tier: 'fargate' }]);
    const status = await ledger.getStatus(spec.id);
    expect(status).toMatchObject({ stage: 'queued', tier: 'fargate', error: null });
    expect(status.tierReason).toMatch(/^fargate: interrupted on fargate-spot by SIGTERM; predicted \d+ s/);
    expect(status.estimatedCostUsd).toBeGreaterThan(0);
  });

  it('failJobOnError false: a failed dispatch throws and leaves the job queued, not failed', async () => {
    const config = await loadConfig({ env: awsEnv, home: dir });
    const spec = await newJob('job-keep');
    await ledger.updateStatus(spec.id, { tier: 'fargate-spot', stage: 'queued', error: { code: 'INTERRUPTED', message: 'SIGTERM' } });
    const broken: TierDispatcher = { tiers: ['fargate'], dispatch: async () => { throw new TiercastError('DISPATCH_FAILED', 'AccessDenied'); } };
    await expect(redispatchJob(spec.id, { ledger, dispatchers: { fargate: broken }, config, tier: 'fargate', failJobOnError: false })).rejects.toThrow(/AccessDenied/);
    expect((await ledger.getStatus(spec.id)).stage).toBe('queued');
  });
});

describe('priority lanes', () => {
  it.each([
    [1, 'normal'],
    [5, 'normal'],
    [7, 'normal'],
    [8, 'high'],
    [10, 'high'],
  ] as const)('priority %i -> %s', (priority, lane) => expect(queueLane(priority)).toBe(lane));

  it('rejects priorities outside 1-10', async () => {
    const d = createLocalDispatcher(createLocalQueue(path.join(dir, 'q2')));
    await expect(d.dispatch({ jobId: 'j', tier: 'local', priority: 11 })).rejects.toMatchObject({ code: 'INVALID_JOB' });
  });
});
