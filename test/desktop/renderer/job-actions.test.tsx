// @vitest-environment happy-dom
import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createStore, type StoreApi } from 'zustand/vanilla';
import { JobDetailPanel } from '../../../desktop/renderer/src/features/jobs/components/job-detail.tsx';
import { jobActionState } from '../../../desktop/renderer/src/features/jobs/job-actions.ts';
import { createJobsSlice, type JobsSlice } from '../../../desktop/renderer/src/features/jobs/stores/jobs-slice.ts';
import { StoreProvider } from '../../../desktop/renderer/src/shared/store/store-context.tsx';
import type { JobRow } from '../../../shared/common/api-contract.ts';
import { STAGES, type Stage } from '../../../shared/common/job.ts';
import { fakeServices } from './fake-services.tsx';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const failure = { code: 'DECODE_FAILED' as const, message: 'ffmpeg exited 1' };

function job(stage: Stage, error: JobRow['error'] = null): JobRow {
  return {
    id: `j-${stage}`, name: 'a.mp4', stage, progress: 0, tier: 'local', tierReason: null, attempts: 1,
    createdAt: '2026-11-22T03:00:00.000Z', updatedAt: '2026-11-22T03:00:00.000Z', startedAt: null, finishedAt: null,
    elapsedSec: null, estimatedCostUsd: 0, costUsd: null, priceDate: null, ladder: 'default', error,
  };
}

describe('job Retry / Cancel availability', () => {
  it('retries failed, cancelled and retry-waiting jobs, never queued or running ones; cancels every unfinished stage', () => {
    const table = STAGES.map((s) => [s, jobActionState(job(s)).canRetry, jobActionState(job(s)).canCancel]);
    expect(table).toEqual([
      ['queued', false, true],
      ['dispatched', false, true],
      ['downloading', false, true],
      ['analyzing', false, true],
      ['encoding', false, true],
      ['packaging', false, true],
      ['uploading', false, true],
      ['finalizing', false, true],
      ['retry-wait', true, true],
      ['done', false, false],
      ['failed', true, false],
      ['cancelled', true, false],
    ]);
    // Queued after a dispatch error: it runs when a slot frees; a second run is not offered.
    expect(jobActionState(job('queued', failure))).toMatchObject({ canRetry: false, canCancel: true });
    // An error on a running job is history, not a reason to queue it twice.
    expect(jobActionState(job('encoding', failure)).canRetry).toBe(false);
  });

  describe('in the detail panel', () => {
    let host: HTMLElement;
    let root: Root;
    let store: StoreApi<JobsSlice>;
    beforeEach(() => {
      host = document.createElement('div');
      document.body.append(host);
      root = createRoot(host);
      store = createStore<JobsSlice>()(createJobsSlice(fakeServices({}).services));
    });
    afterEach(() => {
      act(() => root.unmount());
      host.remove();
    });

    const show = (row: JobRow) => {
      act(() => {
        store.setState((s) => ({
          jobs: { ...s.jobs, selectedId: row.id, detailLoading: false, detailError: null, detail: { job: row, history: [], input: { key: 'k', name: row.name, sizeBytes: 1 }, formats: ['hls'], report: null, outputs: null } as never },
        }));
        root.render(
          <StoreProvider store={store as StoreApi<unknown>}>
            <JobDetailPanel />
          </StoreProvider>,
        );
      });
      const button = (label: string) => [...host.querySelectorAll('button')].find((b) => b.textContent?.trim() === label)!;
      return { retry: button('Retry'), cancel: button('Cancel') };
    };

    it.each([
      ['done', null, { retry: true, cancel: true }],
      ['failed', failure, { retry: false, cancel: true }],
      ['encoding', null, { retry: true, cancel: false }],
      ['queued', null, { retry: true, cancel: false }],
      ['queued', failure, { retry: true, cancel: false }],
      ['cancelled', failure, { retry: false, cancel: true }],
    ] as const)('a %s job (error %o) disables the buttons %o', (stage, error, disabled) => {
      const b = show(job(stage, error));
      expect({ retry: b.retry.disabled, cancel: b.cancel.disabled }).toEqual(disabled);
      expect(b.retry.title).toBe(disabled.retry ? `Only failed, cancelled or retry-waiting jobs can be retried; this one is ${stage}` : 'Queue this job again');
    });

    it('disables both while a retry or cancel of the job is in flight', () => {
      act(() => store.setState((s) => ({ jobs: { ...s.jobs, busy: { 'j-failed': true } } })));
      const b = show(job('failed', failure));
      expect([b.retry.disabled, b.cancel.disabled]).toEqual([true, true]);
    });
  });
});
