import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { createStoreFromConfig } from '../cloud/store-from-config.ts';
import { createSqsClient, createSqsJobQueue } from '../cloud/sqs-queue.ts';
import { TiercastError } from '../shared/common/errors.ts';
import type { JobQueue } from '../shared/common/job-queue.ts';
import type { MetricsSink } from '../shared/common/metrics-query.ts';
import { loadConfig, type TiercastConfig } from '../shared/node/config.ts';
import { dataHome, homePaths } from '../shared/node/data-home.ts';
import { createLedger } from '../shared/node/ledger.ts';
import { createLocalMetricsSink } from '../shared/node/local-metrics.ts';
import { createLocalQueue } from '../shared/node/local-queue.ts';
import { createLocalStore } from '../shared/node/local-store.ts';
import { createLogger, type Logger } from '../shared/node/log.ts';
import { createEmfMetrics, stdoutSink } from '../shared/node/metrics-emf.ts';
import type { ObjectStore } from '../shared/node/object-store.ts';
import { startHealthServer, type HealthServer } from './health.ts';
import { startSpotWatcher, type SpotWatcher } from './spot-watch.ts';
import { createWorker, type AgentTier, type ExecuteJobFn, type Worker } from './worker.ts';

/**
 * Composition root of `tiercast agent`: configuration (flags > environment > config file > defaults), the queue and
 * store for the mode, logs, metrics, health, Spot watcher and signals around the one worker loop (worker.ts).
 */

export interface AgentFlags {
  readonly local?: boolean;
  readonly once?: boolean;
  readonly concurrency?: number;
  readonly config?: string;
  readonly healthPort?: number;
  readonly workDir?: string;
  readonly spotWatch?: boolean;
  readonly logFormat?: 'json' | 'pretty' | 'auto';
}

/** Threads one job's ffmpeg keeps busy (decode plus the rungs); the default concurrency divides the cores by it. */
export const THREADS_PER_JOB = 2;

export function defaultConcurrency(cores: number = os.availableParallelism?.() ?? os.cpus().length): number {
  return Math.max(1, Math.floor(cores / THREADS_PER_JOB));
}

const int = (min: number, max: number) => z.number().int().min(min).max(max);

/** The agent's own settings. In the config file they live under "agent"; in the environment as TIERCAST_AGENT_*. */
export const AgentSettingsSchema = z
  .strictObject({
    concurrency: int(1, 256),
    workDir: z.string().min(1),
    minFreeDiskBytes: z.number().int().nonnegative(),
    visibilityTimeoutSec: int(1, 43_200),
    heartbeatSec: z.number().positive(),
    waitSeconds: int(0, 20),
    maxReceives: int(1, 1000),
    graceMs: int(0, 3_600_000),
    retryBaseSec: z.number().positive(),
    retryMaxSec: z.number().positive(),
    /** null: no health endpoint. 0: a random port (printed). */
    healthPort: int(0, 65_535).nullable(),
    healthHost: z.string().min(1),
    spotWatch: z.boolean(),
    imdsEndpoint: z.url(),
  })
  .refine((s) => s.heartbeatSec < s.visibilityTimeoutSec, {
    message: 'must be shorter than visibilityTimeoutSec, or a running job\'s message reappears',
    path: ['heartbeatSec'],
  });
export type AgentSettings = z.infer<typeof AgentSettingsSchema>;

const ENV: ReadonlyArray<readonly [string, keyof AgentSettings, 'number' | 'bool' | 'string']> = [
  ['TIERCAST_AGENT_CONCURRENCY', 'concurrency', 'number'],
  ['TIERCAST_AGENT_WORK_DIR', 'workDir', 'string'],
  ['TIERCAST_AGENT_MIN_FREE_DISK_BYTES', 'minFreeDiskBytes', 'number'],
  ['TIERCAST_AGENT_VISIBILITY_TIMEOUT_SEC', 'visibilityTimeoutSec', 'number'],
  ['TIERCAST_AGENT_HEARTBEAT_SEC', 'heartbeatSec', 'number'],
  ['TIERCAST_AGENT_WAIT_SECONDS', 'waitSeconds', 'number'],
  ['TIERCAST_AGENT_MAX_RECEIVES', 'maxReceives', 'number'],
  ['TIERCAST_AGENT_GRACE_MS', 'graceMs', 'number'],
  ['TIERCAST_AGENT_RETRY_BASE_SEC', 'retryBaseSec', 'number'],
  ['TIERCAST_AGENT_RETRY_MAX_SEC', 'retryMaxSec', 'number'],
  ['TIERCAST_AGENT_HEALTH_PORT', 'healthPort', 'number'],
  ['TIERCAST_AGENT_HEALTH_HOST', 'healthHost', 'string'],
  ['TIERCAST_AGENT_SPOT_WATCH', 'spotWatch', 'bool'],
  ['AWS_EC2_METADATA_SERVICE_ENDPOINT', 'imdsEndpoint', 'string'],
];

function configInvalid(field: string, source: string, message: string): TiercastError {
  return new TiercastError('CONFIG_INVALID', `agent.${field} (from ${source}): ${message}`, { details: { field: `agent.${field}`, source } });
}

/** Agent settings with their precedence; errors name the field and where its value came from. */
export function resolveAgentSettings(flags: AgentFlags, env: NodeJS.ProcessEnv, config: TiercastConfig, home: string): AgentSettings {
  const local = flags.local === true || config.queue.kind === 'local';
  const sources = new Map<string, string>();
  const merged: Record<string, unknown> = {
    concurrency: defaultConcurrency(),
    workDir: homePaths(home).work,
    minFreeDiskBytes: (local ? 512 : 2048) * 1024 * 1024,
    visibilityTimeoutSec: 120,
    heartbeatSec: undefined,
    waitSeconds: 20,
    maxReceives: 3,
    // The Spot notice gives two minutes; the systemd unit's TimeoutStopSec (120) must exceed this.
    graceMs: 90_000,
    retryBaseSec: 10,
    retryMaxSec: 900,
    healthPort: local ? null : 9464,
    healthHost: '127.0.0.1',
    spotWatch: false,
    imdsEndpoint: 'http://169.254.169.254',
  };
  const fileSection = (config as Record<string, unknown>).agent;
  if (fileSection !== undefined) {
    if (!fileSection || typeof fileSection !== 'object' || Array.isArray(fileSection)) throw configInvalid('', 'config file', 'must be an object');
    for (const [k, v] of Object.entries(fileSection)) {
      merged[k] = v;
      sources.set(k, 'config file');
    }
  }
  for (const [name, key, kind] of ENV) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    let value: unknown = raw;
    if (kind === 'number') {
      value = Number(raw);
      if (!Number.isFinite(value)) throw configInvalid(key, name, `not a number: ${JSON.stringify(raw)}`);
    } else if (kind === 'bool') {
      if (!/^(1|0|true|false|yes|no)$/i.test(raw)) throw configInvalid(key, name, `not a boolean: ${JSON.stringify(raw)}`);
      value = /^(1|true|yes)$/i.test(raw);
    }
    merged[key] = value;
    sources.set(key, name);
  }
  const fromFlags: Partial<Record<keyof AgentSettings, unknown>> = {
    concurrency: flags.concurrency,
    healthPort: flags.healthPort,
    workDir: flags.workDir,
    spotWatch: flags.spotWatch || undefined,
  };
  for (const [k, v] of Object.entries(fromFlags)) {
    if (v === undefined) continue;
    merged[k] = v;
    sources.set(k, `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
  }
  if (merged.heartbeatSec === undefined) merged.heartbeatSec = Math.max(1, Math.floor(Number(merged.visibilityTimeoutSec) / 3));
  const r = AgentSettingsSchema.safeParse(merged);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const field = issue.path.join('.') || '(agent)';
    throw configInvalid(field, sources.get(field) ?? 'default', `${issue.message} (got ${JSON.stringify(merged[field])})`);
  }
  return { ...r.data, workDir: path.resolve(r.data.workDir) };
}

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
    const queueDir = flags.local ? paths.queue : config.queue.kind === 'local' ? (config.queue.dir ?? paths.queue) : paths.queue;
    queue = createLocalQueue(queueDir, { maxReceives: settings.maxReceives, visibilityTimeoutSec: settings.visibilityTimeoutSec });
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
  const ledger = createLedger(store);
  const worker = createWorker({
    queue,
    store,
    ledger,
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
