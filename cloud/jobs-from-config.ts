import type { TiercastConfig } from '../shared/common/config-schema.ts';
import { DEFAULT_MAX_IN_FLIGHT } from '../shared/common/config-schema.ts';
import { TiercastError } from '../shared/common/errors.ts';
import type { JobQueue } from '../shared/common/job-queue.ts';
import type { JobStore } from '../shared/common/job-store.ts';
import { TIERS, type Tier } from '../shared/common/job.ts';
import { createJobsService, type JobsLogger, type JobsService } from '../shared/common/jobs-service.ts';
import type { Dispatchers } from '../shared/common/tier-dispatch.ts';
import { homePaths } from '../shared/node/data-home.ts';
import { createJobOutputs } from '../shared/node/job-outputs.ts';
import type { ObjectStore } from '../shared/node/object-store.ts';
import { openSqliteJobStore } from '../shared/node/sqlite-job-store.ts';
import { createDispatchers } from './dispatch/index.ts';
import { createDynamoDocumentClient, createDynamoJobStore } from './dynamo-job-store.ts';

/**
 * The one factory of the job store and the jobs service, for every composition root (CLI, agent, console, Lambda,
 * Fargate, the escalation function): SQLite in the data home by default, the DynamoDB table when configured.
 */

export function openJobStore(config: TiercastConfig, options: { readonly home: string }): JobStore {
  if (config.jobs.store === 'sqlite') return openSqliteJobStore(config.jobs.file ?? homePaths(options.home).jobsDb);
  if (!config.jobs.table) throw new TiercastError('CONFIG_INVALID', 'jobs.table: the DynamoDB job store needs a table (TIERCAST_JOB_TABLE)');
  const client = createDynamoDocumentClient({
    ...(config.aws.region ? { region: config.aws.region } : {}),
    ...(config.aws.profile ? { profile: config.aws.profile } : {}),
    ...(config.jobs.endpoint ? { endpoint: config.jobs.endpoint } : {}),
  });
  const store = createDynamoJobStore({ client, tableName: config.jobs.table, retentionDays: config.jobs.retentionDays });
  return {
    ...store,
    async close() {
      await store.close();
      client.destroy();
    },
  };
}

/** Admission caps: configured, else the defaults (local: twice the local worker's slots, so one job waits ready). */
export function maxInFlightFor(config: TiercastConfig): Record<Tier, number> {
  const caps = { ...DEFAULT_MAX_IN_FLIGHT, local: Math.max(2, config.tiers.local.concurrency * 2) };
  for (const t of TIERS) caps[t] = config.jobs.maxInFlight[t] ?? caps[t];
  return caps;
}

export interface JobsSetup {
  readonly jobs: JobsService;
  readonly jobStore: JobStore;
  readonly dispatchers: Dispatchers;
  close(): Promise<void>;
}

export function createJobsFromConfig(
  config: TiercastConfig,
  options: {
    readonly home: string;
    readonly store: ObjectStore;
    readonly localQueue?: JobQueue;
    readonly jobStore?: JobStore;
    /** Tests: the tier adapters. */
    readonly dispatchers?: Dispatchers;
    readonly log?: JobsLogger;
  },
): JobsSetup {
  const jobStore = options.jobStore ?? openJobStore(config, options);
  const built = options.dispatchers ? { dispatchers: options.dispatchers, close() {} } : createDispatchers(config, options.localQueue ? { localQueue: options.localQueue } : {});
  const outputs = createJobOutputs(options.store);
  const jobs = createJobsService({
    store: jobStore,
    dispatchers: built.dispatchers,
    config,
    maxInFlight: maxInFlightFor(config),
    retryPolicy: { baseDelaySec: config.jobs.retryBaseSec, maxDelaySec: config.jobs.retryMaxSec, jitter: 0.2 },
    leaseMs: config.jobs.leaseSec * 1000,
    dispatchTimeoutMs: config.jobs.dispatchTimeoutSec * 1000,
    deleteOutputs: (id) => outputs.deleteOutputs(id),
    ...(options.log ? { log: options.log } : {}),
  });
  return {
    jobs,
    jobStore,
    dispatchers: built.dispatchers,
    async close() {
      built.close();
      if (!options.jobStore) await jobStore.close();
    },
  };
}
