import { memo, useRef } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';
import type { JobRow } from '../../../../../../shared/common/api-contract.ts';
import { formatCost, formatElapsed } from '../../../shared/format.ts';
import { EmptyState, Loading, ProgressBar } from '../../../shared/components/feedback.tsx';
import { RetryCountdown } from './retry-countdown.tsx';

const COLUMNS = 'minmax(120px, 2fr) 150px minmax(70px, 1fr) 96px 40px 52px 76px 84px';

export function stageTone(stage: JobRow['stage']): 'ok' | 'bad' | 'run' | '' {
  return stage === 'done' ? 'ok' : stage === 'failed' ? 'bad' : stage === 'queued' || stage === 'cancelled' || stage === 'retry-wait' ? '' : 'run';
}

export function JobTable({ rows, loading, selectedId, onSelect }: { rows: readonly JobRow[]; loading: boolean; selectedId: string | null; onSelect(id: string): void }) {
  const scrollRef = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => 34,
    overscan: 10,
    getItemKey: (i) => rows[i]!.id,
    initialRect: { width: 900, height: 500 },
  });
  if (loading) return <Loading label="Loading jobs…" />;
  if (!rows.length) return <EmptyState>No jobs match. Dispatch files from the Upload screen, or change the filters.</EmptyState>;
  return (
    <div className="vtable" role="table" aria-label="Jobs" aria-rowcount={rows.length + 1}>
      <div className="vtable-head" role="row" style={{ gridTemplateColumns: COLUMNS }}>
        <span role="columnheader">Job</span>
        <span role="columnheader">Stage</span>
        <span role="columnheader">Progress</span>
        <span role="columnheader">Tier</span>
        <span role="columnheader" className="cell num" title="Priority, 1 (lowest) to 10">
          Prio
        </span>
        <span role="columnheader" className="cell num" title="Attempts used of the job's budget">
          Tries
        </span>
        <span role="columnheader" className="cell num">
          Elapsed
        </span>
        <span role="columnheader" className="cell num">
          Cost
        </span>
      </div>
      <div className="vtable-scroll" ref={scrollRef}>
        <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
          {virtualizer.getVirtualItems().map((v) => (
            <JobLine key={v.key} row={rows[v.index]!} top={v.start} index={v.index} selected={rows[v.index]!.id === selectedId} onSelect={onSelect} />
          ))}
        </div>
      </div>
    </div>
  );
}

const JobLine = memo(function JobLine({ row, top, index, selected, onSelect }: { row: JobRow; top: number; index: number; selected: boolean; onSelect(id: string): void }) {
  const tone = stageTone(row.stage);
  return (
    <div
      className="vtable-row"
      role="row"
      tabIndex={0}
      aria-rowindex={index + 2}
      aria-selected={selected}
      data-job-id={row.id}
      data-stage={row.stage}
      data-priority={row.priority}
      data-dead-lettered={row.deadLettered || undefined}
      style={{ transform: `translateY(${top}px)`, gridTemplateColumns: COLUMNS, cursor: 'pointer' }}
      onClick={() => onSelect(row.id)}
      onKeyDown={(e) => {
        if (e.key === 'Enter' || e.key === ' ') {
          e.preventDefault();
          onSelect(row.id);
        }
      }}
    >
      <span role="cell" className="cell" title={`${row.id} · ${row.name}`}>
        {row.name} <span className="muted small mono">{row.id}</span>
      </span>
      <span role="cell" className="cell">
        <span className={`badge ${tone}`}>{row.deadLettered ? 'dead-lettered' : row.stage}</span>
        {row.stage === 'retry-wait' && <RetryCountdown notBefore={row.notBefore} className="muted small" />}
      </span>
      <span role="cell" className="cell">
        <ProgressBar value={row.progress} label={`Progress of ${row.name}`} tone={row.stage === 'done' ? 'ok' : row.stage === 'failed' ? 'bad' : undefined} />
      </span>
      <span role="cell" className="cell" title={row.tierReason ?? undefined}>
        {row.tier ?? '—'}
      </span>
      <span role="cell" className="cell num" data-testid="job-priority">
        {row.priority}
      </span>
      <span role="cell" className="cell num" data-testid="job-attempts">
        {row.attempts}/{row.maxAttempts}
      </span>
      <span role="cell" className="cell num">
        {formatElapsed(row.elapsedSec)}
      </span>
      <span role="cell" className="cell num" title={row.priceDate ? `prices of ${row.priceDate}` : undefined}>
        {formatCost(row.costUsd ?? row.estimatedCostUsd)}
      </span>
    </div>
  );
});
