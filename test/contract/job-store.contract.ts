import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TiercastError } from '../../shared/common/errors.ts';
import { change } from '../../shared/common/job-lifecycle.ts';
import { isVersionConflict, type JobStore } from '../../shared/common/job-store.ts';
import type { JobStatus, Stage, Tier } from '../../shared/common/job.ts';
import { newJob, testSpec } from '../helpers/jobs.ts';

/**
 * One behaviour contract for every JobStore: SQLite (a file) and DynamoDB (on dynalite) must agree on creation,
 * compare-and-set writes, events, queries, counters and deliveries. Race tests across processes live beside each
 * implementation's test (they need the store opened from another process).
 */
export interface JobStoreFixture {
  readonly store: JobStore;
  teardown(): Promise<void>;
}

async function move(store: JobStore, id: string, patch: Partial<JobStatus>, at = new Date()): Promise<JobStatus> {
  const { status } = await store.get(id);
  const c = change(status, patch, at, `to ${patch.stage ?? status.stage}`);
  await store.write(c.next, status.version, c.event);
  return c.next;
}

export function jobStoreContract(name: string, setup: () => Promise<JobStoreFixture>): void {
  describe(`JobStore contract: ${name}`, () => {
    let fx: JobStoreFixture;
    let store: JobStore;
    beforeAll(async () => {
      fx = await setup();
      store = fx.store;
    });
    afterAll(async () => {
      await fx?.teardown();
    });

    it('creates a job and reads back the same spec and status', async () => {
      const job = newJob();
      expect(await store.insert([job])).toEqual([{ jobId: job.spec.id, created: true }]);
      const got = await store.get(job.spec.id);
      expect(got.spec).toEqual(job.spec);
      expect(got.status).toMatchObject({ id: job.spec.id, version: 1, stage: 'queued', tier: 'local', priority: 5 });
      expect(await store.events(job.spec.id)).toEqual([job.event]);
    });

    it('never overwrites an existing job on insert, and a submit key returns its first job', async () => {
      const job = newJob(testSpec(), { tier: 'local' }, `key-${Date.now()}`);
      await store.insert([job]);
      await move(store, job.spec.id, { stage: 'dispatched' });
      const again = await store.insert([{ ...job, status: { ...job.status } }]);
      expect(again).toEqual([{ jobId: job.spec.id, created: false }]);
      expect((await store.get(job.spec.id)).status.stage).toBe('dispatched');
      const other = newJob(testSpec(), { tier: 'local' }, job.idempotencyKey);
      expect(await store.insert([other])).toEqual([{ jobId: other.spec.id, created: false }]);
      expect(await store.findByIdempotencyKey(job.idempotencyKey!)).toBe(job.spec.id);
      await expect(store.get(other.spec.id)).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
    });

    it('inserts a batch of 250 in one call', async () => {
      const jobs = Array.from({ length: 250 }, () => newJob());
      const out = await store.insert(jobs);
      expect(out.filter((o) => o.created)).toHaveLength(250);
      const got = await store.get(jobs[249]!.spec.id);
      expect(got.status.id).toBe(jobs[249]!.spec.id);
    });

    it('writes only at the expected version: a stale writer loses with VersionConflict and changes nothing', async () => {
      const job = newJob();
      await store.insert([job]);
      const v1 = (await store.get(job.spec.id)).status;
      const a = change(v1, { stage: 'dispatched' }, new Date());
      const b = change(v1, { stage: 'cancelled' }, new Date());
      await store.write(a.next, 1, a.event);
      const lost = await store.write(b.next, 1, b.event).then(() => null, (e: unknown) => e);
      expect(isVersionConflict(lost)).toBe(true);
      const now = await store.get(job.spec.id);
      expect(now.status).toMatchObject({ stage: 'dispatched', version: 2 });
      expect((await store.events(job.spec.id)).map((e) => [e.seq, e.type, e.stage])).toEqual([
        [1, 'job.created', 'queued'],
        [2, 'job.stage', 'dispatched'],
      ]);
    });

    it('racing writers on one job: exactly one wins each version', async () => {
      const job = newJob();
      await store.insert([job]);
      for (let step = 0; step < 5; step++) {
        const cur = (await store.get(job.spec.id)).status;
        const results = await Promise.allSettled(
          Array.from({ length: 8 }, (_, i) => {
            const c = change(cur, { progress: (step * 8 + i) / 100 }, new Date());
            return store.write(c.next, cur.version, c.event);
          }),
        );
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results) if (r.status === 'rejected') expect(isVersionConflict(r.reason)).toBe(true);
        expect((await store.get(job.spec.id)).status.version).toBe(cur.version + 1);
      }
    });

    it('JOB_NOT_FOUND for an unknown job on get, write and remove', async () => {
      const ghost = newJob();
      await expect(store.get(ghost.spec.id)).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
      const c = change(ghost.status, { stage: 'dispatched' }, new Date());
      await expect(store.write(c.next, 1, c.event)).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
      await expect(store.remove(ghost.spec.id, 1)).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
    });

    it('removes a job with its events and deliveries, only at its version', async () => {
      const job = newJob();
      await store.insert([job]);
      await store.recordDelivery({ jobId: job.spec.id, deliveryId: 'd1', seq: 1, event: 'job.done', url: 'http://127.0.0.1:1/', attempt: 1, at: new Date().toISOString(), ok: true, statusCode: 200, error: null });
      await expect(store.remove(job.spec.id, 7)).rejects.toSatisfy(isVersionConflict);
      await store.remove(job.spec.id, 1);
      await expect(store.get(job.spec.id)).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
      expect(await store.events(job.spec.id)).toEqual([]);
      expect(await store.deliveries(job.spec.id)).toEqual([]);
    });

    describe('queries', () => {
      const tier: Tier = 'fargate';
      const ids: Record<string, string[]> = { queued: [], failed: [], encoding: [] };
      beforeAll(async () => {
        // A tier of its own so other tests' jobs do not show up here.
        const base = Date.now();
        const jobs = Array.from({ length: 30 }, (_, i) => newJob(testSpec({ priority: (i % 3) * 4 + 1, createdAt: new Date(base + i * 1000).toISOString() }), { tier }));
        await store.insert(jobs);
        for (const [i, j] of jobs.entries()) {
          const stage: Stage = i < 20 ? 'queued' : i < 25 ? 'failed' : 'encoding';
          if (stage === 'failed') await move(store, j.spec.id, { stage: 'failed', error: { code: 'DECODE_FAILED', message: 'x' } }, new Date(base + 100_000 + i));
          if (stage === 'encoding') {
            await move(store, j.spec.id, { stage: 'downloading' }, new Date(base + 100_000 + i));
            await move(store, j.spec.id, { stage: 'encoding' }, new Date(base + 100_001 + i));
          }
          ids[stage]!.push(j.spec.id);
        }
      });

      it('pages by stage and tier, newest update first, with a cursor that loses and repeats nothing', async () => {
        const seen: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const page: Awaited<ReturnType<JobStore['list']>> = await store.list({ stage: 'queued', tier, limit: 7, cursor });
          pages += 1;
          for (let i = 1; i < page.items.length; i++) expect(page.items[i - 1]!.updatedAt >= page.items[i]!.updatedAt).toBe(true);
          seen.push(...page.items.map((s) => s.id));
          cursor = page.cursor;
        } while (cursor);
        expect(pages).toBe(3);
        expect(seen.sort()).toEqual([...ids.queued!].sort());
        const two = await store.list({ stage: ['failed', 'encoding'], tier, limit: 100 });
        expect(two.items.map((s) => s.id).sort()).toEqual([...ids.failed!, ...ids.encoding!].sort());
        expect(two.cursor).toBeNull();
        const asc = await store.list({ stage: 'failed', tier, limit: 100, order: 'asc' });
        expect(asc.items.map((s) => s.id)).toEqual(ids.failed);
      });

      it('counts per stage (for a tier and overall)', async () => {
        const c = await store.counts({ tier });
        expect(c).toMatchObject({ queued: 20, failed: 5, encoding: 5, done: 0 });
        const all = await store.counts();
        expect(all.queued).toBeGreaterThanOrEqual(20);
      });

      it('admission order: highest priority first, then oldest', async () => {
        const q = await store.admissionQueue(tier, 20);
        expect(q).toHaveLength(20);
        const keys = q.map((s) => [s.priority, s.createdAt] as const);
        const sorted = [...keys].sort((a, b) => b[0] - a[0] || (a[1] < b[1] ? -1 : 1));
        expect(keys).toEqual(sorted);
        expect(q[0]!.priority).toBe(9);
        expect(await store.inFlight(tier)).toBe(5);
      });

      it('changedSince returns each write once, in order, from a cursor', async () => {
        const start = await store.changedSince(null, 100);
        expect(start.items).toEqual([]);
        const target = ids.queued![0]!;
        await move(store, target, { progress: 0.5 });
        await move(store, target, { stage: 'dispatched' });
        await move(store, ids.queued![1]!, { stage: 'dispatched' });
        const page = await store.changedSince(start.cursor, 100);
        // The latest state of each job changed, no older copies of it.
        expect(page.items.map((s) => s.id)).toEqual([target, ids.queued![1]]);
        expect(page.items[0]!.stage).toBe('dispatched');
        const empty = await store.changedSince(page.cursor, 100);
        expect(empty.items).toEqual([]);
      });

      it('sweep candidates are the retry-wait, dispatched and running jobs', async () => {
        const found = new Set<string>();
        let cursor: string | null = null;
        do {
          const page: Awaited<ReturnType<JobStore['list']>> = await store.sweepCandidates(10, cursor);
          for (const s of page.items) found.add(s.id);
          cursor = page.cursor;
        } while (cursor);
        for (const id of ids.encoding!) expect(found.has(id)).toBe(true);
        for (const id of ids.failed!) expect(found.has(id)).toBe(false);
      });
    });

    it('increments counters atomically under concurrency', async () => {
      const name = `fanin-${Date.now()}`;
      const values = await Promise.all(Array.from({ length: 40 }, () => store.increment(name)));
      expect(values.sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      expect(await store.increment(name, 10)).toBe(50);
    });

    it('keeps a delivery log per job in order', async () => {
      const job = newJob();
      await store.insert([job]);
      const base = { jobId: job.spec.id, deliveryId: 'dv-1', seq: 3, event: 'job.done', url: 'http://127.0.0.1:9/hook' };
      await store.recordDelivery({ ...base, attempt: 1, at: new Date().toISOString(), ok: false, statusCode: 500, error: 'HTTP 500' });
      await store.recordDelivery({ ...base, attempt: 2, at: new Date(Date.now() + 1).toISOString(), ok: true, statusCode: 204, error: null });
      const log = await store.deliveries(job.spec.id);
      expect(log.map((d) => [d.attempt, d.ok, d.statusCode])).toEqual([
        [1, false, 500],
        [2, true, 204],
      ]);
    });

    it('reports its health and size', async () => {
      const h = await store.health();
      expect(h.ok).toBe(true);
      expect(h.jobs).toBeGreaterThan(250);
    });

    it('refuses a write whose version does not follow', async () => {
      const job = newJob();
      await store.insert([job]);
      const c = change(job.status, { stage: 'dispatched' }, new Date());
      await expect(store.write({ ...c.next, version: 5 }, 1, c.event)).rejects.toBeInstanceOf(TiercastError);
    });
  });
}
