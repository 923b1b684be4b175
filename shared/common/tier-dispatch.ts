import type { Tier } from './job.ts';

/** One way of handing a job to a tier (its adapters live in cloud/dispatch; each takes its SDK client or queue from the caller). */

export interface DispatchRequest {
  readonly jobId: string;
  readonly tier: Tier;
  /** 1..10 (JobSpec.priority); used by the queue tiers. */
  readonly priority: number;
}

export interface DispatchResult {
  /** The tier that actually took the job (differs from the request after a Spot -> on-demand fallback). */
  readonly tier: Tier;
  /** Where to look for it: Lambda request id, ECS task ARN, queue message id. */
  readonly ref: string;
  /** Set when the adapter changed something on the way (fallback, retries after throttling). */
  readonly note?: string;
}

export interface TierDispatcher {
  /** Tiers this adapter serves. */
  readonly tiers: readonly Tier[];
  dispatch(request: DispatchRequest): Promise<DispatchResult>;
}

export type Dispatchers = Partial<Record<Tier, TierDispatcher>>;

/** The Lambda event and queue message body: a pointer only, the ledger holds the job. Same shape as JobMessage. */
export function jobPointer(jobId: string): { schemaVersion: 1; jobId: string } {
  return { schemaVersion: 1, jobId };
}
