import { TiercastError } from './errors.ts';
import type { JobEvent } from './job-lifecycle.ts';
import type { JobSpec, JobStatus, Stage, Tier } from './job.ts';

/**
 * Where job state lives: SQLite (shared/node/sqlite-job-store.ts) for the embedded default and single hosts, and
 * DynamoDB (cloud/dynamo-job-store.ts) on AWS. One contract test suite (test/contract/job-store.contract.ts) runs
 * against both. The store knows nothing of the lifecycle: it offers one compare-and-set write on the status version
 * (with the event of that change written in the same atomic step, the outbox), queries over indexes, and counters.
 * The jobs service (shared/common/jobs-service.ts) and the runner (shared/common/job-runner.ts) decide what to write.
 */

export interface JobRecord {
  readonly spec: JobSpec;
  readonly status: JobStatus;
}

export interface NewJob extends JobRecord {
  /** The job.created event. */
  readonly event: JobEvent;
  /** A client's submit key: a second submit with the same key returns the first job instead of a new one. */
  readonly idempotencyKey?: string;
}

/** Thrown by write/remove when the stored version is not the expected one: a lost race, to re-read and decide again. */
export class VersionConflict extends TiercastError {
  constructor(jobId: string, expected: number) {
    super('STORE_ERROR', `job ${jobId}: changed by another writer (expected version ${expected})`, { details: { jobId, expected, conflict: true } });
  }
}
export const isVersionConflict = (err: unknown): err is VersionConflict => err instanceof VersionConflict;

export interface JobPage {
  readonly items: readonly JobStatus[];
  /** Pass back for the next page; null at the end. */
  readonly cursor: string | null;
}

export interface ListQuery {
  readonly stage?: Stage | readonly Stage[];
  readonly tier?: Tier;
  /** 1..1000. */
  readonly limit: number;
  readonly cursor?: string | null;
  /** By update time: 'desc' (default) newest first. */
  readonly order?: 'asc' | 'desc';
}

export interface ChangesPage {
  readonly items: readonly JobStatus[];
  /** Give it back to get what changed after these; never null (an empty page returns the same cursor). */
  readonly cursor: string;
}

export type StageCounts = Readonly<Record<Stage, number>>;

export interface WebhookDelivery {
  readonly jobId: string;
  /** Same id on every retry of one event (X-Tiercast-Delivery). */
  readonly deliveryId: string;
  readonly seq: number;
  readonly event: string;
  readonly url: string;
  readonly attempt: number;
  readonly at: string;
  readonly ok: boolean;
  readonly statusCode: number | null;
  readonly error: string | null;
}

export interface JobStore {
  readonly kind: 'sqlite' | 'dynamodb';
  /** A file path or table name, for messages and `tiercast doctor`. */
  readonly location: string;

  /** Creates jobs in as few round trips as the backend allows. An id or key already there: created false, nothing written. */
  insert(jobs: readonly NewJob[]): Promise<ReadonlyArray<{ readonly jobId: string; readonly created: boolean }>>;
  /** JOB_NOT_FOUND when there is no such job. */
  get(id: string): Promise<JobRecord>;
  /** The job a submit key created, or null. */
  findByIdempotencyKey(key: string): Promise<string | null>;
  /**
   * The one way state changes: writes `next` (whose version must be expectedVersion + 1) only if the stored version is
   * expectedVersion, together with its event when there is one. VersionConflict on a lost race; JOB_NOT_FOUND.
   */
  write(next: JobStatus, expectedVersion: number, event: JobEvent | null): Promise<void>;
  /** Removes the job, its events and deliveries, at that version. */
  remove(id: string, expectedVersion: number): Promise<void>;

  list(query: ListQuery): Promise<JobPage>;
  /** Everything written after the cursor (null: from now on; '' or '0': from the start), oldest change first. */
  changedSince(cursor: string | null, limit: number): Promise<ChangesPage>;
  counts(options?: { readonly tier?: Tier }): Promise<StageCounts>;
  /** Queued jobs waiting for a tier, highest priority first, then oldest. */
  admissionQueue(tier: Tier, limit: number): Promise<readonly JobStatus[]>;
  /** Jobs of the tier that hold a slot: dispatched or running. */
  inFlight(tier: Tier): Promise<number>;
  /** Candidates for the sweep: retry-wait, running and dispatched jobs (the caller checks each with sweepReason). */
  sweepCandidates(limit: number, cursor?: string | null): Promise<JobPage>;

  events(id: string): Promise<readonly JobEvent[]>;
  /** Announced events (done/failed/cancelled) not yet delivered, oldest first. Only stores that deliver themselves (SQLite). */
  undelivered?(limit: number): Promise<readonly JobEvent[]>;
  /** Marks an announced event delivered (or given up) so undelivered() no longer returns it. */
  settleEvent?(jobId: string, seq: number): Promise<void>;
  recordDelivery(delivery: WebhookDelivery): Promise<void>;
  deliveries(jobId: string): Promise<readonly WebhookDelivery[]>;

  /** Atomically adds delta to a named counter and returns the new value (fan-in of chunked jobs). */
  increment(counter: string, delta?: number): Promise<number>;

  /** Size and health for `tiercast doctor`. */
  health(): Promise<{ readonly ok: boolean; readonly jobs: number; readonly bytes: number | null; readonly detail: string }>;
  close(): Promise<void>;
}
