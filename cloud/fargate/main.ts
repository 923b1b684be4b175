import { pathToFileURL } from 'node:url';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { createPutMetricDataSink } from '../cloudwatch-metrics.ts';
import { TiercastError, toTiercastError } from '../../shared/common/errors.ts';
import { JobIdSchema, type Tier } from '../../shared/common/job.ts';
import type { MetricsSink } from '../../shared/common/metrics-query.ts';
import { executeJob } from '../../shared/node/execute-job.ts';
import type { Dispatchers } from '../../shared/common/tier-dispatch.ts';
import type { JobStore } from '../../shared/common/job-store.ts';
import { createLogger, type Logger } from '../../shared/node/log.ts';
import { createWorkerRuntime, recordRunCost, tierFromEnv, type WorkerRuntime } from '../lambda/worker-setup.ts';

/**
 * The container entry of the fargate and fargate-spot tiers: runs the one job named by TIERCAST_JOB_ID (set by the
 * dispatcher as a container override) and exits.
 *
 * SIGTERM (a Spot interruption gives two minutes; StopTask and scale-in give the task's stopTimeout, 120 s in the
 * stack) aborts the job through its AbortSignal: executeJob kills ffmpeg, uploads nothing further and puts the job
 * back to `queued` with INTERRUPTED, giving the attempt back, on on-demand `fargate` (a Spot task was just reclaimed,
 * so the next try should not be Spot); the jobs service admits it there at once through the adapters built from this
 * task's environment (ECS_CLUSTER_NAME, ECS_TASK_DEFINITION, ECS_SUBNETS, ECS_SECURITY_GROUPS; the task role may run
 * its own task definition and pass its roles). If that RunTask fails the job waits in the queue and the sweep admits
 * it later. A watchdog exits after TIERCAST_STOP_GRACE_SEC (default 60 s) even if a store or ECS call hangs, well
 * inside the notice; a second signal exits at once.
 *
 * Tier: TIERCAST_TIER when set, else the fargate/fargate-spot tier the dispatcher recorded in the job's status.
 *
 * Exit codes (also in cloud/fargate/Dockerfile): 0 done; 1 the job failed (its status says why); 2 configuration
 * error (no or bad TIERCAST_JOB_ID, invalid settings); 143 interrupted by SIGTERM/SIGINT and requeued.
 */
export const EXIT = { OK: 0, JOB_FAILED: 1, CONFIG: 2, INTERRUPTED: 143 } as const;

const FARGATE_TIERS = ['fargate', 'fargate-spot'] as const;

export interface FargateRunOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Where signals come from (default: this process). */
  readonly signals?: Pick<NodeJS.Process, 'on' | 'off'>;
  /** Called by the watchdog and on a second signal; default process.exit. */
  readonly forceExit?: (code: number) => void;
  readonly log?: Logger;
  readonly metricsSink?: (line: string) => void;
  /** Extra sink (e.g. PutMetricData), flushed before exit. */
  readonly metrics?: MetricsSink & { flush?(): Promise<void> };
  /** Tests: the tier adapters and the job store; default from the configuration. */
  readonly dispatchers?: Dispatchers;
  readonly jobStore?: JobStore;
}

export async function runFargateJob(options: FargateRunOptions = {}): Promise<number> {
  const env = options.env ?? process.env;
  const log = options.log ?? createLogger({ name: 'tiercast-fargate', format: 'json' });
  const signals = options.signals ?? process;
  const forceExit = options.forceExit ?? ((code: number) => process.exit(code));

  const id = JobIdSchema.safeParse(env.TIERCAST_JOB_ID);
  if (!id.success) {
    log.error({ code: 'CONFIG_INVALID' }, `CONFIG_INVALID: TIERCAST_JOB_ID must name the job to run (${env.TIERCAST_JOB_ID === undefined ? 'not set' : 'invalid'})`);
    return EXIT.CONFIG;
  }
  const jobId = id.data;
  let tier: Tier;
  let rt: WorkerRuntime;
  try {
    const fromEnv = env.TIERCAST_TIER ? tierFromEnv(env.TIERCAST_TIER, FARGATE_TIERS, 'fargate') : null;
    rt = await createWorkerRuntime({
      env,
      name: 'tiercast-fargate',
      log,
      ...(options.metricsSink ? { metricsSink: options.metricsSink } : {}),
      ...(options.dispatchers ? { dispatchers: options.dispatchers } : {}),
      ...(options.jobStore ? { jobStore: options.jobStore } : {}),
    });
    // Admission records fargate or fargate-spot in the job's status; one task definition serves both.
    const recorded = (await rt.jobs.store.get(jobId).catch(() => null))?.status.tier;
    tier = fromEnv ?? (recorded === 'fargate' || recorded === 'fargate-spot' ? recorded : 'fargate');
  } catch (err) {
    const e = toTiercastError(err, 'CONFIG_INVALID');
    log.error({ jobId, code: e.code }, e.toString());
    return e.code === 'CONFIG_INVALID' ? EXIT.CONFIG : EXIT.JOB_FAILED;
  }
  const metrics: MetricsSink = options.metrics
    ? { emit: (t, v, x) => { rt.metrics.emit(t, v, x); options.metrics!.emit(t, v, x); } }
    : rt.metrics;

  const controller = new AbortController();
  let signalled: NodeJS.Signals | null = null;
  let watchdog: NodeJS.Timeout | null = null;
  const graceMs = (Number(env.TIERCAST_STOP_GRACE_SEC) || 60) * 1000;
  const onSignal = (sig: NodeJS.Signals) => {
    if (signalled) {
      log.warn({ jobId, signal: sig }, 'second signal: exiting now');
      forceExit(EXIT.INTERRUPTED);
      return;
    }
    signalled = sig;
    log.warn({ jobId, signal: sig, graceSec: graceMs / 1000 }, 'stop requested (Spot interruption or task stop): aborting the job and requeuing it');
    controller.abort(new TiercastError('INTERRUPTED', `${sig}: Spot interruption or task stop`));
    watchdog = setTimeout(() => {
      log.error({ jobId }, `job did not stop within ${graceMs / 1000} s of ${sig}; exiting so the task ends inside the notice`);
      forceExit(EXIT.INTERRUPTED);
    }, graceMs);
  };
  signals.on('SIGTERM', onSignal);
  signals.on('SIGINT', onSignal);

  const started = Date.now();
  const worker = `fargate:${env.ECS_CONTAINER_METADATA_URI_V4 ? taskIdFrom(env.ECS_CONTAINER_METADATA_URI_V4) : `pid-${process.pid}`}`;
  try {
    const result = await executeJob({ jobId, store: rt.store, jobs: rt.jobs, tier, workRoot: rt.workRoot, worker, signal: controller.signal, log, metrics, requeueOn: 'fargate' });
    if (!result.ok && result.outcome === 'skipped') {
      log.warn({ jobId }, result.error.message);
      return EXIT.OK;
    }
    await recordRunCost({ ...rt, metrics }, jobId, tier, { durationSec: (Date.now() - started) / 1000, ...(result.ok ? { manifest: result.manifest } : {}) });
    if (result.ok) return EXIT.OK;
    if (result.error.code === 'INTERRUPTED' || signalled) return EXIT.INTERRUPTED;
    return EXIT.JOB_FAILED;
  } finally {
    if (watchdog) clearTimeout(watchdog);
    signals.off('SIGTERM', onSignal);
    signals.off('SIGINT', onSignal);
    await options.metrics?.flush?.().catch(() => undefined);
    rt.close();
  }
}

function taskIdFrom(metadataUri: string): string {
  // .../v4/<task-id>-<container-id-suffix>: the task id is what `aws ecs describe-tasks` takes.
  return metadataUri.split('/').at(-1)?.split('-')[0] ?? 'task';
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // On ECS (AWS_EXECUTION_ENV=AWS_ECS_FARGATE) metrics also go through PutMetricData: awslogs does not extract EMF.
  const onEcs = (process.env.AWS_EXECUTION_ENV ?? '').startsWith('AWS_ECS');
  const log = createLogger({ name: 'tiercast-fargate', format: 'json' });
  const metrics = onEcs
    ? createPutMetricDataSink({
        client: new CloudWatchClient({}),
        onError: (err) => log.warn({ err: err.toJSON() }, 'PutMetricData failed; this run has no CloudWatch metrics'),
      })
    : undefined;
  runFargateJob({ log, ...(metrics ? { metrics } : {}) }).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${toTiercastError(err).toString()}\n`);
      process.exit(EXIT.JOB_FAILED);
    },
  );
}
