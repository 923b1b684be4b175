import { ERROR_CODE_INFO, TiercastError, toTiercastError, type ErrorCode } from '../../shared/common/errors.ts';
import { TIERS, type JobSpec, type JobStatus, type Tier } from '../../shared/common/job.ts';
import { planTier, predictWorkload, routeSpec, type Route, type RouterConfig } from '../../shared/common/router.ts';
import type { JobLedger } from '../../shared/node/ledger.ts';
import type { Dispatchers } from '../../shared/common/tier-dispatch.ts';

/**
 * Hands one routed job to its tier. The routing decision (tier, reason, estimate, price date) is written to the job's
 * status first, so an operator sees where a job went and why even if the tier never starts it; the adapter's own
 * changes (Spot -> on-demand fallback) are written after. A job whose dispatch fails is marked failed with
 * DISPATCH_FAILED and the cause in its message: never silently lost, and retryable (ERROR_CODE_INFO).
 */

export interface DispatchDeps {
  readonly ledger: JobLedger;
  readonly dispatchers: Dispatchers;
}

export interface DispatchOutcome {
  readonly jobId: string;
  readonly tier: Tier;
  readonly ref: string;
  readonly reason: string;
  readonly estimatedCostUsd: number;
  readonly status: JobStatus;
}

export interface DispatchJobOptions {
  /** History note of the routing step (default `routed to <tier>`); escalations say where from and why. */
  readonly note?: string;
  /**
   * When the tier's adapter fails: true (default) marks the job failed with DISPATCH_FAILED; false leaves its status
   * as the routing step wrote it and only throws (the caller records its own fallback, e.g. a Fargate task that is
   * about to exit leaves the job queued with its re-dispatch intent).
   */
  readonly failJobOnError?: boolean;
}

export async function dispatchJob(spec: JobSpec, route: Route, deps: DispatchDeps, options: DispatchJobOptions = {}): Promise<DispatchOutcome> {
  const { ledger } = deps;
  await ledger.updateStatus(spec.id, {
    tier: route.tier,
    tierReason: route.reason,
    estimatedCostUsd: route.estimate.costUsd,
    priceDate: route.estimate.priceDate,
    note: options.note ?? `routed to ${route.tier}`,
  });
  try {
    const dispatcher = deps.dispatchers[route.tier];
    if (!dispatcher) {
      throw new TiercastError('CONFIG_INVALID', `no dispatcher for tier ${route.tier} (is it configured?)`);
    }
    const result = await dispatcher.dispatch({ jobId: spec.id, tier: route.tier, priority: spec.priority });
    let reason = route.reason;
    let estimatedCostUsd = route.estimate.costUsd;
    let status: JobStatus;
    if (result.tier !== route.tier || result.note) {
      reason = result.note ? `${route.reason}; ${result.note}` : route.reason;
      estimatedCostUsd = route.alternatives.find((a) => a.tier === result.tier)?.costUsd ?? estimatedCostUsd;
      status = await ledger.updateStatus(spec.id, {
        tier: result.tier,
        tierReason: reason,
        estimatedCostUsd,
        note: result.note ?? `dispatched to ${result.tier}`,
      });
    } else {
      status = await ledger.getStatus(spec.id);
    }
    return { jobId: spec.id, tier: result.tier, ref: result.ref, reason, estimatedCostUsd, status };
  } catch (err) {
    const cause = toTiercastError(err, 'DISPATCH_FAILED');
    const message = `dispatch to ${route.tier} failed: ${cause.code}: ${cause.message}`;
    if (options.failJobOnError === false) {
      throw new TiercastError('DISPATCH_FAILED', message, { cause: err, details: { jobId: spec.id, tier: route.tier, code: cause.code } });
    }
    try {
      await ledger.updateStatus(spec.id, {
        stage: 'failed',
        error: { code: 'DISPATCH_FAILED', message },
        finishedAt: new Date().toISOString(),
        note: message,
      });
    } catch (ledgerErr) {
      throw new TiercastError('DISPATCH_FAILED', `${message}; and the job's status could not be updated: ${toTiercastError(ledgerErr).message}`, {
        cause: err,
        details: { jobId: spec.id, tier: route.tier, code: cause.code },
      });
    }
    throw new TiercastError('DISPATCH_FAILED', message, { cause: err, details: { jobId: spec.id, tier: route.tier, code: cause.code } });
  }
}

/** History notes of escalation hops start with this, so the loop guard can read them back. */
const HOP_NOTE = /^escalated from ([a-z0-9-]+) after ([A-Z_]+)/;

export function escalationNote(from: Tier, code: ErrorCode, to: Tier, reason?: string): string {
  return `escalated from ${from} after ${code} to ${to}${reason ? `: ${reason}` : ''}`;
}

/** Tiers this job already left because it did not fit them (from the hop notes in its history). */
export function exhaustedTiers(status: Pick<JobStatus, 'history'>): Set<Tier> {
  const out = new Set<Tier>();
  for (const h of status.history) {
    const m = h.note ? HOP_NOTE.exec(h.note) : null;
    if (m && (TIERS as readonly string[]).includes(m[1]!)) out.add(m[1] as Tier);
  }
  return out;
}

export interface RedispatchOptions {
  readonly config: RouterConfig;
  readonly random?: () => number;
  /** Why this re-dispatch happens (the Lambda handler's refusal, a destination event, the sweep): goes into the hop note. */
  readonly reason?: string;
  /** Skip the router's choice and run on this tier (the Fargate entry after a Spot interruption: on-demand FARGATE). */
  readonly tier?: Tier;
  readonly failJobOnError?: boolean;
}

/**
 * Sends a job that came back from a tier (stage `queued` or `failed` with an error, e.g. TIER_LIMIT_EXCEEDED from the
 * Lambda handler's early refusal) to its next tier: the router sees the previous tier and error code, escalates one tier
 * up on TIMEOUT / TIER_LIMIT_EXCEEDED / OUT_OF_MEMORY, moves Spot interruptions to on-demand, and otherwise routes
 * afresh. When no tier above can take it, the job is marked failed with the router's reason.
 *
 * Loop guard: an escalation hop is written to the history as `escalated from <tier> after <code> to <tier>`, and a job
 * is never escalated onto a tier it has already left for a limit (nor back onto the one that just failed): it is
 * marked failed with TIER_LIMIT_EXCEEDED instead. Attempts are bounded by the spec's maxAttempts.
 */
export async function redispatchJob(
  jobId: string,
  deps: DispatchDeps & RedispatchOptions,
): Promise<DispatchOutcome> {
  const { ledger } = deps;
  const [spec, status] = await Promise.all([ledger.getSpec(jobId), ledger.getStatus(jobId)]);
  if (status.stage !== 'queued' && status.stage !== 'failed') {
    throw new TiercastError('INVALID_JOB', `job ${jobId} is ${status.stage}: only a queued or failed job can be dispatched again`, { details: { jobId } });
  }
  if (status.attempts >= spec.maxAttempts) {
    throw new TiercastError('INVALID_JOB', `job ${jobId} has used its ${spec.maxAttempts} attempts`, { details: { jobId } });
  }
  const previousFailure = status.error && status.tier ? { tier: status.tier, code: status.error.code } : undefined;
  const escalating = previousFailure !== undefined && ERROR_CODE_INFO[previousFailure.code].escalate;
  const fail = async (e: TiercastError) => {
    await ledger.updateStatus(jobId, { stage: 'failed', error: { code: e.code, message: e.message }, finishedAt: new Date().toISOString(), note: e.message });
    return e;
  };
  let route: Route;
  try {
    route = deps.tier
      ? forcedRoute(spec, deps.tier, deps.config, deps.reason ?? (previousFailure ? `after ${previousFailure.code} on ${previousFailure.tier}` : 'requested'))
      : routeSpec(spec, deps.config, { ...(previousFailure ? { previousFailure } : {}), ...(deps.random ? { random: deps.random } : {}) });
  } catch (err) {
    throw await fail(toTiercastError(err, 'TIER_LIMIT_EXCEEDED'));
  }
  if (escalating) {
    const left = exhaustedTiers(status);
    left.add(previousFailure.tier);
    if (left.has(route.tier)) {
      throw await fail(
        new TiercastError(
          'TIER_LIMIT_EXCEEDED',
          `job ${jobId} failed with ${previousFailure.code} on ${previousFailure.tier} and would go back to ${route.tier}, which it already left for a limit (${[...left].join(', ')}): not escalating in a loop`,
          { details: { jobId, tier: route.tier, exhausted: [...left] } },
        ),
      );
    }
  }
  await ledger.updateStatus(jobId, {
    stage: 'queued',
    progress: 0,
    error: null,
    finishedAt: null,
    worker: null,
    note: previousFailure ? `re-routed after ${previousFailure.code} on ${previousFailure.tier}` : 're-dispatched',
  });
  const note = escalating
    ? escalationNote(previousFailure.tier, previousFailure.code, route.tier, deps.reason)
    : previousFailure
      ? `re-dispatched to ${route.tier} after ${previousFailure.code} on ${previousFailure.tier}${deps.reason ? `: ${deps.reason}` : ''}`
      : `re-dispatched to ${route.tier}${deps.reason ? `: ${deps.reason}` : ''}`;
  return dispatchJob(spec, route, deps, { note, ...(deps.failJobOnError !== undefined ? { failJobOnError: deps.failJobOnError } : {}) });
}

/** A Route onto one named tier, with the router's own prediction and price for it (alternatives for the fallbacks). */
function forcedRoute(spec: JobSpec, tier: Tier, config: RouterConfig, why: string): Route {
  const work = predictWorkload({ sizeBytes: spec.input.sizeBytes, media: spec.media, ladder: spec.ladder, formatCount: spec.formats.length }, config);
  const enabled = new Set(config.tiers.enabled);
  const alternatives = TIERS.map((t) => planTier(t, work, spec.input.sizeBytes, config, enabled.has(t)));
  const plan = alternatives.find((p) => p.tier === tier)!;
  if (plan.blocked) throw new TiercastError('TIER_LIMIT_EXCEEDED', `tier ${tier} cannot take job ${spec.id}: ${plan.blocked}`, { details: { tier } });
  return {
    tier,
    reason: `${tier}: ${why}; predicted ${Math.round(plan.seconds)} s`,
    estimate: { seconds: plan.seconds, costUsd: plan.costUsd, priceDate: plan.cost.priceDate, cost: plan.cost },
    alternatives,
    workload: work,
  };
}
