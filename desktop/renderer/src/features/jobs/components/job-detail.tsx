import { useShallow } from 'zustand/react/shallow';
import type { JobDetail } from '../../../../../../shared/common/api-contract.ts';
import type { AudioReport, TranscodeReport } from '../../../../../../shared/common/transcode-report.ts';
import { formatBitrate, formatBytes, formatCost, formatElapsed, formatResolution, formatSpeed, formatTimestamp } from '../../../shared/format.ts';
import { ErrorBanner, Loading } from '../../../shared/components/feedback.tsx';
import { jobActionState } from '../job-actions.ts';
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
  const can = jobActionState(job);
  return (
    <aside className="card detail" aria-label="Job detail" data-testid="job-detail">
      <h2>{job.name}</h2>
      <div className="toolbar">
        <span className="mono small">{job.id}</span>
        <span className="spacer" />
        <button type="button" className="btn small" title={can.retryHint} disabled={!!busy[job.id] || !can.canRetry} onClick={() => void actions.retry(job.id)}>
          Retry
        </button>
        <button type="button" className="btn small danger" title={can.cancelHint} disabled={!!busy[job.id] || !can.canCancel} onClick={() => void actions.cancel(job.id)}>
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
          {formatBytes(detail.input.sizeBytes)} <span className="mono small wrap">{detail.input.key}</span>
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

function lufs(n: unknown, unit: string): string {
  return typeof n === 'number' ? `${n.toFixed(1)} ${unit}` : '—';
}

/** EBU R128 of each audio track (and what normalisation reached) and the subtitle tracks, from report.json. */
function AudioAndText({ audio, subtitles }: { audio: readonly Partial<AudioReport>[]; subtitles: TranscodeReport['subtitles'] | undefined }) {
  const loud = audio.filter((a) => a.loudness && typeof a.loudness === 'object');
  const tracks = subtitles && Array.isArray(subtitles.tracks) ? subtitles.tracks : [];
  const leftOut = subtitles && Array.isArray(subtitles.leftOut) ? subtitles.leftOut : [];
  if (!loud.length && !tracks.length && !leftOut.length) return null;
  return (
    <ul className="small" aria-label="Loudness and subtitles">
      {loud.map((a, i) => {
        const l = a.loudness!;
        return (
          <li key={`l${i}`} data-loudness={a.language ?? ''}>
            loudness{a.language ? ` ${a.language}` : ''}: {lufs(l.source?.integratedLufs, 'LUFS')}, peak {lufs(l.source?.truePeakDbtp, 'dBTP')}, LRA {lufs(l.source?.lraLu, 'LU')}
            {l.target && l.output ? ` → ${lufs(l.output.integratedLufs, 'LUFS')}, peak ${lufs(l.output.truePeakDbtp, 'dBTP')} (${l.target.preset}, ${l.normalization ?? ''})` : ''}
          </li>
        );
      })}
      {tracks.length > 0 && <li data-testid="subtitle-tracks">subtitles: {tracks.map((t) => t.language ?? t.name).join(', ')}</li>}
      {leftOut.length > 0 && <li className="muted">subtitles left out: {leftOut.map((t) => `${t.codec}${t.language ? ` ${t.language}` : ''}`).join(', ')}</li>}
    </ul>
  );
}

/** report.json as the transcode core writes it; read defensively (an older or foreign report may lack fields). */
function Report({ report }: { report: JobDetail['report'] }) {
  if (!report) return <p className="muted small">No report yet: it is written when the outputs are published.</p>;
  const r = report as unknown as Partial<TranscodeReport>;
  const renditions = Array.isArray(r.renditions) ? r.renditions : [];
  const audio = [...(r.audio && typeof r.audio === 'object' ? [r.audio] : []), ...(Array.isArray(r.alternateAudio) ? r.alternateAudio : [])];
  const warnings = [...(Array.isArray(r.warnings) ? r.warnings : []), ...(Array.isArray(r.sourceFixes) ? r.sourceFixes : [])].map(String);
  const stages = r.stages && typeof r.stages === 'object' ? (r.stages as unknown as Record<string, number>) : null;
  return (
    <div>
      {renditions.length > 0 && (
        <table className="plain" aria-label="Renditions">
          <thead>
            <tr>
              <th>Rendition</th>
              <th>Size</th>
              <th className="num">Target</th>
              <th className="num">Achieved</th>
              <th className="num">Bytes</th>
            </tr>
          </thead>
          <tbody>
            {renditions.map((x, i) => (
              <tr key={i}>
                <td>{String(x.name ?? i)}</td>
                <td>{formatResolution(x.width, x.height)}</td>
                <td className="num">{formatBitrate(x.targetBitrate)}</td>
                <td className="num">{formatBitrate(x.bitrateAvg)}</td>
                <td className="num">{formatBytes(x.sizeBytes)}</td>
              </tr>
            ))}
            {audio.map((a, i) => (
              <tr key={`a${i}`} data-audio={a.language ?? ''}>
                <td>{`audio${a.language ? ` ${a.language}` : ''}${i === 0 && audio.length > 1 ? ' (main)' : ''}`}</td>
                <td>AAC {a.channels === 2 ? 'stereo' : `${String(a.channels)} ch`}</td>
                <td className="num">{formatBitrate(a.targetBitrate)}</td>
                <td className="num">{formatBitrate(a.bitrateAvg)}</td>
                <td className="num">{formatBytes(a.sizeBytes)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <AudioAndText audio={audio} subtitles={r.subtitles} />
      {(stages || typeof r.speed === 'number') && (
        <dl className="kv small" aria-label="Timings">
          {stages &&
            Object.entries(stages).map(([k, v]) => (
              <span key={k} style={{ display: 'contents' }}>
                <dt>{k.replace(/Sec$/, '')}</dt>
                <dd>{formatElapsed(v)}</dd>
              </span>
            ))}
          {typeof r.speed === 'number' && (
            <>
              <dt>speed</dt>
              <dd>{formatSpeed(r.speed)}</dd>
            </>
          )}
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
