import {
  BarController,
  BarElement,
  CategoryScale,
  Chart as ChartJS,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartData,
  type ChartOptions,
} from 'chart.js';
import { Bar, Line } from 'react-chartjs-2';
import type { PanelResultView } from '../../../../../../shared/common/api-contract.ts';
import { formatCost, formatElapsed, formatPercent } from '../../../shared/format.ts';

// Only what these panels draw: tree-shaking keeps the rest of chart.js out of the bundle.
ChartJS.register(LineController, LineElement, PointElement, BarController, BarElement, CategoryScale, LinearScale, Tooltip, Legend);

const TIER_COLORS: Record<string, string> = {
  local: '#2563eb',
  lambda: '#f59e0b',
  'lambda-enhanced': '#d97706',
  fargate: '#10b981',
  'fargate-spot': '#059669',
  ec2: '#8b5cf6',
};
const OTHER_COLORS = ['#ef4444', '#0ea5e9', '#84cc16', '#ec4899', '#14b8a6', '#a855f7'];

function colorOf(tier: string | null, i: number): string {
  return (tier && TIER_COLORS[tier]) || OTHER_COLORS[i % OTHER_COLORS.length]!;
}

export function formatValue(unit: string, v: number): string {
  if (unit === 'USD') return formatCost(v);
  if (unit === 'Seconds') return formatElapsed(v);
  if (unit === 'Milliseconds') return formatElapsed(v / 1000);
  if (unit === 'Ratio') return formatPercent(v, 1);
  if (unit === 'Percent') return `${v.toFixed(1)} %`;
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

function timeLabel(ms: number, spanMs: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  if (spanMs > 2 * 86_400_000) return `${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}h`;
  // Over most of a day the same clock time appears at both ends: the weekday tells them apart.
  if (spanMs > 12 * 3_600_000) return `${d.toLocaleDateString(undefined, { weekday: 'short' })} ${p(d.getHours())}:${p(d.getMinutes())}`;
  return `${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** Thresholds (e.g. a Lambda function's timeout) as dashed horizontal lines across the range. */
function lineData(panel: PanelResultView): ChartData<'line', { x: number; y: number }[]> {
  const from = Date.parse(panel.query.from);
  const to = Date.parse(panel.query.to);
  return {
    datasets: [
      ...panel.series.map((s, i) => ({
        label: s.label,
        data: s.points.map((p) => ({ x: Date.parse(p.t), y: p.v })),
        borderColor: colorOf(s.tier, i),
        backgroundColor: colorOf(s.tier, i),
        borderDash: s.stat === 'p95' || s.stat === 'p99' ? [6, 3] : undefined,
        pointRadius: s.points.length > 60 ? 0 : 2,
        borderWidth: 1.5,
        spanGaps: false,
      })),
      ...panel.thresholds.map((t) => ({
        label: t.label,
        data: [
          { x: from, y: t.value },
          { x: to, y: t.value },
        ],
        borderColor: '#b91c1c',
        backgroundColor: '#b91c1c',
        borderDash: [2, 4],
        pointRadius: 0,
        borderWidth: 1,
      })),
    ],
  };
}

/** Cost: one bar group per UTC day, one bar per tier. */
function barData(panel: PanelResultView): ChartData<'bar', number[], string> {
  const days = [...new Set(panel.series.flatMap((s) => s.points.map((p) => p.t.slice(0, 10))))].sort();
  return {
    labels: days,
    datasets: panel.series.map((s, i) => {
      const byDay = new Map(s.points.map((p) => [p.t.slice(0, 10), p.v]));
      return { label: s.label, data: days.map((d) => byDay.get(d) ?? 0), backgroundColor: colorOf(s.tier, i) };
    }),
  };
}

export function PanelChart({ title, panel }: { title: string; panel: PanelResultView | undefined }) {
  const points = panel?.series.reduce((n, s) => n + s.points.length, 0) ?? 0;
  const unit = panel?.series[0]?.unit ?? panel?.thresholds[0]?.unit ?? 'None';
  return (
    <figure className="card chart-card" aria-label={title} data-testid={`panel-${panel?.panel ?? title}`} data-points={points}>
      <h3>
        {title} {panel && <span className="muted small">({points} {points === 1 ? 'point' : 'points'})</span>}
      </h3>
      <div className="chart-body">
        {!panel ? (
          <div className="muted small">No data.</div>
        ) : !panel.available ? (
          <div className="muted small">{panel.note ?? 'Not available from this metrics source.'}</div>
        ) : points === 0 ? (
          <div className="muted small">
            No data points in this range{panel.note ? ` (${panel.note})` : ''}.
            {panel.panel === 'cost' && ' Only jobs on paid tiers (Lambda, Fargate, EC2) record a cost; local jobs cost nothing.'}
            {' '}Widen the range or dispatch jobs to see points here.
          </div>
        ) : panel.panel === 'cost' ? (
          <Bar
            data={barData(panel)}
            options={{
              responsive: true,
              maintainAspectRatio: false,
              animation: false,
              scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { callback: (v) => formatValue('USD', Number(v)) } } },
              plugins: { tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${formatValue('USD', Number(c.parsed.y))}` } } },
            }}
          />
        ) : (
          <Line data={lineData(panel)} options={lineOptions(panel, unit)} />
        )}
      </div>
    </figure>
  );
}

function lineOptions(panel: PanelResultView, unit: string): ChartOptions<'line'> {
  const from = Date.parse(panel.query.from);
  const to = Date.parse(panel.query.to);
  return {
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    parsing: false,
    normalized: true,
    interaction: { mode: 'nearest', intersect: false },
    scales: {
      x: { type: 'linear', min: from, max: to, ticks: { maxTicksLimit: 8, callback: (v) => timeLabel(Number(v), to - from) } },
      y: { beginAtZero: true, ticks: { callback: (v) => formatValue(unit, Number(v)) } },
    },
    plugins: {
      legend: { labels: { boxWidth: 12 } },
      tooltip: {
        callbacks: {
          title: (items) => (items[0] ? new Date(Number(items[0].parsed.x)).toLocaleString() : ''),
          label: (c) => `${c.dataset.label}: ${formatValue(unit, Number(c.parsed.y))}`,
        },
      },
    },
  };
}
