import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { contract, type JobRow } from '../../../../shared/common/api-contract.ts';
import { createConsoleJobs, type ConsoleJobs } from '../../../../desktop/main/services/jobs.ts';
import { change, claimPatch, decideFailure, failurePatch } from '../../../../shared/common/job-lifecycle.ts';
import type { JobCounts } from '../../../../shared/common/api-contract.ts';
import { jobsFor, testSpec } from '../../../helpers/jobs.ts';

/** The console's jobs over a real SQLite job store in a temp data home: pages, changes since a cursor, and actions. */
describe('console jobs on the job store', () => {
  let home: string;
  let setup: Awaited<ReturnType<typeof jobsFor>>;
  let jobs: ConsoleJobs;
  const updates: JobRow[][] = [];
  const updateCounts: JobCounts[] = [];
  const ids: string[] = [];

  beforeAll(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-jobs-'));
    // No admission (cap 0): the jobs stay where the test puts them.
    setup = await jobsFor(home, { caps: { local: 0 } });
    const submitted = await setup.jobs.submit(
      Array.from({ length: 30 }, (_, i) => ({ spec: testSpec({ input: { key: `inputs/k${i}.mp4`, name: i % 3 === 0 ? `Holiday ${i}.mp4` : `clip ${i}.mov`, sizeBytes: 1000 + i } }) })),
      { admit: false },
    );
    ids.push(...submitted.map((s) => s.jobId));
    for (const id of ids.slice(0, 5)) await setup.jobs.cancel(id, 'the test');
    jobs = createConsoleJobs({
      jobs: () => setup.jobs,
      route: () => {
        throw new Error('not used');
      },
      newJobId: () => 'unused',
      onUpdate: (rows, counts) => {
        updates.push(rows);
        updateCounts.push(counts);
      },
    });
  });
  afterAll(async () => {
    jobs.close();
    await setup.close();
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('reads pages by stage with a cursor and counts per stage', async () => {
    const first = await jobs.page({ limit: 12 });
    expect(first.counts).toEqual({ queued: 25, cancelled: 5 });
    expect(first.rows).toHaveLength(12);
    expect(first.rows[0]).toMatchObject({ ladder: 'default' });
    const seen = new Set(first.rows.map((r) => r.id));
    let cursor = first.cursor;
    while (cursor) {
      const next = await jobs.page({ limit: 12, cursor });
      for (const r of next.rows) seen.add(r.id);
      cursor = next.cursor;
    }
    expect(seen.size).toBe(30);
    const cancelled = await jobs.page({ stage: 'cancelled', limit: 50 });
    expect(cancelled.rows.map((r) => r.id).sort()).toEqual(ids.slice(0, 5).sort());
    expect(cancelled.rows.every((r) => r.error?.code === 'CANCELLED')).toBe(true);
    expect((await jobs.page({ stage: 'active', limit: 50 })).rows).toHaveLength(25);
    const holiday = cancelled.rows.find((r) => r.id === ids[0]);
    expect(holiday?.name).toBe('Holiday 0.mp4');
  });

  it('a refresh returns only what changed since the cursor, and the poll emits just those rows', async () => {
    const start = await jobs.changes(null);
    expect(start.rows).toEqual([]);
    await setup.jobs.cancel(ids[10]!, 'elsewhere');
    const changed = await jobs.changes(start.cursor);
    expect(changed.rows.map((r) => r.id)).toEqual([ids[10]]);
    expect(changed.counts).toEqual({ queued: 24, cancelled: 6 });
    expect(contract['jobs.changes'].response.safeParse(changed).success).toBe(true);
    const again = await jobs.changes(changed.cursor);
    expect(again).toMatchObject({ rows: [], counts: null });

    await jobs.poll(); // takes the cursor
    updates.length = 0;
    await setup.jobs.cancel(ids[11]!, 'elsewhere');
    await jobs.poll();
    expect(updates.flat().map((r) => r.id)).toEqual([ids[11]]);
  });

  it('retries, cancels, deletes and redrives through the jobs service, each id on its own', async () => {
    const [retried] = await jobs.retry([ids[0]!]);
    expect(retried).toMatchObject({ id: ids[0], error: null, job: { stage: 'queued', attempts: 0 } });
    const [refused] = await jobs.retry([ids[20]!]);
    expect(refused!.error).toMatchObject({ code: 'INVALID_REQUEST' });
    expect(refused!.error!.message).toContain('queued');
    const [cancelled, done] = await jobs.cancel([ids[21]!, ids[1]!]);
    expect(cancelled).toMatchObject({ error: null, job: { stage: 'cancelled', error: { code: 'CANCELLED' } } });
    expect(done!.error).toMatchObject({ code: 'INVALID_REQUEST' });
    expect(done!.error!.message).toContain('cancelled');

    const removed = await jobs.remove([ids[2]!, ids[22]!, 'nosuchjob']);
    expect(removed[0]).toMatchObject({ error: null });
    expect(removed[1]!.error).toMatchObject({ code: 'INVALID_REQUEST' });
    expect(removed[2]!.error).toMatchObject({ code: 'JOB_NOT_FOUND' });
    await expect(jobs.detail(ids[2]!)).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });

    const [notDead] = await jobs.redrive([ids[3]!]);
    expect(notDead!.error).toMatchObject({ code: 'INVALID_REQUEST' });
    expect(await jobs.deadLettered()).toEqual([]);

    const detail = await jobs.detail(ids[0]!);
    expect(detail.history.map((h) => h.stage)).toEqual(['queued', 'cancelled', 'queued']);
    expect(detail.input.name).toBe('Holiday 0.mp4');
  });

  /** A failed attempt as a runner writes it: claim, then the lifecycle's decision for that error at that attempt. */
  async function failAttempt(id: string, attempts: number, maxAttempts: number): Promise<void> {
    const store = setup.jobs.store;
    const now = new Date();
    let { status } = await store.get(id);
    const claimed = change(status, { ...claimPatch(status, 'test-runner', 'test', 'local', 60_000, now), attempts }, now);
    await store.write(claimed.next, status.version, claimed.event);
    status = claimed.next;
    const decision = decideFailure('ENCODE_FAILED', attempts, maxAttempts, now);
    if (decision.kind === 'escalate') throw new Error('ENCODE_FAILED does not escalate');
    const failed = change(status, failurePatch(decision, { code: 'ENCODE_FAILED', message: 'ffmpeg exited 1' }, attempts, now), now);
    await store.write(failed.next, status.version, failed.event);
  }

  it('rows carry priority, the attempt budget, when a retry-wait job runs again and whether a failed job is dead-lettered', async () => {
    const [retrying, dead] = [ids[26]!, ids[27]!];
    await failAttempt(retrying, 1, 3);
    await failAttempt(dead, 3, 3);
    const rows = new Map((await jobs.page({ limit: 100 })).rows.map((r) => [r.id, r]));
    const wait = rows.get(retrying)!;
    expect(wait).toMatchObject({ stage: 'retry-wait', attempts: 1, maxAttempts: 3, priority: 5, deadLettered: false });
    // The lifecycle's backoff: 30 s for the first attempt, up to 20 % less with jitter.
    const inSec = (Date.parse(wait.notBefore!) - Date.now()) / 1000;
    expect(inSec).toBeGreaterThan(20);
    expect(inSec).toBeLessThanOrEqual(30);
    expect(rows.get(dead)).toMatchObject({ stage: 'failed', attempts: 3, deadLettered: true, notBefore: null, error: { code: 'ENCODE_FAILED' } });
    // Jobs that never failed their last attempt are not.
    expect(rows.get(ids[5]!)).toMatchObject({ deadLettered: false });

    const page = await jobs.page({ stage: 'deadLettered', limit: 50 });
    expect(page.rows.map((r) => r.id)).toEqual([dead]);
    expect(page.total).toBe(1);
    expect(page.counts).toMatchObject({ failed: 1, 'retry-wait': 1, deadLettered: 1 });
    expect(contract['jobs.list'].response.safeParse({ jobs: page.rows, nextCursor: page.cursor, total: page.total, counts: page.counts }).success).toBe(true);
    expect((await jobs.page({ stage: 'running', limit: 50 })).rows).toEqual([]);
    expect(await jobs.deadLettered()).toEqual([dead]);
  });

  it('the poll sends fresh counts with the changed rows, and a redrive clears dead-lettered', async () => {
    await jobs.poll();
    updates.length = 0;
    updateCounts.length = 0;
    const [redriven] = await jobs.redrive([ids[27]!]);
    expect(redriven).toMatchObject({ error: null, job: { stage: 'queued', attempts: 0, deadLettered: false } });
    // The action starts a poll of its own; wait for it rather than racing it.
    await vi.waitFor(async () => {
      await jobs.poll();
      expect(updates.flat().map((r) => r.id)).toContain(ids[27]);
    });
    expect(updateCounts.at(-1)).not.toHaveProperty('deadLettered');
    expect(updateCounts.at(-1)!.failed ?? 0).toBe(0);
    expect(contract['jobs.list'].response.shape.counts.safeParse(updateCounts.at(-1)).success).toBe(true);
  });
});
