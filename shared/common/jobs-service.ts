import { ERROR_CODE_INFO, TiercastError, toTiercastError, type ErrorCode } from './errors.ts';
import {
  DEFAULT_RETRY_POLICY,
  assertMove,
  change,
  claimPatch,
  decideFailure,
  failurePatch,
  historyOf,
  holds,
  initialStatus,
  isRunning,
  sweepReason,
  whyNotClaimable,
  type JobEvent,
  type RetryPolicy,
} from './job-lifecycle.ts';
import { isVersionConflict, type JobRecord, type JobStore } from './job-store.ts';
import { JobSpecSchema, TIERS, isTerminal, type JobError, type JobSpec, type JobSpecInput, type JobStatus, type Tier } from './job.ts';
import { routeSpec, type Route, type RouterConfig } from './router.ts';
import type { Dispatchers } from './tier-dispatch.ts';

/**
 * THE jobs service: submit, retry, cancel, delete, redrive, admission and the sweep for operators and dispatch, and
 * claim / write / finish for the runners on every tier. The CLI, the console, the agent, the Lambda and Fargate entries
 * and the escalation function all use this one implementation. Every change goes through the lifecycle
 * (job-lifecycle.ts) and lands as one compare-and-set on the store; a lost race is re-read and decided again, never
 * shown to an operator. See README "Job control plane".
 */

export interface JobsLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface JobsServiceOptions {
  readonly store: JobStore;
  /** Adapters per tier; a tier without one is not admitted (its jobs wait). */
  readonly dispatchers: Dispatchers;
  /** For re-routing escalated jobs. */
  readonly config: RouterConfig;
  /** Admission caps per tier: dispatched + running jobs at once. */
  readonly maxInFlight: Readonly<Partial<Record<Tier, number>>>;
  readonly retryPolicy?: RetryPolicy;
  readonly leaseMs?: number;
  readonly dispatchTimeoutMs?: number;
  /** Removes a job's outputs from the object store (delete). */
  readonly deleteOutputs?: (jobId: string) => Promise<void>;
  readonly clock?: () => Date;
  readonly random?: () => number;
  readonly log?: JobsLogger;
}

export interface SubmitItem {
  readonly spec: JobSpecInput;
  /** The router's choice; without it the job is routed here. */
  readonly route?: Pick<Route, 'tier' | 'reason'> & { readonly estimate?: Pick<Route['estimate'], 'costUsd' | 'priceDate'> };
  /** A client's key: submitting it again returns the first job. */
  readonly idempotencyKey?: string;
}

export interface SubmitResult {
  readonly jobId: string;
  readonly created: boolean;
  readonly status: JobStatus;
}

export interface JobView extends JobRecord {
  readonly events: readonly JobEvent[];
}

/** A runner's hold on one attempt of a job. */
export interface Run {
  readonly jobId: string;
  readonly owner: string;
  readonly spec: JobSpec;
  /** The status as this run last wrote it (its version is the next write's expectation). */
  status: JobStatus;
}

export type ClaimResult = { readonly ok: true; readonly run: Run } | { readonly ok: false; readonly why: string; readonly status: JobStatus };

export interface SweepSummary {
  readonly retried: number;
  readonly reclaimed: number;
  readonly redispatched: number;
  readonly admitted: number;
}

export type FinishOutcome = 'done' | 'retry-wait' | 'queued' | 'escalated' | 'failed' | 'lost';

/** The run no longer holds its job: cancelled by an operator, or its lease lapsed and another runner took it. */
export class RunLost extends TiercastError {}

const MAX_RACES = 20;
const INSERT_BATCH = 500;

export function createJobsService(options: JobsServiceOptions) {
  const { store } = options;
  const now = options.clock ?? (() => new Date());
  const random = options.random ?? Math.random;
  const policy = options.retryPolicy ?? DEFAULT_RETRY_POLICY;
  const leaseMs = options.leaseMs ?? 60_000;
  const dispatchTimeoutMs = options.dispatchTimeoutMs ?? 15 * 60_000;
  const log = options.log;

  /**
   * Read, decide, compare-and-set; again on a lost race. `decide` returns the patch (and a history note) or null for
   * "nothing to change"; it throws to refuse.
   */
  async function mutate(
    id: string,
    decide: (rec: JobRecord) => { patch: Partial<JobStatus>; note?: string } | null,
  ): Promise<{ status: JobStatus; changed: boolean; spec: JobSpec }> {
    for (let i = 0; i < MAX_RACES; i++) {
      const rec = await store.get(id);
      const d = decide(rec);
      if (!d) return { status: rec.status, changed: false, spec: rec.spec };
      const c = change(rec.status, d.patch, now(), d.note);
      try {
        await store.write(c.next, rec.status.version, c.event);
        return { status: c.next, changed: true, spec: rec.spec };
      } catch (err) {
        if (!isVersionConflict(err)) throw err;
      }
    }
    throw new TiercastError('STORE_ERROR', `job ${id}: gave up after ${MAX_RACES} concurrent changes in a row`);
  }

  // --- submit ---

  async function submit(items: readonly SubmitItem[], opts: { readonly admit?: boolean } = {}): Promise<SubmitResult[]> {
    const at = now();
    const prepared = items.map((item) => {
      const spec = parseSpec(item.spec);
      const route = item.route ?? routeSpec(spec, options.config, { random });
      const { status, event } = initialStatus(
        spec,
        { tier: route.tier, tierReason: route.reason, estimatedCostUsd: route.estimate?.costUsd ?? null, priceDate: route.estimate?.priceDate ?? null },
        at,
      );
      return { spec, status, event, ...(item.idempotencyKey ? { idempotencyKey: item.idempotencyKey } : {}) };
    });
    const results: SubmitResult[] = [];
    for (let i = 0; i < prepared.length; i += INSERT_BATCH) {
      const batch = prepared.slice(i, i + INSERT_BATCH);
      const out = await store.insert(batch);
      for (const [k, o] of out.entries()) {
        const p = batch[k]!;
        if (o.created) results.push({ jobId: o.jobId, created: true, status: p.status });
        else results.push(await existingFor(p.spec.id, p.idempotencyKey));
      }
    }
    if (opts.admit !== false) await admit([...new Set(prepared.map((p) => p.status.tier).filter((t): t is Tier => t !== null))]);
    return results;
  }

  async function existingFor(id: string, key: string | undefined): Promise<SubmitResult> {
    const existing = key ? await store.findByIdempotencyKey(key) : null;
    if (existing) return { jobId: existing, created: false, status: (await store.get(existing)).status };
    throw new TiercastError('INVALID_JOB', `job ${id} already exists in ${store.location}`, { details: { jobId: id } });
  }

  // --- operator actions ---

  async function cancel(id: string, who: string): Promise<{ before: JobStatus; after: JobStatus }> {
    let before: JobStatus | null = null;
    const r = await mutate(id, ({ status }) => {
      before = status;
      if (isTerminal(status.stage)) {
        throw new TiercastError('INVALID_REQUEST', `job ${id} is already ${status.stage}${status.error ? ` (${status.error.code})` : ''}; nothing to cancel`, {
          details: { jobId: id, stage: status.stage },
        });
      }
      assertMove(status, 'cancelled', 'cancel');
      return {
        patch: { stage: 'cancelled', error: { code: 'CANCELLED', message: `cancelled by ${who}` }, finishedAt: now().toISOString(), lease: null, notBefore: null },
        note: `cancelled by ${who} while ${status.stage}`,
      };
    });
    await admit([r.status.tier].filter((t): t is Tier => t !== null));
    return { before: before!, after: r.status };
  }

  /** failed or cancelled: again from the start with a fresh attempt budget; retry-wait: now instead of after its backoff. */
  async function retry(id: string, who: string): Promise<JobStatus> {
    const events = await store.events(id);
    const r = await mutate(id, ({ spec, status }) => {
      if (status.stage === 'retry-wait') return { patch: { stage: 'queued', notBefore: null, dispatchedAt: null }, note: `retried now by ${who}` };
      if (status.stage !== 'failed' && status.stage !== 'cancelled') {
        throw new TiercastError('INVALID_REQUEST', `cannot retry job ${id}: it is ${status.stage}${isRunning(status.stage) ? ' (running)' : ' (it will run when a slot frees)'}`, {
          details: { jobId: id, stage: status.stage },
        });
      }
      const fresh: Partial<JobStatus> = { stage: 'queued', attempts: 0, error: null, deadLettered: false, notBefore: null, finishedAt: null, progress: 0, dispatchedAt: null, worker: null, lease: null };
      // A job that failed on a tier's limit goes one tier up (with the loop guard), not back to the tier that failed it.
      const code = status.error?.code;
      if (code && status.tier && ERROR_CODE_INFO[code].escalate) {
        const up = escalationPatch(spec, { tier: status.tier, code }, events);
        return { patch: { ...fresh, ...up.patch }, note: `retried by ${who}; ${up.note}` };
      }
      return { patch: fresh, note: `retried by ${who}` };
    });
    await admit([r.status.tier].filter((t): t is Tier => t !== null));
    return r.status;
  }

  /** Dead-lettered jobs (all of them when no ids are given) are sent again. */
  async function redrive(ids: readonly string[] | null, who: string): Promise<JobStatus[]> {
    const targets = ids ?? (await deadLettered());
    const out: JobStatus[] = [];
    for (const id of targets) {
      const { status } = await store.get(id);
      if (!(status.stage === 'failed' && status.deadLettered)) {
        throw new TiercastError('INVALID_REQUEST', `cannot redrive job ${id}: it is ${status.stage}${status.stage === 'failed' ? ' but not dead-lettered (use retry)' : ''}`, {
          details: { jobId: id, stage: status.stage },
        });
      }
      out.push(await retry(id, who));
    }
    return out;
  }

  async function deadLettered(): Promise<string[]> {
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Awaited<ReturnType<JobStore['list']>> = await store.list({ stage: 'failed', limit: 500, cursor, order: 'asc' });
      ids.push(...page.items.filter((s) => s.deadLettered).map((s) => s.id));
      cursor = page.cursor;
    } while (cursor);
    return ids;
  }

  /** A finished job and its outputs. A job still waiting or running must be cancelled first. */
  async function remove(id: string, who: string): Promise<JobStatus> {
    for (let i = 0; i < MAX_RACES; i++) {
      const { status } = await store.get(id);
      if (!isTerminal(status.stage)) {
        throw new TiercastError('INVALID_REQUEST', `cannot delete job ${id}: it is ${status.stage}; cancel it first`, { details: { jobId: id, stage: status.stage } });
      }
      await options.deleteOutputs?.(id);
      try {
        await store.remove(id, status.version);
        log?.info({ jobId: id, who }, 'job deleted with its outputs');
        return status;
      } catch (err) {
        if (!isVersionConflict(err)) throw err;
      }
    }
    throw new TiercastError('STORE_ERROR', `job ${id}: gave up deleting after ${MAX_RACES} concurrent changes`);
  }

  // --- admission ---

  function capOf(tier: Tier): number {
    return options.maxInFlight[tier] ?? 1;
  }

  /**
   * Hands queued jobs to their tiers while each stays under its cap: highest priority first, then oldest. A job is
   * marked dispatched before its adapter is called (so a second admitter cannot take it); if the adapter fails
   * (throttled, unreachable) it goes back to queued and the tier is left for this round: throttling never fails a job.
   */
  async function admit(tiers: readonly Tier[] = TIERS): Promise<number> {
    let admitted = 0;
    for (const tier of tiers) {
      const dispatcher = options.dispatchers[tier];
      if (!dispatcher) continue;
      admitted += await admitTier(tier, dispatcher);
    }
    return admitted;
  }

  async function admitTier(tier: Tier, dispatcher: NonNullable<Dispatchers[Tier]>): Promise<number> {
    let admitted = 0;
    for (;;) {
      const free = capOf(tier) - (await store.inFlight(tier));
      if (free <= 0) return admitted;
      const next = await store.admissionQueue(tier, Math.min(free, 50));
      if (next.length === 0) return admitted;
      for (const candidate of next) {
        // Re-counted per job: another admitter may be filling the same tier.
        if ((await store.inFlight(tier)) >= capOf(tier)) return admitted;
        const took = await takeForDispatch(candidate);
        if (!took) continue;
        const sent = await send(took, tier, dispatcher);
        if (sent === 'stop') return admitted;
        if (sent === 'sent') admitted += 1;
      }
    }
  }

  async function takeForDispatch(candidate: JobStatus): Promise<JobStatus | null> {
    const c = change(candidate, { stage: 'dispatched', dispatchedAt: now().toISOString(), error: candidate.error }, now(), `admitted to ${candidate.tier}`);
    try {
      await store.write(c.next, candidate.version, c.event);
      return c.next;
    } catch (err) {
      if (isVersionConflict(err)) return null;
      throw err;
    }
  }

  async function send(status: JobStatus, tier: Tier, dispatcher: NonNullable<Dispatchers[Tier]>): Promise<'sent' | 'failed' | 'stop'> {
    try {
      const result = await dispatcher.dispatch({ jobId: status.id, tier, priority: status.priority });
      if (result.tier !== tier || result.note) {
        await mutate(status.id, ({ status: cur }) =>
          cur.stage === 'dispatched' ? { patch: { tier: result.tier, tierReason: result.note ? `${cur.tierReason ?? ''}; ${result.note}` : cur.tierReason }, note: result.note ?? `dispatched to ${result.tier}` } : null,
        );
      }
      return 'sent';
    } catch (err) {
      const e = toTiercastError(err, 'DISPATCH_FAILED');
      log?.warn({ jobId: status.id, tier, code: e.code }, `dispatch to ${tier} failed; the job waits in the queue: ${e.message}`);
      const permanent = !e.retryable && e.code !== 'DISPATCH_FAILED';
      await mutate(status.id, ({ status: cur }) =>
        cur.stage !== 'dispatched'
          ? null
          : permanent
            ? { patch: { stage: 'failed', error: { code: e.code, message: `dispatch to ${tier}: ${e.message}` }, finishedAt: now().toISOString(), dispatchedAt: null }, note: e.code }
            : { patch: { stage: 'queued', dispatchedAt: null, error: { code: e.code, message: `dispatch to ${tier}: ${e.message}` } }, note: `dispatch to ${tier} failed (${e.code}); waiting` },
      ).catch(() => undefined);
      // One job the tier refuses fails alone; a tier that is throttled or unreachable is left for the next round.
      return permanent ? 'failed' : 'stop';
    }
  }

  // --- the sweep ---

  /** Retries whose backoff is over, lapsed leases, dispatches that never started; then admission on every tier. */
  async function sweep(): Promise<SweepSummary> {
    let retried = 0;
    let reclaimed = 0;
    let redispatched = 0;
    let cursor: string | null = null;
    do {
      const page: Awaited<ReturnType<JobStore['sweepCandidates']>> = await store.sweepCandidates(200, cursor);
      for (const s of page.items) {
        const why = sweepReason(s, now(), dispatchTimeoutMs);
        if (!why) continue;
        const r = await sweepOne(s.id).catch((err: unknown) => {
          log?.warn({ jobId: s.id, err: String(err) }, 'sweep: could not move the job; next sweep tries again');
          return null;
        });
        if (r === 'retried') retried += 1;
        else if (r === 'reclaimed') reclaimed += 1;
        else if (r === 'redispatched') redispatched += 1;
      }
      cursor = page.cursor;
    } while (cursor);
    const admitted = await admit();
    return { retried, reclaimed, redispatched, admitted };
  }

  async function sweepOne(id: string): Promise<'retried' | 'reclaimed' | 'redispatched' | null> {
    let kind: 'retried' | 'reclaimed' | 'redispatched' | null = null;
    const events = await store.events(id);
    await mutate(id, ({ spec, status }) => {
      const why = sweepReason(status, now(), dispatchTimeoutMs);
      if (!why) return null;
      if (status.stage === 'retry-wait') {
        kind = 'retried';
        return { patch: { stage: 'queued', notBefore: null, dispatchedAt: null }, note: why };
      }
      if (status.stage === 'dispatched') {
        kind = 'redispatched';
        return { patch: { stage: 'queued', dispatchedAt: null }, note: why };
      }
      // A runner that stops renewing its lease died with the job. On a Lambda tier that is its time or memory limit
      // (an invocation never outlives its timeout): one tier up. Elsewhere it is counted as an attempt (a job that
      // kills its runner must not loop for ever) and retried at once while attempts remain.
      kind = 'reclaimed';
      const lambda = status.tier === 'lambda' || status.tier === 'lambda-enhanced';
      const failure = { tier: status.tier!, code: lambda ? ('TIMEOUT' as const) : ('INTERRUPTED' as const), message: `the run by ${status.lease?.owner ?? 'unknown'} stopped renewing its lease (${why})` };
      return deadRunPatch(spec, status, failure, events);
    });
    return kind;
  }

  // --- runners ---

  /** Takes the job for one run: refused (ok false, with why) when another run holds it, it is finished, or waits to retry. */
  async function claim(jobId: string, who: { readonly worker: string; readonly tier: Tier; readonly runToken: string }): Promise<ClaimResult> {
    const owner = `${who.worker}#${who.runToken}`;
    for (let i = 0; i < MAX_RACES; i++) {
      const { spec, status } = await store.get(jobId);
      const why = whyNotClaimable(status, now());
      if (why) return { ok: false, why, status };
      const c = change(status, claimPatch(status, owner, who.worker, who.tier, leaseMs, now()), now(), `attempt ${status.attempts + 1} on ${who.tier} by ${who.worker}`);
      try {
        await store.write(c.next, status.version, c.event);
        return { ok: true, run: { jobId, owner, spec, status: c.next } };
      } catch (err) {
        if (!isVersionConflict(err)) throw err;
      }
    }
    throw new TiercastError('STORE_ERROR', `job ${jobId}: could not claim after ${MAX_RACES} concurrent changes`);
  }

  /**
   * A runner's write: stage, progress and the like, with the lease renewed. Lost races against writers that leave the
   * run its hold (none today, but cheap) are retried; a cancel or a reclaim throws RunLost.
   */
  async function runWrite(run: Run, patch: Partial<JobStatus>, note?: string): Promise<JobStatus> {
    for (let i = 0; i < MAX_RACES; i++) {
      const lease = { owner: run.owner, expiresAt: new Date(now().getTime() + leaseMs).toISOString() };
      const c = change(run.status, { lease, ...patch }, now(), note);
      try {
        await store.write(c.next, run.status.version, c.event);
        run.status = c.next;
        return c.next;
      } catch (err) {
        if (!isVersionConflict(err)) throw err;
        const { status } = await store.get(run.jobId);
        if (!holds(status, run.owner)) throw lostError(run, status);
        run.status = status;
      }
    }
    throw new TiercastError('STORE_ERROR', `job ${run.jobId}: gave up after ${MAX_RACES} concurrent changes`);
  }

  function lostError(run: Run, status: JobStatus): RunLost {
    if (status.stage === 'cancelled') {
      return new RunLost('CANCELLED', `job ${run.jobId}: ${status.error?.message ?? 'cancelled'}; stopped on tier ${run.status.tier ?? 'unknown'}`, { details: { byOperator: true } });
    }
    return new RunLost('INTERRUPTED', `job ${run.jobId}: this run lost its hold (now ${status.stage}${status.lease ? ` by ${status.lease.owner}` : ''})`, { details: { leaseLost: true } });
  }

  /** The end of a failed attempt, by the policy: retry-wait, queued (interrupted), escalated one tier up, or failed. */
  async function failRun(run: Run, error: TiercastError, opts: { readonly requeueOn?: Tier } = {}): Promise<FinishOutcome> {
    const decision = decideFailure(error.code, run.status.attempts, run.spec.maxAttempts, now(), policy, random);
    const jobError: JobError = { code: error.code, message: error.message };
    try {
      if (decision.kind === 'escalate') {
        const up = escalationPatch(run.spec, { tier: run.status.tier!, code: error.code }, await store.events(run.jobId));
        const status = await runWrite(run, { stage: 'queued', worker: null, error: jobError, progress: 0, dispatchedAt: null, ...up.patch, lease: null }, up.note);
        await admit([status.tier].filter((t): t is Tier => t !== null));
        return status.stage === 'failed' ? 'failed' : 'escalated';
      }
      const patch = { ...failurePatch(decision, jobError, run.status.attempts, now()), ...(decision.kind === 'requeue' && opts.requeueOn ? { tier: opts.requeueOn } : {}) };
      const note = decision.kind === 'retry' ? `${error.code}: retry in ${Math.round(decision.delaySec)} s` : decision.kind === 'requeue' ? `${error.code}: back to the queue` : error.code;
      await runWrite(run, { ...patch, lease: null }, note);
      if (decision.kind === 'requeue') await admit([run.status.tier].filter((t): t is Tier => t !== null));
      return decision.kind === 'retry' ? 'retry-wait' : decision.kind === 'requeue' ? 'queued' : 'failed';
    } catch (err) {
      if (err instanceof RunLost) return 'lost';
      throw err;
    }
  }

  /**
   * Where a job that a tier handed back goes (TIMEOUT, TIER_LIMIT_EXCEEDED, OUT_OF_MEMORY): one tier up, with the loop
   * guard (never onto a tier it already left for a limit). No tier left: failed with the router's reason.
   */
  function escalationPatch(spec: JobSpec, failure: { tier: Tier; code: ErrorCode }, events: readonly JobEvent[]): { patch: Partial<JobStatus>; note: string } {
    const left = exhaustedTiers(events);
    left.add(failure.tier);
    const failed = (code: ErrorCode, message: string) => ({ patch: { stage: 'failed' as const, error: { code, message }, finishedAt: now().toISOString(), lease: null }, note: message });
    let route: Route;
    try {
      route = routeSpec(spec, options.config, { previousFailure: failure, random });
    } catch (err) {
      const e = toTiercastError(err, 'TIER_LIMIT_EXCEEDED');
      return failed(e.code, e.message);
    }
    if (left.has(route.tier)) {
      return failed(
        'TIER_LIMIT_EXCEEDED',
        `job ${spec.id} failed with ${failure.code} on ${failure.tier} and would go back to ${route.tier}, which it already left for a limit (${[...left].join(', ')}): not escalating in a loop`,
      );
    }
    return {
      patch: { tier: route.tier, tierReason: route.reason, estimatedCostUsd: route.estimate.costUsd, priceDate: route.estimate.priceDate },
      note: escalationNote(failure.tier, failure.code, route.tier),
    };
  }

  /**
   * What follows a run that died without reporting (killed at its time or memory limit, its lease lapsed): the retry
   * policy with the attempt counted; INTERRUPTED (cause unknown) retries at once rather than giving the attempt back.
   */
  function deadRunPatch(spec: JobSpec, status: JobStatus, failure: { tier: Tier; code: ErrorCode; message: string }, events: readonly JobEvent[]): { patch: Partial<JobStatus>; note: string } {
    const error: JobError = { code: failure.code, message: failure.message };
    const cleared = { lease: null, worker: null, error, progress: 0, dispatchedAt: null } as const;
    if (!isRunning(status.stage)) return { patch: { ...cleared, stage: 'queued' }, note: `${failure.code} on ${failure.tier} before it started; back to the queue` };
    const d = failure.code === 'INTERRUPTED'
      ? status.attempts >= spec.maxAttempts ? ({ kind: 'fail', deadLettered: true } as const) : ({ kind: 'retry', delaySec: 0, notBefore: now().toISOString() } as const)
      : decideFailure(failure.code, status.attempts, spec.maxAttempts, now(), policy, random);
    if (d.kind === 'escalate') {
      const up = escalationPatch(spec, failure, events);
      return { patch: { ...cleared, stage: 'queued', ...up.patch }, note: up.note };
    }
    return { patch: failurePatch(d, error, status.attempts, now()), note: `${failure.code} on ${failure.tier}: ${failure.message}` };
  }

  /** A run on `failure.tier` that died without a word (a destination record, an ECS OOM event): recorded and acted on. */
  async function failDeadRun(jobId: string, failure: { tier: Tier; code: ErrorCode; message: string }): Promise<JobStatus> {
    const events = await store.events(jobId);
    const r = await mutate(jobId, ({ spec, status }) => {
      if (isTerminal(status.stage) || status.tier !== failure.tier) return null;
      return deadRunPatch(spec, status, failure, events);
    });
    if (r.changed) await admit([r.status.tier].filter((t): t is Tier => t !== null));
    return r.status;
  }

  /** A waiting job that came back from a tier outside a run (the Lambda handler's early refusal, a destination event). */
  async function escalate(jobId: string, failure: { tier: Tier; code: ErrorCode; message: string }): Promise<JobStatus> {
    const events = await store.events(jobId);
    const r = await mutate(jobId, ({ spec, status }) => {
      if (isTerminal(status.stage) || isRunning(status.stage) || status.tier !== failure.tier) return null;
      const up = escalationPatch(spec, failure, events);
      return { patch: { stage: 'queued', dispatchedAt: null, error: { code: failure.code, message: failure.message }, ...up.patch }, note: up.note };
    });
    await admit([r.status.tier].filter((t): t is Tier => t !== null));
    return r.status;
  }

  return {
    store,
    /** How long a run's lease lasts; runners renew it about every third of this. */
    leaseMs,
    mutate,
    submit,
    cancel,
    retry,
    redrive,
    deadLettered,
    remove,
    admit,
    sweep,
    claim,
    runWrite,
    failRun,
    escalate,
    failDeadRun,
    async get(id: string): Promise<JobView> {
      const [rec, events] = await Promise.all([store.get(id), store.events(id)]);
      return { ...rec, status: { ...rec.status, history: historyOf(events) }, events };
    },
  };
}

export type JobsService = ReturnType<typeof createJobsService>;

function parseSpec(input: JobSpecInput): JobSpec {
  const parsed = JobSpecSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new TiercastError('INVALID_JOB', `invalid job spec: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'unknown'}`, { cause: parsed.error });
}

/** History notes of escalation hops start with this, so the loop guard can read them back. */
const HOP_NOTE = /^escalated from ([a-z0-9-]+) after ([A-Z_]+)/;

export function escalationNote(from: Tier, code: ErrorCode, to: Tier, reason?: string): string {
  return `escalated from ${from} after ${code} to ${to}${reason ? `: ${reason}` : ''}`;
}

/** Tiers this job already left because it did not fit them (from the hop notes of its events). */
export function exhaustedTiers(events: readonly Pick<JobEvent, 'note'>[]): Set<Tier> {
  const out = new Set<Tier>();
  for (const e of events) {
    const m = e.note ? HOP_NOTE.exec(e.note) : null;
    if (m && (TIERS as readonly string[]).includes(m[1]!)) out.add(m[1] as Tier);
  }
  return out;
}
