import { TiercastError, toTiercastError } from '../../shared/common/errors.ts';
import type { JobSpec, JobStatus, Tier } from '../../shared/common/job.ts';
import type { Route } from '../../shared/common/router.ts';
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
