import { getLadder } from '../../shared/common/ladders.ts';
import { JobSpecSchema, type JobSpec, type JobSpecInput } from '../../shared/common/job.ts';
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
