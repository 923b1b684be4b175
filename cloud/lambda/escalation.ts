import type { TiercastConfig } from '../../shared/common/config-schema.ts';
import type { ErrorCode } from '../../shared/common/errors.ts';
import { JobIdSchema, type JobStatus, type Tier } from '../../shared/common/job.ts';
import type { SweepSummary as JobsSweepSummary } from '../../shared/common/jobs-service.ts';
import { createWorkerRuntime, type WorkerRuntime, type WorkerRuntimeOptions } from './worker-setup.ts';

/**
 * The escalation function (same image as the transcode functions, command `handler.escalation`). It catches what the
 * transcode handler cannot report itself, because Lambda killed it:
 *
 * (a) On-failure destination records of the two transcode functions (asynchronous invocations; the stack sets
 *     retryAttempts 0, so one failed run sends one record). Record shape (Lambda docs, "Capturing records of Lambda
 *     asynchronous invocations"): `{ version, timestamp, requestContext: { requestId, functionArn, condition
 *     ("RetriesExhausted" | "EventAgeExceeded"), approximateInvokeCount }, requestPayload: <the event, here
 *     { schemaVersion, jobId }>, responseContext: { statusCode, executedVersion, functionError }, responsePayload:
 *     { errorType, errorMessage } }`. errorType "Sandbox.Timedout" (or "Task timed out") is TIMEOUT,
 *     "Runtime.OutOfMemory" (or a runtime killed by a signal) is OUT_OF_MEMORY: both escalate one tier up. An event
 *     that expired in the async queue never ran: it is re-dispatched (THROTTLED, routed afresh). Anything else is
 *     recorded as INTERNAL with Lambda's message, so the job is never left stuck in a running stage.
 * (b) The scheduled sweep (an EventBridge rule every minute, input {"kind":"sweep"}): the jobs service's sweep sends
 *     retries whose backoff is over, reclaims runs whose lease lapsed (on a Lambda tier that is a kill at its time or
 *     memory limit: one tier up), re-sends dispatches that never started (a crash between create and send), and admits
 *     queued jobs highest priority first while each tier is under its cap.
 * (c) ECS "Task State Change" events (EventBridge, STOPPED with stopCode EssentialContainerExited, this cluster): a
 *     Fargate task whose container was killed for memory (reason "OutOfMemoryError...", or exit 137 with no stop
 *     request) never reported to the ledger either; its job (TIERCAST_JOB_ID in the event's container overrides) is
 *     marked OUT_OF_MEMORY and escalated. Every other exit was reported by the entry itself and is left alone.
 */

export interface DestinationRecord {
  readonly version?: string;
  readonly timestamp?: string;
  readonly requestContext: {
    readonly requestId?: string;
    readonly functionArn?: string;
    readonly condition?: string;
    readonly approximateInvokeCount?: number;
  };
  readonly requestPayload?: unknown;
  readonly responseContext?: { readonly statusCode?: number; readonly executedVersion?: string; readonly functionError?: string };
  readonly responsePayload?: { readonly errorType?: string; readonly errorMessage?: string } | null;
}

/** The part of an ECS "Task State Change" event this function reads (EventBridge, source aws.ecs). */
export interface EcsTaskStateChange {
  readonly source: 'aws.ecs';
  readonly 'detail-type': 'ECS Task State Change';
  readonly detail: {
    readonly taskArn?: string;
    readonly lastStatus?: string;
    readonly stopCode?: string;
    readonly stoppedReason?: string;
    readonly capacityProviderName?: string;
    readonly containers?: ReadonlyArray<{ readonly name?: string; readonly exitCode?: number; readonly reason?: string }>;
    readonly overrides?: {
      readonly containerOverrides?: ReadonlyArray<{ readonly name?: string; readonly environment?: ReadonlyArray<{ readonly name?: string; readonly value?: string }> }>;
    };
  };
}

export interface TaskStoppedSummary {
  readonly kind: 'task-stopped';
  /** The job's status after it was recorded (queued on the next tier, retry-wait or failed), or null. */
  readonly result: JobStatus | null;
  readonly why?: string;
}

export function isEcsTaskStateChange(event: unknown): event is EcsTaskStateChange {
  const e = event as Partial<EcsTaskStateChange> | null;
  return typeof e === 'object' && e !== null && e.source === 'aws.ecs' && e['detail-type'] === 'ECS Task State Change' && typeof e.detail === 'object';
}

/** The job a stopped task ran and, when its container was killed for memory, that failure; else null (reported by the entry). */
export function classifyStoppedTask(event: EcsTaskStateChange, containerName: string): { jobId: string | null; failure: { code: ErrorCode; message: string } | null } {
  const d = event.detail;
  const override = d.overrides?.containerOverrides?.find((o) => o.name === containerName) ?? d.overrides?.containerOverrides?.[0];
  const jobId = override?.environment?.find((e) => e.name === 'TIERCAST_JOB_ID')?.value ?? null;
  const container = d.containers?.find((c) => c.name === containerName) ?? d.containers?.[0];
  if (d.lastStatus !== 'STOPPED' || !container) return { jobId, failure: null };
  const oom = /out ?of ?memory/i.test(container.reason ?? '') || (container.exitCode === 137 && d.stopCode === 'EssentialContainerExited');
  if (!oom) return { jobId, failure: null };
  const task = d.taskArn?.split('/').at(-1) ?? 'the task';
  const said = [container.reason, container.exitCode !== undefined ? `exit ${container.exitCode}` : null, d.stoppedReason].filter(Boolean).join('; ');
  return { jobId, failure: { code: 'OUT_OF_MEMORY', message: `Fargate task ${task} was killed for memory (${said})` } };
}

export async function handleStoppedTask(event: EcsTaskStateChange, deps: EscalationDeps): Promise<TaskStoppedSummary> {
  const { runtime } = deps;
  const { jobId, failure } = classifyStoppedTask(event, runtime.config.tiers.fargate.containerName);
  const id = JobIdSchema.safeParse(jobId);
  if (!id.success) return { kind: 'task-stopped', result: null, why: 'no Tiercast job id in the task overrides' };
  if (!failure) return { kind: 'task-stopped', result: null, why: 'the task ended on its own terms (the entry reported it)' };
  const tier: Tier = event.detail.capacityProviderName === 'FARGATE_SPOT' ? 'fargate-spot' : 'fargate';
  const result = await runtime.jobs.failDeadRun(id.data, { ...failure, tier });
  runtime.log.warn({ jobId: id.data, code: failure.code, stage: result.stage, tier: result.tier }, `stopped task: job now ${result.stage} on ${result.tier}`);
  return { kind: 'task-stopped', result };
}

export interface SweepSummary extends JobsSweepSummary {
  readonly kind: 'sweep';
}
export interface DestinationSummary {
  readonly kind: 'destination';
  readonly result: JobStatus | null;
  readonly why?: string;
}

export function isDestinationRecord(event: unknown): event is DestinationRecord {
  return typeof event === 'object' && event !== null && typeof (event as DestinationRecord).requestContext === 'object' && 'requestPayload' in event;
}

/** What a destination record says went wrong, as one of our codes. */
export function classifyFailure(record: DestinationRecord): { code: ErrorCode; message: string } {
  const type = record.responsePayload?.errorType ?? '';
  const text = record.responsePayload?.errorMessage ?? '';
  const where = functionNameFromArn(record.requestContext.functionArn) ?? 'the function';
  const said = [type, text].filter(Boolean).join(': ') || record.responseContext?.functionError || 'no error details';
  if (record.requestContext.condition === 'EventAgeExceeded') {
    return { code: 'THROTTLED', message: `the invocation of ${where} expired in Lambda's asynchronous queue before it ran` };
  }
  if (type === 'Sandbox.Timedout' || /task timed out/i.test(text)) {
    return { code: 'TIMEOUT', message: `${where} hit its Lambda timeout (${said})` };
  }
  if (type === 'Runtime.OutOfMemory' || /out ?of ?memory|signal: killed/i.test(`${type} ${text}`)) {
    return { code: 'OUT_OF_MEMORY', message: `${where} ran out of memory (${said})` };
  }
  return { code: 'INTERNAL', message: `${where} failed outside the job executor (${said})` };
}

export function functionNameFromArn(arn: string | undefined): string | null {
  // arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
  const parts = arn?.split(':') ?? [];
  return parts[5] === 'function' && parts[6] ? parts[6] : null;
}

/** The Lambda tier a function name serves, from the configuration (LAMBDA_FUNCTION_NAME[_ENHANCED]). */
export function tierOfFunction(name: string | null, config: Pick<TiercastConfig, 'tiers'>): Tier | undefined {
  if (!name) return undefined;
  const same = (configured: string | undefined) => configured !== undefined && (configured === name || functionNameFromArn(configured) === name);
  if (same(config.tiers.lambda.enhancedFunctionName)) return 'lambda-enhanced';
  if (same(config.tiers.lambda.functionName)) return 'lambda';
  return undefined;
}

export interface EscalationDeps {
  readonly runtime: Pick<WorkerRuntime, 'jobs' | 'config' | 'log'>;
}

export async function handleDestinationRecord(record: DestinationRecord, deps: EscalationDeps): Promise<DestinationSummary> {
  const { runtime } = deps;
  const payload = record.requestPayload as { jobId?: unknown } | null | undefined;
  const id = JobIdSchema.safeParse(payload?.jobId);
  if (!id.success) {
    runtime.log.warn({ requestId: record.requestContext.requestId }, 'destination record without a Tiercast job id: ignored');
    return { kind: 'destination', result: null, why: 'no job id in requestPayload' };
  }
  const failure = classifyFailure(record);
  const tier = tierOfFunction(functionNameFromArn(record.requestContext.functionArn), runtime.config);
  if (!tier) return { kind: 'destination', result: null, why: 'the function is not one of the configured transcode functions' };
  const result = await runtime.jobs.failDeadRun(id.data, { ...failure, tier });
  runtime.log.warn({ jobId: id.data, code: failure.code, stage: result.stage, tier: result.tier }, `destination record: job now ${result.stage} on ${result.tier}`);
  return { kind: 'destination', result };
}

export interface EscalationHandlerOptions extends Omit<WorkerRuntimeOptions, 'name'> {}

export function createEscalationHandler(options: EscalationHandlerOptions = {}) {
  const env = options.env ?? process.env;
  let ready: Promise<WorkerRuntime> | null = null;
  const get = () => {
    if (!ready) {
      ready = createWorkerRuntime({ ...options, env, name: 'tiercast-escalation' });
      ready.catch(() => (ready = null));
    }
    return ready;
  };
  return async function escalationHandler(event: unknown): Promise<DestinationSummary | TaskStoppedSummary | SweepSummary> {
    const runtime = await get();
    if (isDestinationRecord(event)) return handleDestinationRecord(event, { runtime });
    if (isEcsTaskStateChange(event)) return handleStoppedTask(event, { runtime });
    const summary = await runtime.jobs.sweep();
    runtime.log.info({ ...summary }, 'sweep');
    return { kind: 'sweep', ...summary };
  };
}

/** Lambda entry (re-exported by handler.ts so one bundle serves both commands). */
export const escalation = createEscalationHandler();
