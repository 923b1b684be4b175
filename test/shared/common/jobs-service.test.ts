import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TiercastError } from '../../../shared/common/errors.ts';
import type { JobStore } from '../../../shared/common/job-store.ts';
import type { Tier } from '../../../shared/common/job.ts';
import { createJobsService, RunLost, type JobsService, type SubmitItem } from '../../../shared/common/jobs-service.ts';
import type { DispatchRequest, TierDispatcher } from '../../../shared/common/tier-dispatch.ts';
import { loadConfig, type TiercastConfig } from '../../../shared/node/config.ts';
import { openSqliteJobStore } from '../../../shared/node/sqlite-job-store.ts';
import { testSpec } from '../../helpers/jobs.ts';

/** A tier adapter that records what it was sent (and can be told to throttle); the store under it is real SQLite. */
function recordingDispatcher(tiers: Tier[]): TierDispatcher & { sent: DispatchRequest[]; throttle: boolean } {
  const d = {
    tiers,
    sent: [] as DispatchRequest[],
    throttle: false,
    async dispatch(req: DispatchRequest) {
      if (d.throttle) throw new TiercastError('THROTTLED', 'Rate exceeded');
      d.sent.push(req);
      return { tier: req.tier, ref: `ref-${d.sent.length}` };
    },
  };
  return d;
}

describe('jobs service on SQLite', () => {
  let dir: string;
  let store: JobStore;
  let config: TiercastConfig;
  let now: Date;
  let local: ReturnType<typeof recordingDispatcher>;
  let lambda: ReturnType<typeof recordingDispatcher>;
  let jobs: JobsService;
  const deleted: string[] = [];
  const make = (caps: Partial<Record<Tier, number>> = { local: 2, lambda: 3, 'lambda-enhanced': 3, fargate: 3 }) =>
    createJobsService({
      store,
      dispatchers: { local, lambda, 'lambda-enhanced': lambda, fargate: lambda },
      config,
      maxInFlight: caps,
      clock: () => now,
      random: () => 0.5,
      leaseMs: 30_000,
      dispatchTimeoutMs: 60_000,
      deleteOutputs: async (id) => void deleted.push(id),
    });
  const item = (tier: Tier, priority = 5, extra: Partial<SubmitItem> = {}): SubmitItem => ({ spec: testSpec({ priority }), route: { tier, reason: `test: ${tier}` }, ...extra });
  const advance = (ms: number) => (now = new Date(now.getTime() + ms));

  beforeEach(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-jobs-'));
    store = openSqliteJobStore(path.join(dir, 'jobs.db'));
    config = await loadConfig({ env: {}, home: dir });
    config = { ...config, tiers: { ...config.tiers, enabled: ['local', 'lambda', 'lambda-enhanced', 'fargate'], lambda: { ...config.tiers.lambda, functionName: 'f', enhancedFunctionName: 'g' } } };
    now = new Date('2026-12-04T10:00:00Z');
    local = recordingDispatcher(['local']);
    lambda = recordingDispatcher(['lambda', 'lambda-enhanced', 'fargate']);
    jobs = make();
    deleted.length = 0;
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('admits up to the cap, highest priority first; a priority-10 job submitted behind a burst starts next', async () => {
    const burst = await jobs.submit(Array.from({ length: 200 }, () => item('local', 5)));
    expect(burst.every((r) => r.created)).toBe(true);
    expect(local.sent).toHaveLength(2);
    expect(await store.inFlight('local')).toBe(2);
    const [urgent] = await jobs.submit([item('local', 10)]);
    expect(local.sent).toHaveLength(2); // full: nothing more goes out
    // One slot frees: the urgent job is the one admitted.
    const first = await jobs.claim(local.sent[0]!.jobId, { worker: 'w1', tier: 'local', runToken: 'a' });
    if (!first.ok) throw new Error(first.why);
    await jobs.runWrite(first.run, { stage: 'finalizing' });
    await jobs.runWrite(first.run, { stage: 'done', lease: null });
    await jobs.admit(['local']);
    expect(local.sent.at(-1)!.jobId).toBe(urgent!.jobId);
    expect(local.sent).toHaveLength(3);
  });

  it('never turns throttling into failures: the job waits queued and admission stops for that tier', async () => {
    lambda.throttle = true;
    const [r] = await jobs.submit([item('lambda')]);
    const { status } = await store.get(r!.jobId);
    expect(status.stage).toBe('queued');
    expect(status.error?.code).toBe('THROTTLED');
    lambda.throttle = false;
    await jobs.sweep();
    expect((await store.get(r!.jobId)).status.stage).toBe('dispatched');
  });

  it('a second runner of the same job is refused; a lapsed lease is reclaimed by exactly one of eight claimers', async () => {
    const [r] = await jobs.submit([item('local')]);
    const a = await jobs.claim(r!.jobId, { worker: 'w1', tier: 'local', runToken: 'a' });
    expect(a.ok).toBe(true);
    const b = await jobs.claim(r!.jobId, { worker: 'w2', tier: 'local', runToken: 'b' });
    expect(b).toMatchObject({ ok: false });
    expect(b.ok ? '' : b.why).toMatch(/downloading by w1#a/);
    advance(31_000);
    const racers = await Promise.all(Array.from({ length: 8 }, (_, i) => jobs.claim(r!.jobId, { worker: `r${i}`, tier: 'local', runToken: String(i) })));
    expect(racers.filter((x) => x.ok)).toHaveLength(1);
    const { status } = await store.get(r!.jobId);
    expect(status.attempts).toBe(2);
    // The first runner finds it no longer holds the job at its next write.
    if (!a.ok) throw new Error('unreachable');
    await expect(jobs.runWrite(a.run, { progress: 0.5 })).rejects.toBeInstanceOf(RunLost);
  });

  it('a cancel during a run sticks: the runner cannot write over it and learns at its next write', async () => {
    const [r] = await jobs.submit([item('local')]);
    const c = await jobs.claim(r!.jobId, { worker: 'w', tier: 'local', runToken: 't' });
    if (!c.ok) throw new Error(c.why);
    await jobs.runWrite(c.run, { stage: 'encoding', progress: 0.3 });
    const { before, after } = await jobs.cancel(r!.jobId, 'the test');
    expect(before.stage).toBe('encoding');
    expect(after).toMatchObject({ stage: 'cancelled', error: { code: 'CANCELLED' } });
    const err = await jobs.runWrite(c.run, { progress: 0.6 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunLost);
    expect((err as RunLost).code).toBe('CANCELLED');
    expect((await store.get(r!.jobId)).status.stage).toBe('cancelled');
    // And a cancel is refused once the manifest is being written.
    const [r2] = await jobs.submit([item('local')]);
    const c2 = await jobs.claim(r2!.jobId, { worker: 'w', tier: 'local', runToken: 'u' });
    if (!c2.ok) throw new Error(c2.why);
    await jobs.runWrite(c2.run, { stage: 'finalizing' });
    await expect(jobs.cancel(r2!.jobId, 'the test')).rejects.toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringContaining('finalizing') });
  });

  it('illegal moves are INVALID_REQUEST naming the stage; unknown ids are JOB_NOT_FOUND', async () => {
    const [r] = await jobs.submit([item('local')]);
    const c = await jobs.claim(r!.jobId, { worker: 'w', tier: 'local', runToken: 't' });
    expect(c.ok).toBe(true);
    await expect(jobs.retry(r!.jobId, 'op')).rejects.toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringContaining('downloading') });
    await expect(jobs.remove(r!.jobId, 'op')).rejects.toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringContaining('cancel it first') });
    await jobs.cancel(r!.jobId, 'op');
    await expect(jobs.cancel(r!.jobId, 'op')).rejects.toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringContaining('already cancelled') });
    await expect(jobs.cancel('nope-123', 'op')).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
    await expect(jobs.redrive(['nope-123'], 'op')).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
  });

  it('retries a retryable failure after its backoff, without a person; the last attempt dead-letters; redrive sends it again', async () => {
    const [r] = await jobs.submit([{ ...item('local'), spec: testSpec({ maxAttempts: 2 }) }]);
    const id = r!.jobId;
    const run1 = await jobs.claim(id, { worker: 'w', tier: 'local', runToken: '1' });
    if (!run1.ok) throw new Error(run1.why);
    expect(await jobs.failRun(run1.run, new TiercastError('ENCODE_FAILED', 'x264 crashed'))).toBe('retry-wait');
    let { status } = await store.get(id);
    expect(status).toMatchObject({ stage: 'retry-wait', attempts: 1, error: { code: 'ENCODE_FAILED' } });
    // 30 s base with 20 % jitter at random 0.5: 27 s.
    expect(Date.parse(status.notBefore!) - now.getTime()).toBe(27_000);
    expect((await jobs.claim(id, { worker: 'w', tier: 'local', runToken: 'early' })).ok).toBe(false);
    expect((await jobs.sweep()).retried).toBe(0);
    advance(28_000);
    const sent = local.sent.length;
    expect((await jobs.sweep()).retried).toBe(1);
    expect(local.sent.length).toBe(sent + 1);
    const run2 = await jobs.claim(id, { worker: 'w', tier: 'local', runToken: '2' });
    if (!run2.ok) throw new Error(run2.why);
    expect(await jobs.failRun(run2.run, new TiercastError('OUTPUT_VERIFY_FAILED', 'segment short'))).toBe('failed');
    ({ status } = await store.get(id));
    expect(status).toMatchObject({ stage: 'failed', deadLettered: true, attempts: 2, error: { code: 'OUTPUT_VERIFY_FAILED' } });
    expect(await jobs.deadLettered()).toEqual([id]);
    await jobs.redrive(null, 'op');
    expect((await store.get(id)).status).toMatchObject({ stage: 'dispatched', attempts: 0, deadLettered: false, error: null });
    // A plain failure is not dead-lettered, and redrive says to use retry.
    const [bad] = await jobs.submit([item('local')]);
    const b = await jobs.claim(bad!.jobId, { worker: 'w', tier: 'local', runToken: 'b' });
    if (!b.ok) throw new Error(b.why);
    expect(await jobs.failRun(b.run, new TiercastError('DECODE_FAILED', 'no frame'))).toBe('failed');
    await expect(jobs.redrive([bad!.jobId], 'op')).rejects.toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringContaining('use retry') });
  });

  it('an interruption gives the attempt back and requeues, on another tier when asked (Spot to on-demand)', async () => {
    const [r] = await jobs.submit([item('fargate')]);
    const c = await jobs.claim(r!.jobId, { worker: 'task', tier: 'fargate-spot' as Tier, runToken: 'x' });
    if (!c.ok) throw new Error(c.why);
    expect(await jobs.failRun(c.run, new TiercastError('INTERRUPTED', 'SIGTERM'), { requeueOn: 'fargate' })).toBe('queued');
    const { status } = await store.get(r!.jobId);
    expect(status).toMatchObject({ attempts: 0, tier: 'fargate' });
    expect(['queued', 'dispatched']).toContain(status.stage);
  });

  it('escalates a tier limit one tier up at once, and never back onto a tier it left for a limit', async () => {
    const [r] = await jobs.submit([item('lambda')]);
    const c = await jobs.claim(r!.jobId, { worker: 'fn', tier: 'lambda', runToken: '1' });
    if (!c.ok) throw new Error(c.why);
    expect(await jobs.failRun(c.run, new TiercastError('TIER_LIMIT_EXCEEDED', 'out of time'))).toBe('escalated');
    const up = (await store.get(r!.jobId)).status;
    expect(up.tier).not.toBe('lambda');
    expect((await store.events(r!.jobId)).some((e) => e.note?.startsWith('escalated from lambda after TIER_LIMIT_EXCEEDED'))).toBe(true);
    // Killed on the next tier too, the router would not send it back down: further up, or failed with the loop named.
    const c2 = await jobs.claim(r!.jobId, { worker: 'fn2', tier: up.tier!, runToken: '2' });
    if (!c2.ok) throw new Error(c2.why);
    const dead = await jobs.failDeadRun(r!.jobId, { tier: up.tier!, code: 'OUT_OF_MEMORY', message: 'killed' });
    expect(dead.error?.code).toBeDefined();
    expect(['queued', 'dispatched', 'failed']).toContain(dead.stage);
    if (dead.stage === 'failed') expect(dead.error?.message).toMatch(/not escalating in a loop|no tier/i);
    else expect(dead.tier).not.toBe(up.tier);
  });

  it('recovers a crash between create and send, and a dispatch that never started', async () => {
    const [r] = await jobs.submit([item('lambda')], { admit: false });
    expect((await store.get(r!.jobId)).status.stage).toBe('queued');
    expect(lambda.sent).toHaveLength(0);
    await jobs.sweep();
    expect(lambda.sent.map((s) => s.jobId)).toEqual([r!.jobId]);
    // The message is lost: after the dispatch timeout the sweep sends it again; only one run can ever claim it.
    advance(61_000);
    const s = await jobs.sweep();
    expect(s.redispatched).toBe(1);
    expect(lambda.sent.map((x) => x.jobId)).toEqual([r!.jobId, r!.jobId]);
  });

  it('submits idempotently by key, and deletes a finished job with its outputs', async () => {
    const key = 'inputs/j1/clip.mp4';
    const [a] = await jobs.submit([item('local', 5, { idempotencyKey: key })]);
    const [b] = await jobs.submit([item('local', 5, { idempotencyKey: key })]);
    expect(b).toMatchObject({ jobId: a!.jobId, created: false });
    await jobs.cancel(a!.jobId, 'op');
    await jobs.remove(a!.jobId, 'op');
    expect(deleted).toEqual([a!.jobId]);
    await expect(store.get(a!.jobId)).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
  });

  it('keeps the history as events, one per transition, versions up by one per write', async () => {
    const [r] = await jobs.submit([item('local')]);
    const c = await jobs.claim(r!.jobId, { worker: 'w', tier: 'local', runToken: 't' });
    if (!c.ok) throw new Error(c.why);
    await jobs.runWrite(c.run, { stage: 'encoding' });
    await jobs.runWrite(c.run, { progress: 0.5 });
    await jobs.runWrite(c.run, { stage: 'finalizing' });
    await jobs.runWrite(c.run, { stage: 'done', lease: null });
    const view = await jobs.get(r!.jobId);
    expect(view.events.map((e) => e.stage)).toEqual(['queued', 'dispatched', 'downloading', 'encoding', 'finalizing', 'done']);
    expect(view.events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 6, 7]);
    expect(view.status.version).toBe(7);
    expect(view.status.history.at(-1)).toMatchObject({ stage: 'done', tier: 'local' });
    expect(view.events.at(-1)!.type).toBe('job.done');
  });
});
