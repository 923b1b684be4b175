import { useShallow } from 'zustand/react/shallow';
import type { JobDetail } from '../../../../../../shared/common/api-contract.ts';
import { formatBitrate, formatBytes, formatCost, formatElapsed, formatTimestamp } from '../../../shared/format.ts';
import { ErrorBanner, Loading } from '../../../shared/components/feedback.tsx';
import { useJobs } from '../stores/use-jobs.ts';

export function JobDetailPanel() {
  const { detail, loading, error, selectedId, busy } = useJobs(
    useShallow((s) => ({ detail: s.jobs.detail, loading: s.jobs.detailLoading, error: s.jobs.detailError, selectedId: s.jobs.selectedId, busy: s.jobs.busy })),
  );
  const actions = useJobs((s) => s.jobsActions);
  if (!selectedId) return <aside className="card detail muted">Select a job to see its report or its error.</aside>;
  if (loading) return <aside className="card detail"><Loading label="Loading job…" /></aside>;
  if (error) return <aside className="card detail"><ErrorBanner error={error} onRetry={() => void actions.select(selectedId)} /></aside>;
  if (!detail) return <aside className="card detail" />;
  const job = detail.job;
  const canCancel = job.stage !== 'done' && job.stage !== 'failed';
  return (
    <aside className="card detail" aria-label="Job detail" data-testid="job-detail">
      <h2>{job.name}</h2>
      <div className="toolbar">
        <span className="mono small">{job.id}</span>
        <span className="spacer" />
        <button type="button" className="btn small" disabled={!!busy[job.id] || canCancel} onClick={() => void actions.retry(job.id)}>
          Retry
        </button>
        <button type="button" className="btn small danger" disabled={!!busy[job.id] || !canCancel} onClick={() => void actions.cancel(job.id)}>
          Cancel
        </button>
      </div>
      {job.error && <ErrorBanner error={job.error} />}
      <dl className="kv">
        <dt>Stage</dt>
        <dd data-testid="detail-stage">{job.stage} ({Math.round(job.progress * 100)} %)</dd>
        <dt>Tier</dt>
        <dd>
          {job.tier ?? '—'} {job.tierReason && <span className="muted small">({job.tierReason})</span>}
        </dd>
        <dt>Ladder</dt>
        <dd>{job.ladder}</dd>
        <dt>Attempts</dt>
        <dd>{job.attempts}</dd>
        <dt>Created</dt>
        <dd>{formatTimestamp(job.createdAt)}</dd>
        <dt>Elapsed</dt>
        <dd>{formatElapsed(job.elapsedSec)}</dd>
        <dt>Cost</dt>
        <dd>
          {job.costUsd !== null ? formatCost(job.costUsd, job.priceDate) : `est. ${formatCost(job.estimatedCostUsd, job.priceDate)}`}
        </dd>
        <dt>Input</dt>
        <dd>
          {formatBytes(detail.input.sizeBytes)} <span className="mono small">{detail.input.key}</span>
        </dd>
        {detail.outputs && (
          <>
            <dt>Outputs</dt>
            <dd>
              {detail.outputs.files} files, {formatBytes(detail.outputs.totalBytes)} ({detail.formats.join(', ')})
            </dd>
          </>
        )}
      </dl>
      <Report report={detail.report} />
      <h3 className="small">History</h3>
      <ol className="small">
        {detail.history.map((h, i) => (
          <li key={i}>
            {formatTimestamp(h.at)} {h.stage}
            {h.tier ? ` on ${h.tier}` : ''}
            {h.note ? <span className="muted"> · {h.note}</span> : null}
          </li>
        ))}
      </ol>
    </aside>
  );
}

interface RenditionLike {
  name?: unknown;
  width?: unknown;
  height?: unknown;
  bitrate?: unknown;
  videoBitrate?: unknown;
  sizeBytes?: unknown;
}

/** The report's shape belongs to the transcode core; show what is recognisable and the rest as JSON. */
function Report({ report }: { report: JobDetail['report'] }) {
  if (!report) return <p className="muted small">No report yet: it is written when the outputs are published.</p>;
  const renditions = Array.isArray(report.renditions) ? (report.renditions as RenditionLike[]) : [];
  const warnings = Array.isArray(report.warnings) ? (report.warnings as unknown[]).map(String) : [];
  const timings = report.timings && typeof report.timings === 'object' && !Array.isArray(report.timings) ? (report.timings as Record<string, unknown>) : null;
  const num = (v: unknown) => (typeof v === 'number' ? v : null);
  return (
    <div>
      {renditions.length > 0 && (
        <table className="plain" aria-label="Renditions">
          <thead>
            <tr>
              <th>Rendition</th>
              <th>Size</th>
              <th className="num">Bitrate</th>
              <th className="num">Bytes</th>
            </tr>
          </thead>
          <tbody>
            {renditions.map((r, i) => (
              <tr key={i}>
                <td>{String(r.name ?? i)}</td>
                <td>{num(r.width) && num(r.height) ? `${r.width}×${r.height}` : '—'}</td>
                <td className="num">{formatBitrate(num(r.bitrate) ?? num(r.videoBitrate))}</td>
                <td className="num">{formatBytes(num(r.sizeBytes))}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {timings && (
        <dl className="kv small">
          {Object.entries(timings).map(([k, v]) => (
            <span key={k} style={{ display: 'contents' }}>
              <dt>{k}</dt>
              <dd>{typeof v === 'number' ? formatElapsed(v) : String(v)}</dd>
            </span>
          ))}
        </dl>
      )}
      {warnings.length > 0 && (
        <ul className="small" aria-label="Warnings">
          {warnings.map((w, i) => (
            <li key={i} className="muted">
              ⚠ {w}
            </li>
          ))}
        </ul>
      )}
      <details className="small">
        <summary>Full report (JSON)</summary>
        <pre className="mono" style={{ whiteSpace: 'pre-wrap' }}>{JSON.stringify(report, null, 2)}</pre>
      </details>
    </div>
  );
}
