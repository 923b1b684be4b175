import { ERROR_CODE_INFO, TiercastError, toTiercastError, type ErrorCode } from '../../shared/common/errors.ts';
import { JobIdSchema, JobMessageSchema, type Stage, type Tier } from '../../shared/common/job.ts';
import { whyNotClaimable } from '../../shared/common/job-lifecycle.ts';
import { predictSeconds, predictWorkload } from '../../shared/common/router.ts';
import { executeJob } from '../../shared/node/execute-job.ts';
import { isStalled } from '../../shared/node/ffmpeg-runner.ts';
import { createWorkerRuntime, freeBytes, recordRunCost, tierFromEnv, type WorkerRuntime, type WorkerRuntimeOptions } from './worker-setup.ts';

/**
 * The Lambda entry point of the `lambda` and `lambda-enhanced` tiers (one container image, TIERCAST_TIER says
 * which). It runs the one job executor (shared/node/execute-job.ts): the run claims the job in the job store, so a
 * second delivery of the same event (Lambda's async queue delivers at least once) is refused and returns `skipped`.
 *
 * Events:
 * - direct invoke (the dispatcher's InvokeCommand): `{ "jobId": "..." }` or a JobMessage `{ schemaVersion, jobId }`;
 *   returns a JobOutcome. A job failure is a result, not a Lambda error: the router reads `error.escalate`.
 * - SQS (an event source mapping): `{ Records: [...] }`, each body a JobMessage; returns `{ batchItemFailures }`
 *   (ReportBatchItemFailures) naming only the records worth another delivery on this same tier.
 *
 * Time: the deadline is the invocation's remaining time minus a safety margin (TIERCAST_LAMBDA_SAFETY_SEC, default
 * 10 s) so the job store is always updated before Lambda kills the sandbox. Before downloading anything the handler
 * predicts the run with the router's model and fails at once with TIER_LIMIT_EXCEEDED when it cannot fit the time
 * left, the function's memory or the free /tmp space; executeJob enforces the same deadline during the run (the transcode's timeout
 * becomes TIER_LIMIT_EXCEEDED). TIER_LIMIT_EXCEEDED is the code the router escalates one tier up.
 *
 * Input: always downloaded to /tmp, never streamed from a presigned URL. The Lambda tiers take inputs up to 150 MB
 * and the stack gives /tmp 2 GB, so the input always fits when the outputs do; a presigned-URL input would make
 * every ffmpeg read (and MP4 moov-at-end seeks) an HTTP range request, turn a network hiccup mid-encode into a
 * failed job, and slow the multi-rung encode that reads the input once per pass. A job whose input plus outputs
 * does not fit the free /tmp space is refused up front, and the router sends it to Fargate (20-200 GB).
 *
 * Retries and escalation are the jobs service's policy, applied by executeJob when the run fails: a retryable error
 * waits out its backoff in retry-wait (the scheduled sweep sends it again), an escalating one (TIER_LIMIT_EXCEEDED,
 * TIMEOUT, OUT_OF_MEMORY) is routed one tier up at once with the loop guard, using the tier adapters built from the
 * function's environment (the stack passes LAMBDA_FUNCTION_NAME_ENHANCED, ECS_*, the queue URLs). Kills the handler
 * cannot see (hard timeout, out of memory) are caught by cloud/lambda/escalation.ts (on-failure destination, sweep).
 */

export interface LambdaContext {
  getRemainingTimeInMillis(): number;
  readonly awsRequestId?: string;
  readonly functionName?: string;
}

export interface SqsRecord {
  readonly messageId: string;
  readonly body: string;
  readonly eventSource?: string;
}
export interface SqsEvent {
  readonly Records: readonly SqsRecord[];
}
export type DirectEvent = { readonly jobId: string; readonly schemaVersion?: number };
export type HandlerEvent = DirectEvent | SqsEvent;

export interface JobOutcome {
  readonly jobId: string;
  readonly ok: boolean;
  readonly tier: Tier;
  /** The job's stage when the handler returned (done, retry-wait, queued on another tier, failed). */
  readonly stage: Stage | null;
  readonly manifestKey?: string;
  readonly costUsd?: number | null;
  readonly error?: { readonly code: ErrorCode; readonly message: string; readonly retryable: boolean; readonly escalate: boolean };
  /** Set when the event was not acted on (another run holds the job, it is finished, or it belongs to another tier). */
  readonly skipped?: string;
}
export interface SqsBatchResponse {
  readonly batchItemFailures: Array<{ readonly itemIdentifier: string }>;
}

export interface HandlerOptions extends Omit<WorkerRuntimeOptions, 'name'> {
  /** Seconds kept back from the remaining time. Default TIERCAST_LAMBDA_SAFETY_SEC or 10. */
  readonly safetySec?: number;
  readonly now?: () => number;
}

const LAMBDA_TIERS = ['lambda', 'lambda-enhanced'] as const;

export function createHandler(options: HandlerOptions = {}) {
  const env = options.env ?? process.env;
  const now = options.now ?? Date.now;
  // One runtime per sandbox: warm invocations reuse the S3 client and its connections.
  let runtime: Promise<WorkerRuntime> | null = null;
  const getRuntime = () => {
    if (!runtime) {
      const memory = Number(env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE);
      const tier = tierFromEnv(env.TIERCAST_TIER, LAMBDA_TIERS, 'lambda');
      // The function's real memory prices the run, whatever the configuration file says.
      const flags = Number.isInteger(memory) && memory > 0
        ? { tiers: { lambda: tier === 'lambda' ? { memoryMb: memory } : { enhancedMemoryMb: memory } } }
        : undefined;
      runtime = createWorkerRuntime({ ...options, env, name: 'tiercast-lambda', ...(flags ? { flags } : {}) });
      runtime.catch(() => (runtime = null));
    }
    return runtime;
  };

  async function runJob(rt: WorkerRuntime, jobId: string, context: LambdaContext, deadline: number): Promise<JobOutcome> {
    const tier = tierFromEnv(env.TIERCAST_TIER, LAMBDA_TIERS, 'lambda');
    const started = now();
    const worker = `lambda:${context.functionName ?? env.AWS_LAMBDA_FUNCTION_NAME ?? 'local'}:${context.awsRequestId ?? 'local'}`;
    const refused = await preflight(rt, jobId, tier, deadline);
    if (refused) return refused;
    const result = await executeJob({
      jobId,
      store: rt.store,
      jobs: rt.jobs,
      tier,
      workRoot: rt.workRoot,
      worker,
      deadline,
      log: rt.log,
      metrics: rt.metrics,
    });
    if (!result.ok && result.outcome === 'skipped') {
      return { jobId, ok: false, tier, stage: (result.error.details as { stage?: Stage }).stage ?? null, skipped: result.error.message };
    }
    // Every invocation that ran is billed, a failed or repeated one too.
    const costUsd = await recordRunCost(rt, jobId, tier, {
      durationSec: (now() - started) / 1000,
      ...(result.ok ? { manifest: result.manifest } : {}),
    });
    const status = await rt.jobs.store.get(jobId).then((r) => r.status, () => null);
    if (result.ok) {
      return { jobId, ok: true, tier, stage: status?.stage ?? 'done', manifestKey: `outputs/${jobId}/manifest.json`, costUsd };
    }
    return { jobId, ok: false, tier, stage: status?.stage ?? null, costUsd, error: outcomeError(result.error) };
  }

  /**
   * Refuses, before any download, a job that cannot fit this invocation: predicted run time against the time left
   * (only with a probe; the size-only guess is too rough to turn a job away on) and disk against free /tmp.
   */
  async function preflight(rt: WorkerRuntime, jobId: string, tier: Tier, deadline: number): Promise<JobOutcome | null> {
    let record;
    try {
      record = await rt.jobs.store.get(jobId);
    } catch {
      return null; // executeJob reads it again and reports it properly.
    }
    const { spec, status } = record;
    if (whyNotClaimable(status, new Date(now()))) return null; // executeJob's claim refuses it with the reason.
    if (status.tier !== null && status.tier !== tier) {
      // A late or duplicate event for a job already sent on to another tier: running or refusing it here would pull it
      // back down and escalate it a second time.
      const skipped = `job ${jobId} belongs to ${status.tier}, not ${tier}: this event is stale`;
      rt.log.warn({ jobId, tier, jobTier: status.tier }, skipped);
      return { jobId, ok: false, tier, stage: status.stage, skipped };
    }
    const work = predictWorkload({ sizeBytes: spec.input.sizeBytes, media: spec.media, ladder: spec.ladder, formatCount: spec.formats.length }, rt.config);
    const leftSec = (deadline - now()) / 1000;
    const reasons: string[] = [];
    if (spec.media) {
      const { run } = predictSeconds(tier, work, spec.input.sizeBytes, rt.config);
      if (run > leftSec) reasons.push(`predicted ${Math.round(run)} s of work, ${Math.max(0, Math.round(leftSec))} s left in this invocation`);
    }
    // An out-of-memory kill ends the sandbox without a word to the ledger: refuse what the model says will not fit.
    const memoryMb = Number(env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE);
    if (spec.media && memoryMb > 0 && work.memoryMb > memoryMb * 0.9) {
      reasons.push(`needs ~${work.memoryMb} MB of memory, the function has ${memoryMb} MB`);
    }
    const free = await freeBytes(rt.workRoot).catch(() => Number.POSITIVE_INFINITY);
    if (work.diskBytes > free) {
      reasons.push(`needs ~${Math.round(work.diskBytes / 2 ** 20)} MB of /tmp, ${Math.round(free / 2 ** 20)} MB free`);
    }
    if (reasons.length === 0) return null;
    const error = new TiercastError('TIER_LIMIT_EXCEEDED', `job ${jobId} cannot finish on ${tier}: ${reasons.join('; ')}`, {
      details: { tier, leftSec, diskBytes: work.diskBytes, freeBytes: free },
    });
    // Refused before it started: no attempt spent, routed one tier up at once (loop guard in the jobs service).
    const updated = await rt.jobs.escalate(jobId, { tier, code: error.code, message: error.message }).catch((err: unknown) => {
      rt.log.error({ jobId, err: toTiercastError(err, 'STORE_ERROR').toJSON() }, 'could not record the refusal; the sweep will send the job again');
      return null;
    });
    if (updated?.stage === 'failed') rt.metrics.emit(tier, { JobsFailed: 1 }, { jobId });
    rt.log.warn({ jobId, tier, code: error.code, now: updated?.tier }, error.message);
    return { jobId, ok: false, tier, stage: updated?.stage ?? null, error: outcomeError(error) };
  }

  return async function handler(event: HandlerEvent, context: LambdaContext): Promise<JobOutcome | SqsBatchResponse> {
    const safetyMs = (options.safetySec ?? (Number(env.TIERCAST_LAMBDA_SAFETY_SEC) || 10)) * 1000;
    const deadline = now() + context.getRemainingTimeInMillis() - safetyMs;
    const rt = await getRuntime();

    if (isSqsEvent(event)) {
      const batchItemFailures: Array<{ itemIdentifier: string }> = [];
      for (const record of event.Records) {
        let jobId: string;
        try {
          jobId = JobMessageSchema.parse(JSON.parse(record.body)).jobId;
        } catch (err) {
          // Reported, not dropped: after maxReceiveCount it lands in the dead-letter queue, where the alarm is.
          rt.log.error({ messageId: record.messageId, err: String(err) }, 'SQS record is not a Tiercast job message');
          batchItemFailures.push({ itemIdentifier: record.messageId });
          continue;
        }
        if (deadline - now() < 5_000) {
          // No time left for this record: it goes back to the queue untouched.
          batchItemFailures.push({ itemIdentifier: record.messageId });
          continue;
        }
        const outcome = await runJob(rt, jobId, context, deadline).catch((err: unknown) => {
          rt.log.error({ jobId, err: toTiercastError(err).toJSON() }, 'handler failed outside the job executor');
          return null;
        });
        // The job store holds retries (retry-wait and the sweep): another delivery only helps when the handler
        // itself failed outside the executor.
        if (!outcome) {
          batchItemFailures.push({ itemIdentifier: record.messageId });
        }
      }
      return { batchItemFailures };
    }

    const parsed = JobIdSchema.safeParse((event as DirectEvent | null)?.jobId);
    if (!parsed.success) {
      // A malformed invocation is the caller's bug: a Lambda error (and the Errors alarm), not a job result.
      throw new TiercastError('INVALID_JOB', `event must be { "jobId": "..." } or an SQS event; got ${JSON.stringify(event)?.slice(0, 200)}`);
    }
    return runJob(rt, parsed.data, context, deadline);
  };
}

function isSqsEvent(event: unknown): event is SqsEvent {
  return typeof event === 'object' && event !== null && Array.isArray((event as SqsEvent).Records);
}

/** How a job failure is reported to the router: its code, and whether a retry should go one tier up. */
export function outcomeError(error: TiercastError): NonNullable<JobOutcome['error']> {
  const info = ERROR_CODE_INFO[error.code];
  // A stalled ffmpeg (no progress for minutes) would stall on a bigger tier too: retried, not escalated.
  return { code: error.code, message: error.message, retryable: info.retryable, escalate: info.escalate && !isStalled(error) };
}

/** The function Lambda calls (CMD ["handler.handler"] in cloud/lambda/Dockerfile). */
export const handler = createHandler();

/** The escalation function: same image and bundle, image command `handler.escalation` (cloud/infra sets it). */
export { escalation } from './escalation.ts';
