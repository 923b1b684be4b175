import { ERROR_CODE_INFO, TiercastError, type ErrorCode } from './errors.ts';
import { isTerminal, type JobError, type JobStatus, type Stage, type Tier } from './job.ts';

/**
 * THE job lifecycle, as data: every writer of job state (the jobs service for operators and dispatch, runners on
 * every tier, the sweep) turns its intent into a Change here, and the store writes it with a compare-and-set on the
 * status version. An illegal move is an error, never a silent overwrite. See README "Job control plane".
 *
 *   queued -> dispatched -> downloading -> analyzing -> encoding -> packaging -> uploading -> finalizing -> done
 *   any waiting or running stage -> cancelled (operator) | failed | retry-wait (retryable, after a backoff)
 *   retry-wait -> queued (due) ; running -> queued (interrupted, or escalated to another tier)
 *   failed | cancelled -> queued (operator retry / redrive)
 */

export const WAITING_STAGES = ['queued', 'dispatched', 'retry-wait'] as const satisfies readonly Stage[];
export const RUNNING_STAGES = ['downloading', 'analyzing', 'encoding', 'packaging', 'uploading', 'finalizing'] as const satisfies readonly Stage[];
export type RunningStage = (typeof RUNNING_STAGES)[number];
export const isRunning = (stage: Stage): stage is RunningStage => (RUNNING_STAGES as readonly Stage[]).includes(stage);
export const isWaiting = (stage: Stage): boolean => (WAITING_STAGES as readonly Stage[]).includes(stage);

// A running job can also go back to downloading: a new attempt by the runner that reclaimed its lapsed lease.
const BACK_OUT: readonly Stage[] = ['downloading', 'queued', 'retry-wait', 'failed', 'cancelled'];
const laterRunning = (from: RunningStage): Stage[] => RUNNING_STAGES.slice(RUNNING_STAGES.indexOf(from));

/** Allowed moves (a stage to itself is an in-place update: progress, re-routing, lease renewal). */
export const TRANSITIONS: Readonly<Record<Stage, readonly Stage[]>> = {
  queued: ['queued', 'dispatched', 'downloading', 'failed', 'cancelled'],
  dispatched: ['dispatched', 'queued', 'downloading', 'retry-wait', 'failed', 'cancelled'],
  'retry-wait': ['retry-wait', 'queued', 'dispatched', 'downloading', 'failed', 'cancelled'],
  downloading: [...laterRunning('downloading'), ...BACK_OUT],
  analyzing: [...laterRunning('analyzing'), ...BACK_OUT],
  encoding: [...laterRunning('encoding'), ...BACK_OUT],
  packaging: [...laterRunning('packaging'), ...BACK_OUT],
  uploading: [...laterRunning('uploading'), ...BACK_OUT],
  // The manifest is being written: the job can only finish (or fail/retry if that write fails); a cancel is too late.
  finalizing: ['finalizing', 'done', 'downloading', 'queued', 'retry-wait', 'failed'],
  // In place only (cost accounting after the run), or again from the start by an operator.
  done: ['done'],
  failed: ['failed', 'queued'],
  cancelled: ['cancelled', 'queued'],
};

export function canMove(from: Stage, to: Stage): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Throws INVALID_REQUEST naming the job's current stage. */
export function assertMove(status: Pick<JobStatus, 'id' | 'stage'>, to: Stage, action: string): void {
  if (!canMove(status.stage, to)) {
    throw new TiercastError('INVALID_REQUEST', `cannot ${action} job ${status.id}: it is ${status.stage}`, {
      details: { jobId: status.id, stage: status.stage, to },
    });
  }
}

/** The event a change appends to the job's history (and, for done/failed/cancelled, announces). */
export const JOB_EVENT_TYPES = ['job.created', 'job.stage', 'job.done', 'job.failed', 'job.cancelled', 'job.retry', 'job.deleted'] as const;
export type JobEventType = (typeof JOB_EVENT_TYPES)[number];
/** Events delivered to webhooks and EventBridge. */
export const ANNOUNCED_EVENTS: readonly JobEventType[] = ['job.done', 'job.failed', 'job.cancelled'];

export interface JobEvent {
  readonly jobId: string;
  /** The status version this event was written with: unique per job and ordered. */
  readonly seq: number;
  readonly at: string;
  readonly type: JobEventType;
  readonly stage: Stage;
  readonly from: Stage | null;
  readonly tier: Tier | null;
  readonly attempts: number;
  readonly note?: string;
  readonly error?: JobError | null;
}

export function eventTypeFor(from: Stage | null, to: Stage): JobEventType {
  if (from === null) return 'job.created';
  if (to === 'done' || to === 'failed' || to === 'cancelled') return `job.${to}`;
  if (to === 'retry-wait' || (to === 'queued' && (from === 'failed' || from === 'cancelled'))) return 'job.retry';
  return 'job.stage';
}

/** The next status and the event for it; `event` is null for in-place updates that change no stage or tier. */
export interface Change {
  readonly next: JobStatus;
  readonly event: JobEvent | null;
}

/** Applies a patch as one versioned change: checks the move, bumps the version and the update time, makes the event. */
export function change(current: JobStatus, patch: Partial<JobStatus>, now: Date, note?: string): Change {
  const to = patch.stage ?? current.stage;
  assertMove(current, to, `move to ${to}`);
  const at = now.toISOString();
  const next: JobStatus = { ...current, ...patch, id: current.id, version: current.version + 1, updatedAt: at };
  const moved = to !== current.stage || next.tier !== current.tier;
  const event: JobEvent | null = moved
    ? {
        jobId: current.id,
        seq: next.version,
        at,
        type: eventTypeFor(current.stage, to),
        stage: to,
        from: current.stage,
        tier: next.tier,
        attempts: next.attempts,
        ...(note ? { note } : {}),
        ...(to === 'failed' || to === 'retry-wait' || to === 'cancelled' ? { error: next.error } : {}),
      }
    : null;
  return { next, event };
}

// --- retry, backoff and escalation policy ---

export interface RetryPolicy {
  /** First backoff; doubled per attempt. */
  readonly baseDelaySec: number;
  readonly maxDelaySec: number;
  /** 0..1: the share of each delay drawn at random, so a burst of failures does not come back at once. */
  readonly jitter: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { baseDelaySec: 30, maxDelaySec: 900, jitter: 0.2 };

export function backoffSec(attempt: number, policy: RetryPolicy = DEFAULT_RETRY_POLICY, random: () => number = Math.random): number {
  const full = Math.min(policy.maxDelaySec, policy.baseDelaySec * 2 ** Math.max(0, attempt - 1));
  return Math.round(full * (1 - policy.jitter * random()) * 1000) / 1000;
}

/** What follows a failed attempt. */
export type FailureDecision =
  | { readonly kind: 'retry'; readonly notBefore: string; readonly delaySec: number }
  /** Hit a tier's time, memory or disk limit: route one tier up now (the router and its loop guard decide where). */
  | { readonly kind: 'escalate' }
  /** Not the job's fault (stop, Spot notice, lost lease): back to queued, the attempt given back. */
  | { readonly kind: 'requeue' }
  | { readonly kind: 'fail'; readonly deadLettered: boolean };

export function decideFailure(
  code: ErrorCode,
  attempts: number,
  maxAttempts: number,
  now: Date,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  random: () => number = Math.random,
): FailureDecision {
  if (code === 'INTERRUPTED') return { kind: 'requeue' };
  const info = ERROR_CODE_INFO[code];
  if (!info.retryable) return { kind: 'fail', deadLettered: false };
  if (attempts >= maxAttempts) return { kind: 'fail', deadLettered: true };
  if (info.escalate) return { kind: 'escalate' };
  const delaySec = backoffSec(attempts, policy, random);
  return { kind: 'retry', delaySec, notBefore: new Date(now.getTime() + delaySec * 1000).toISOString() };
}

/** The status patch of a failed attempt (escalation is the jobs service's: it needs the router). */
export function failurePatch(decision: Exclude<FailureDecision, { kind: 'escalate' }>, error: JobError, attempts: number, now: Date): Partial<JobStatus> {
  const base = { lease: null, worker: null, error, dispatchedAt: null } as const;
  switch (decision.kind) {
    case 'retry':
      return { ...base, stage: 'retry-wait', notBefore: decision.notBefore, progress: 0 };
    case 'requeue':
      return { ...base, stage: 'queued', attempts: Math.max(0, attempts - 1), progress: 0, notBefore: null };
    case 'fail':
      return { ...base, stage: 'failed', deadLettered: decision.deadLettered, finishedAt: now.toISOString(), notBefore: null };
  }
}

// --- leases ---

export function leaseLive(status: Pick<JobStatus, 'lease'>, now: Date): boolean {
  return status.lease !== null && Date.parse(status.lease.expiresAt) > now.getTime();
}

export function holds(status: Pick<JobStatus, 'lease' | 'stage'>, owner: string): boolean {
  return isRunning(status.stage) && status.lease?.owner === owner;
}

/**
 * Whether a runner may claim the job now: a waiting job whose backoff is over, or a running one whose lease lapsed
 * (its runner died). A finished job, or one another runner holds, is not claimable. Returns why not, or null.
 */
export function whyNotClaimable(status: JobStatus, now: Date): string | null {
  if (isTerminal(status.stage)) return `it is ${status.stage}`;
  if (status.stage === 'retry-wait' && status.notBefore && Date.parse(status.notBefore) > now.getTime()) return `it waits to retry until ${status.notBefore}`;
  if (isRunning(status.stage) && leaseLive(status, now)) return `it is ${status.stage} by ${status.lease!.owner} (lease until ${status.lease!.expiresAt})`;
  return null;
}

/** The claim: first running stage, attempt counted, lease taken. A reclaim of a lapsed lease counts a new attempt. */
export function claimPatch(status: JobStatus, owner: string, worker: string, tier: Tier, leaseMs: number, now: Date): Partial<JobStatus> {
  return {
    stage: 'downloading',
    attempts: status.attempts + 1,
    tier,
    worker,
    lease: { owner, expiresAt: new Date(now.getTime() + leaseMs).toISOString() },
    startedAt: now.toISOString(),
    finishedAt: null,
    notBefore: null,
    progress: 0,
    error: null,
  };
}

/** A job is due for the sweep: a retry whose backoff is over, a lapsed lease, or a dispatch that never started. */
export function sweepReason(status: JobStatus, now: Date, dispatchTimeoutMs: number): string | null {
  const t = now.getTime();
  if (status.stage === 'retry-wait' && (!status.notBefore || Date.parse(status.notBefore) <= t)) return 'retry due';
  if (isRunning(status.stage) && status.lease && Date.parse(status.lease.expiresAt) <= t) return `lease of ${status.lease.owner} lapsed`;
  if (status.stage === 'dispatched' && status.dispatchedAt && Date.parse(status.dispatchedAt) + dispatchTimeoutMs <= t) return 'dispatched but never started';
  return null;
}

// --- a new job ---

export interface NewJobOptions {
  readonly tier?: Tier | null;
  readonly tierReason?: string | null;
  readonly estimatedCostUsd?: number | null;
  readonly priceDate?: string | null;
}

/** The first status of a job and its job.created event. */
export function initialStatus(spec: { id: string; createdAt: string; priority: number }, options: NewJobOptions, now: Date): { status: JobStatus; event: JobEvent } {
  const at = now.toISOString();
  const status: JobStatus = {
    schemaVersion: 1,
    id: spec.id,
    version: 1,
    stage: 'queued',
    priority: spec.priority,
    progress: 0,
    tier: options.tier ?? null,
    tierReason: options.tierReason ?? null,
    attempts: 0,
    createdAt: spec.createdAt,
    updatedAt: at,
    startedAt: null,
    finishedAt: null,
    worker: null,
    lease: null,
    notBefore: null,
    dispatchedAt: null,
    deadLettered: false,
    error: null,
    estimatedCostUsd: options.estimatedCostUsd ?? null,
    costUsd: null,
    priceDate: options.priceDate ?? null,
    history: [],
  };
  const event: JobEvent = {
    jobId: spec.id,
    seq: 1,
    at,
    type: 'job.created',
    stage: 'queued',
    from: null,
    tier: status.tier,
    attempts: 0,
    ...(options.tierReason ? { note: options.tierReason } : {}),
  };
  return { status, event };
}

/** The history the console and `tiercast jobs` show, made from the job's events. */
export function historyOf(events: readonly JobEvent[]): JobStatus['history'] {
  return events.map((e) => ({ at: e.at, stage: e.stage, tier: e.tier, ...(e.note ? { note: e.note } : {}) }));
}
