import { createStoreFromConfig } from '../cloud/store-from-config.ts';
import { createSqsClient, createSqsJobQueue } from '../cloud/sqs-queue.ts';
import { TiercastError } from '../shared/common/errors.ts';
import type { JobQueue } from '../shared/common/job-queue.ts';
import type { MetricsSink } from '../shared/common/metrics-query.ts';
import { loadConfig, type TiercastConfig } from '../shared/node/config.ts';
import { dataHome, homePaths } from '../shared/node/data-home.ts';
import { createLocalMetricsSink } from '../shared/node/local-metrics.ts';
import { createLocalQueue, type LocalJobQueue } from '../shared/node/local-queue.ts';
import { createLocalWorker, localQueueFor } from '../shared/node/local-worker.ts';
import { createJobsFromConfig } from '../cloud/jobs-from-config.ts';
import { createLocalStore } from '../shared/node/local-store.ts';
import { createLogger, type Logger } from '../shared/node/log.ts';
import { createEmfMetrics, stdoutSink } from '../shared/node/metrics-emf.ts';
import type { ObjectStore } from '../shared/node/object-store.ts';
import { startHealthServer, type HealthServer } from './health.ts';
import { startSpotWatcher, type SpotWatcher } from './spot-watch.ts';
import { createWorker, type AgentTier, type ExecuteJobFn, type Worker } from '../shared/node/worker.ts';
import { resolveAgentSettings, type AgentFlags, type AgentSettings } from '../shared/node/worker-settings.ts';

/**
 * Composition root of `tiercast agent`: configuration (flags > environment > config file > defaults), the queue and
 * store for the mode, logs, metrics, health, Spot watcher and signals around the one worker loop (worker.ts).
 */

export interface AgentRuntime {
  readonly worker: Worker;
  readonly settings: AgentSettings;
  readonly tier: AgentTier;
  readonly queue: JobQueue;
  readonly store: ObjectStore;
  readonly log: Logger;
  readonly health: HealthServer | null;
  /** Resolves when shutdown() has finished. */
  readonly stopped: Promise<void>;
  /** Stops everything (idempotent); graceMs 0 aborts running jobs at once. */
  shutdown(options?: { graceMs?: number }): Promise<void>;
}

export interface BuildAgentOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly log?: Logger;
  /** Tests only: wrap or replace the job executor. */
  readonly execute?: ExecuteJobFn;
}

/** Builds every part from configuration; throws CONFIG_INVALID with the field named. Nothing is started yet. */
export async function buildAgent(flags: AgentFlags, options: BuildAgentOptions = {}): Promise<AgentRuntime & { start(): Promise<void> }> {
  const env = options.env ?? process.env;
  const home = dataHome(env);
  const config = await loadConfig({ env, home, ...(flags.config ? { configPath: flags.config } : {}) });
  const settings = resolveAgentSettings(flags, env, config, home);
  const local = flags.local === true || config.queue.kind === 'local';
  const tier: AgentTier = local ? 'local' : 'ec2';
  const format = flags.logFormat ?? (env.TIERCAST_LOG_FORMAT as AgentFlags['logFormat']) ?? 'auto';
  const log = options.log ?? createLogger({ name: 'tiercast-agent', format });
  const paths = homePaths(home);

  let queue: JobQueue;
  let store: ObjectStore;
  let metrics: MetricsSink;
  const cleanups: Array<() => void> = [];
  if (local) {
    queue = flags.local ? createLocalQueue(paths.queue, settings) : localQueueFor(config, home, settings);
    const storeRoot = !flags.local && config.store.kind === 'local' ? (config.store.root ?? paths.store) : paths.store;
    store = createLocalStore(storeRoot);
    // Local mode: the same EMF lines go to the data home's metrics folder, which the console's dashboard reads.
    metrics = createLocalMetricsSink(paths.metrics, { namespace: config.metrics.namespace });
  } else {
    if (config.queue.kind !== 'sqs') throw new TiercastError('CONFIG_INVALID', 'queue: the EC2 agent needs an SQS queue (TIERCAST_QUEUE_URL), or run with --local');
    if (config.store.kind !== 's3') {
      throw new TiercastError('CONFIG_INVALID', 'store: an agent on an SQS queue needs the shared S3 store (TIERCAST_BUCKET); a local folder is invisible to the other tiers', {
        details: { field: 'store.kind' },
      });
    }
    const sqs = createSqsClient({
      ...(config.aws.region ? { region: config.aws.region } : {}),
      ...(config.queue.endpoint ? { endpoint: config.queue.endpoint } : {}),
    });
    cleanups.push(() => sqs.destroy());
    queue = createSqsJobQueue({
      client: sqs,
      queueUrls: { normal: config.queue.url, ...(config.queue.highPriorityUrl ? { high: config.queue.highPriorityUrl } : {}) },
      highPriorityLatencySec: config.queue.highPriorityLatencySec,
    });
    const built = createStoreFromConfig(config, { home: paths.home });
    cleanups.push(built.close);
    store = built.store;
    // EC2: EMF on stdout; the CloudWatch agent (or journald forwarding) ships it, as for Lambda and Fargate.
    metrics = createEmfMetrics({ sink: stdoutSink(), namespace: config.metrics.namespace });
  }
  const setup = createJobsFromConfig(config, { home, store, ...(local ? { localQueue: queue } : {}), log });
  cleanups.push(() => void setup.close());
  const worker = local
    ? createLocalWorker({ config, home, env, flags, queue: queue as LocalJobQueue, store, jobs: setup.jobs, log, metrics, ...(options.execute ? { execute: options.execute } : {}) }).worker
    : createWorker({
        queue,
        store,
        jobs: setup.jobs,
        tier,
        concurrency: settings.concurrency,
        workRoot: settings.workDir,
        minFreeDiskBytes: settings.minFreeDiskBytes,
        visibilityTimeoutSec: settings.visibilityTimeoutSec,
        heartbeatSec: settings.heartbeatSec,
        waitSeconds: settings.waitSeconds,
        maxReceives: settings.maxReceives,
        graceMs: settings.graceMs,
        retryBackoff: { baseSec: settings.retryBaseSec, maxSec: settings.retryMaxSec },
        // The AWS sweep is the scheduled escalation function; agents only admit after their own runs.
        sweepIntervalSec: 0,
        log,
        metrics,
        ...(options.execute ? { execute: options.execute } : {}),
      });

  let health: HealthServer | null = null;
  let spot: SpotWatcher | null = null;
  let shutdownPromise: Promise<void> | null = null;
  let markStopped!: () => void;
  const stopped = new Promise<void>((resolve) => {
    markStopped = resolve;
  });

  const runtime = {
    worker,
    settings,
    tier,
    queue,
    store,
    log,
    stopped,
    get health() {
      return health;
    },
    async start() {
      if (settings.healthPort !== null) {
        health = await startHealthServer({ status: () => worker.status(), host: settings.healthHost, port: settings.healthPort, log });
        // Printed for operators and tests when the port was random.
        process.stderr.write(`tiercast agent: health on ${health.url}\n`);
      }
      if (settings.spotWatch) {
        spot = startSpotWatcher({
          endpoint: settings.imdsEndpoint,
          log,
          onNotice: () => {
            void runtime.shutdown();
          },
        });
      }
      log.info({ tier, store: store.location, concurrency: settings.concurrency, workDir: settings.workDir }, 'tiercast agent starting');
    },
    shutdown(shutdownOptions: { graceMs?: number } = {}): Promise<void> {
      if (shutdownPromise) {
        if (shutdownOptions.graceMs === 0) void worker.stop({ graceMs: 0 });
        return shutdownPromise;
      }
      shutdownPromise = (async () => {
        const steps: Array<[string, () => unknown]> = [
          ['spot watcher', () => spot?.stop()],
          ['worker', () => worker.stop(shutdownOptions)],
          ['health', () => health?.close()],
          ...cleanups.map((c, i) => [`client ${i}`, c] as [string, () => unknown]),
        ];
        for (const [name, fn] of steps) {
          try {
            await fn();
          } catch (err) {
            log.error({ step: name, err: String(err) }, 'agent shutdown: a step failed; continuing');
          }
        }
        log.info(worker.status(), 'tiercast agent stopped');
        markStopped();
      })();
      return shutdownPromise;
    },
  };
  return runtime;
}

/**
 * Runs the agent until a signal (or, with --once, until the queue is empty). Returns the exit code: 0 on a clean stop
 * or when every job of --once succeeded, 1 when a --once job failed.
 */
export async function runAgent(flags: AgentFlags, options: BuildAgentOptions = {}): Promise<number> {
  const agent = await buildAgent(flags, options);
  const { worker, log } = agent;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals === 1) {
      log.info({ signal, graceMs: agent.settings.graceMs }, 'stopping: no new jobs; running jobs get the grace period');
      void agent.shutdown();
    } else {
      log.warn({ signal }, 'second signal: aborting running jobs and releasing their messages now');
      void agent.shutdown({ graceMs: 0 });
    }
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    await agent.start();
    if (flags.once) {
      await worker.once();
      await agent.shutdown();
      const s = worker.status();
      return s.failed > 0 ? 1 : 0;
    }
    await worker.start();
    await agent.stopped;
    return 0;
  } catch (err) {
    await agent.shutdown({ graceMs: 0 });
    throw err;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}
