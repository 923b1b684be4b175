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
 * The moves the jobs service allows (shared/common/job-lifecycle.ts): Retry a failed or cancelled job, or one waiting
 * out its retry backoff (now instead of later); never a queued or running one. Cancel while the job is not finished.
 * The service still decides: a refusal (INVALID_REQUEST naming the stage) is shown as it comes.
 */
export function jobActionState(job: Pick<JobRow, 'stage' | 'error'>): JobActionState {
  const terminal = TERMINAL_STAGES.includes(job.stage);
  const canRetry = job.stage === 'failed' || job.stage === 'cancelled' || job.stage === 'retry-wait';
  return {
    canRetry,
    canCancel: !terminal,
    retryHint: canRetry ? 'Queue this job again' : `Only failed, cancelled or retry-waiting jobs can be retried; this one is ${job.stage}`,
    cancelHint: terminal ? `This job is already ${job.stage}` : 'Stop this job; it ends as cancelled',
  };
}
