import { randomBytes } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { ERROR_CODE_INFO, TiercastError, toTiercastError } from '../common/errors.ts';
import { ledgerKeys, type JobSpec, type JobStatus, type OutputManifest, type Stage, type Tier } from '../common/job.ts';
import type { MetricName, MetricsSink } from '../common/metrics-query.ts';
import type { TranscodeReport } from '../common/transcode-report.ts';
import { isStalled } from './ffmpeg-runner.ts';
import { createLedger, type JobLedger, type StatusPatch } from './ledger.ts';
import type { Logger } from './log.ts';
import type { ObjectStore } from './object-store.ts';
import { transcodeFile, type TranscodeOptions } from './transcode.ts';

/**
 * THE job executor: the agent, the Lambda handler, the Fargate entry and the console's local tier all run a job
 * through this one function, so a job moves through the same stages and leaves the same ledger trail everywhere.
 *
 *   queued -> downloading -> analyzing -> encoding -> packaging -> uploading -> finalizing -> done
 *
 * Failures are returned, never thrown: `failed` for codes that cannot succeed again, back to `queued` with the
 * error recorded when the code is retryable and attempts remain, `queued` with INTERRUPTED when the caller aborts
 * (Spot notice, stop). Whether to re-send a queue message is the caller's decision.
 */

export interface ExecuteJobOptions {
  readonly jobId: string;
  readonly store: ObjectStore;
  readonly ledger?: JobLedger;
  readonly tier: Tier;
  /** A folder of the caller's; the job works in a fresh sub-folder that is always removed. */
  readonly workRoot: string;
  /** Who runs it (host/pid, Lambda request id, task ARN). */
  readonly worker?: string;
  readonly signal?: AbortSignal;
  /** Epoch ms by which the job must be finished or failed (Lambda: now + remaining time). */
  readonly deadline?: number;
  /** Every status change, also those not yet written (writes are throttled). */
  readonly onProgress?: (status: JobStatus) => void;
  readonly log?: Logger;
  readonly metrics?: Pick<MetricsSink, 'emit'>;
  /** Minimum interval between progress-only status writes. Default 2000 ms; stage changes are written at once. */
  readonly statusIntervalMs?: number;
  /** Time kept back from the deadline for uploading and finalizing. Default 10 % of the time left, at least 5 s. */
  readonly deadlineReserveMs?: number;
  /**
   * False once the caller has lost its claim on the job (a queue lease that lapsed while it ran): from then on this
   * run writes nothing to the ledger, whose status belongs to whoever holds the job now.
   */
  readonly ownsJob?: () => boolean;
  /** For tests: the transcoder (default transcodeFile). */
  readonly transcode?: (options: TranscodeOptions) => Promise<TranscodeReport>;
}

export type ExecuteJobResult = { ok: true; manifest: OutputManifest; report: unknown } | { ok: false; error: TiercastError };

/** Share of overall progress at the start of each stage. */
const PROGRESS_AT: Record<Stage, number> = {
  queued: 0,
  downloading: 0,
  analyzing: 0.1,
  encoding: 0.12,
  packaging: 0.8,
  uploading: 0.85,
  finalizing: 0.98,
  done: 1,
  failed: 0,
};
/** Below this much time before the deadline a job is not started at all. */
const MIN_RUN_MS = 5_000;

export async function executeJob(options: ExecuteJobOptions): Promise<ExecuteJobResult> {
  const { jobId, store, tier, log } = options;
  // An operator's cancel reaches a run on any tier through the ledger: a status write that finds the job
  // cancelled aborts the run here (ffmpeg, download, upload) instead of writing over the cancel.
  const cancelled = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, cancelled.signal]) : cancelled.signal;
  let cancelledBy: TiercastError | null = null;
  const ledger = options.ledger ?? createLedger(store);
  const startedMs = Date.now();
  const transcode = options.transcode ?? transcodeFile;

  let spec: JobSpec;
  let status: JobStatus;
  try {
    status = await ledger.getStatus(jobId);
    spec = await ledger.getSpec(jobId);
  } catch (err) {
    const error = toTiercastError(err, 'INVALID_JOB');
    log?.error({ jobId, code: error.code }, error.toString());
    // A job whose spec cannot be read can never run: say so in its status when there is one.
    if (error.code === 'INVALID_JOB' || error.code === 'JOB_NOT_FOUND') {
      await ledger
        .updateStatus(jobId, { stage: 'failed', error: { code: error.code, message: error.message }, finishedAt: new Date().toISOString() })
        .catch(() => undefined);
    }
    return { ok: false, error };
  }

  // A second delivery of a finished job: the result is already published.
  if (status.stage === 'done') {
    const manifest = await ledger.readManifest(jobId).catch(() => null);
    if (manifest) {
      log?.info({ jobId }, 'job already done; nothing to do');
      return { ok: true, manifest, report: await readReport(store, jobId, manifest).catch(() => null) };
    }
  }
  if (status.stage === 'failed') {
    const e = status.error ?? { code: 'INTERNAL' as const, message: 'job failed earlier' };
    return { ok: false, error: new TiercastError(e.code, `job ${jobId} already failed: ${e.message}`) };
  }
  if (status.attempts >= spec.maxAttempts) {
    const last = status.error;
    const error = new TiercastError(last?.code ?? 'INTERNAL', `job ${jobId}: no attempts left (${status.attempts}/${spec.maxAttempts})${last ? `; last error: ${last.message}` : ''}`);
    await ledger.updateStatus(jobId, { stage: 'failed', error: { code: error.code, message: error.message }, finishedAt: new Date().toISOString() }).catch(() => undefined);
    emit(options, { JobsFailed: 1 });
    return { ok: false, error };
  }

  // --- status writes: stage changes at once, progress at most every statusIntervalMs, always in order ---
  const interval = options.statusIntervalMs ?? 2_000;
  let local: JobStatus = status;
  let chain: Promise<unknown> = Promise.resolve();
  let lastWriteMs = 0;
  const notify = () => {
    try {
      options.onProgress?.(local);
    } catch {
      // A listener never breaks the job.
    }
  };
  const write = (patch: StatusPatch, opts: { overCancel?: boolean } = {}): Promise<JobStatus> => {
    lastWriteMs = Date.now();
    const p = chain.then(() => {
      if (options.ownsJob && !options.ownsJob()) return local;
      return ledger.updateStatus(jobId, (current) => {
        if (!opts.overCancel && current.stage === 'failed' && current.error?.code === 'CANCELLED') {
          cancelledBy ??= new TiercastError('CANCELLED', `job ${jobId}: ${current.error.message || 'cancelled'}; stopped on tier ${tier}`, {
            details: { byOperator: true },
          });
          cancelled.abort(cancelledBy);
          throw cancelledBy;
        }
        return patch;
      });
    });
    chain = p.catch(() => undefined);
    return p;
  };
  const setStage = async (stage: Stage, extra: StatusPatch = {}) => {
    // Progress never goes back within an attempt (the first stage of an attempt passes progress: 0 explicitly).
    const progress = extra.progress ?? Math.max(local.progress, PROGRESS_AT[stage]);
    local = { ...local, ...stripNote(extra), stage, progress };
    notify();
    // Once the manifest is written the job is done, even if a cancel came in while it was being published.
    local = await write({ ...extra, stage, progress }, { overCancel: stage === 'done' });
  };
  const setProgress = (fraction: number) => {
    const progress = Math.min(1, Math.max(local.progress, Math.round(fraction * 1000) / 1000));
    if (progress === local.progress) return;
    local = { ...local, progress };
    notify();
    if (Date.now() - lastWriteMs >= interval) {
      write({ progress }).catch((err: unknown) => log?.warn({ jobId, err: toTiercastError(err, 'STORE_ERROR').toJSON() }, 'status progress write failed'));
    }
  };
  const within = (stage: Stage, next: Stage, fraction: number) => PROGRESS_AT[stage] + (PROGRESS_AT[next] - PROGRESS_AT[stage]) * Math.min(1, Math.max(0, fraction));

  const workDir = path.join(options.workRoot, `job-${jobId}-${randomBytes(4).toString('hex')}`);
  const attempt = status.attempts + 1;
  let inputBytes = 0;
  let encodeSec = 0;
  try {
    if (signal?.aborted) throw new TiercastError('INTERRUPTED', `job ${jobId}: stopped before it started`, { cause: signal.reason });
    const timeLeft = options.deadline !== undefined ? options.deadline - Date.now() : Number.POSITIVE_INFINITY;
    const reserveMs = options.deadlineReserveMs ?? Math.max(5_000, Math.round(timeLeft * 0.1));
    if (timeLeft - reserveMs < MIN_RUN_MS) {
      throw new TiercastError('TIER_LIMIT_EXCEEDED', `job ${jobId}: only ${Math.max(0, Math.round(timeLeft / 1000))} s left on tier ${tier}; needs a tier with more time`, {
        details: { timeLeftMs: timeLeft },
      });
    }

    await setStage('downloading', {
      attempts: attempt,
      tier,
      worker: options.worker ?? null,
      startedAt: new Date().toISOString(),
      finishedAt: null,
      error: null,
      progress: 0,
      note: `attempt ${attempt} on ${tier}${options.worker ? ` by ${options.worker}` : ''}`,
    });
    await fsp.mkdir(workDir, { recursive: true });
    const inputPath = path.join(workDir, `input${safeExtension(spec.input.name)}`);
    const meta = await store.getFile(spec.input.key, inputPath, {
      signal,
      onProgress: (p) => setProgress(within('downloading', 'analyzing', p.total ? p.loaded / p.total : 0)),
    });
    inputBytes = meta.size;
    if (meta.size === 0) throw new TiercastError('INPUT_EMPTY', `${spec.input.name}: the input is empty (0 bytes)`);

    // Transcode against the deadline, keeping time back for the upload.
    const transcodeBudget = options.deadline !== undefined ? options.deadline - Date.now() - reserveMs : undefined;
    if (transcodeBudget !== undefined && transcodeBudget < MIN_RUN_MS) {
      throw new TiercastError('TIER_LIMIT_EXCEEDED', `job ${jobId}: the download left too little time on tier ${tier} to transcode`);
    }
    await setStage('analyzing');
    const outDir = path.join(workDir, 'out');
    let stage: Stage = 'analyzing';
    let stageWrite: Promise<void> = Promise.resolve();
    let report: TranscodeReport;
    try {
      report = await transcode({
        input: inputPath,
        outDir,
        ladder: spec.ladder,
        formats: spec.formats,
        signal,
        ...(transcodeBudget !== undefined ? { timeoutMs: transcodeBudget } : {}),
        workDir,
        ...(log ? { log } : {}),
        onProgress: (p) => {
          // The transcoder's own "finalizing" (report, rename) is still packaging from the job's point of view.
          const next: Stage = p.stage === 'analyzing' ? 'analyzing' : p.stage === 'encoding' ? 'encoding' : 'packaging';
          if (next !== stage && PROGRESS_AT[next] > PROGRESS_AT[stage]) {
            stage = next;
            stageWrite = stageWrite.then(() => setStage(next)).catch(() => undefined);
          }
          setProgress(within('analyzing', 'uploading', p.percent / 100));
        },
      });
    } catch (err) {
      const e = toTiercastError(err, 'ENCODE_FAILED');
      // Out of time on this tier: a bigger tier can finish it. A stall is not a matter of time: it stays TIMEOUT.
      if (e.code === 'TIMEOUT' && transcodeBudget !== undefined && !signal?.aborted && !isStalled(e)) {
        throw new TiercastError('TIER_LIMIT_EXCEEDED', `job ${jobId}: transcoding would not finish before tier ${tier}'s deadline`, { cause: e });
      }
      throw e;
    }
    await stageWrite;
    encodeSec = report.stages.encodingSec;

    await setStage('uploading');
    const manifest = await ledger.publishOutputs(jobId, outDir, attempt, {
      signal,
      onProgress: (p) => setProgress(within('uploading', 'finalizing', p.total ? p.loaded / p.total : 1)),
      entries: {
        hls: report.files.hlsMaster,
        dash: report.files.dashManifest,
        poster: report.files.poster,
        thumbnails: report.files.thumbnailsVtt,
      },
    });
    await setStage('finalizing');
    // The manifest is written: only now is the job done.
    await setStage('done', { progress: 1, finishedAt: new Date().toISOString(), error: null });

    const bytesOut = manifest.files.reduce((a, f) => a + f.sizeBytes, 0);
    emit(options, {
      JobsSucceeded: 1,
      EncodeSeconds: encodeSec,
      JobLatencySeconds: (Date.now() - Date.parse(status.createdAt)) / 1000,
      ...(attempt === 1 ? { QueueWaitSeconds: (startedMs - Date.parse(status.createdAt)) / 1000 } : {}),
      BytesIn: inputBytes,
      BytesOut: bytesOut,
    });
    log?.info({ jobId, attempt, tier, files: manifest.files.length, bytesOut, seconds: (Date.now() - startedMs) / 1000 }, 'job done');
    return { ok: true, manifest, report };
  } catch (err) {
    // (Set inside the status writer's callback, which the compiler cannot see.)
    const byOperator = cancelledBy as TiercastError | null;
    if (byOperator) {
      // The ledger already says CANCELLED (the operator's word): nothing to write, nothing to retry.
      await chain;
      log?.warn({ jobId, attempt, tier }, byOperator.toString());
      return { ok: false, error: byOperator };
    }
    let error = toTiercastError(err, 'INTERNAL');
    if (signal?.aborted && error.code !== 'TIER_LIMIT_EXCEEDED') {
      error = new TiercastError('INTERRUPTED', `job ${jobId} interrupted (${reasonText(signal.reason)}); it will be retried`, { cause: err });
    }
    await chain;
    const info = ERROR_CODE_INFO[error.code];
    const requeue = error.code === 'INTERRUPTED' || (info.retryable && attempt < spec.maxAttempts);
    const patch: StatusPatch = requeue
      ? {
          stage: 'queued',
          progress: 0,
          worker: null,
          error: { code: error.code, message: error.message },
          // An interruption (Spot notice, stop) is not the job's fault: it gives the attempt back.
          ...(error.code === 'INTERRUPTED' ? { attempts: status.attempts } : {}),
          note: `${error.code}: will retry`,
        }
      : { stage: 'failed', error: { code: error.code, message: error.message }, finishedAt: new Date().toISOString(), note: error.code };
    if (options.ownsJob && !options.ownsJob()) {
      log?.warn({ jobId, attempt, tier, code: error.code }, `${error.toString()} (lease lost: the ledger is left to the job's new holder)`);
      return { ok: false, error };
    }
    local = { ...local, ...stripNote(patch) };
    notify();
    try {
      local = await ledger.updateStatus(jobId, patch);
    } catch (writeErr) {
      log?.error({ jobId, err: toTiercastError(writeErr, 'STORE_ERROR').toJSON() }, 'could not record the job failure in the ledger');
    }
    if (!requeue) {
      emit(options, { JobsFailed: 1, ...(inputBytes ? { BytesIn: inputBytes } : {}), JobLatencySeconds: (Date.now() - Date.parse(status.createdAt)) / 1000 });
    }
    const level = requeue ? 'warn' : 'error';
    log?.[level]({ jobId, attempt, tier, code: error.code, requeued: requeue }, error.toString());
    return { ok: false, error };
  } finally {
    await chain;
    await fsp.rm(workDir, { recursive: true, force: true }).catch(() => undefined);
  }
}

function emit(options: ExecuteJobOptions, values: Partial<Record<MetricName, number>>): void {
  try {
    options.metrics?.emit(options.tier, values, { jobId: options.jobId });
  } catch {
    // Metrics never fail a job.
  }
}

async function readReport(store: ObjectStore, jobId: string, manifest: OutputManifest): Promise<unknown> {
  const buf = await store.getBuffer(ledgerKeys.outputPrefix(jobId) + manifest.report);
  return JSON.parse(buf.toString('utf8'));
}

/** The input's extension helps ffmpeg's probing; anything odd is dropped (the name is the operator's, not ours). */
function safeExtension(name: string): string {
  const ext = path.extname(name.split(/[\\/]/).at(-1) ?? '').toLowerCase();
  return /^\.[a-z0-9]{1,8}$/.test(ext) ? ext : '';
}

function stripNote(patch: StatusPatch): Partial<JobStatus> {
  const { note: _note, ...rest } = patch;
  return rest;
}

function reasonText(reason: unknown): string {
  if (reason instanceof Error) return reason.message;
  return reason === undefined ? 'aborted' : String(reason);
}
