import type { JobRow } from '../../../../../shared/common/api-contract.ts';
import { TERMINAL_STAGES } from '../../../../../shared/common/job.ts';

export interface JobActionState {
  readonly canRetry: boolean;
  readonly canCancel: boolean;
  /** Why a button is off, for its tooltip. */
  readonly retryHint: string;
  readonly cancelHint: string;
}

/**
 * Retry only where it means something: a failed job, or a queued one that already carries an error (it failed
 * and waits for its next attempt). Cancel only while the job can still stop: every stage but done and failed.
 */
export function jobActionState(job: Pick<JobRow, 'stage' | 'error'>): JobActionState {
  const terminal = TERMINAL_STAGES.includes(job.stage);
  const canRetry = job.stage === 'failed' || (job.stage === 'queued' && job.error !== null);
  return {
    canRetry,
    canCancel: !terminal,
    retryHint: canRetry ? 'Queue this job again' : `Only failed jobs can be retried; this one is ${job.stage}`,
    cancelHint: terminal ? `This job is already ${job.stage}` : 'Stop this job; it ends as failed (CANCELLED)',
  };
}
