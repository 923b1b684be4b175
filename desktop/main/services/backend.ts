import { createJobsFromConfig, openJobStore, type JobsSetup } from '../../../cloud/jobs-from-config.ts';
import { createStoreFromConfig } from '../../../cloud/store-from-config.ts';
import type { TiercastConfig } from '../../../shared/common/config-schema.ts';
import { homePaths } from '../../../shared/node/data-home.ts';
import { createLocalMetricsSink } from '../../../shared/node/local-metrics.ts';
import { createLocalWorker, localQueueFor } from '../../../shared/node/local-worker.ts';
import type { ObjectStore } from '../../../shared/node/object-store.ts';
import type { Worker } from '../../../shared/node/worker.ts';
import type { ServicesOptions } from './types.ts';

/**
 * What Settings can swap under the console: the configuration, the object store, the jobs service and the local
 * worker. The job store (SQLite in the data home by default, as the CLI opens it) stays open for the console's life;
 * the jobs service is rebuilt when Settings change the tiers or store.
 *
 * The local tier runs the agent's own worker loop in-process over the local queue and the configured store, the same
 * set-up as `tiercast agent --local`; there is no second worker implementation.
 */

export type BackendOptions = Pick<ServicesOptions, 'home' | 'config' | 'log' | 'localWorker' | 'execute' | 'dispatchers'>;

type BuiltStore = { store: ObjectStore; close: () => void };

export function createBackend(options: BackendOptions) {
  const { home, log } = options;
  let config = options.config;
  let built: BuiltStore = createStoreFromConfig(config, { home });
  const queue = localQueueFor(config, home);
  const jobStore = openJobStore(config, { home });
  const metricsSink = createLocalMetricsSink(homePaths(home).metrics);
  const makeJobs = (): JobsSetup =>
    createJobsFromConfig(config, { home, store: built.store, jobStore, localQueue: queue, ...(options.dispatchers ? { dispatchers: options.dispatchers } : {}), log: log.child({ component: 'jobs' }) });
  let jobsSetup = makeJobs();
  let worker: Worker | null = null;

  async function startWorker(): Promise<void> {
    if (options.localWorker === false) return;
    // A cancel is a compare-and-set that the running job finds at its next write (shared/common/jobs-service.ts), so
    // nothing is tracked here.
    const local = createLocalWorker({
      config,
      home,
      queue,
      store: built.store,
      jobs: jobsSetup.jobs,
      log: log.child({ component: 'local-worker' }),
      metrics: metricsSink,
      waitSeconds: 1,
      ...(options.execute ? { execute: options.execute } : {}),
    });
    worker = local.worker;
    await worker.start();
  }

  /** Keeps the current store unless the new config names another one; answers whether it changed. */
  function swapStore(): boolean {
    const next = createStoreFromConfig(config, { home });
    const changed = next.store.kind !== built.store.kind || next.store.location !== built.store.location;
    if (!changed) {
      next.close();
      return false;
    }
    const previous = built;
    built = next;
    // In-flight uploads and reads of the old store finish on their own; its client goes once they are done.
    setTimeout(() => previous.close(), 60_000).unref();
    return true;
  }

  /** Settings were saved: the store, the jobs service and (when its store or concurrency changed) the worker follow. */
  async function apply(next: TiercastConfig): Promise<void> {
    const concurrencyBefore = config.tiers.local.concurrency;
    config = next;
    const storeChanged = swapStore();
    const previousJobs = jobsSetup;
    jobsSetup = makeJobs();
    await previousJobs.close();
    if (worker && (storeChanged || concurrencyBefore !== config.tiers.local.concurrency)) {
      await worker.stop();
      worker = null;
      await startWorker();
    }
  }

  return {
    config: () => config,
    store: () => built.store,
    jobs: () => jobsSetup.jobs,
    startWorker,
    apply,
    /** Shutdown steps in order: the worker stops before the jobs service, the job store and the store close. */
    closeSteps: (): Array<() => unknown> => [() => worker?.stop(), () => jobsSetup.close(), () => jobStore.close(), () => built.close()],
  };
}

export type Backend = ReturnType<typeof createBackend>;
