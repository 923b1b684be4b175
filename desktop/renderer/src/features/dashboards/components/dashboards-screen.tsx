import { useEffect, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { formatTimestamp } from '../../../shared/format.ts';
import { ErrorBanner, Loading } from '../../../shared/components/feedback.tsx';
import { useVisibleInterval } from '../../../shared/hooks/use-interval.ts';
import { useDashboards } from '../stores/use-dashboards.ts';
import type { RangeKind } from '../stores/dashboards-slice.ts';
import { PanelChart } from './panel-chart.tsx';

const PANEL_TITLES = [
  ['cost', 'Cost per tier per day'],
  ['latency', 'Latency p50 / p95 per tier'],
  ['throughput', 'Throughput (jobs finished)'],
  ['errorRate', 'Error rate'],
  ['queueDepth', 'Queue depth'],
  ['lambdaDuration', 'Lambda duration vs timeout'],
] as const;

/** datetime-local wants local time without a zone. */
function toLocalInput(iso: string): string {
  const d = new Date(iso);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function DashboardsScreen() {
  const s = useDashboards(useShallow((st) => st.dashboards));
  const actions = useDashboards((st) => st.dashboardsActions);
  const [from, setFrom] = useState(toLocalInput(s.customFrom));
  const [to, setTo] = useState(toLocalInput(s.customTo));

  useEffect(() => {
    void actions.refresh();
  }, [actions]);
  useVisibleInterval(() => void actions.refresh(), s.refreshSec > 0 ? s.refreshSec * 1000 : null);

  const byKind = new Map(s.data?.panels.map((p) => [p.panel, p]) ?? []);
  return (
    <section className="screen" aria-labelledby="dash-title">
      <h1 id="dash-title">Dashboards</h1>
      <div className="toolbar" role="toolbar" aria-label="Time range">
        {(['1h', '24h', '7d', 'custom'] as RangeKind[]).map((r) => (
          <button key={r} type="button" className={`btn${s.range === r ? ' primary' : ''}`} aria-pressed={s.range === r} onClick={() => actions.setRange(r)}>
            {r === 'custom' ? 'Custom' : `Last ${r}`}
          </button>
        ))}
        {s.range === 'custom' && (
          <form
            className="toolbar"
            onSubmit={(e) => {
              e.preventDefault();
              actions.setCustom(new Date(from).toISOString(), new Date(to).toISOString());
            }}
          >
            <input type="datetime-local" aria-label="From" value={from} onChange={(e) => setFrom(e.target.value)} />
            <input type="datetime-local" aria-label="To" value={to} onChange={(e) => setTo(e.target.value)} />
            <button type="submit" className="btn">
              Apply
            </button>
          </form>
        )}
        <span className="spacer" />
        <label className="toolbar small">
          Auto-refresh
          <select aria-label="Auto-refresh interval" value={s.refreshSec} onChange={(e) => actions.setRefresh(Number(e.target.value))}>
            <option value={0}>off</option>
            <option value={10}>10 s</option>
            <option value={30}>30 s</option>
            <option value={60}>1 min</option>
            <option value={300}>5 min</option>
          </select>
        </label>
        <button type="button" className="btn" onClick={() => void actions.refresh()}>
          Refresh
        </button>
      </div>
      <div className="small muted" data-testid="metrics-source">
        Source: {s.data ? (s.data.source === 'cloudwatch' ? 'CloudWatch' : 'local metrics') : '—'}
        {s.lastUpdated && ` · updated ${formatTimestamp(s.lastUpdated)}`}
        {s.refreshSec > 0 && ` · refreshes every ${s.refreshSec} s while this window is visible`}
      </div>
      {s.error && <ErrorBanner error={s.error} onRetry={() => void actions.refresh()} />}
      {s.loading ? (
        <Loading label="Loading metrics…" />
      ) : (
        <div className="grid-2">
          {PANEL_TITLES.map(([kind, title]) => (
            <PanelChart key={kind} title={title} panel={byKind.get(kind)} />
          ))}
        </div>
      )}
    </section>
  );
}
