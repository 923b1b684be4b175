import { mkdir, statfs } from 'node:fs/promises';
import { createStoreFromConfig } from '../store-from-config.ts';
import { createJobsFromConfig } from '../jobs-from-config.ts';
import type { JobStore } from '../../shared/common/job-store.ts';
import type { JobsService } from '../../shared/common/jobs-service.ts';
import type { Dispatchers } from '../../shared/common/tier-dispatch.ts';
import { actualCost } from '../../shared/common/cost.ts';
import { TiercastError, toTiercastError } from '../../shared/common/errors.ts';
import type { OutputManifest, Tier } from '../../shared/common/job.ts';
import type { MetricsSink } from '../../shared/common/metrics-query.ts';
import { loadConfig, type ConfigOverrides, type TiercastConfig } from '../../shared/node/config.ts';
import { dataHome, homePaths } from '../../shared/node/data-home.ts';
import { createLogger, type Logger } from '../../shared/node/log.ts';
import { createEmfMetrics, stdoutSink } from '../../shared/node/metrics-emf.ts';
import type { ObjectStore } from '../../shared/node/object-store.ts';

/**
 * What the Lambda handlers and the Fargate entry build before running a job: configuration (environment first, as
 * CONVENTIONS.md says), the object store, the job store and jobs service (with the tier adapters, for admission and
 * escalation), EMF metrics on stdout and JSON logs on stderr. Shared by cloud/lambda/handler.ts, escalation.ts and
 * cloud/fargate/main.ts so every function reads the same variables.
 */
export interface WorkerRuntime {
  readonly config: TiercastConfig;
  readonly store: ObjectStore;
  readonly jobs: JobsService;
  readonly metrics: MetricsSink;
  readonly log: Logger;
  /** Scratch folder for jobs (under the data home: /tmp/tiercast/work on Lambda). */
  readonly workRoot: string;
  close(): void;
}

export interface WorkerRuntimeOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly name: string;
  /** Where EMF lines go; default stdout (CloudWatch Logs extracts them on Lambda). */
  readonly metricsSink?: (line: string) => void;
  readonly flags?: ConfigOverrides;
  /** Tests pass the store they prepared; otherwise built from the configuration. */
  readonly store?: ObjectStore;
  /** Tests: the job store and the tier adapters; otherwise from the configuration. */
  readonly jobStore?: JobStore;
  readonly dispatchers?: Dispatchers;
  readonly log?: Logger;
}

export async function createWorkerRuntime(options: WorkerRuntimeOptions): Promise<WorkerRuntime> {
  const env = options.env ?? process.env;
  const home = dataHome(env);
  const paths = homePaths(home);
  const config = await loadConfig({ env, home, ...(options.flags ? { flags: options.flags } : {}) });
  const log = options.log ?? createLogger({ name: options.name, format: 'json' });
  const cleanups: Array<() => void> = [];
  let store = options.store;
  if (!store) {
    // No resume state across invocations: a Lambda sandbox or a Fargate task keeps no disk between runs.
    const built = createStoreFromConfig(config, { home, resumable: false });
    cleanups.push(built.close);
    store = built.store;
  }
  await mkdir(paths.work, { recursive: true });
  const metrics = createEmfMetrics({
    sink: options.metricsSink ?? stdoutSink(),
    namespace: config.metrics.namespace,
    onError: (err) => log.warn({ err: toTiercastError(err).toJSON() }, 'metrics line not written'),
  });
  const setup = createJobsFromConfig(config, {
    home,
    store,
    log,
    ...(options.jobStore ? { jobStore: options.jobStore } : {}),
    ...(options.dispatchers ? { dispatchers: options.dispatchers } : {}),
  });
  cleanups.push(() => void setup.close());
  return {
    config,
    store,
    jobs: setup.jobs,
    metrics,
    log,
    workRoot: paths.work,
    close: () => {
      for (const c of cleanups) c();
    },
  };
}

/** Free bytes on the file system holding `dir` (Lambda: the /tmp ephemeral storage). */
export async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return Number(s.bavail) * Number(s.bsize);
}

/**
 * The actual cost of this run from its measured duration and what it wrote, added to the job's status and emitted as
 * JobCostUSD, so the cost panel and `tiercast jobs` show money spent, failed attempts included.
 */
export async function recordRunCost(
  runtime: Pick<WorkerRuntime, 'config' | 'jobs' | 'metrics' | 'log'>,
  jobId: string,
  tier: Tier,
  run: { durationSec: number; inputBytes?: number; manifest?: OutputManifest | null },
): Promise<number | null> {
  try {
    const outputBytes = run.manifest?.files.reduce((a, f) => a + f.sizeBytes, 0);
    const cost = actualCost(
      tier,
      {
        durationSec: run.durationSec,
        ...(run.inputBytes !== undefined ? { inputBytes: run.inputBytes } : {}),
        ...(outputBytes !== undefined ? { outputBytes, objectsWritten: run.manifest!.files.length + 1 } : {}),
        objectsRead: 3,
      },
      runtime.config,
    );
    // Compute and requests are what this run spent; a month of storage is the operator's to keep or not.
    const spent = cost.computeUsd + cost.requestsUsd;
    runtime.metrics.emit(tier, { JobCostUSD: spent }, { jobId });
    await runtime.jobs.mutate(jobId, ({ status }) => ({ patch: { costUsd: (status.costUsd ?? 0) + spent, priceDate: cost.priceDate } }));
    return spent;
  } catch (err) {
    runtime.log.warn({ jobId, err: toTiercastError(err).toJSON() }, 'could not record the cost of this run');
    return null;
  }
}

/** Parses a tier from the environment, limited to the tiers an entry point serves. */
export function tierFromEnv<T extends Tier>(value: string | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined || value === '') return fallback;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new TiercastError('CONFIG_INVALID', `TIERCAST_TIER=${value}: this entry point runs ${allowed.join(' or ')}`, { details: { field: 'TIERCAST_TIER' } });
}
