import { getLadder } from '../../shared/common/ladders.ts';
import { JobSpecSchema, type JobSpec, type JobSpecInput, type Tier } from '../../shared/common/job.ts';
import { initialStatus, type NewJobOptions } from '../../shared/common/job-lifecycle.ts';
import type { NewJob } from '../../shared/common/job-store.ts';

let n = 0;
/** A valid job spec with a unique id (the default ladder; the input need not exist for store tests). */
export function testSpec(overrides: Partial<JobSpecInput> = {}): JobSpec {
  n += 1;
  return JobSpecSchema.parse({
    schemaVersion: 1,
    id: `t${Date.now().toString(36)}-${process.pid}-${n}`,
    createdAt: new Date(Date.now() + n).toISOString(),
    input: { key: `inputs/clip-${n}.mp4`, name: `clip ${n}.mp4`, sizeBytes: 1000 + n },
    ladder: getLadder('default'),
    ...overrides,
  });
}

export function newJob(spec: JobSpec = testSpec(), options: NewJobOptions = { tier: 'local' }, idempotencyKey?: string): NewJob {
  const { status, event } = initialStatus(spec, options, new Date());
  return { spec, status, event, ...(idempotencyKey ? { idempotencyKey } : {}) };
}

/** The job store and jobs service of a data home, as the CLI and agents open them (SQLite, local tier on its folder queue). */
export async function jobsFor(home: string, options: { caps?: Partial<Record<Tier, number>>; env?: NodeJS.ProcessEnv } = {}) {
  const { loadConfig } = await import('../../shared/node/config.ts');
  const { createJobsFromConfig } = await import('../../cloud/jobs-from-config.ts');
  const { localQueueFor } = await import('../../shared/node/local-worker.ts');
  const { createLocalStore } = await import('../../shared/node/local-store.ts');
  const { homePaths } = await import('../../shared/node/data-home.ts');
  const config = await loadConfig({ env: options.env ?? {}, home });
  const withCaps = options.caps ? { ...config, jobs: { ...config.jobs, maxInFlight: { ...config.jobs.maxInFlight, ...options.caps } } } : config;
  const store = createLocalStore(homePaths(home).store);
  const queue = localQueueFor(withCaps, home);
  const setup = createJobsFromConfig(withCaps, { home, store, localQueue: queue });
  return { config: withCaps, store, queue, paths: homePaths(home), ...setup };
}
