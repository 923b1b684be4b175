import { useEffect, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { formatDuration, formatElapsed } from '../../../shared/format.ts';
import { EmptyState, ErrorBanner, ProgressBar } from '../../../shared/components/feedback.tsx';
import { AUTO_LADDER } from '../stores/preview-slice.ts';
import { usePreview } from '../stores/use-preview.ts';
import { PerTitleChart } from './per-title-chart.tsx';
import { RungCard } from './rung-card.tsx';
import { RungEditor } from './rung-editor.tsx';

export interface PreviewFile {
  readonly id: string;
  readonly name: string;
  readonly durationSec: number | null;
}

export function PreviewScreen({ files }: { files: readonly PreviewFile[] }) {
  const s = usePreview(useShallow((st) => st.preview));
  const actions = usePreview((st) => st.previewActions);
  const [saveName, setSaveName] = useState('');

  useEffect(() => {
    void actions.loadLadders();
  }, [actions]);
  useEffect(() => {
    if (!s.fileId && files[0]) actions.setFile(files[0].id);
  }, [files, s.fileId, actions]);

  const file = files.find((f) => f.id === s.fileId) ?? null;
  const hasErrors = Object.keys(s.draftErrors).length > 0;

  return (
    <section className="screen" aria-labelledby="preview-title">
      <h1 id="preview-title">Ladder preview</h1>
      {s.error && <ErrorBanner error={s.error} onDismiss={actions.dismissError} />}
      {files.length === 0 ? (
        <EmptyState>Add files on the Upload screen first: a preview encodes a few seconds of one of them with every rung.</EmptyState>
      ) : (
        <form
          className="card toolbar"
          aria-label="Preview settings"
          onSubmit={(e) => {
            e.preventDefault();
            void actions.run();
          }}
        >
          <label className="field">
            File
            <select aria-label="File" value={s.fileId ?? ''} onChange={(e) => actions.setFile(e.target.value || null)}>
              {files.map((f) => (
                <option key={f.id} value={f.id}>
                  {f.name} ({formatDuration(f.durationSec)})
                </option>
              ))}
            </select>
          </label>
          <label className="field">
            Ladder
            <select aria-label="Ladder" value={s.ladderName} onChange={(e) => void actions.pickLadder(e.target.value)}>
              {s.ladders.map((l) => (
                <option key={l.name} value={l.name}>
                  {l.name}
                  {l.builtin ? '' : ' (saved)'}
                </option>
              ))}
              <option value={AUTO_LADDER}>Automatic (per-title)</option>
            </select>
          </label>
          <label className="field">
            Start (s)
            <input
              type="number"
              aria-label="Start (seconds)"
              min={0}
              step={0.5}
              max={file?.durationSec ?? undefined}
              value={s.startSec}
              onChange={(e) => actions.setWindow(Number(e.target.value), s.durationSec)}
            />
          </label>
          <label className="field">
            Length (s)
            <input
              type="number"
              aria-label="Window length (seconds)"
              min={0.5}
              max={30}
              step={0.5}
              value={s.durationSec}
              onChange={(e) => actions.setWindow(s.startSec, Number(e.target.value))}
            />
          </label>
          <span className="spacer" />
          {s.running ? (
            <button type="button" className="btn danger" onClick={() => void actions.cancel()}>
              Cancel
            </button>
          ) : (
            <button type="submit" className="btn primary" disabled={!s.draft || !s.fileId || hasErrors}>
              Run preview
            </button>
          )}
        </form>
      )}

      {s.running && (
        <div className="card" role="status" aria-live="polite">
          <div className="toolbar small">
            <span className="spinner" /> {s.progress ? `${s.progress.phase}${s.progress.rung ? ` ${s.progress.rung}` : ''}` : 'starting'}
          </div>
          <ProgressBar value={s.progress?.progress ?? 0} label="Preview progress" />
        </div>
      )}

      {s.draft && (
        <details className="card" open>
          <summary>
            <strong>Rungs of {s.draft.name}</strong> {s.dirty && <span className="badge warn">edited</span>}
            {s.savedAs && <span className="badge ok">saved as {s.savedAs}</span>}
          </summary>
          <RungEditor ladder={s.draft} errors={s.draftErrors} onEdit={actions.editRung} onCodec={actions.setRungCodec} onAdd={actions.addRung} onRemove={actions.removeRung} />
          <form
            className="toolbar"
            aria-label="Save ladder"
            onSubmit={(e) => {
              e.preventDefault();
              if (saveName.trim()) void actions.saveAs(saveName.trim());
            }}
          >
            <input type="text" aria-label="Ladder name" placeholder="name-for-this-ladder" value={saveName} pattern="[A-Za-z0-9_.\-]+" onChange={(e) => setSaveName(e.target.value)} />
            <button type="submit" className="btn" disabled={!saveName.trim() || s.saving || hasErrors}>
              {s.saving ? 'Saving…' : 'Save as ladder'}
            </button>
            {s.draftErrors.name && <span className="field-error">{s.draftErrors.name}</span>}
          </form>
        </details>
      )}

      {s.result && (
        <>
          <div className="toolbar small muted">
            Frame at {s.result.frameAtSec.toFixed(2)} s · source {s.result.source.width}×{s.result.source.height} · took {formatElapsed(s.result.elapsedSec)}
            {!s.result.vmafAvailable && ' · VMAF not available in this ffmpeg build'}
          </div>
          {s.result.perTitle && <PerTitleChart analysis={s.result.perTitle} />}
          {s.result.dropped.length > 0 && (
            <div className="banner info small">Left out: {s.result.dropped.map((d) => `${d.name} (${d.reason})`).join('; ')}</div>
          )}
          <div className="grid-2">
            {s.result.rungs.map((r) => (
              <RungCard key={r.name} rung={r} frameAtSec={s.result!.frameAtSec} />
            ))}
          </div>
        </>
      )}
    </section>
  );
}
