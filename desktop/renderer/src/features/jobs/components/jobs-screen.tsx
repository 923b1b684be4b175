import { useEffect, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import type { JobCounts, JobFilter } from '../../../../../../shared/common/api-contract.ts';
import { RUNNING_STAGES } from '../../../../../../shared/common/job-lifecycle.ts';
import { STAGES, TIERS, type Tier } from '../../../../../../shared/common/job.ts';
import { ErrorBanner } from '../../../shared/components/feedback.tsx';
import { useVisibleInterval } from '../../../shared/hooks/use-interval.ts';
import { useJobs } from '../stores/use-jobs.ts';
import { JobDetailPanel } from './job-detail.tsx';
import type { DispatchPriorities } from '../stores/jobs-slice.ts';
import { JobTable } from './job-table.tsx';

/** Events keep the table live; this slower poll catches anything an event missed (another process, S3). */
const POLL_MS = 5000;

/** The stage chips: each a filter with its count (running sums the running stages). */
const CHIPS: readonly { filter: JobFilter; label: string }[] = [
  { filter: 'queued', label: 'queued' },
  { filter: 'dispatched', label: 'dispatched' },
  { filter: 'running', label: 'running' },
  { filter: 'retry-wait', label: 'retry-wait' },
  { filter: 'done', label: 'done' },
  { filter: 'failed', label: 'failed' },
  { filter: 'cancelled', label: 'cancelled' },
  { filter: 'deadLettered', label: 'dead-lettered' },
];

export function chipCount(counts: JobCounts, filter: JobFilter): number {
  if (filter === 'running') return RUNNING_STAGES.reduce((n, s) => n + (counts[s] ?? 0), 0);
  if (filter === 'active') return STAGES.reduce((n, s) => n + (['done', 'failed', 'cancelled'].includes(s) ? 0 : (counts[s] ?? 0)), 0);
  return counts[filter] ?? 0;
}

export function JobsScreen({ selectedFileIds, priorities = {} }: { selectedFileIds: readonly string[]; priorities?: DispatchPriorities }) {
  const s = useJobs(
    useShallow((st) => ({
      rows: st.jobs.rows,
      total: st.jobs.total,
      counts: st.jobs.counts,
      filters: st.jobs.filters,
      loading: st.jobs.loading,
      error: st.jobs.error,
      selectedId: st.jobs.selectedId,
      ladders: st.jobs.ladders,
      defaultLadder: st.jobs.defaultLadder,
      dispatching: st.jobs.dispatching,
      lastDispatch: st.jobs.lastDispatch,
      redrivingAll: st.jobs.redrivingAll,
      lastRedriveAll: st.jobs.lastRedriveAll,
    })),
  );
  const actions = useJobs((st) => st.jobsActions);
  const [tier, setTier] = useState<Tier | 'auto'>('auto');
  const [ladder, setLadder] = useState<string>('');

  useEffect(() => {
    void actions.refresh();
    void actions.loadLadders();
  }, [actions]);
  useVisibleInterval(() => void actions.refresh(), POLL_MS);

  const ladderName = ladder || s.defaultLadder;
  const failedDispatch = s.lastDispatch?.filter((r) => r.error) ?? [];

  return (
    <section className="screen" aria-labelledby="jobs-title">
      <h1 id="jobs-title">Jobs</h1>
      <form
        className="card toolbar"
        aria-label="Dispatch"
        onSubmit={(e) => {
          e.preventDefault();
          void actions.dispatch(selectedFileIds, tier, ladderName, priorities);
        }}
      >
        <strong>Dispatch</strong>
        <span className="muted" data-testid="dispatch-count">
          {selectedFileIds.length ? `${selectedFileIds.length} selected file${selectedFileIds.length > 1 ? 's' : ''}` : 'select ready files on the Upload screen'}
        </span>
        {selectedFileIds.length > 0 && priorities.priority !== undefined && (
          <span className="muted small" data-testid="dispatch-priority">
            priority {priorities.priority}
            {Object.keys(priorities.priorities ?? {}).some((id) => selectedFileIds.includes(id)) ? ' (some files overridden on the Upload screen)' : ''}
          </span>
        )}
        <label className="toolbar">
          Tier
          <select aria-label="Tier" value={tier} onChange={(e) => setTier(e.target.value as Tier | 'auto')}>
            <option value="auto">auto (router decides)</option>
            {TIERS.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        <label className="toolbar">
          Ladder
          <select aria-label="Ladder" value={ladderName} onChange={(e) => setLadder(e.target.value)}>
            {s.ladders.length === 0 && <option value={ladderName}>{ladderName}</option>}
            {s.ladders.map((l) => (
              <option key={l.name} value={l.name}>
                {l.name} ({l.rungs.length} rungs{l.builtin ? '' : ', saved'})
              </option>
            ))}
          </select>
        </label>
        <span className="spacer" />
        <button type="submit" className="btn primary" disabled={!selectedFileIds.length || s.dispatching}>
          {s.dispatching ? 'Dispatching…' : 'Dispatch'}
        </button>
        {s.lastDispatch && (
          <span className="small" role="status">
            {s.lastDispatch.length - failedDispatch.length} dispatched
            {failedDispatch.length ? `, ${failedDispatch.length} failed: ${failedDispatch[0]!.error!.code}: ${failedDispatch[0]!.error!.message}` : ''}
          </span>
        )}
      </form>

      {s.error && <ErrorBanner error={s.error} onDismiss={actions.dismissError} onRetry={() => void actions.refresh()} />}

      <div className="toolbar" role="group" aria-label="Stage counts">
        <button type="button" className="btn small chip" data-chip="all" aria-pressed={s.filters.stage === 'all'} onClick={() => actions.setFilters({ stage: 'all' })}>
          all
        </button>
        {CHIPS.map((c) => (
          <button
            key={c.filter}
            type="button"
            className={`btn small chip${c.filter === 'deadLettered' || c.filter === 'failed' ? ' danger' : ''}`}
            data-chip={c.filter}
            data-count={chipCount(s.counts, c.filter)}
            aria-pressed={s.filters.stage === c.filter}
            onClick={() => actions.setFilters({ stage: s.filters.stage === c.filter ? 'all' : c.filter })}
          >
            {c.label} <strong>{chipCount(s.counts, c.filter)}</strong>
          </button>
        ))}
        <span className="spacer" />
        <button
          type="button"
          className="btn small"
          title="Send every dead-lettered job again with a fresh attempt budget"
          disabled={!s.counts.deadLettered || s.redrivingAll}
          onClick={() => void actions.redriveAll()}
        >
          {s.redrivingAll ? 'Redriving…' : 'Redrive all dead-lettered'}
        </button>
        {s.lastRedriveAll && (
          <span className="small" role="status" data-testid="redrive-all-result">
            {s.lastRedriveAll.redriven} redriven
            {s.lastRedriveAll.failed.length > 0 && (
              <>
                , {s.lastRedriveAll.failed.length} refused:{' '}
                {s.lastRedriveAll.failed.map((f) => (
                  <span key={f.id} className="mono" data-failed-id={f.id}>
                    {f.id}: {f.error.code} {f.error.message}{' '}
                  </span>
                ))}
              </>
            )}
          </span>
        )}
      </div>

      <div className="toolbar" role="toolbar" aria-label="Job filters">
        <select aria-label="Stage filter" value={s.filters.stage} onChange={(e) => actions.setFilters({ stage: e.target.value as never })}>
          <option value="all">All stages</option>
          <option value="active">Active</option>
          <option value="running">Running</option>
          <option value="deadLettered">Dead-lettered {s.counts.deadLettered ? `(${s.counts.deadLettered})` : ''}</option>
          {STAGES.map((st) => (
            <option key={st} value={st}>
              {st} {s.counts[st] ? `(${s.counts[st]})` : ''}
            </option>
          ))}
        </select>
        <select aria-label="Tier filter" value={s.filters.tier} onChange={(e) => actions.setFilters({ tier: e.target.value as never })}>
          <option value="all">All tiers</option>
          {TIERS.map((t) => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </select>
        <input
          type="search"
          aria-label="Search jobs"
          placeholder="Job id or file name…"
          value={s.filters.search}
          onChange={(e) => actions.setFilters({ search: e.target.value })}
        />
        <span className="spacer" />
        <span className="muted small">
          {s.rows.length} shown of {s.total}
        </span>
        <button type="button" className="btn" onClick={() => void actions.refresh()}>
          Refresh
        </button>
      </div>

      <div className="split">
        <JobTable rows={s.rows} loading={s.loading} selectedId={s.selectedId} onSelect={(id) => void actions.select(id)} />
        <JobDetailPanel />
      </div>
    </section>
  );
}
