import { describe, expect, it } from 'vitest';
import { newJobId } from '../../cli/commands/submit.ts';
import { formatJobsTable, parseSince } from '../../cli/commands/jobs.ts';
import { formatUsdShort, parseTier } from '../../cli/commands/route.ts';
import { JobIdSchema, type JobStatus } from '../../shared/common/job.ts';

const status = (over: Partial<JobStatus>): JobStatus => ({
  schemaVersion: 1,
  id: 'job-1',
  version: 1,
  stage: 'queued',
  priority: 5,
  lease: null,
  notBefore: null,
  dispatchedAt: null,
  deadLettered: false,
  progress: 0,
  tier: null,
  tierReason: null,
  attempts: 0,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  startedAt: null,
  finishedAt: null,
  worker: null,
  error: null,
  estimatedCostUsd: null,
  costUsd: null,
  priceDate: null,
  history: [],
  ...over,
});

describe('jobs table', () => {
  it('shows actual cost when known, else the estimate with ~, elapsed from start to finish, and the error code', () => {
    const now = Date.parse('2026-01-01T01:00:00.000Z');
    const table = formatJobsTable(
      [
        status({ id: 'done-1', stage: 'done', progress: 1, tier: 'lambda', attempts: 1, startedAt: '2026-01-01T00:00:10.000Z', finishedAt: '2026-01-01T00:00:55.000Z', estimatedCostUsd: 0.004, costUsd: 0.0031 }),
        status({ id: 'queued-2', tier: 'fargate-spot', estimatedCostUsd: 0.052 }),
        status({ id: 'failed-3', stage: 'failed', tier: 'ec2', attempts: 3, error: { code: 'DISPATCH_FAILED', message: 'x' }, finishedAt: '2026-01-01T00:10:00.000Z', deadLettered: true, priority: 9 }),
        status({ id: 'wait-4', stage: 'retry-wait', tier: 'ec2', attempts: 1, notBefore: '2026-01-01T01:02:03.000Z', error: { code: 'ENCODE_FAILED', message: 'x' } }),
      ],
      now,
    );
    const lines = table.split('\n');
    expect(lines[0]).toMatch(/^ID\s+STAGE\s+PRI\s+PROGRESS\s+TIER\s+ATTEMPTS\s+ELAPSED\s+COST\s+ERROR$/);
    expect(lines[1]).toMatch(/^done-1\s+done\s+5\s+100%\s+lambda\s+1\s+45s\s+\$0\.0031$/);
    expect(lines[2]).toMatch(/^queued-2\s+queued\s+5\s+0%\s+fargate-spot\s+0\s+60m\s+~\$0\.05$/);
    expect(lines[3]).toMatch(/^failed-3\s+failed \(dead-lettered\)\s+9\s+0%\s+ec2\s+3\s+10m\s+-\s+DISPATCH_FAILED$/);
    expect(lines[4]).toMatch(/^wait-4\s+retry-wait until 01:02:03\s+5\s+0%\s+ec2\s+1\s+/);
  });
});

describe('small CLI helpers', () => {
  it('job ids are valid ledger ids, unique, and sort by creation time', () => {
    const a = newJobId(Date.parse('2026-01-01T00:00:00Z'));
    const b = newJobId(Date.parse('2026-01-01T00:00:01Z'));
    expect(JobIdSchema.safeParse(a).success).toBe(true);
    expect(a < b).toBe(true);
    expect(newJobId(0)).not.toBe(newJobId(0));
  });
  it('parseSince takes an ISO time or a duration back from now', () => {
    const now = Date.parse('2026-12-04T10:00:00Z');
    expect(parseSince('15m', now)).toBe('2026-12-04T09:45:00.000Z');
    expect(parseSince('1d', now)).toBe('2026-12-03T10:00:00.000Z');
    expect(parseSince('2026-12-01T00:00:00Z', now)).toBe('2026-12-01T00:00:00.000Z');
    expect(parseSince('soon', now)).toBeNull();
  });
  it('parseTier accepts auto and the tier names only', () => {
    expect(parseTier(undefined)).toBe('auto');
    expect(parseTier('fargate-spot')).toBe('fargate-spot');
    expect(parseTier('gpu')).toBeNull();
  });
  it('formatUsdShort keeps two significant digits below a cent', () => {
    expect(formatUsdShort(0)).toBe('$0');
    expect(formatUsdShort(0.00046)).toBe('$0.00046');
    expect(formatUsdShort(13.294)).toBe('$13.29');
  });
});
