import type { TiercastConfig } from '../common/config-schema.ts';
import type { JobsService } from '../common/jobs-service.ts';
import type { MetricsSink } from '../common/metrics-query.ts';
import { homePaths } from './data-home.ts';
import { createLocalQueue, type LocalJobQueue } from './local-queue.ts';
import type { Logger } from './log.ts';
import type { ObjectStore } from './object-store.ts';
import { sweepStaleFiles } from './atomic-file.ts';
import { createJobOutputs } from './job-outputs.ts';
import { startWebhookOutbox, type WebhookOutbox } from './webhook-outbox.ts';
import { createWorker, type ExecuteJobFn, type Worker } from './worker.ts';
import { resolveAgentSettings, type AgentFlags, type AgentSettings } from './worker-settings.ts';

/**
 * The one local-worker set-up: `tiercast agent --local`, `tiercast submit --wait` and the console's local tier all
 * build their worker here, from the same settings (worker-settings.ts) over the data home's folder queue. It also runs
 * the webhook outbox while it works (done/failed/cancelled events of the job store, README "Webhooks"): on AWS the
 * table's stream does that instead.
 */

export function localQueueFor(config: TiercastConfig, home: string, settings?: Pick<AgentSettings, 'maxReceives' | 'visibilityTimeoutSec'>): LocalJobQueue {
  const dir = config.queue.kind === 'local' ? (config.queue.dir ?? homePaths(home).queue) : homePaths(home).queue;
  return createLocalQueue(dir, settings ? { maxReceives: settings.maxReceives, visibilityTimeoutSec: settings.visibilityTimeoutSec } : {});
}

/** Temporary names of the local object store (local-store.ts TEMP_MARK). */
const STORE_TEMP = '.~tc.';

/**
 * Leftovers of crashed writers in the data home's object store: temporary objects older than an hour (a live write
 * touches its file every few seconds) and resumable-download `.partial` files older than a day. Returns what it
 * removed. The worker folders are swept by the worker itself (work-dirs.ts), the queue's by the queue.
 */
export async function sweepLocalStore(storeRoot: string, now = Date.now()): Promise<string[]> {
  const partial = await sweepStaleFiles(storeRoot, { match: (n) => n.startsWith(STORE_TEMP) && n.endsWith('.partial'), olderThanMs: 86_400_000, recursive: true, now });
  const temps = await sweepStaleFiles(storeRoot, { match: (n) => n.startsWith(STORE_TEMP) && !n.endsWith('.partial'), olderThanMs: 3_600_000, recursive: true, now });
  return [...partial, ...temps];
}

export interface LocalWorkerOptions {
  readonly config: TiercastConfig;
  readonly home: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly flags?: AgentFlags;
  readonly queue: LocalJobQueue;
  readonly store: ObjectStore;
  readonly jobs: JobsService;
  readonly log: Logger;
  readonly metrics: MetricsSink;
  readonly execute?: ExecuteJobFn;
  /** Poll wait; the console and `submit --wait` use 1 s so a job starts at once. */
  readonly waitSeconds?: number;
  /** TIERCAST_WEBHOOK_SECRET (environment only, never in the config file). */
  readonly webhookSecret?: string | null;
}

export function createLocalWorker(options: LocalWorkerOptions): { worker: Worker; settings: AgentSettings } {
  const env = options.env ?? process.env;
  const settings = resolveAgentSettings({ ...options.flags, local: true }, env, options.config, options.home);
  const inner = createWorker({
    queue: options.queue,
    store: options.store,
    jobs: options.jobs,
    tier: 'local',
    concurrency: settings.concurrency,
    workRoot: settings.workDir,
    minFreeDiskBytes: settings.minFreeDiskBytes,
    visibilityTimeoutSec: settings.visibilityTimeoutSec,
    heartbeatSec: settings.heartbeatSec,
    waitSeconds: options.waitSeconds ?? settings.waitSeconds,
    maxReceives: settings.maxReceives,
    graceMs: settings.graceMs,
    retryBackoff: { baseSec: settings.retryBaseSec, maxSec: settings.retryMaxSec },
    log: options.log,
    metrics: options.metrics,
    ...(options.execute ? { execute: options.execute } : {}),
  });
  let outbox: WebhookOutbox | null = null;
  const startOutbox = () => {
    outbox ??= startWebhookOutbox({
      store: options.jobs.store,
      outputs: createJobOutputs(options.store),
      url: options.config.notifications.webhookUrl ?? null,
      secret: options.webhookSecret ?? env.TIERCAST_WEBHOOK_SECRET ?? null,
      attempts: options.config.notifications.webhookAttempts,
      log: options.log,
    });
  };
  const stopOutbox = async () => {
    // A last poll: a batch run's final events go out before the process ends.
    await outbox?.poll().catch(() => 0);
    await outbox?.stop();
  };
  const sweep = async () => {
    if (options.config.store.kind !== 'local') return;
    const removed = await sweepLocalStore(options.config.store.root ?? homePaths(options.home).store).catch(() => []);
    if (removed.length) options.log.info({ removed }, 'removed files left by a crashed writer in the local store');
  };
  const worker: Worker = {
    status: () => inner.status(),
    async start() {
      await sweep();
      startOutbox();
      await inner.start();
    },
    async stop(o) {
      await inner.stop(o);
      await stopOutbox();
    },
    async once() {
      await sweep();
      startOutbox();
      try {
        await inner.once();
      } finally {
        await stopOutbox();
      }
    },
  };
  return { worker, settings };
}
