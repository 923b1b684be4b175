import type { StateCreator } from 'zustand';
import type { ApiResponse, JobCounts, JobDetail, JobFilter, JobRow, LadderSummary } from '../../../../../../shared/common/api-contract.ts';
import { RUNNING_STAGES } from '../../../../../../shared/common/job-lifecycle.ts';
import { TERMINAL_STAGES, type Stage, type Tier } from '../../../../../../shared/common/job.ts';
import { toUiError, type UiError } from '../../../shared/errors.ts';
import type { ConsoleServices } from '../../../services/api.ts';

export interface JobFilters {
  readonly stage: JobFilter | 'all';
  readonly tier: Tier | 'all';
  readonly search: string;
}

export type DispatchResult = ApiResponse<'jobs.dispatch'>['results'][number];

/** The batch priority and per-file overrides the Upload screen sets (1-10). */
export interface DispatchPriorities {
  readonly priority?: number;
  readonly priorities?: Readonly<Record<string, number>>;
}

/** What a redrive of every dead-lettered job did. */
export interface RedriveSummary {
  readonly redriven: number;
  readonly failed: readonly { readonly id: string; readonly error: UiError }[];
}

export interface JobsState {
  readonly rows: readonly JobRow[];
  readonly total: number;
  readonly counts: JobCounts;
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
  /** Job ids with an action in flight (buttons disabled). */
  readonly busy: Readonly<Record<string, true>>;
  /** The last refused action per job id (shown beside that job, never swallowed). */
  readonly actionErrors: Readonly<Record<string, UiError>>;
  readonly redrivingAll: boolean;
  readonly lastRedriveAll: RedriveSummary | null;
}

export interface JobsActions {
  refresh(): Promise<void>;
  setFilters(f: Partial<JobFilters>): void;
  /** Rows that changed (from jobs.updated or an action), with the counts after them when known. */
  applyUpdated(jobs: readonly JobRow[], counts?: JobCounts): void;
  select(id: string | null): Promise<void>;
  retry(id: string): Promise<void>;
  cancel(id: string): Promise<void>;
  /** Deletes finished jobs with their outputs (the screen confirms first). */
  remove(id: string): Promise<void>;
  redrive(id: string): Promise<void>;
  redriveAll(): Promise<void>;
  loadLadders(): Promise<void>;
  dispatch(fileIds: readonly string[], tier: Tier | 'auto', ladder: string, priorities?: DispatchPriorities): Promise<void>;
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
  actionErrors: {},
  redrivingAll: false,
  lastRedriveAll: null,
};

/** Whether a row's stage is in a filter (the same groups the main process queries: desktop/main/services/jobs.ts). */
export function inStageFilter(row: Pick<JobRow, 'stage' | 'deadLettered'>, stage: JobFilters['stage']): boolean {
  switch (stage) {
    case 'all':
      return true;
    case 'active':
      return !TERMINAL_STAGES.includes(row.stage);
    case 'running':
      return (RUNNING_STAGES as readonly Stage[]).includes(row.stage);
    case 'deadLettered':
      return row.stage === 'failed' && row.deadLettered;
    default:
      return row.stage === stage;
  }
}

/** Whether a row belongs in the table under the current filters (events bring rows of every kind). */
export function matchesFilters(row: JobRow, f: JobFilters): boolean {
  if (!inStageFilter(row, f.stage)) return false;
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
    const without = <T,>(rec: Readonly<Record<string, T>>, id: string): Record<string, T> => {
      const out = { ...rec };
      delete out[id];
      return out;
    };
    /** One job's action: its buttons off meanwhile, its refusal kept beside it (not a screen-wide banner). */
    const withBusy = async (id: string, fn: () => Promise<void>) => {
      patch({ busy: { ...get().jobs.busy, [id]: true }, actionErrors: without(get().jobs.actionErrors, id) });
      try {
        await fn();
      } catch (err) {
        patch({ actionErrors: { ...get().jobs.actionErrors, [id]: toUiError(err) } });
      } finally {
        patch({ busy: without(get().jobs.busy, id) });
      }
    };
    /** A per-id answer's error as the screen shows it. */
    const idError = (e: { code: string; message: string }): UiError => toUiError(e);
    const dropRow = (id: string) =>
      set((s) => {
        const rows = s.jobs.rows.filter((r) => r.id !== id);
        const gone = rows.length !== s.jobs.rows.length;
        const selected = s.jobs.selectedId === id;
        return {
          jobs: {
            ...s.jobs,
            rows,
            total: gone ? Math.max(0, s.jobs.total - 1) : s.jobs.total,
            ...(selected ? { selectedId: null, detail: null, detailError: null } : {}),
          },
        };
      });

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

        applyUpdated(jobs, counts) {
          if (counts) patch({ counts });
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
        remove(id) {
          return withBusy(id, async () => {
            const [r] = (await services.api['jobs.delete']({ ids: [id] })).results;
            if (r?.error) throw idError(r.error);
            dropRow(id);
            // A deleted job leaves no change behind in the store's change feed: the counts come from a fresh page.
            void get().jobsActions.refresh();
          });
        },
        redrive(id) {
          return withBusy(id, async () => {
            const [r] = (await services.api['jobs.redrive']({ ids: [id] })).results;
            if (r?.error) throw idError(r.error);
            if (r?.job) replaceRow(r.job);
          });
        },
        async redriveAll() {
          patch({ redrivingAll: true, lastRedriveAll: null, error: null });
          try {
            const { results } = await services.api['jobs.redrive']({});
            const failed = results.flatMap((r) => (r.error ? [{ id: r.id, error: idError(r.error) }] : []));
            get().jobsActions.applyUpdated(results.flatMap((r) => (r.job ? [r.job] : [])));
            patch({
              redrivingAll: false,
              lastRedriveAll: { redriven: results.length - failed.length, failed },
              actionErrors: { ...get().jobs.actionErrors, ...Object.fromEntries(failed.map((f) => [f.id, f.error])) },
            });
          } catch (err) {
            patch({ redrivingAll: false, error: toUiError(err) });
          }
        },

        async loadLadders() {
          try {
            const res = await services.api['ladders.list']({});
            patch({ ladders: res.ladders, defaultLadder: res.defaultLadder });
          } catch (err) {
            patch({ error: toUiError(err) });
          }
        },

        async dispatch(fileIds, tier, ladder, p = {}) {
          if (!fileIds.length) return;
          patch({ dispatching: true, error: null, lastDispatch: null });
          // Only the dispatched files' overrides, and only those that differ from the batch's priority.
          const overrides = Object.fromEntries(fileIds.flatMap((id) => (p.priorities?.[id] !== undefined && p.priorities[id] !== p.priority ? [[id, p.priorities[id]!]] : [])));
          try {
            const res = await services.api['jobs.dispatch']({
              fileIds: [...fileIds],
              tier,
              ladder,
              ...(p.priority !== undefined ? { priority: p.priority } : {}),
              ...(Object.keys(overrides).length ? { priorities: overrides } : {}),
            });
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
