import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contract, type JobRow } from '../../../../shared/common/api-contract.ts';
import { createConsoleJobs, type ConsoleJobs } from '../../../../desktop/main/services/jobs.ts';
import { jobsFor, testSpec } from '../../../helpers/jobs.ts';

/** The console's jobs over a real SQLite job store in a temp data home: pages, changes since a cursor, and actions. */
describe('console jobs on the job store', () => {
  let home: string;
  let setup: Awaited<ReturnType<typeof jobsFor>>;
  let jobs: ConsoleJobs;
  const updates: JobRow[][] = [];
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
      onUpdate: (rows) => updates.push(rows),
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
});
