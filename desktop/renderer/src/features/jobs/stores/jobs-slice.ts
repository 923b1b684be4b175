import type { StateCreator } from 'zustand';
import type { ApiResponse, JobDetail, JobRow, LadderSummary } from '../../../../../../shared/common/api-contract.ts';
import type { Stage, Tier } from '../../../../../../shared/common/job.ts';
import { toUiError, type UiError } from '../../../shared/errors.ts';
import type { ConsoleServices } from '../../../services/api.ts';

export interface JobFilters {
  readonly stage: Stage | 'active' | 'all';
  readonly tier: Tier | 'all';
  readonly search: string;
}

export type DispatchResult = ApiResponse<'jobs.dispatch'>['results'][number];

export interface JobsState {
  readonly rows: readonly JobRow[];
  readonly total: number;
  readonly counts: Partial<Record<Stage, number>>;
  readonly filters: JobFilters;
  readonly loading: boolean;
  readonly error: UiError | null;
  readonly selectedId: string | null;
  readonly detail: JobDetail | null;
  readonly detailLoading: boolean;
  readonly detailError: UiError | null;
  readonly ladders: readonly LadderSummary[];
  readonly defaultLadder: string;
  readonly dispatching: boolean;
  readonly lastDispatch: readonly DispatchResult[] | null;
  /** Job ids with a retry/cancel in flight (buttons disabled). */
  readonly busy: Readonly<Record<string, true>>;
}

export interface JobsActions {
  refresh(): Promise<void>;
  setFilters(f: Partial<JobFilters>): void;
  applyUpdated(jobs: readonly JobRow[]): void;
  select(id: string | null): Promise<void>;
  retry(id: string): Promise<void>;
  cancel(id: string): Promise<void>;
  loadLadders(): Promise<void>;
  dispatch(fileIds: readonly string[], tier: Tier | 'auto', ladder: string): Promise<void>;
  dismissError(): void;
}

export interface JobsSlice {
  jobs: JobsState;
  jobsActions: JobsActions;
}

export const initialJobsState: JobsState = {
  rows: [],
  total: 0,
  counts: {},
  filters: { stage: 'all', tier: 'all', search: '' },
  loading: false,
  error: null,
  selectedId: null,
  detail: null,
  detailLoading: false,
  detailError: null,
  ladders: [],
  defaultLadder: 'default',
  dispatching: false,
  lastDispatch: null,
  busy: {},
};

const ACTIVE: readonly Stage[] = ['queued', 'downloading', 'analyzing', 'encoding', 'packaging', 'uploading', 'finalizing'];

/** Whether a row belongs in the table under the current filters (events bring rows of every kind). */
export function matchesFilters(row: JobRow, f: JobFilters): boolean {
  if (f.stage === 'active' ? !ACTIVE.includes(row.stage) : f.stage !== 'all' && row.stage !== f.stage) return false;
  if (f.tier !== 'all' && row.tier !== f.tier) return false;
  const q = f.search.trim().toLowerCase();
  return !q || row.id.toLowerCase().includes(q) || row.name.toLowerCase().includes(q);
}

function newestFirst(a: JobRow, b: JobRow): number {
  return a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.id < b.id ? 1 : -1;
}

export function createJobsSlice(services: ConsoleServices): StateCreator<JobsSlice, [], [], JobsSlice> {
  return (set, get) => {
    const patch = (p: Partial<JobsState>) => set((s) => ({ jobs: { ...s.jobs, ...p } }));
    let refreshSeq = 0;

    const replaceRow = (job: JobRow) => get().jobsActions.applyUpdated([job]);
    const withBusy = async (id: string, fn: () => Promise<void>) => {
      patch({ busy: { ...get().jobs.busy, [id]: true } });
      try {
        await fn();
      } catch (err) {
        patch({ error: toUiError(err) });
      } finally {
        const busy = { ...get().jobs.busy };
        delete busy[id];
        patch({ busy });
      }
    };

    return {
      jobs: initialJobsState,
      jobsActions: {
        async refresh() {
          const seq = ++refreshSeq;
          const f = get().jobs.filters;
          patch({ loading: get().jobs.rows.length === 0 });
          try {
            const res = await services.api['jobs.list']({
              ...(f.stage !== 'all' ? { stage: f.stage } : {}),
              ...(f.tier !== 'all' ? { tier: f.tier } : {}),
              ...(f.search.trim() ? { search: f.search.trim() } : {}),
              limit: 500,
            });
            // A slower answer to an older filter must not overwrite a newer one.
            if (seq !== refreshSeq) return;
            patch({ rows: res.jobs, total: res.total, counts: res.counts, loading: false, error: null });
            const sel = get().jobs.selectedId;
            if (sel && res.jobs.some((j) => j.id === sel)) void get().jobsActions.select(sel);
          } catch (err) {
            if (seq === refreshSeq) patch({ loading: false, error: toUiError(err) });
          }
        },

        setFilters(f) {
          patch({ filters: { ...get().jobs.filters, ...f } });
          void get().jobsActions.refresh();
        },

        applyUpdated(jobs) {
          if (!jobs.length) return;
          set((s) => {
            const byId = new Map(s.jobs.rows.map((r) => [r.id, r] as const));
            let added = 0;
            for (const j of jobs) {
              const known = byId.has(j.id);
              if (matchesFilters(j, s.jobs.filters)) {
                if (!known) added++;
                byId.set(j.id, j);
              } else if (known) byId.delete(j.id);
            }
            const rows = [...byId.values()].sort(newestFirst);
            const detail = s.jobs.detail;
            const fresh = detail ? jobs.find((j) => j.id === detail.job.id) : undefined;
            return {
              jobs: {
                ...s.jobs,
                rows,
                total: s.jobs.total + added,
                detail: fresh && detail ? { ...detail, job: fresh } : detail,
              },
            };
          });
          // A job that just finished gets its report and outputs.
          const sel = get().jobs.selectedId;
          const changed = sel ? jobs.find((j) => j.id === sel) : undefined;
          if (changed && (changed.stage === 'done' || changed.stage === 'failed') && !get().jobs.detail?.report) void get().jobsActions.select(sel);
        },

        async select(id) {
          if (id !== get().jobs.selectedId) patch({ selectedId: id, detail: null, detailError: null });
          if (!id) return;
          patch({ detailLoading: !get().jobs.detail });
          try {
            const detail = await services.api['jobs.get']({ id });
            if (get().jobs.selectedId === id) patch({ detail, detailLoading: false, detailError: null });
          } catch (err) {
            if (get().jobs.selectedId === id) patch({ detailLoading: false, detailError: toUiError(err) });
          }
        },

        retry(id) {
          return withBusy(id, async () => replaceRow((await services.api['jobs.retry']({ id })).job));
        },
        cancel(id) {
          return withBusy(id, async () => replaceRow((await services.api['jobs.cancel']({ id })).job));
        },

        async loadLadders() {
          try {
            const res = await services.api['ladders.list']({});
            patch({ ladders: res.ladders, defaultLadder: res.defaultLadder });
          } catch (err) {
            patch({ error: toUiError(err) });
          }
        },

        async dispatch(fileIds, tier, ladder) {
          if (!fileIds.length) return;
          patch({ dispatching: true, error: null, lastDispatch: null });
          try {
            const res = await services.api['jobs.dispatch']({ fileIds: [...fileIds], tier, ladder });
            patch({ dispatching: false, lastDispatch: res.results });
            await get().jobsActions.refresh();
          } catch (err) {
            patch({ dispatching: false, error: toUiError(err) });
          }
        },

        dismissError() {
          patch({ error: null });
        },
      },
    };
  };
}
