import { Chart as ChartJS, Legend, LinearScale, LineController, LineElement, LogarithmicScale, PointElement, ScatterController, Tooltip, type ChartData, type ChartOptions } from 'chart.js';
import { Scatter } from 'react-chartjs-2';
import type { PerTitleView } from '../../../../../../shared/common/api-contract.ts';
import { formatBitrate } from '../../../shared/format.ts';

ChartJS.register(ScatterController, LineController, LineElement, PointElement, LinearScale, LogarithmicScale, Tooltip, Legend);

type Xy = { x: number; y: number; label: string };

const xy = (p: { width: number; height: number; bitrate: number; quality: number }): Xy => ({ x: p.bitrate, y: p.quality, label: `${p.width}×${p.height}` });

/** Trials as dots, the hull as a line through its vertices, the chosen rungs as large dots (rate on a log axis). */
export function perTitleChartData(a: PerTitleView): ChartData<'scatter', Xy[]> {
  return {
    datasets: [
      { label: 'Trials', data: a.points.map(xy), backgroundColor: '#94a3b8', pointRadius: 3 },
      { label: 'Convex hull', data: a.hull.map(xy), showLine: true, borderColor: '#2563eb', backgroundColor: '#2563eb', pointRadius: 2 },
      { label: 'Chosen rungs', data: a.chosen.map(xy), backgroundColor: '#f59e0b', pointRadius: 7, pointStyle: 'rectRot' },
    ],
  };
}

export function metricLabel(metric: PerTitleView['metric']): string {
  return metric === 'vmaf' ? 'VMAF' : 'SSIM (dB)';
}

export function PerTitleChart({ analysis }: { analysis: PerTitleView }) {
  const options: ChartOptions<'scatter'> = {
    animation: false,
    maintainAspectRatio: false,
    scales: {
      x: { type: 'logarithmic', title: { display: true, text: 'bitrate' }, ticks: { callback: (v) => formatBitrate(Number(v)) } },
      y: { title: { display: true, text: metricLabel(analysis.metric) } },
    },
    plugins: {
      tooltip: { callbacks: { label: (c) => `${(c.raw as Xy).label} ${formatBitrate((c.raw as Xy).x)} ${(c.raw as Xy).y.toFixed(2)}` } },
    },
  };
  return (
    <figure className="card" aria-label="Per-title rate-quality hull">
      <figcaption className="small muted">
        Per-title: {analysis.points.length} trials, {analysis.chosen.length} rungs chosen on the hull · analysis {analysis.cpuSec ?? '?'} CPU s
      </figcaption>
      <div style={{ height: 260 }}>
        <Scatter data={perTitleChartData(analysis)} options={options} />
      </div>
      <table className="small" aria-label="Chosen rungs">
        <thead>
          <tr>
            <th>Size</th>
            <th>Bitrate</th>
            <th>{metricLabel(analysis.metric)}</th>
            <th>Why</th>
          </tr>
        </thead>
        <tbody>
          {analysis.chosen.map((c) => (
            <tr key={`${c.width}x${c.height}`}>
              <td>
                {c.width}×{c.height}
              </td>
              <td>{formatBitrate(c.bitrate)}</td>
              <td>{c.quality.toFixed(2)}</td>
              <td>{c.why}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
