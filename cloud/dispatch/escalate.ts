import { ERROR_CODE_INFO, toTiercastError, type ErrorCode } from '../../shared/common/errors.ts';
import { TERMINAL_STAGES, type Tier } from '../../shared/common/job.ts';
import { redispatchJob, type DispatchDeps, type RedispatchOptions } from './dispatch-job.ts';

/**
 * Closes the escalation loop: a job that a tier handed back (or that died on it) is recorded as such and sent to its
 * next tier through redispatchJob (router one tier up on TIMEOUT / TIER_LIMIT_EXCEEDED / OUT_OF_MEMORY, loop guard,
 * maxAttempts). Used by the Lambda handler right after it refuses or times out a job, by the escalation Lambda for
 * on-failure destination events and stuck jobs, so every path records the hop the same way.
 */

export interface Failure {
  readonly code: ErrorCode;
  readonly message: string;
  /** The tier the failure happened on; a job whose status already names another tier has moved on and is left alone. */
  readonly tier?: Tier;
}

export type EscalationResult =
  | { readonly action: 'dispatched'; readonly jobId: string; readonly from: Tier | null; readonly tier: Tier; readonly ref: string; readonly reason: string }
  | { readonly action: 'failed'; readonly jobId: string; readonly code: ErrorCode; readonly message: string }
  | { readonly action: 'skipped'; readonly jobId: string; readonly why: string };

export async function escalateJob(
  jobId: string,
  deps: DispatchDeps & Pick<RedispatchOptions, 'config' | 'reason' | 'random'>,
  failure?: Failure,
): Promise<EscalationResult> {
  const { ledger } = deps;
  let status = await ledger.getStatus(jobId);
  if (failure) {
    if (TERMINAL_STAGES.includes(status.stage)) return { action: 'skipped', jobId, why: `job is ${status.stage}` };
    if (failure.tier && status.tier !== failure.tier) {
      return { action: 'skipped', jobId, why: `job is on ${status.tier ?? 'no tier'} now, not ${failure.tier}` };
    }
    const spec = await ledger.getSpec(jobId);
    const canRetry = ERROR_CODE_INFO[failure.code].retryable && status.attempts < spec.maxAttempts;
    status = await ledger.updateStatus(jobId, canRetry
      ? { stage: 'queued', progress: 0, worker: null, error: { code: failure.code, message: failure.message }, note: `${failure.code} on ${status.tier ?? 'unknown tier'}` }
      : { stage: 'failed', worker: null, error: { code: failure.code, message: failure.message }, finishedAt: new Date().toISOString(), note: failure.code });
  }
  if (status.stage === 'failed') {
    return { action: 'failed', jobId, code: status.error?.code ?? 'INTERNAL', message: status.error?.message ?? 'failed' };
  }
  if (status.stage !== 'queued') return { action: 'skipped', jobId, why: `job is ${status.stage}` };
  const from = status.tier;
  try {
    const o = await redispatchJob(jobId, deps);
    return { action: 'dispatched', jobId, from, tier: o.tier, ref: o.ref, reason: o.reason };
  } catch (err) {
    // redispatchJob has marked the job failed (no tier above, loop, dispatch error) unless the ledger itself failed.
    const now = await ledger.getStatus(jobId).catch(() => null);
    const e = toTiercastError(err, 'DISPATCH_FAILED');
    return { action: 'failed', jobId, code: now?.error?.code ?? e.code, message: now?.error?.message ?? e.message };
  }
}
