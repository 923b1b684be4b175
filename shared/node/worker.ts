import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { TiercastError, toTiercastError } from '../common/errors.ts';
import { JobMessageSchema, type JobStatus } from '../common/job.ts';
import type { JobQueue, QueueMessage } from '../common/job-queue.ts';
import type { MetricsSink } from '../common/metrics-query.ts';
import type { JobsService } from '../common/jobs-service.ts';
import { executeJob, type ExecuteJobResult } from './execute-job.ts';
import type { Logger } from './log.ts';
import type { ObjectStore } from './object-store.ts';
import { sweepWorkRoot, claimWorkDir } from './work-dirs.ts';
import { sleep } from './sleep.ts';

/**
 * The one worker loop: `tiercast agent` (EC2, SQS), `tiercast agent --local`, `tiercast dispatch --wait` and the
 * console's local tier all run it. The queue only carries wake-ups ("job X was admitted"); the job store decides who
 * runs a job (executeJob claims it with a lease, a second delivery is refused) and what follows a failure (the jobs
 * service's retry policy). See README "Job control plane".
 *
 * Message lifecycle:
 * - received -> visibility extended every heartbeatSec while the job runs (cleared in finally);
 * - the run ends (done, failed, waiting to retry, escalated, cancelled) or was not this worker's to take -> deleted;
 *   retries are re-admitted by the sweep when their backoff is over, with a new message;
 * - the job store could not be reached -> visible again after an exponential delay by receive count;
 * - not a job message -> logged with the reason and dead-lettered (local queue) or released at once so the SQS redrive
 *   moves it to the DLQ after maxReceives quick receives; deleted if it still comes back, never retried forever;
 * - stop: no more polling, running jobs get graceMs to finish, then are aborted (their jobs go back to queued) and their
 *   messages made visible at once.
 * Every sweepIntervalSec the worker also runs the jobs service's sweep (due retries, lapsed leases, admission).
 * Like BullMQ's close(), stop() is idempotent and runs every cleanup step even if one throws.
 */

export type AgentTier = 'ec2' | 'local';

export interface ExecuteJobArgs {
  readonly jobId: string;
  readonly store: ObjectStore;
  readonly jobs: JobsService;
  readonly tier: AgentTier;
  readonly workRoot: string;
  readonly worker: string;
  readonly signal: AbortSignal;
  readonly deadline?: number;
  readonly onProgress?: (status: JobStatus) => void;
  readonly log: Logger;
  readonly metrics: MetricsSink;
}
export type { ExecuteJobResult };
export type ExecuteJobFn = (args: ExecuteJobArgs) => Promise<ExecuteJobResult>;

export interface WorkerOptions {
  readonly queue: JobQueue;
  readonly store: ObjectStore;
  readonly jobs: JobsService;
  readonly tier: AgentTier;
  readonly concurrency: number;
  /** Run the jobs service's sweep this often (0 = never; the AWS sweep is a scheduled function). Default 10. */
  readonly sweepIntervalSec?: number;
  readonly workRoot: string;
  /** Polling pauses while free space in workRoot is below this. */
  readonly minFreeDiskBytes: number;
  readonly visibilityTimeoutSec: number;
  /** Must be shorter than visibilityTimeoutSec. */
  readonly heartbeatSec: number;
  /** Long-poll wait, at most 20 (SQS's limit). */
  readonly waitSeconds: number;
  /** Receives after which a message is the dead-letter queue's (match the SQS redrive maxReceiveCount). */
  readonly maxReceives: number;
  readonly graceMs: number;
  readonly log: Logger;
  readonly metrics: MetricsSink;
  /** The job executor; default the one executeJob every tier runs. Tests inject wrappers. */
  readonly execute?: ExecuteJobFn;
  /** Who is working (written into job status); default `<host>/<pid>`. */
  readonly workerId?: string;
  /** Retry delay: baseSec * 2^(receiveCount-1), at most maxSec. */
  readonly retryBackoff?: { readonly baseSec?: number; readonly maxSec?: number };
  /** Free bytes in a folder; default statfs. Injectable so tests can simulate a full disk. */
  readonly freeDiskBytes?: (dir: string) => Promise<number>;
  readonly onEvent?: (event: WorkerEvent) => void;
  /**
   * Emit the QueueDepth metric (visible messages) this often; 0 = never. Default 60 on the local tier, where the
   * dashboard has no AWS/SQS metrics to show a backlog, and 0 on EC2, where SQS publishes its own.
   */
  readonly queueDepthIntervalSec?: number;
  /** First delay after a failed poll (doubles up to 30 s). Default 1000. */
  readonly pollErrorDelayMs?: number;
}

export type WorkerEvent =
  | { type: 'job-started'; jobId: string; messageId: string; receiveCount: number; running: number }
  | { type: 'job-finished'; jobId: string; messageId: string; outcome: JobOutcome; code?: string }
  | { type: 'invalid-message'; messageId: string; reason: string }
  | { type: 'poll-error'; error: TiercastError }
  | { type: 'disk-low'; freeBytes: number };

export type JobOutcome = 'done' | 'failed' | 'retry' | 'released';

export interface WorkerStatus {
  readonly state: 'idle' | 'polling' | 'paused-disk' | 'full' | 'draining' | 'stopped';
  readonly running: ReadonlyArray<{ jobId: string; messageId: string; startedAt: string; receiveCount: number }>;
  readonly concurrency: number;
  readonly done: number;
  readonly failed: number;
  readonly retried: number;
  readonly released: number;
  readonly invalid: number;
  readonly pollErrors: number;
  /** Epoch ms of the last poll that reached the queue, or null. */
  readonly lastPollOkAt: number | null;
  /** Epoch ms of the last call the queue answered (poll, heartbeat, delete): "reachable" while full. */
  readonly lastQueueOkAt: number | null;
  readonly lastPollErrorAt: number | null;
  readonly startedAt: number | null;
}

export interface Worker {
  /** Starts polling; resolves once the start-up sweep is done and the loop runs. */
  start(): Promise<void>;
  /** Graceful stop; a second call with a shorter grace (e.g. 0 on a second signal) aborts running jobs at once. */
  stop(options?: { graceMs?: number }): Promise<void>;
  status(): WorkerStatus;
  /** Work until a poll finds the queue empty and no job runs, then stop. */
  once(): Promise<void>;
}

const NumbersSchema = z
  .object({
    concurrency: z.number().int().min(1).max(256),
    minFreeDiskBytes: z.number().int().nonnegative(),
    visibilityTimeoutSec: z.number().int().min(1).max(43_200),
    heartbeatSec: z.number().positive(),
    waitSeconds: z.number().int().min(0).max(20),
    maxReceives: z.number().int().min(1).max(1000),
    graceMs: z.number().int().nonnegative(),
    tier: z.enum(['ec2', 'local']),
    workRoot: z.string().min(1),
  })
  .refine((o) => o.heartbeatSec < o.visibilityTimeoutSec, {
    message: 'must be shorter than visibilityTimeoutSec, or the message reappears while its job runs',
    path: ['heartbeatSec'],
  });

/** Throws CONFIG_INVALID naming the first bad field. */
export function validateWorkerOptions(options: Omit<WorkerOptions, 'execute'> & { execute?: unknown }): void {
  const r = NumbersSchema.safeParse(options);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const field = issue.path.join('.') || 'options';
    throw new TiercastError('CONFIG_INVALID', `agent option ${field}: ${issue.message} (got ${JSON.stringify((options as unknown as Record<string, unknown>)[field])})`, {
      details: { field },
    });
  }
  for (const k of ['queue', 'store', 'jobs', 'log', 'metrics'] as const) {
    if (!options[k]) throw new TiercastError('CONFIG_INVALID', `agent option ${k} is required`, { details: { field: k } });
  }
}

export async function statfsFree(dir: string): Promise<number> {
  const s = await fs.statfs(dir);
  return s.bavail * s.bsize;
}

/** --once gives up after this many failed polls in a row (with the default backoff, 1+2+4+8 s between them). */
const ONCE_MAX_POLL_ERRORS = 5;

interface RunningJob {
  readonly jobId: string;
  readonly message: QueueMessage;
  readonly startedAt: number;
  readonly abort: AbortController;
  interrupted: boolean;
  readonly done: Promise<void>;
}

export function createWorker(options: WorkerOptions): Worker {
  validateWorkerOptions(options);
  const { queue, log, tier, concurrency } = options;
  const workerId = options.workerId ?? `${os.hostname()}/${process.pid}`;
  const baseSec = options.retryBackoff?.baseSec ?? 10;
  const maxSec = options.retryBackoff?.maxSec ?? 900;
  const freeDisk = options.freeDiskBytes ?? statfsFree;
  const execute: ExecuteJobFn = options.execute ?? executeJob;
  const depthEverySec = options.queueDepthIntervalSec ?? (tier === 'local' ? 60 : 0);
  let depthTimer: NodeJS.Timeout | null = null;
  const sweepEverySec = options.sweepIntervalSec ?? 10;
  let sweepTimer: NodeJS.Timeout | null = null;
  let sweeping: Promise<void> | null = null;
  const runSweep = () => {
    if (sweeping) return;
    sweeping = options.jobs
      .sweep()
      .then((r) => {
        if (r.retried + r.reclaimed + r.redispatched + r.admitted > 0) log.info({ ...r }, 'sweep');
      })
      .catch((err: unknown) => log.warn({ err: toTiercastError(err, 'STORE_ERROR').toJSON() }, 'sweep failed; next one tries again'))
      .finally(() => {
        sweeping = null;
      });
  };
  const emitDepth = () => {
    queue
      .depth()
      .then((d) => options.metrics.emit(tier, { QueueDepth: d.visible }))
      .catch((err: unknown) => log.debug({ err: String(err) }, 'queue depth unavailable'));
  };
  const emit = (e: WorkerEvent) => {
    try {
      options.onEvent?.(e);
    } catch {
      /* an observer never breaks the loop */
    }
  };

  const running = new Map<string, RunningJob>();
  const counters = { done: 0, failed: 0, retried: 0, released: 0, invalid: 0, pollErrors: 0 };
  /** What the poll loop is doing; status() reports draining/stopped over it once stop() began. */
  let state: WorkerStatus['state'] = 'idle';
  let finished = false;
  let lastPollOkAt: number | null = null;
  let lastQueueOkAt: number | null = null;
  const queueOk = () => {
    lastQueueOkAt = Date.now();
  };
  let lastPollErrorAt: number | null = null;
  let startedAt: number | null = null;
  const pollAbort = new AbortController();
  let loop: Promise<void> | null = null;
  let stopping: Promise<void> | null = null;
  let abortRunningNow: (() => void) | null = null;
  let slotFreed: (() => void) | null = null;
  let agentDir: string | null = null;
  let onceError: TiercastError | null = null;
  /** Disposals of invalid messages still in flight; stop() and --once wait for them. */
  const chores = new Set<Promise<void>>();
  const track = (p: Promise<void>) => {
    chores.add(p);
    void p.finally(() => chores.delete(p));
  };

  const waitForSlot = () =>
    new Promise<void>((resolve) => {
      slotFreed = resolve;
    });

  async function prepare(): Promise<void> {
    mkdirSync(options.workRoot, { recursive: true });
    const swept = await sweepWorkRoot(options.workRoot, log);
    if (swept.length) log.info({ swept }, 'removed work folders left by a crashed agent');
    agentDir = await claimWorkDir(options.workRoot);
  }

  async function release(job: RunningJob, seconds: number): Promise<void> {
    try {
      await queue.changeVisibility(job.message, seconds);
    } catch (err) {
      log.warn({ jobId: job.jobId, messageId: job.message.id, err: toTiercastError(err, 'QUEUE_ERROR').toJSON() }, 'could not change message visibility; it returns after its visibility timeout');
    }
  }

  async function handleInvalid(message: QueueMessage, reason: string): Promise<void> {
    counters.invalid += 1;
    emit({ type: 'invalid-message', messageId: message.id, reason });
    log.error({ messageId: message.id, receiveCount: message.receiveCount, reason, body: message.body.slice(0, 200) }, `INVALID_JOB: queue message ${message.id} is not a job message: ${reason}`);
    const q = queue as JobQueue & { deadLetter?: (m: QueueMessage, reason: string) => Promise<void> };
    try {
      if (typeof q.deadLetter === 'function') {
        await q.deadLetter(message, `INVALID_JOB: ${reason}`);
      } else if (message.receiveCount > options.maxReceives) {
        // The queue has no redrive policy (or a higher one): drop it rather than loop for ever.
        log.error({ messageId: message.id }, 'invalid message received more than maxReceives times; deleting it');
        await queue.delete(message);
      } else {
        // SQS: make it visible at once; the redrive policy moves it to the DLQ after maxReceiveCount receives.
        await queue.changeVisibility(message, 0);
      }
    } catch (err) {
      log.warn({ messageId: message.id, err: toTiercastError(err, 'QUEUE_ERROR').toJSON() }, 'could not dispose of an invalid message');
    }
  }

  async function runJob(message: QueueMessage, jobId: string, abort: AbortController, self: () => RunningJob): Promise<void> {
    const jobLog = log.child({ jobId, messageId: message.id, receiveCount: message.receiveCount });
    // Keeps the message from being delivered again while the job runs. A delivery that happens anyway (a lapsed
    // visibility) is harmless: the job store refuses a second run of the same job.
    const heartbeat = setInterval(() => {
      queue.changeVisibility(message, options.visibilityTimeoutSec).then(queueOk, (err: unknown) => {
        jobLog.warn({ err: toTiercastError(err, 'QUEUE_ERROR').toJSON() }, 'heartbeat: could not extend visibility');
      });
    }, options.heartbeatSec * 1000);
    heartbeat.unref?.();
    const jobDir = path.join(agentDir!, `job-${jobId}-${randomBytes(3).toString('hex')}`);
    let outcome: JobOutcome = 'failed';
    let code: string | undefined;
    try {
      await fs.mkdir(jobDir, { recursive: true });
      jobLog.info('job started');
      let result: ExecuteJobResult;
      try {
        result = await execute({ jobId, store: options.store, jobs: options.jobs, tier, workRoot: jobDir, worker: workerId, signal: abort.signal, log: jobLog, metrics: options.metrics });
      } catch (err) {
        // executeJob reports failures as values; a throw is a bug or an infrastructure fault: let the message come back.
        result = { ok: false, error: toTiercastError(err, 'INTERNAL'), outcome: 'skipped' };
        (result.error as { thrown?: boolean }).thrown = true;
      }
      clearInterval(heartbeat);
      const job = self();
      if (result.ok) {
        outcome = 'done';
        jobLog.info({ manifestFiles: result.manifest.files.length }, 'job done');
        await deleteMessage(message, jobLog);
        return;
      }
      code = result.error.code;
      if (job.interrupted) {
        outcome = 'released';
        jobLog.warn({ code }, 'job interrupted by stop; its message is released for another worker');
        await release(job, 0);
      } else if (result.outcome === 'skipped' && (result.error.code === 'STORE_ERROR' || (result.error as { thrown?: boolean }).thrown)) {
        // The job store could not be asked: try the message again later.
        outcome = 'retry';
        const delay = Math.min(maxSec, baseSec * 2 ** (message.receiveCount - 1));
        jobLog.warn({ err: result.error.toJSON(), retryInSec: delay }, `${result.error.toString()} (will retry)`);
        await release(job, delay);
      } else {
        outcome = result.outcome === 'failed' ? 'failed' : result.outcome === 'skipped' || result.outcome === 'lost' ? 'released' : 'retry';
        await deleteMessage(message, jobLog);
      }
    } finally {
      clearInterval(heartbeat);
      await fs.rm(jobDir, { recursive: true, force: true }).catch((err: unknown) => {
        jobLog.warn({ err: String(err) }, `could not remove the job folder ${jobDir}`);
      });
      if (outcome === 'done') counters.done += 1;
      else if (outcome === 'failed') counters.failed += 1;
      else if (outcome === 'retry') counters.retried += 1;
      else counters.released += 1;
      emit({ type: 'job-finished', jobId, messageId: message.id, outcome, ...(code ? { code } : {}) });
    }
  }

  async function deleteMessage(message: QueueMessage, jobLog: Logger): Promise<void> {
    await queue.delete(message).then(queueOk, (err: unknown) => {
      // The job store holds the outcome; a second delivery of this message is refused at the claim.
      jobLog.warn({ err: toTiercastError(err, 'QUEUE_ERROR').toJSON() }, 'message could not be deleted');
    });
  }

  function startJob(message: QueueMessage): void {
    let parsed: ReturnType<typeof JobMessageSchema.safeParse>;
    try {
      parsed = JobMessageSchema.safeParse(JSON.parse(message.body));
    } catch (err) {
      track(handleInvalid(message, `body is not JSON (${(err as Error).message})`));
      return;
    }
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      track(handleInvalid(message, `${issue.path.join('.') || 'body'}: ${issue.message}`));
      return;
    }
    const jobId = parsed.data.jobId;
    const abort = new AbortController();
    let job: RunningJob;
    const done = runJob(message, jobId, abort, () => job)
      .catch((err: unknown) => {
        log.error({ jobId, err: String(err) }, 'worker: unexpected error around a job');
      })
      .finally(() => {
        running.delete(message.id);
        const wake = slotFreed;
        slotFreed = null;
        wake?.();
      });
    job = { jobId, message, startedAt: Date.now(), abort, interrupted: false, done };
    running.set(message.id, job);
    emit({ type: 'job-started', jobId, messageId: message.id, receiveCount: message.receiveCount, running: running.size });
  }

  async function pollLoop(mode: 'forever' | 'once'): Promise<void> {
    const firstErrorDelayMs = options.pollErrorDelayMs ?? 1000;
    let errorDelayMs = firstErrorDelayMs;
    let errorsInARow = 0;
    while (!stopping) {
      const free = concurrency - running.size;
      if (free <= 0) {
        state = 'full';
        await waitForSlot();
        continue;
      }
      let freeBytes: number;
      try {
        freeBytes = await freeDisk(options.workRoot);
      } catch {
        freeBytes = Number.POSITIVE_INFINITY;
      }
      if (freeBytes < options.minFreeDiskBytes) {
        if (state !== 'paused-disk') {
          log.warn({ freeBytes, minFreeDiskBytes: options.minFreeDiskBytes }, 'free disk below threshold: polling paused');
          emit({ type: 'disk-low', freeBytes });
        }
        state = 'paused-disk';
        if (mode === 'once' && running.size === 0) break;
        await Promise.race([sleep(5000, pollAbort.signal), running.size ? waitForSlot() : new Promise(() => {})]);
        continue;
      }
      state = 'polling';
      let messages: QueueMessage[];
      try {
        messages = await queue.receive({
          maxMessages: Math.min(10, free),
          // --once only asks whether anything is left: a 1 s long poll still consults every SQS server (unlike a
          // 0 s short poll), and the batch ends a second after its last job instead of 20 s later.
          waitSeconds: mode === 'once' ? Math.min(options.waitSeconds, 1) : options.waitSeconds,
          visibilityTimeoutSeconds: options.visibilityTimeoutSec,
          signal: pollAbort.signal,
        });
        lastPollOkAt = Date.now();
        queueOk();
        errorDelayMs = firstErrorDelayMs;
        errorsInARow = 0;
      } catch (err) {
        if (pollAbort.signal.aborted) break;
        const error = toTiercastError(err, 'QUEUE_ERROR');
        counters.pollErrors += 1;
        lastPollErrorAt = Date.now();
        emit({ type: 'poll-error', error });
        log.error({ err: error.toJSON() }, `poll failed: ${error.toString()}`);
        errorsInARow += 1;
        if (mode === 'once' && errorsInARow >= ONCE_MAX_POLL_ERRORS) {
          // A batch run must end: report the queue as unreachable instead of retrying for ever.
          onceError = new TiercastError(error.code, `the queue could not be reached (${errorsInARow} polls failed): ${error.message}`, { cause: error });
          if (running.size) await Promise.all([...running.values()].map((j) => j.done));
          break;
        }
        await sleep(errorDelayMs, pollAbort.signal);
        errorDelayMs = Math.min(30_000, errorDelayMs * 2);
        continue;
      }
      if (stopping) {
        // Received while stop began: hand them straight back.
        await Promise.all(messages.map((m) => queue.changeVisibility(m, 0).catch(() => {})));
        break;
      }
      for (const m of messages) startJob(m);
      if (mode === 'once' && messages.length === 0) {
        if (running.size === 0) {
          // An invalid message released a moment ago may be visible again: look once more before calling it empty.
          if (chores.size > 0) {
            await Promise.all(chores);
            continue;
          }
          // Empty means nothing in flight either: a job waiting out a retry backoff, or held by a crashed worker
          // until its visibility lapses, is still this batch's work.
          const depth = await queue.depth().catch(() => null);
          if (!depth || depth.visible + depth.inFlight === 0) {
            // The queue is empty; the job store may still hold this tier's work: waiting to retry, not yet admitted,
            // or held by a crashed worker until its lease lapses. The sweep sends those when they are due.
            if ((await pendingInStore()) === 0) break;
            runSweep();
          }
          await sleep(Math.min(5000, Math.max(250, options.waitSeconds * 250)), pollAbort.signal);
          continue;
        }
        await Promise.race([...running.values()].map((j) => j.done));
      }
    }
  }

  async function pendingInStore(): Promise<number> {
    const c = await options.jobs.store.counts({ tier }).catch(() => null);
    if (!c) return 0;
    return c.queued + c.dispatched + c['retry-wait'] + c.downloading + c.analyzing + c.encoding + c.packaging + c.uploading + c.finalizing;
  }

  async function begin(mode: 'forever' | 'once'): Promise<void> {
    if (loop) throw new TiercastError('INTERNAL', 'worker already started');
    if (stopping) throw new TiercastError('INTERNAL', 'worker was stopped');
    startedAt = Date.now();
    await prepare();
    log.info({ tier, concurrency, workRoot: options.workRoot, visibilityTimeoutSec: options.visibilityTimeoutSec, heartbeatSec: options.heartbeatSec }, 'agent worker started');
    if (sweepEverySec > 0) {
      runSweep();
      sweepTimer = setInterval(runSweep, sweepEverySec * 1000);
      sweepTimer.unref();
    }
    if (depthEverySec > 0) {
      emitDepth();
      depthTimer = setInterval(emitDepth, depthEverySec * 1000);
      depthTimer.unref();
    }
    loop = pollLoop(mode).catch((err: unknown) => {
      log.fatal({ err: String(err) }, 'worker poll loop crashed');
    });
  }

  async function stop(stopOptions: { graceMs?: number } = {}): Promise<void> {
    const graceMs = stopOptions.graceMs ?? options.graceMs;
    if (stopping) {
      if (graceMs === 0) abortRunningNow?.();
      return stopping;
    }
    let resolveStopping!: () => void;
    stopping = new Promise<void>((r) => {
      resolveStopping = r;
    });
    const p = stopping;
    state = 'draining';
    const failures: unknown[] = [];
    const step = async (name: string, fn: () => unknown) => {
      try {
        await fn();
      } catch (err) {
        failures.push(err);
        log.error({ step: name, err: String(err) }, 'worker stop: a cleanup step failed; continuing');
      }
    };
    await step('stop polling', () => {
      if (depthTimer) clearInterval(depthTimer);
      if (sweepTimer) clearInterval(sweepTimer);
      pollAbort.abort();
      const wake = slotFreed;
      slotFreed = null;
      wake?.();
    });
    await step('poll loop', () => loop);
    await step('sweep', () => sweeping);
    await step('invalid messages', () => Promise.all(chores));
    await step('drain running jobs', async () => {
      if (running.size === 0) return;
      log.info({ running: [...running.values()].map((j) => j.jobId), graceMs }, 'waiting for running jobs to finish');
      let timer: NodeJS.Timeout | undefined;
      const abortAll = () => {
        for (const job of running.values()) {
          if (job.abort.signal.aborted) continue;
          job.interrupted = true;
          job.abort.abort(new TiercastError('INTERRUPTED', 'the agent is stopping; the job will be retried by another worker'));
        }
      };
      abortRunningNow = abortAll;
      const allDone = Promise.all([...running.values()].map((j) => j.done));
      if (graceMs === 0) abortAll();
      else timer = setTimeout(abortAll, graceMs);
      await allDone;
      clearTimeout(timer);
    });
    await step('remove work folder', async () => {
      if (agentDir) await fs.rm(agentDir, { recursive: true, force: true });
    });
    finished = true;
    log.info({ ...counters }, 'agent worker stopped');
    resolveStopping();
    return p;
  }

  return {
    start: () => begin('forever'),
    async once() {
      await begin('once');
      await loop;
      await stop();
      if (onceError) throw onceError;
    },
    stop,
    status() {
      return {
        state: finished ? 'stopped' : stopping ? 'draining' : state,
        running: [...running.values()].map((j) => ({ jobId: j.jobId, messageId: j.message.id, startedAt: new Date(j.startedAt).toISOString(), receiveCount: j.message.receiveCount })),
        concurrency,
        ...counters,
        lastPollOkAt,
        lastQueueOkAt,
        lastPollErrorAt,
        startedAt,
      };
    },
  };
}
