import { memo, useCallback, useRef, type MouseEvent } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';
import type { UploadItem } from '../../../../../../shared/common/api-contract.ts';
import { formatBitrate, formatBytes, formatCost, formatDuration, formatResolution, priorityLabel } from '../../../shared/format.ts';
import { ProgressBar } from '../../../shared/components/feedback.tsx';
import type { UploadRow } from '../stores/upload-slice.ts';

export const ROW_HEIGHT = 34;
const COLUMNS = '28px minmax(180px, 2.2fr) 64px 112px 100px 76px minmax(110px, 1fr) minmax(170px, 1.6fr) 120px 112px';
const PRIORITIES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] as const;

export interface FileTableProps {
  rows: readonly UploadRow[];
  selected: Readonly<Record<string, true>>;
  uploads: Readonly<Record<string, UploadItem>>;
  /** Click: select only this row; with Ctrl/Cmd toggle it; with Shift extend from the last clicked row. */
  onSelect(ids: readonly string[], mode: 'only' | 'add' | 'toggle'): void;
  /** Initial viewport (tests and the first paint, before the scroller has been measured). */
  initialHeight?: number;
  /** The batch's priority and the per-file overrides; onPriority(id, null) puts a file back on the batch's. */
  batchPriority?: number;
  priorities?: Readonly<Record<string, number>>;
  onPriority?(fileId: string, priority: number | null): void;
}

export function FileTable({ rows, selected, uploads, onSelect, initialHeight = 600, batchPriority = 5, priorities = {}, onPriority }: FileTableProps) {
  const scrollRef = useRef<HTMLDivElement>(null);
  const anchor = useRef<number | null>(null);
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
    getItemKey: (i) => rows[i]!.key,
    initialRect: { width: 1000, height: initialHeight },
  });

  const onRowClick = useCallback(
    (index: number, e: MouseEvent) => {
      const id = rows[index]?.fileId;
      if (!id) return;
      if (e.shiftKey && anchor.current !== null) {
        const [a, b] = anchor.current < index ? [anchor.current, index] : [index, anchor.current];
        onSelect(rows.slice(a, b + 1).flatMap((r) => (r.fileId && r.state === 'ready' ? [r.fileId] : [])), 'add');
        return;
      }
      anchor.current = index;
      onSelect([id], e.ctrlKey || e.metaKey ? 'toggle' : 'only');
    },
    [rows, onSelect],
  );

  return (
    <div className="vtable" role="table" aria-label="Files" aria-rowcount={rows.length + 1}>
      <div className="vtable-head" role="row" style={{ gridTemplateColumns: COLUMNS }}>
        {/* The label is visually hidden inside a real grid cell: an absolutely positioned cell would leave the grid. */}
        <span role="columnheader">
          <span className="sr-only">Selected</span>
        </span>
        <span role="columnheader">Name</span>
        <span role="columnheader" className="cell num">
          Duration
        </span>
        <span role="columnheader">Resolution</span>
        <span role="columnheader">Codecs</span>
        <span role="columnheader" className="cell num">
          Size
        </span>
        <span role="columnheader">Status</span>
        <span role="columnheader">Tier (reason)</span>
        <span role="columnheader">Upload</span>
        <span role="columnheader" title="Job priority, 1 (lowest) to 10: the batch's unless set here">
          Priority
        </span>
      </div>
      <div className="vtable-scroll" ref={scrollRef} data-testid="file-table-scroll">
        <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
          {virtualizer.getVirtualItems().map((v) => {
            const row = rows[v.index]!;
            return (
              <FileRow
                key={v.key}
                row={row}
                index={v.index}
                top={v.start}
                selected={row.fileId ? selected[row.fileId] === true : false}
                upload={row.fileId ? uploads[row.fileId] : undefined}
                onClick={onRowClick}
                onToggle={onSelect}
                batchPriority={batchPriority}
                priority={row.fileId ? priorities[row.fileId] : undefined}
                onPriority={onPriority}
              />
            );
          })}
        </div>
      </div>
    </div>
  );
}

interface FileRowProps {
  row: UploadRow;
  index: number;
  top: number;
  selected: boolean;
  upload: UploadItem | undefined;
  onClick(index: number, e: MouseEvent): void;
  onToggle(ids: readonly string[], mode: 'only' | 'add' | 'toggle'): void;
  batchPriority: number;
  /** This file's override, if any. */
  priority: number | undefined;
  onPriority: ((fileId: string, priority: number | null) => void) | undefined;
}

/** Memoised: a progress event re-renders only the rows whose upload changed. */
const FileRow = memo(function FileRow({ row, index, top, selected, upload, onClick, onToggle, batchPriority, priority, onPriority }: FileRowProps) {
  const selectable = row.state === 'ready' && row.fileId !== null;
  const m = row.media;
  return (
    <div
      className={`vtable-row${row.state === 'problem' ? ' problem' : ''}`}
      role="row"
      aria-rowindex={index + 2}
      aria-selected={selected}
      data-state={row.state}
      data-name={row.name}
      style={{ transform: `translateY(${top}px)`, gridTemplateColumns: COLUMNS }}
      onClick={(e) => onClick(index, e)}
    >
      <span role="cell">
        <input
          type="checkbox"
          aria-label={`Select ${row.name}`}
          checked={selected}
          disabled={!selectable}
          onClick={(e) => e.stopPropagation()}
          onChange={() => row.fileId && onToggle([row.fileId], 'toggle')}
        />
      </span>
      <span role="cell" className="cell" title={row.relativeDir ? `${row.relativeDir}/${row.name}` : row.name}>
        {row.name}
        {row.relativeDir && <span className="muted small"> · {row.relativeDir}</span>}
      </span>
      <span role="cell" className="cell num">
        {formatDuration(m?.durationSec)}
      </span>
      <span role="cell" className="cell">
        {m ? `${formatResolution(m.width, m.height)}${m.fps ? ` ${Math.round(m.fps)}p` : ''}` : '—'}
      </span>
      <span role="cell" className="cell" title={m?.bitrate ? formatBitrate(m.bitrate) : undefined}>
        {m ? [m.videoCodec, m.audioCodec].filter(Boolean).join(' / ') : '—'}
      </span>
      <span role="cell" className="cell num">
        {formatBytes(row.sizeBytes)}
      </span>
      <span role="cell" className="cell" title={row.problem ? `${row.problem.code}: ${row.problem.message}` : undefined}>
        <StatusBadge row={row} />
      </span>
      <span role="cell" className="cell" title={row.route?.reason}>
        {row.route ? (
          <>
            <span className="badge run">{row.route.tier}</span> {formatCost(row.route.estimatedCostUsd)}{' '}
            <span className="muted small">{row.route.reason}</span>
          </>
        ) : (
          '—'
        )}
      </span>
      <span role="cell" className="cell">
        {upload ? <UploadCell upload={upload} /> : <span className="muted small">not uploaded</span>}
      </span>
      <span role="cell" className="cell" onClick={(e) => e.stopPropagation()}>
        {row.fileId && onPriority && row.state !== 'problem' ? (
          <select
            aria-label={`Priority of ${row.name}`}
            data-priority-override={priority ?? ''}
            value={priority ?? ''}
            onChange={(e) => onPriority(row.fileId!, e.target.value === '' ? null : Number(e.target.value))}
          >
            <option value="">batch ({batchPriority})</option>
            {PRIORITIES.map((p) => (
              <option key={p} value={p}>
                {p} · {priorityLabel(p)}
              </option>
            ))}
          </select>
        ) : (
          <span className="muted small">—</span>
        )}
      </span>
    </div>
  );
});

function StatusBadge({ row }: { row: UploadRow }) {
  if (row.state === 'problem') return <span className="badge bad">{row.problem?.code ?? 'PROBLEM'}</span>;
  if (row.state === 'ready') return <span className="badge ok">ready</span>;
  return (
    <span className="badge">
      <span className="spinner" /> {row.state === 'staging' ? 'copying' : 'probing'}
    </span>
  );
}

function UploadCell({ upload }: { upload: UploadItem }) {
  const ratio = upload.totalBytes > 0 ? upload.loadedBytes / upload.totalBytes : upload.state === 'done' ? 1 : 0;
  return (
    <span
      title={upload.error ? `${upload.error.code}: ${upload.error.message}` : `${upload.state}${upload.resumed ? ' (resumed)' : ''}`}
      data-upload-state={upload.state}
      data-resumed={upload.resumed}
    >
      <ProgressBar value={ratio} label={`Upload of ${upload.name}`} tone={upload.state === 'done' ? 'ok' : upload.state === 'failed' ? 'bad' : undefined} />
      <span className="small muted">{upload.state}</span>
    </span>
  );
}
