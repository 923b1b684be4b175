import type { StateCreator } from 'zustand';
import type { ApiResponse } from '../../../../../../shared/common/api-contract.ts';
import { toUiError, type UiError } from '../../../shared/errors.ts';
import type { ConsoleServices } from '../../../services/api.ts';

export type RangeKind = '1h' | '24h' | '7d' | 'custom';
export type MetricsAnswer = ApiResponse<'metrics.query'>;

export interface DashboardsState {
  readonly range: RangeKind;
  /** Custom range, ISO-8601 (used when range is 'custom'). */
  readonly customFrom: string;
  readonly customTo: string;
  /** Auto-refresh interval in seconds; 0 is off. */
  readonly refreshSec: number;
  readonly data: MetricsAnswer | null;
  readonly loading: boolean;
  readonly error: UiError | null;
  readonly lastUpdated: string | null;
}

export interface DashboardsActions {
  setRange(range: RangeKind): void;
  setCustom(fromIso: string, toIso: string): void;
  setRefresh(sec: number): void;
  refresh(): Promise<void>;
}

export interface DashboardsSlice {
  dashboards: DashboardsState;
  dashboardsActions: DashboardsActions;
}

const RANGE_SEC: Record<Exclude<RangeKind, 'custom'>, number> = { '1h': 3600, '24h': 86_400, '7d': 7 * 86_400 };

/** A period that gives at most ~240 points per line, snapped to CloudWatch-friendly widths (>= 60 s). */
export function periodFor(spanSec: number): number {
  const steps = [60, 300, 900, 3600, 3 * 3600, 6 * 3600, 86_400];
  return steps.find((p) => spanSec / p <= 240) ?? 86_400;
}

/** The query a range means at `now`: `to` rounded up to the period so repeated refreshes line up. */
export function queryFor(state: Pick<DashboardsState, 'range' | 'customFrom' | 'customTo'>, now = Date.now()): { from: string; to: string; periodSec: number } {
  if (state.range === 'custom') {
    const from = Date.parse(state.customFrom);
    const to = Date.parse(state.customTo);
    const span = Math.max(60, (to - from) / 1000);
    return { from: new Date(from).toISOString(), to: new Date(to).toISOString(), periodSec: periodFor(span) };
  }
  const span = RANGE_SEC[state.range];
  const periodSec = periodFor(span);
  const to = Math.ceil(now / (periodSec * 1000)) * periodSec * 1000;
  return { from: new Date(to - span * 1000).toISOString(), to: new Date(to).toISOString(), periodSec };
}

export const initialDashboardsState: DashboardsState = {
  range: '24h',
  customFrom: new Date(Date.now() - 2 * 86_400_000).toISOString(),
  customTo: new Date().toISOString(),
  refreshSec: 30,
  data: null,
  loading: false,
  error: null,
  lastUpdated: null,
};

export function createDashboardsSlice(services: ConsoleServices): StateCreator<DashboardsSlice, [], [], DashboardsSlice> {
  return (set, get) => {
    const patch = (p: Partial<DashboardsState>) => set((s) => ({ dashboards: { ...s.dashboards, ...p } }));
    let seq = 0;
    return {
      dashboards: initialDashboardsState,
      dashboardsActions: {
        setRange(range) {
          patch({ range });
          void get().dashboardsActions.refresh();
        },
        setCustom(fromIso, toIso) {
          if (!(Date.parse(fromIso) < Date.parse(toIso))) {
            patch({ error: { code: 'CONFIG_INVALID', message: 'the custom range must start before it ends' } });
            return;
          }
          patch({ range: 'custom', customFrom: fromIso, customTo: toIso });
          void get().dashboardsActions.refresh();
        },
        setRefresh(sec) {
          patch({ refreshSec: Math.max(0, sec) });
        },
        async refresh() {
          const mine = ++seq;
          const q = queryFor(get().dashboards);
          patch({ loading: !get().dashboards.data });
          try {
            const data = await services.api['metrics.query']({
              ...q,
              panels: ['cost', 'latency', 'throughput', 'errorRate', 'queueDepth', 'lambdaDuration'],
            });
            if (mine === seq) patch({ data, loading: false, error: null, lastUpdated: new Date().toISOString() });
          } catch (err) {
            if (mine === seq) patch({ loading: false, error: toUiError(err) });
          }
        },
      },
    };
  };
}
