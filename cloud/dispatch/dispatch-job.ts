import { TiercastError, toTiercastError } from '../../shared/common/errors.ts';
import type { JobSpec, JobStatus, Tier } from '../../shared/common/job.ts';
import { routeSpec, type Route, type RouterConfig } from '../../shared/common/router.ts';
import type { JobLedger } from '../../shared/node/ledger.ts';
import type { Dispatchers } from './types.ts';

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

export async function dispatchJob(spec: JobSpec, route: Route, deps: DispatchDeps): Promise<DispatchOutcome> {
  const { ledger } = deps;
  await ledger.updateStatus(spec.id, {
    tier: route.tier,
    tierReason: route.reason,
    estimatedCostUsd: route.estimate.costUsd,
    priceDate: route.estimate.priceDate,
    note: `routed to ${route.tier}`,
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

/**
 * Sends a job that came back from a tier (stage `queued` or `failed` with an error, e.g. TIER_LIMIT_EXCEEDED from the
 * Lambda handler's early refusal) to its next tier: the router sees the previous tier and error code, escalates one tier
 * up on TIMEOUT / TIER_LIMIT_EXCEEDED / OUT_OF_MEMORY, moves Spot interruptions to on-demand, and otherwise routes
 * afresh. When no tier above can take it, the job is marked failed with the router's reason.
 */
export async function redispatchJob(
  jobId: string,
  deps: DispatchDeps & { readonly config: RouterConfig; readonly random?: () => number },
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
  let route: Route;
  try {
    route = routeSpec(spec, deps.config, { ...(previousFailure ? { previousFailure } : {}), ...(deps.random ? { random: deps.random } : {}) });
  } catch (err) {
    const e = toTiercastError(err, 'TIER_LIMIT_EXCEEDED');
    await ledger.updateStatus(jobId, { stage: 'failed', error: { code: e.code, message: e.message }, finishedAt: new Date().toISOString(), note: e.message });
    throw e;
  }
  await ledger.updateStatus(jobId, {
    stage: 'queued',
    progress: 0,
    error: null,
    finishedAt: null,
    worker: null,
    note: previousFailure ? `re-routed after ${previousFailure.code} on ${previousFailure.tier}` : 're-dispatched',
  });
  return dispatchJob(spec, route, deps);
}
