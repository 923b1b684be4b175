import { describe, expect, it } from 'vitest';
import { createStore } from 'zustand/vanilla';
import { createJobsSlice, matchesFilters, type JobsSlice } from '../../../desktop/renderer/src/features/jobs/stores/jobs-slice.ts';
import type { JobRow } from '../../../shared/common/api-contract.ts';
import { fakeServices } from './fake-services.tsx';

function job(id: string, over: Partial<JobRow> = {}): JobRow {
  return {
    id, name: `${id}.mp4`, stage: 'queued', progress: 0, tier: 'local', tierReason: 'no AWS', attempts: 0, maxAttempts: 3, priority: 5, notBefore: null, deadLettered: false,
    createdAt: `2026-11-22T03:00:0${id.length % 10}.000Z`, updatedAt: '2026-11-22T03:00:00.000Z', startedAt: null, finishedAt: null,
    elapsedSec: null, estimatedCostUsd: 0, costUsd: null, priceDate: '2026-06-01', ladder: 'default', error: null, ...over,
  };
}

describe('jobs slice', () => {
  it('matches filters on stage, active, tier and text', () => {
    const f = { stage: 'all' as const, tier: 'all' as const, search: '' };
    expect(matchesFilters(job('a', { stage: 'encoding' }), { ...f, stage: 'active' })).toBe(true);
    expect(matchesFilters(job('a', { stage: 'done' }), { ...f, stage: 'active' })).toBe(false);
    expect(matchesFilters(job('a', { tier: 'lambda' }), { ...f, tier: 'local' })).toBe(false);
    expect(matchesFilters(job('abc', { name: 'Holiday.MOV' }), { ...f, search: 'holiday' })).toBe(true);
    expect(matchesFilters(job('abc'), { ...f, search: 'zzz' })).toBe(false);
  });

  it('merges live updates under the current filter and refreshes the open detail when a job finishes', async () => {
    let gets = 0;
    const fake = fakeServices({
      'jobs.list': () => ({ jobs: [job('a'), job('bb')], nextCursor: null, total: 2, counts: { queued: 2 } }),
      // The report exists only once the job is done (second read).
      'jobs.get': ({ id }) => ({
        job: job(id, gets++ ? { stage: 'done', progress: 1 } : {}), history: [], input: { key: `inputs/${id}`, name: `${id}.mp4`, sizeBytes: 10 },
        formats: ['hls'], report: gets > 1 ? { renditions: [] } : null, outputs: null,
      }),
    });
    const store = createStore<JobsSlice>()(createJobsSlice(fake.services));
    const act = store.getState().jobsActions;
    await act.refresh();
    expect(store.getState().jobs.rows.map((r) => r.id).sort()).toEqual(['a', 'bb']);
    await act.select('a');
    expect(fake.callsOf('jobs.get')).toHaveLength(1);

    act.applyUpdated([job('a', { stage: 'encoding', progress: 0.5 }), job('ccc', { stage: 'queued' })]);
    expect(store.getState().jobs.rows.find((r) => r.id === 'a')?.progress).toBe(0.5);
    expect(store.getState().jobs.rows).toHaveLength(3);
    expect(store.getState().jobs.total).toBe(3);

    act.applyUpdated([job('a', { stage: 'done', progress: 1 })]);
    await new Promise((r) => setTimeout(r, 0));
    expect(fake.callsOf('jobs.get')).toHaveLength(2);
    expect(store.getState().jobs.detail?.report).toEqual({ renditions: [] });

    // Filter to failed: the list call carries it, and a done job arriving by event stays out.
    store.setState((s) => ({ jobs: { ...s.jobs, filters: { ...s.jobs.filters, stage: 'failed' } } }));
    act.applyUpdated([job('dddd', { stage: 'done' })]);
    expect(store.getState().jobs.rows.some((r) => r.id === 'dddd')).toBe(false);
  });

  it('ignores a slow answer to an older filter', async () => {
    const resolvers: ((v: unknown) => void)[] = [];
    const fake = fakeServices({
      'jobs.list': () => new Promise((r) => resolvers.push(r as never)) as never,
    });
    const store = createStore<JobsSlice>()(createJobsSlice(fake.services));
    store.getState().jobsActions.setFilters({ search: 'old' });
    store.getState().jobsActions.setFilters({ search: 'new' });
    expect(fake.callsOf('jobs.list')).toEqual([{ search: 'old', limit: 500 }, { search: 'new', limit: 500 }]);
    resolvers[1]!({ jobs: [job('new')], nextCursor: null, total: 1, counts: {} });
    await new Promise((r) => setTimeout(r, 0));
    resolvers[0]!({ jobs: [job('old')], nextCursor: null, total: 1, counts: {} });
    await new Promise((r) => setTimeout(r, 0));
    expect(store.getState().jobs.rows.map((r) => r.id)).toEqual(['new']);
  });

  it('dispatches with tier and ladder and keeps per-file failures', async () => {
    const fake = fakeServices({
      'jobs.dispatch': ({ fileIds }) => ({
        results: fileIds.map((f, i) =>
          i === 0 ? { fileId: f, jobId: `j-${f}`, tier: 'local' as const, reason: 'no AWS', error: null } : { fileId: f, jobId: null, tier: null, reason: null, error: { code: 'NOT_MEDIA' as const, message: 'x' } },
        ),
      }),
      'jobs.list': () => ({ jobs: [], nextCursor: null, total: 0, counts: {} }),
      'jobs.retry': ({ id }) => ({ job: job(id, { attempts: 2 }) }),
    });
    const store = createStore<JobsSlice>()(createJobsSlice(fake.services));
    await store.getState().jobsActions.dispatch(['f1', 'f2'], 'local', 'mine');
    expect(fake.callsOf('jobs.dispatch')).toEqual([{ fileIds: ['f1', 'f2'], tier: 'local', ladder: 'mine' }]);
    expect(store.getState().jobs.lastDispatch?.map((r) => r.error?.code ?? 'ok')).toEqual(['ok', 'NOT_MEDIA']);
    await store.getState().jobsActions.retry('zz');
    expect(store.getState().jobs.rows.find((r) => r.id === 'zz')?.attempts).toBe(2);
    expect(store.getState().jobs.busy).toEqual({});
  });
});
