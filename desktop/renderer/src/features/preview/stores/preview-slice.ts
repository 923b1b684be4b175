import type { StateCreator } from 'zustand';
import type { VideoCodec } from '../../../../../../shared/common/codecs.ts';
import type { ApiResponse, EventPayload, LadderSummary } from '../../../../../../shared/common/api-contract.ts';
import { LadderSchema, type Ladder } from '../../../../../../shared/common/ladder-schema.ts';
import { toUiError, type UiError } from '../../../shared/errors.ts';
import type { ConsoleServices } from '../../../services/api.ts';

export type PreviewResult = ApiResponse<'preview.run'>;
/** The picker's "Automatic" entry: a per-title ladder built from the default ladder for the chosen file. */
export const AUTO_LADDER = 'auto';

export type RungField = 'shortEdge' | 'videoBitrate' | 'maxrate' | 'bufsize';

export interface PreviewState {
  readonly ladders: readonly LadderSummary[];
  readonly ladderName: string;
  /** The ladder being edited (a copy of the picked one). */
  readonly draft: Ladder | null;
  /** Field errors of the draft, keyed `rungs.<i>.<field>` (zod issue paths). */
  readonly draftErrors: Readonly<Record<string, string>>;
  readonly dirty: boolean;
  readonly fileId: string | null;
  readonly startSec: number;
  readonly durationSec: number;
  readonly runId: string | null;
  readonly progress: EventPayload<'preview.progress'> | null;
  readonly result: PreviewResult | null;
  readonly running: boolean;
  readonly saving: boolean;
  readonly savedAs: string | null;
  readonly error: UiError | null;
}

export interface PreviewActions {
  loadLadders(): Promise<void>;
  pickLadder(name: string): Promise<void>;
  setFile(fileId: string | null): void;
  setWindow(startSec: number, durationSec: number): void;
  editRung(index: number, field: RungField, value: number): void;
  /** A rung's codec family (H.264, HEVC, AV1): the preview then scores each family's rungs. */
  setRungCodec(index: number, codec: VideoCodec): void;
  addRung(): void;
  removeRung(index: number): void;
  run(): Promise<void>;
  cancel(): Promise<void>;
  saveAs(name: string): Promise<void>;
  applyProgress(p: EventPayload<'preview.progress'>): void;
  dismissError(): void;
}

export interface PreviewSlice {
  preview: PreviewState;
  previewActions: PreviewActions;
}

export const initialPreviewState: PreviewState = {
  ladders: [],
  ladderName: '',
  draft: null,
  draftErrors: {},
  dirty: false,
  fileId: null,
  startSec: 0,
  durationSec: 2,
  runId: null,
  progress: null,
  result: null,
  running: false,
  saving: false,
  savedAs: null,
  error: null,
};

/** Validation of an edited ladder with the contract's own schema, as inline field errors. */
export function validateLadder(ladder: unknown): { ladder: Ladder | null; errors: Record<string, string> } {
  const parsed = LadderSchema.safeParse(ladder);
  if (parsed.success) return { ladder: parsed.data, errors: {} };
  const errors: Record<string, string> = {};
  for (const issue of parsed.error.issues) {
    const key = issue.path.join('.');
    errors[key] ??= issue.message;
  }
  return { ladder: null, errors };
}

let runCounter = 0;

export function createPreviewSlice(services: ConsoleServices): StateCreator<PreviewSlice, [], [], PreviewSlice> {
  return (set, get) => {
    const patch = (p: Partial<PreviewState>) => set((s) => ({ preview: { ...s.preview, ...p } }));
    const editDraft = (fn: (l: Ladder) => Ladder) => {
      const draft = get().preview.draft;
      if (!draft) return;
      const next = fn(draft);
      patch({ draft: next, draftErrors: validateLadder(next).errors, dirty: true, savedAs: null });
    };
    return {
      preview: initialPreviewState,
      previewActions: {
        async loadLadders() {
          try {
            const res = await services.api['ladders.list']({});
            patch({ ladders: res.ladders });
            if (!get().preview.draft) await get().previewActions.pickLadder(res.defaultLadder);
          } catch (err) {
            patch({ error: toUiError(err) });
          }
        },
        async pickLadder(name) {
          patch({ ladderName: name });
          try {
            // Automatic edits and sends its base ladder (the default); the main process builds the rungs per file.
            const res = await services.api['ladders.get']({ name: name === AUTO_LADDER ? 'default' : name });
            if (get().preview.ladderName === name) patch({ draft: res.ladder, draftErrors: {}, dirty: false, savedAs: null });
          } catch (err) {
            patch({ error: toUiError(err) });
          }
        },
        setFile(fileId) {
          patch({ fileId, result: null });
        },
        setWindow(startSec, durationSec) {
          patch({ startSec: Math.max(0, startSec), durationSec: Math.min(30, Math.max(0.5, durationSec)) });
        },
        editRung(index, field, value) {
          editDraft((l) => ({ ...l, rungs: l.rungs.map((r, i) => (i === index ? { ...r, [field]: value } : r)) }));
        },
        setRungCodec(index, codec) {
          editDraft((l) => ({ ...l, rungs: l.rungs.map((r, i) => (i === index ? { ...r, codec } : r)) }));
        },
        addRung() {
          editDraft((l) => {
            const last = l.rungs[l.rungs.length - 1];
            const shortEdge = Math.max(144, Math.round(((last?.shortEdge ?? 480) * 0.75) / 2) * 2);
            const videoBitrate = Math.max(100_000, Math.round((last?.videoBitrate ?? 1_000_000) * 0.6));
            return {
              ...l,
              rungs: [
                ...l.rungs,
                { name: `${shortEdge}p`, shortEdge, videoBitrate, maxrate: Math.round(videoBitrate * 1.1), bufsize: Math.round(videoBitrate * 1.5), profile: 'main', maxFps: last?.maxFps ?? null, codec: last?.codec ?? 'h264' },
              ],
            };
          });
        },
        removeRung(index) {
          editDraft((l) => ({ ...l, rungs: l.rungs.filter((_, i) => i !== index) }));
        },
        async run() {
          const { draft, fileId, startSec, durationSec, ladderName } = get().preview;
          if (!draft || !fileId) return;
          const checked = validateLadder(draft);
          if (!checked.ladder) return patch({ draftErrors: checked.errors });
          const runId = `preview-${Date.now().toString(36)}-${++runCounter}`;
          patch({ runId, running: true, error: null, progress: null });
          try {
            const auto = ladderName === AUTO_LADDER ? { auto: true } : {};
            const result = await services.api['preview.run']({ runId, fileId, ladder: checked.ladder, ...auto, startSec, durationSec });
            if (get().preview.runId === runId) patch({ result, running: false });
          } catch (err) {
            if (get().preview.runId === runId) patch({ running: false, error: toUiError(err) });
          }
        },
        async cancel() {
          const runId = get().preview.runId;
          if (!runId || !get().preview.running) return;
          try {
            await services.api['preview.cancel']({ runId });
          } catch (err) {
            patch({ error: toUiError(err) });
          }
        },
        async saveAs(name) {
          const draft = get().preview.draft;
          if (!draft) return;
          const checked = validateLadder({ ...draft, name });
          if (!checked.ladder) return patch({ draftErrors: checked.errors });
          patch({ saving: true, error: null });
          try {
            const res = await services.api['ladders.save']({ ladder: checked.ladder });
            const list = await services.api['ladders.list']({});
            patch({ saving: false, savedAs: res.ladder.name, ladders: list.ladders, ladderName: res.ladder.name, draft: res.ladder, dirty: false });
          } catch (err) {
            patch({ saving: false, error: toUiError(err) });
          }
        },
        applyProgress(p) {
          if (p.runId === get().preview.runId) patch({ progress: p });
        },
        dismissError() {
          patch({ error: null });
        },
      },
    };
  };
}
