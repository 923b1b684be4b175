import { useCallback, useMemo, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { formatBytes, formatCost, priorityLabel } from '../../../shared/format.ts';
import { EmptyState, ErrorBanner, Loading, ProgressBar } from '../../../shared/components/feedback.tsx';
import { useUpload } from '../stores/use-upload.ts';
import { DropZone } from './drop-zone.tsx';
import { FileTable } from './file-table.tsx';

type Filter = 'all' | 'ready' | 'problem' | 'selected';

export function UploadScreen() {
  const { rows, selected, uploads, totals, pendingProbes, staging, loading, error, priority, priorities } = useUpload(
    useShallow((s) => ({
      rows: s.upload.rows,
      selected: s.upload.selected,
      uploads: s.upload.uploads,
      totals: s.upload.totals,
      pendingProbes: s.upload.pendingProbes,
      staging: s.upload.staging,
      loading: s.upload.loading,
      error: s.upload.error,
      priority: s.upload.priority,
      priorities: s.upload.priorities,
    })),
  );
  const actions = useUpload((s) => s.uploadActions);
  const [filter, setFilter] = useState<Filter>('all');
  const [text, setText] = useState('');

  const visible = useMemo(() => {
    const q = text.trim().toLowerCase();
    if (filter === 'all' && !q) return rows;
    return rows.filter(
      (r) =>
        (filter === 'all' || (filter === 'selected' ? !!r.fileId && selected[r.fileId] : r.state === filter)) &&
        (!q || r.name.toLowerCase().includes(q) || r.relativeDir.toLowerCase().includes(q)),
    );
  }, [rows, filter, text, selected]);

  const counts = useMemo(() => {
    let ready = 0;
    let problem = 0;
    let cost = 0;
    let bytes = 0;
    for (const r of rows) {
      if (r.state === 'ready') ready++;
      else if (r.state === 'problem') problem++;
      if (r.fileId && selected[r.fileId]) {
        cost += r.route?.estimatedCostUsd ?? 0;
        bytes += r.sizeBytes;
      }
    }
    return { ready, problem, cost, bytes };
  }, [rows, selected]);
  const selectedIds = useMemo(() => Object.keys(selected), [selected]);
  const priceDate = rows.find((r) => r.route?.priceDate)?.route?.priceDate ?? null;

  const onSelect = useCallback(
    (ids: readonly string[], mode: 'only' | 'add' | 'toggle') => {
      if (mode === 'only') actions.selectOnly(ids);
      else if (mode === 'add') actions.setSelected(ids, true);
      else for (const id of ids) actions.setSelected([id], !selected[id]);
    },
    [actions, selected],
  );

  const failedSel = selectedIds.filter((id) => uploads[id]?.state === 'failed' || uploads[id]?.state === 'cancelled');
  const activeSel = selectedIds.filter((id) => ['queued', 'uploading', 'paused'].includes(uploads[id]?.state ?? ''));

  return (
    <section className="screen" aria-labelledby="upload-title">
      <h1 id="upload-title">Upload</h1>
      <DropZone onFiles={(files) => void actions.addPicked(files)} onDropPaths={actions.addDroppedPaths} />
      {error && <ErrorBanner error={error} onDismiss={actions.dismissError} />}

      <div className="toolbar" role="toolbar" aria-label="File actions">
        <input type="search" placeholder="Filter by name…" aria-label="Filter files by name" value={text} onChange={(e) => setText(e.target.value)} />
        <select aria-label="Show" value={filter} onChange={(e) => setFilter(e.target.value as Filter)}>
          <option value="all">All ({rows.length})</option>
          <option value="ready">Ready ({counts.ready})</option>
          <option value="problem">Problems ({counts.problem})</option>
          <option value="selected">Selected ({selectedIds.length})</option>
        </select>
        <button type="button" className="btn" onClick={actions.selectAllReady} disabled={!counts.ready}>
          Select all ready
        </button>
        <button type="button" className="btn" onClick={actions.clearSelection} disabled={!selectedIds.length}>
          Clear selection
        </button>
        <button type="button" className="btn" onClick={() => void actions.removeSelected()} disabled={!selectedIds.length}>
          Remove
        </button>
        <label className="toolbar" title="Job priority of this batch, 1 (lowest) to 10; a file's own choice in the table wins">
          Priority
          <select aria-label="Batch priority" value={priority} onChange={(e) => actions.setBatchPriority(Number(e.target.value))}>
            {[1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((p) => (
              <option key={p} value={p}>
                {p} · {priorityLabel(p)}
              </option>
            ))}
          </select>
        </label>
        <span className="spacer" />
        <button type="button" className="btn primary" onClick={() => void actions.startUploads()} disabled={!selectedIds.length}>
          Upload {selectedIds.length ? selectedIds.length : ''}
        </button>
        <button type="button" className="btn" onClick={() => void actions.pauseUploads(activeSel.length ? activeSel : undefined)} disabled={!totals || !(totals.uploading + totals.queued)}>
          Pause
        </button>
        <button type="button" className="btn" onClick={() => void actions.resumeUploads(activeSel.length ? activeSel : undefined)} disabled={!totals?.paused}>
          Resume
        </button>
        <button type="button" className="btn danger" onClick={() => void actions.cancelUploads(activeSel)} disabled={!activeSel.length}>
          Cancel
        </button>
        <button type="button" className="btn" onClick={() => void actions.retryUploads(failedSel)} disabled={!failedSel.length}>
          Retry
        </button>
      </div>

      <div className="toolbar small muted" aria-live="polite">
        <span data-testid="file-count">
          {rows.length} files · {counts.ready} ready · {counts.problem} flagged
        </span>
        {pendingProbes > 0 && (
          <span>
            <span className="spinner" /> probing {pendingProbes}
          </span>
        )}
        {staging.total > staging.done + staging.failed && (
          <span>
            copying to the console {staging.done}/{staging.total}
          </span>
        )}
        {selectedIds.length > 0 && (
          <span>
            selected {selectedIds.length} · {formatBytes(counts.bytes)} · est. {formatCost(counts.cost, priceDate)}
          </span>
        )}
        <span className="spacer" />
        {totals && totals.totalBytes > 0 && (
          <span className="toolbar" style={{ minWidth: 320 }}>
            <span>
              Uploads {totals.done} done · {totals.uploading} of max {totals.concurrency} running · {totals.queued} queued
              {totals.paused ? ` · ${totals.paused} paused` : ''}
              {totals.failed ? ` · ${totals.failed} failed` : ''}
            </span>
            <span style={{ flex: 1, minWidth: 100 }}>
              <ProgressBar value={totals.loadedBytes / totals.totalBytes} label="Total upload progress" />
            </span>
            <span>
              {formatBytes(totals.loadedBytes)} / {formatBytes(totals.totalBytes)}
            </span>
          </span>
        )}
      </div>

      {loading ? (
        <Loading label="Loading files…" />
      ) : rows.length === 0 ? (
        <EmptyState>No files yet. Drop videos or folders above; each is probed and routed to a tier with an estimated cost.</EmptyState>
      ) : (
        <FileTable rows={visible} selected={selected} uploads={uploads} onSelect={onSelect} batchPriority={priority} priorities={priorities} onPriority={actions.setFilePriority} />
      )}
    </section>
  );
}
