import { randomBytes } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { TiercastError, toTiercastError } from '../common/errors.ts';
import { storeKeys, type JobStatus, type OutputManifest, type Stage, type Tier } from '../common/job.ts';
import { RunLost, type FinishOutcome, type JobsService, type Run } from '../common/jobs-service.ts';
import type { MetricName, MetricsSink } from '../common/metrics-query.ts';
import type { TranscodeReport } from '../common/transcode-report.ts';
import { isStalled } from './ffmpeg-runner.ts';
import { createJobOutputs, type JobOutputs } from './job-outputs.ts';
import type { Logger } from './log.ts';
import type { ObjectStore } from './object-store.ts';
import { transcodeFile, type TranscodeOptions } from './transcode.ts';

/**
 * THE job executor: the agent, the Lambda handler, the Fargate entry and the console's local tier all run a job
 * through this one function, so a job moves through the same stages and leaves the same trail everywhere.
 *
 *   claim (lease) -> downloading -> analyzing -> encoding -> packaging -> uploading -> finalizing -> done
 *
 * The run first claims the job in the job store: a second runner of the same job (a duplicate message, a second
 * Lambda delivery) is refused there and returns `skipped`. Every status write renews the lease and is a
 * compare-and-set, so an operator's cancel, or a reclaim of a lapsed lease, stops the run at its next write (at most
 * a heartbeat away) and can never be written over. Failures are returned, never thrown; what follows them (retry-wait
 * after a backoff, one tier up, requeued after an interruption, failed) is the jobs service's policy.
 */

export interface ExecuteJobOptions {
  readonly jobId: string;
  readonly store: ObjectStore;
  readonly jobs: JobsService;
  /** Default: outputs in `store`. */
  readonly outputs?: JobOutputs;
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
  /** The lease is renewed at least this often even without progress. Default a third of the jobs service's lease. */
  readonly heartbeatMs?: number;
  /** Time kept back from the deadline for uploading and finalizing. Default 10 % of the time left, at least 5 s. */
  readonly deadlineReserveMs?: number;
  /** An interrupted run (stop, Spot notice) puts its job back on this tier (Fargate Spot: on-demand Fargate). */
  readonly requeueOn?: Tier;
  /** For tests: the transcoder (default transcodeFile). */
  readonly transcode?: (options: TranscodeOptions) => Promise<TranscodeReport>;
}

export type ExecuteJobResult =
  | { ok: true; manifest: OutputManifest; report: unknown }
  /** outcome: what the failure led to; `skipped`: the job was not this run's to take (why in error.message). */
  | { ok: false; error: TiercastError; outcome: FinishOutcome | 'skipped' };

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
  dispatched: 0,
  'retry-wait': 0,
  cancelled: 0,
};
/** Below this much time before the deadline a job is not started at all. */
const MIN_RUN_MS = 5_000;

export async function executeJob(options: ExecuteJobOptions): Promise<ExecuteJobResult> {
  const { jobId, store, tier, log, jobs } = options;
  // An operator's cancel (or a reclaim of this run's lapsed lease) is found by the next status write, which aborts
  // the run here: ffmpeg, download, upload.
  const lost = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, lost.signal]) : lost.signal;
  let lostBy: RunLost | null = null;
  const outputs = options.outputs ?? createJobOutputs(store);
  const startedMs = Date.now();
  const transcode = options.transcode ?? transcodeFile;
  const worker = options.worker ?? 'unknown';

  let run: Run;
  try {
    const claimed = await jobs.claim(jobId, { worker, tier, runToken: randomBytes(6).toString('hex') });
    if (!claimed.ok) return await notClaimed(options, outputs, claimed.status, claimed.why);
    run = claimed.run;
  } catch (err) {
    const error = toTiercastError(err, 'STORE_ERROR');
    log?.error({ jobId, code: error.code }, error.toString());
    return { ok: false, error, outcome: 'skipped' };
  }
  const { spec } = run;
  const createdAt = run.status.createdAt;

  // --- status writes: stage changes at once, progress at most every statusIntervalMs, always in order ---
  const interval = options.statusIntervalMs ?? 2_000;
  let local: JobStatus = run.status;
  let chain: Promise<unknown> = Promise.resolve();
  let lastWriteMs = 0;
  const notify = () => {
    try {
      options.onProgress?.(local);
    } catch {
      // A listener never breaks the job.
    }
  };
  type Patch = Partial<JobStatus> & { readonly note?: string };
  const write = (patch: Patch): Promise<JobStatus> => {
    lastWriteMs = Date.now();
    const { note, ...fields } = patch;
    const p = chain.then(async () => {
      if (lostBy) throw lostBy;
      try {
        return await jobs.runWrite(run, fields, note);
      } catch (err) {
        if (err instanceof RunLost) {
          lostBy ??= err;
          lost.abort(err);
        }
        throw err;
      }
    });
    chain = p.catch(() => undefined);
    return p;
  };
  const heartbeatMs = options.heartbeatMs ?? Math.floor(jobs.leaseMs / 3);
  const heartbeat = setInterval(() => {
    if (Date.now() - lastWriteMs < heartbeatMs) return;
    write({}).catch((err: unknown) => {
      if (!(err instanceof RunLost)) log?.warn({ jobId, err: toTiercastError(err, 'STORE_ERROR').toJSON() }, 'lease renewal failed');
    });
  }, Math.max(50, Math.floor(heartbeatMs / 2)));
  heartbeat.unref?.();
  const setStage = async (stage: Stage, extra: Patch = {}) => {
    // Progress never goes back within an attempt.
    const progress = extra.progress ?? Math.max(local.progress, PROGRESS_AT[stage]);
    local = { ...local, ...stripNote(extra), stage, progress };
    notify();
    local = await write({ ...extra, stage, progress });
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
  const attempt = run.status.attempts;
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

    notify();
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
    const manifest = await outputs.publishOutputs(jobId, outDir, attempt, {
      signal,
      onProgress: (p) => setProgress(within('uploading', 'finalizing', p.total ? p.loaded / p.total : 1)),
      // The job moves to finalizing before the manifest exists: from there a cancel is refused, so a published
      // manifest always belongs to a job that ends done.
      beforeManifest: () => setStage('finalizing'),
      entries: {
        hls: report.files.hlsMaster,
        dash: report.files.dashManifest,
        poster: report.files.poster,
        thumbnails: report.files.thumbnailsVtt,
      },
    });
    // The manifest is written: only now is the job done.
    await setStage('done', { progress: 1, finishedAt: new Date().toISOString(), error: null, lease: null, note: `published ${manifest.files.length} files` });

    const bytesOut = manifest.files.reduce((a, f) => a + f.sizeBytes, 0);
    emit(options, {
      JobsSucceeded: 1,
      EncodeSeconds: encodeSec,
      JobLatencySeconds: (Date.now() - Date.parse(createdAt)) / 1000,
      ...(attempt === 1 ? { QueueWaitSeconds: (startedMs - Date.parse(createdAt)) / 1000 } : {}),
      BytesIn: inputBytes,
      BytesOut: bytesOut,
    });
    log?.info({ jobId, attempt, tier, files: manifest.files.length, bytesOut, seconds: (Date.now() - startedMs) / 1000 }, 'job done');
    return { ok: true, manifest, report };
  } catch (err) {
    clearInterval(heartbeat);
    await chain;
    // (Set inside the status writer, which the compiler cannot see.)
    const lostRun = lostBy as RunLost | null;
    if (lostRun) {
      // The store already says what happened (the operator's cancel, or another run holds the job): nothing to write.
      log?.warn({ jobId, attempt, tier }, lostRun.toString());
      return { ok: false, error: lostRun, outcome: 'lost' };
    }
    let error = toTiercastError(err, 'INTERNAL');
    if (signal.aborted && error.code !== 'TIER_LIMIT_EXCEEDED') {
      error = new TiercastError('INTERRUPTED', `job ${jobId} interrupted (${reasonText(signal.reason)}); it will be retried`, { cause: err });
    }
    let outcome: FinishOutcome;
    try {
      outcome = await jobs.failRun(run, error, options.requeueOn ? { requeueOn: options.requeueOn } : {});
    } catch (writeErr) {
      // The lease lapses and the sweep takes the job back: it is not lost.
      log?.error({ jobId, err: toTiercastError(writeErr, 'STORE_ERROR').toJSON() }, 'could not record the job failure; the sweep will reclaim it');
      outcome = 'lost';
    }
    local = run.status;
    notify();
    if (outcome === 'failed') {
      emit(options, { JobsFailed: 1, ...(inputBytes ? { BytesIn: inputBytes } : {}), JobLatencySeconds: (Date.now() - Date.parse(createdAt)) / 1000 });
    }
    const level = outcome === 'failed' ? 'error' : 'warn';
    log?.[level]({ jobId, attempt, tier, code: error.code, outcome }, error.toString());
    return { ok: false, error, outcome };
  } finally {
    clearInterval(heartbeat);
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
  const buf = await store.getBuffer(storeKeys.outputPrefix(jobId) + manifest.report);
  return JSON.parse(buf.toString('utf8'));
}

/** A job this run may not take: done already (a second delivery: report its result), or held, waiting or finished. */
async function notClaimed(options: ExecuteJobOptions, outputs: JobOutputs, status: JobStatus, why: string): Promise<ExecuteJobResult> {
  if (status.stage === 'done') {
    const manifest = await outputs.readManifest(options.jobId).catch(() => null);
    if (manifest) {
      options.log?.info({ jobId: options.jobId }, 'job already done; nothing to do');
      return { ok: true, manifest, report: await readReport(options.store, options.jobId, manifest).catch(() => null) };
    }
  }
  const error = new TiercastError('INVALID_REQUEST', `job ${options.jobId} not run here: ${why}`, { details: { stage: status.stage, skipped: true } });
  options.log?.info({ jobId: options.jobId, stage: status.stage }, error.message);
  return { ok: false, error, outcome: 'skipped' };
}

/** The input's extension helps ffmpeg's probing; anything odd is dropped (the name is the operator's, not ours). */
function safeExtension(name: string): string {
  const ext = path.extname(name.split(/[\\/]/).at(-1) ?? '').toLowerCase();
  return /^\.[a-z0-9]{1,8}$/.test(ext) ? ext : '';
}

function stripNote(patch: Partial<JobStatus> & { readonly note?: string }): Partial<JobStatus> {
  const { note: _note, ...rest } = patch;
  return rest;
}

function reasonText(reason: unknown): string {
  if (reason instanceof Error) return reason.message;
  return reason === undefined ? 'aborted' : String(reason);
}
