import type { TiercastConfig } from '../shared/common/config-schema.ts';
import type { JobStore } from '../shared/common/job-store.ts';
import type { JobsService } from '../shared/common/jobs-service.ts';
import type { LocalJobQueue } from '../shared/node/local-queue.ts';
import type { ObjectStore } from '../shared/node/object-store.ts';

/** What the job verbs open from configuration: the object store, the local queue, the job store and the jobs service. */
export interface Backends {
  readonly home: string;
  readonly store: ObjectStore;
  readonly localQueue: LocalJobQueue;
  readonly jobStore: JobStore;
  readonly jobs: JobsService;
  close(): Promise<void>;
}

/** Modules are imported lazily (the AWS SDK only when a cloud tier is configured) so `--help` stays fast. */
export async function openBackends(config: TiercastConfig): Promise<Backends> {
  const [{ dataHome }, { localQueueFor }, { createStoreFromConfig }, { createJobsFromConfig }] = await Promise.all([
    import('../shared/node/data-home.ts'),
    import('../shared/node/local-worker.ts'),
    import('../cloud/store-from-config.ts'),
    import('../cloud/jobs-from-config.ts'),
  ]);
  const home = dataHome();
  const built = createStoreFromConfig(config, { home });
  const localQueue = localQueueFor(config, home);
  let setup;
  try {
    setup = createJobsFromConfig(config, { home, store: built.store, localQueue });
  } catch (err) {
    built.close();
    throw err;
  }
  return {
    home,
    store: built.store,
    localQueue,
    jobStore: setup.jobStore,
    jobs: setup.jobs,
    async close() {
      await setup.close();
      built.close();
    },
  };
}
