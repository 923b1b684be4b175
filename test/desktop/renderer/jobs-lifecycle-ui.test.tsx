// @vitest-environment happy-dom
import { act, createElement } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createStore, type StoreApi } from 'zustand/vanilla';
import { subscribeJobs } from '../../../desktop/renderer/src/features/jobs/api/subscribe.ts';
import { JobDetailPanel } from '../../../desktop/renderer/src/features/jobs/components/job-detail.tsx';
import { JobsScreen } from '../../../desktop/renderer/src/features/jobs/components/jobs-screen.tsx';
import { RetryCountdown } from '../../../desktop/renderer/src/features/jobs/components/retry-countdown.tsx';
import { jobActionState } from '../../../desktop/renderer/src/features/jobs/job-actions.ts';
import { createJobsSlice, matchesFilters, type JobsSlice } from '../../../desktop/renderer/src/features/jobs/stores/jobs-slice.ts';
import { FileTable } from '../../../desktop/renderer/src/features/upload/components/file-table.tsx';
import { createUploadSlice, type UploadRow, type UploadSlice } from '../../../desktop/renderer/src/features/upload/stores/upload-slice.ts';
import { formatRetryIn } from '../../../desktop/renderer/src/shared/format.ts';
import { StoreProvider } from '../../../desktop/renderer/src/shared/store/store-context.tsx';
import type { JobRow } from '../../../shared/common/api-contract.ts';
import { STAGES, type Stage } from '../../../shared/common/job.ts';
import { fakeServices, localRoute, readyMedia } from './fake-services.tsx';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;
// happy-dom does no layout: give scrollers the size a desktop window would (the virtualisers measure them).
Object.defineProperty(HTMLElement.prototype, 'clientHeight', { configurable: true, get: () => 600 });
Object.defineProperty(HTMLElement.prototype, 'clientWidth', { configurable: true, get: () => 1000 });

const failure = { code: 'ENCODE_FAILED' as const, message: 'ffmpeg exited 1' };

function job(id: string, over: Partial<JobRow> = {}): JobRow {
  return {
    id, name: `${id}.mp4`, stage: 'queued', progress: 0, tier: 'local', tierReason: null, attempts: 0, maxAttempts: 3, priority: 5, notBefore: null, deadLettered: false,
    createdAt: '2026-11-22T03:00:00.000Z', updatedAt: '2026-11-22T03:00:00.000Z', startedAt: null, finishedAt: null,
    elapsedSec: null, estimatedCostUsd: 0, costUsd: null, priceDate: null, ladder: 'default', error: null, ...over,
  };
}
const dead = (id: string) => job(id, { stage: 'failed', attempts: 3, deadLettered: true, error: failure });

let host: HTMLDivElement;
let root: Root;
beforeEach(() => {
  host = document.createElement('div');
  document.body.append(host);
  root = createRoot(host);
});
afterEach(() => {
  act(() => root.unmount());
  host.remove();
  vi.useRealTimers();
});

const button = (label: string | RegExp) =>
  [...host.querySelectorAll('button')].find((b) => (typeof label === 'string' ? b.textContent?.trim() === label : label.test(b.textContent ?? '')))!;
const click = async (el: Element) => {
  await act(async () => {
    (el as HTMLElement).click();
    await new Promise((r) => setTimeout(r, 0));
  });
};

describe('Delete and Redrive follow the lifecycle', () => {
  it('deletes finished jobs only, redrives dead-lettered failed jobs only', () => {
    const table = STAGES.map((s: Stage) => [s, jobActionState(job('x', { stage: s })).canDelete, jobActionState(job('x', { stage: s, deadLettered: s === 'failed' })).canRedrive]);
    expect(table.filter(([, del]) => del).map(([s]) => s)).toEqual(['done', 'failed', 'cancelled']);
    expect(table.filter(([, , re]) => re).map(([s]) => s)).toEqual(['failed']);
    // A failed job that still had attempts left is retried, not redriven.
    expect(jobActionState(job('x', { stage: 'failed', error: failure })).canRedrive).toBe(false);
    expect(jobActionState(job('x', { stage: 'encoding' })).deleteHint).toContain('cancel it first');
  });

  it('filters running and dead-lettered rows as the main process does', () => {
    const f = { stage: 'all' as const, tier: 'all' as const, search: '' };
    expect(matchesFilters(job('a', { stage: 'packaging' }), { ...f, stage: 'running' })).toBe(true);
    expect(matchesFilters(job('a', { stage: 'dispatched' }), { ...f, stage: 'running' })).toBe(false);
    expect(matchesFilters(dead('a'), { ...f, stage: 'deadLettered' })).toBe(true);
    expect(matchesFilters(job('a', { stage: 'failed' }), { ...f, stage: 'deadLettered' })).toBe(false);
    // Active is every unfinished stage, retry-wait and dispatched included.
    expect(matchesFilters(job('a', { stage: 'retry-wait' }), { ...f, stage: 'active' })).toBe(true);
    expect(matchesFilters(job('a', { stage: 'dispatched' }), { ...f, stage: 'active' })).toBe(true);
  });

  describe('in the detail panel', () => {
    function mount(row: JobRow, handlers: Parameters<typeof fakeServices>[0]) {
      const fake = fakeServices(handlers);
      const store = createStore<JobsSlice>()(createJobsSlice(fake.services));
      store.setState((s) => ({
        jobs: {
          ...s.jobs,
          rows: [row],
          total: 1,
          selectedId: row.id,
          detail: { job: row, history: [], input: { key: 'k', name: row.name, sizeBytes: 1 }, formats: ['hls'], report: null, outputs: null },
        },
      }));
      act(() =>
        root.render(
          <StoreProvider store={store as StoreApi<unknown>}>
            <JobDetailPanel />
          </StoreProvider>,
        ),
      );
      return { fake, store };
    }

    it('asks before deleting a job with its outputs, then deletes it and drops the row', async () => {
      const { fake, store } = mount(job('j1', { stage: 'done', progress: 1 }), {
        'jobs.delete': ({ ids }) => ({ results: ids.map((id) => ({ id, error: null })) }),
        'jobs.list': () => ({ jobs: [], nextCursor: null, total: 0, counts: { queued: 1 } }),
      });
      await click(button('Delete'));
      expect(fake.callsOf('jobs.delete')).toEqual([]);
      expect(host.querySelector('[role=alertdialog]')?.textContent).toContain('all its outputs');
      await click(button('Keep'));
      expect(host.querySelector('[role=alertdialog]')).toBeNull();
      expect(fake.callsOf('jobs.delete')).toEqual([]);
      await click(button('Delete'));
      await click(button('Delete job and outputs'));
      expect(fake.callsOf('jobs.delete')).toEqual([{ ids: ['j1'] }]);
      expect(store.getState().jobs).toMatchObject({ rows: [], total: 0, selectedId: null, detail: null });
      // The counts come from a fresh page (a deletion leaves nothing in the change feed).
      expect(fake.callsOf('jobs.list')).toHaveLength(1);
      expect(store.getState().jobs.counts).toEqual({ queued: 1 });
    });

    it('shows a refused delete beside its job instead of swallowing it', async () => {
      const { store } = mount(job('j2', { stage: 'cancelled' }), {
        'jobs.delete': ({ ids }) => ({ results: ids.map((id) => ({ id, error: { code: 'STORE_ERROR' as const, message: `outputs of ${id} could not be removed` } })) }),
      });
      await click(button('Delete'));
      await click(button('Delete job and outputs'));
      expect(store.getState().jobs.rows.map((r) => r.id)).toEqual(['j2']);
      expect(store.getState().jobs.actionErrors.j2).toEqual({ code: 'STORE_ERROR', message: 'outputs of j2 could not be removed' });
      expect(host.querySelector('[data-testid=action-error]')?.textContent).toContain('outputs of j2 could not be removed');
      expect(store.getState().jobs.error).toBeNull();
    });

    it('redrives a dead-lettered job and shows the queued row the service returns', async () => {
      const { fake, store } = mount(dead('j3'), { 'jobs.redrive': ({ ids }) => ({ results: ids!.map((id) => ({ id, job: job(id, { attempts: 0 }), error: null })) }) });
      expect(button('Retry').disabled).toBe(false);
      expect(button('Delete').disabled).toBe(false);
      expect(host.querySelector('[data-testid=detail-stage]')?.textContent).toContain('dead-lettered');
      await click(button('Redrive'));
      expect(fake.callsOf('jobs.redrive')).toEqual([{ ids: ['j3'] }]);
      expect(store.getState().jobs.rows[0]).toMatchObject({ id: 'j3', stage: 'queued', deadLettered: false });
      expect(button('Redrive').disabled).toBe(true);
    });
  });
});

describe('retry-wait countdown', () => {
  it('formats the time left and says when it is due', () => {
    const now = Date.parse('2026-12-04T12:00:00.000Z');
    expect(formatRetryIn('2026-12-04T12:02:10.000Z', now)).toBe('retry in 2m 10s');
    expect(formatRetryIn('2026-12-04T12:00:09.200Z', now)).toBe('retry in 10s');
    expect(formatRetryIn('2026-12-04T13:05:00.000Z', now)).toBe('retry in 1h 5m');
    expect(formatRetryIn('2026-12-04T11:59:00.000Z', now)).toBe('retry due');
    expect(formatRetryIn(null, now)).toBe('retry pending');
  });

  it('ticks each second in the page, with no call to the service', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
    vi.setSystemTime(new Date('2026-12-04T12:00:00.000Z'));
    act(() => root.render(createElement(RetryCountdown, { notBefore: '2026-12-04T12:02:10.000Z' })));
    expect(host.textContent).toBe('retry in 2m 10s');
    act(() => vi.advanceTimersByTime(1000));
    expect(host.textContent).toBe('retry in 2m 9s');
    act(() => vi.advanceTimersByTime(129_000));
    expect(host.textContent).toBe('retry due');
  });
});

describe('Jobs screen chips and Redrive all', () => {
  async function mountScreen(handlers: Parameters<typeof fakeServices>[0]) {
    const fake = fakeServices({ 'ladders.list': () => ({ ladders: [], defaultLadder: 'default' }), ...handlers });
    const store = createStore<JobsSlice>()(createJobsSlice(fake.services));
    const off = subscribeJobs(fake.services.api, store.getState().jobsActions);
    await act(async () => {
      root.render(
        <StoreProvider store={store as StoreApi<unknown>}>
          <JobsScreen selectedFileIds={[]} />
        </StoreProvider>,
      );
      await new Promise((r) => setTimeout(r, 0));
    });
    return { fake, store, off };
  }
  const chip = (filter: string) => host.querySelector(`[data-chip="${filter}"]`) as HTMLButtonElement;

  it('shows a count per chip (running sums the running stages), filters on click, and moves with jobs.updated', async () => {
    const rows = [job('w1', { stage: 'retry-wait', attempts: 1, notBefore: new Date(Date.now() + 130_000).toISOString(), priority: 8 }), dead('d1')];
    const { fake, off } = await mountScreen({
      'jobs.list': () => ({ jobs: rows, nextCursor: null, total: 2, counts: { queued: 4, encoding: 2, packaging: 1, 'retry-wait': 1, failed: 3, deadLettered: 1 } }),
    });
    const counts = () => Object.fromEntries([...host.querySelectorAll('[data-chip]')].map((c) => [c.getAttribute('data-chip'), c.getAttribute('data-count')]));
    expect(counts()).toEqual({ all: null, queued: '4', dispatched: '0', running: '3', 'retry-wait': '1', done: '0', failed: '3', cancelled: '0', deadLettered: '1' });
    // The retry-wait row: its countdown, attempts of the budget and priority.
    const waitRow = host.querySelector('[data-job-id=w1]')!;
    expect(waitRow.querySelector('[data-testid=retry-in]')?.textContent).toMatch(/^retry in 2m (9|10)s$/);
    expect(waitRow.querySelector('[data-testid=job-attempts]')?.textContent).toBe('1/3');
    expect(waitRow.querySelector('[data-testid=job-priority]')?.textContent).toBe('8');
    expect(host.querySelector('[data-job-id=d1]')?.textContent).toContain('dead-lettered');

    await click(chip('deadLettered'));
    expect(fake.callsOf('jobs.list').at(-1)).toEqual({ stage: 'deadLettered', limit: 500 });
    expect(chip('deadLettered').getAttribute('aria-pressed')).toBe('true');

    // A job moves in another process: the event's counts replace the chips' numbers, without a list call.
    const lists = fake.callsOf('jobs.list').length;
    act(() => fake.emit('jobs.updated', { jobs: [job('q9', { stage: 'encoding' })], counts: { queued: 3, encoding: 3, packaging: 1, 'retry-wait': 1, failed: 3, deadLettered: 1 } }));
    expect(counts()).toMatchObject({ queued: '3', running: '4' });
    expect(fake.callsOf('jobs.list')).toHaveLength(lists);
    off();
  });

  it('redrives every dead-lettered job and names each one refused', async () => {
    const { fake, store, off } = await mountScreen({
      'jobs.list': () => ({ jobs: [dead('d1'), dead('d2')], nextCursor: null, total: 2, counts: { failed: 2, deadLettered: 2 } }),
      'jobs.redrive': () => ({
        results: [
          { id: 'd1', job: job('d1'), error: null },
          { id: 'd2', job: null, error: { code: 'INVALID_REQUEST' as const, message: 'cannot redrive job d2: it is queued' } },
        ],
      }),
    });
    const all = button('Redrive all dead-lettered');
    expect(all.disabled).toBe(false);
    await click(all);
    expect(fake.callsOf('jobs.redrive')).toEqual([{}]);
    const result = host.querySelector('[data-testid=redrive-all-result]')!;
    expect(result.textContent).toContain('1 redriven');
    expect(result.querySelector('[data-failed-id=d2]')?.textContent).toContain('INVALID_REQUEST cannot redrive job d2: it is queued');
    expect(store.getState().jobs.actionErrors.d2?.code).toBe('INVALID_REQUEST');
    expect(store.getState().jobs.rows.find((r) => r.id === 'd1')?.stage).toBe('queued');
    off();
  });

  it('keeps Redrive all off while nothing is dead-lettered', async () => {
    const { off } = await mountScreen({ 'jobs.list': () => ({ jobs: [], nextCursor: null, total: 0, counts: { failed: 1 } }) });
    expect(button('Redrive all dead-lettered').disabled).toBe(true);
    off();
  });
});

describe('priority on the way to jobs.dispatch', () => {
  it('the upload slice keeps a batch priority (default 5, clamped to 1-10) and per-file overrides', () => {
    const store = createStore<UploadSlice>()(createUploadSlice(fakeServices({}).services));
    const a = store.getState().uploadActions;
    expect(store.getState().upload.priority).toBe(5);
    a.setBatchPriority(12);
    expect(store.getState().upload.priority).toBe(10);
    a.setFilePriority('f1', 9);
    a.setFilePriority('f2', 0);
    expect(store.getState().upload.priorities).toEqual({ f1: 9, f2: 1 });
    a.setFilePriority('f1', null);
    expect(store.getState().upload.priorities).toEqual({ f2: 1 });
  });

  it('dispatch sends the batch priority and only the overrides of the dispatched files that differ from it', async () => {
    const fake = fakeServices({
      'jobs.dispatch': ({ fileIds }) => ({ results: fileIds.map((f) => ({ fileId: f, jobId: `j-${f}`, tier: 'local' as const, reason: 'no AWS', error: null })) }),
      'jobs.list': () => ({ jobs: [], nextCursor: null, total: 0, counts: {} }),
    });
    const store = createStore<JobsSlice>()(createJobsSlice(fake.services));
    await store.getState().jobsActions.dispatch(['f1', 'f2', 'f3'], 'local', 'default', { priority: 7, priorities: { f1: 10, f2: 7, other: 2 } });
    expect(fake.callsOf('jobs.dispatch')).toEqual([{ fileIds: ['f1', 'f2', 'f3'], tier: 'local', ladder: 'default', priority: 7, priorities: { f1: 10 } }]);
  });

  it('the file table offers a per-file priority over the batch one', () => {
    const rows: UploadRow[] = ['a', 'b'].map((n) => ({ key: n, fileId: n, name: `${n}.mp4`, relativeDir: '', sizeBytes: 1, state: 'ready', media: readyMedia, problem: null, route: localRoute }));
    const onPriority = vi.fn();
    act(() => root.render(createElement(FileTable, { rows, selected: {}, uploads: {}, onSelect: () => {}, batchPriority: 3, priorities: { b: 9 }, onPriority })));
    const select = (name: string) => host.querySelector(`select[aria-label="Priority of ${name}"]`) as HTMLSelectElement;
    expect(select('a.mp4').value).toBe('');
    expect(select('a.mp4').options[0]!.textContent).toBe('batch (3)');
    expect(select('b.mp4').value).toBe('9');
    expect([...select('a.mp4').options].map((o) => o.textContent).slice(1, 3)).toEqual(['1 · Low', '2 · Low']);
    act(() => {
      select('a.mp4').value = '10';
      select('a.mp4').dispatchEvent(new Event('change', { bubbles: true }));
    });
    expect(onPriority).toHaveBeenCalledWith('a', 10);
    act(() => {
      select('b.mp4').value = '';
      select('b.mp4').dispatchEvent(new Event('change', { bubbles: true }));
    });
    expect(onPriority).toHaveBeenLastCalledWith('b', null);
  });
});
