import type { StateCreator } from 'zustand';
import type {
  ApiErrorBody,
  EventPayload,
  FileItem,
  MediaSummary,
  RouteSummary,
  UploadItem,
  UploadTotals,
} from '../../../../../../shared/common/api-contract.ts';
import { toUiError, type UiError } from '../../../shared/errors.ts';
import type { ConsoleServices } from '../../../services/api.ts';
import { mapLimit } from '../../../shared/concurrency.ts';

/** One line of the upload table: a server FileItem, or a file still being copied to the console (web only). */
export interface UploadRow {
  readonly key: string;
  readonly fileId: string | null;
  readonly name: string;
  readonly relativeDir: string;
  readonly sizeBytes: number;
  readonly state: 'staging' | FileItem['state'];
  readonly media: MediaSummary | null;
  readonly problem: ApiErrorBody | null;
  readonly route: RouteSummary | null;
}

/** A file the operator picked or dropped, with the folder it came from ('' for a loose file). */
export interface PickedFile {
  readonly file: File;
  readonly relativeDir: string;
}

export interface UploadState {
  readonly rows: readonly UploadRow[];
  /** row key -> position in rows, so a batch of 5,000 updates stays linear. */
  readonly index: Readonly<Record<string, number>>;
  readonly selected: Readonly<Record<string, true>>;
  readonly uploads: Readonly<Record<string, UploadItem>>;
  readonly totals: UploadTotals | null;
  readonly pendingProbes: number;
  readonly staging: { readonly total: number; readonly done: number; readonly failed: number };
  readonly rejected: readonly { readonly path: string; readonly error: ApiErrorBody }[];
  readonly loading: boolean;
  readonly error: UiError | null;
  /** The batch's job priority, 1 (lowest) to 10; sent with the dispatch. */
  readonly priority: number;
  /** Per-file overrides of the batch priority (file id -> 1..10). */
  readonly priorities: Readonly<Record<string, number>>;
}

/** A job's priority when nothing else says (shared/common/job.ts). */
export const DEFAULT_PRIORITY = 5;
const clampPriority = (p: number) => Math.min(10, Math.max(1, Math.round(p)));

export interface UploadActions {
  init(): Promise<void>;
  addPicked(files: readonly PickedFile[]): Promise<void>;
  addPaths(paths: readonly string[]): Promise<void>;
  /** Electron: dropped files and folders as paths (the main process walks folders); false when they have none. */
  addDroppedPaths(dropped: readonly File[]): boolean;
  applyFilesUpdated(payload: EventPayload<'files.updated'>): void;
  applyUploads(payload: { uploads: readonly UploadItem[]; totals: UploadTotals }, replace?: boolean): void;
  setSelected(ids: readonly string[], selected: boolean): void;
  selectOnly(ids: readonly string[]): void;
  selectAllReady(): void;
  clearSelection(): void;
  removeSelected(): Promise<void>;
  startUploads(ids?: readonly string[]): Promise<void>;
  pauseUploads(ids?: readonly string[]): Promise<void>;
  resumeUploads(ids?: readonly string[]): Promise<void>;
  cancelUploads(ids: readonly string[]): Promise<void>;
  retryUploads(ids: readonly string[]): Promise<void>;
  setBatchPriority(priority: number): void;
  /** null: the file follows the batch again. */
  setFilePriority(fileId: string, priority: number | null): void;
  dismissError(): void;
}

export interface UploadSlice {
  upload: UploadState;
  uploadActions: UploadActions;
}

export const initialUploadState: UploadState = {
  rows: [],
  index: {},
  selected: {},
  uploads: {},
  totals: null,
  pendingProbes: 0,
  staging: { total: 0, done: 0, failed: 0 },
  rejected: [],
  loading: false,
  error: null,
  priority: DEFAULT_PRIORITY,
  priorities: {},
};

/** Paths per files.add call: big enough to be few calls, small enough that the first rows come back fast. */
export const ADD_BATCH = 500;
/** Files copied to the console at once (web transport). */
export const STAGE_CONCURRENCY = 4;

export function rowFromItem(item: FileItem): UploadRow {
  return {
    key: item.id,
    fileId: item.id,
    name: item.name,
    relativeDir: item.relativeDir,
    sizeBytes: item.sizeBytes,
    state: item.state,
    media: item.media,
    problem: item.problem,
    route: item.route,
  };
}

function indexOf(rows: readonly UploadRow[]): Record<string, number> {
  const index: Record<string, number> = {};
  rows.forEach((r, i) => {
    index[r.key] = i;
  });
  return index;
}

let stagingCounter = 0;

export function createUploadSlice(services: ConsoleServices): StateCreator<UploadSlice, [], [], UploadSlice> {
  return (set, get) => {
    const patch = (p: Partial<UploadState>) => set((s) => ({ upload: { ...s.upload, ...p } }));
    const fail = (err: unknown) => patch({ error: toUiError(err) });

    /** Server items replace the rows they came from (staging keys) or existing rows with the same id, else append. */
    const upsert = (items: readonly FileItem[], replaceKeys: readonly (string | undefined)[] = [], removedIds: readonly string[] = []) => {
      set((s) => {
        const rows = s.upload.rows.slice();
        const index = { ...s.upload.index };
        items.forEach((item, i) => {
          let row = rowFromItem(item);
          const at = index[item.id] ?? (replaceKeys[i] !== undefined ? index[replaceKeys[i]!] : undefined);
          // A staged copy lives in a flat staging folder: the folder it came from is what the browser told us.
          if (at !== undefined && !row.relativeDir && rows[at]!.relativeDir) row = { ...row, relativeDir: rows[at]!.relativeDir };
          if (at !== undefined) {
            if (rows[at]!.key !== row.key) delete index[rows[at]!.key];
            rows[at] = row;
            index[row.key] = at;
          } else {
            index[row.key] = rows.length;
            rows.push(row);
          }
        });
        const removeSet = new Set(removedIds);
        // A staged file whose server item id already existed leaves its staging row behind: drop it.
        for (const k of replaceKeys) if (k !== undefined && index[k] !== undefined && rows[index[k]!]!.state === 'staging') removeSet.add(k);
        let next = rows;
        let nextIndex = index;
        let selected = s.upload.selected;
        if (removeSet.size) {
          next = rows.filter((r) => !removeSet.has(r.key));
          nextIndex = indexOf(next);
          selected = { ...selected };
          for (const id of removeSet) delete (selected as Record<string, true>)[id];
        }
        return { upload: { ...s.upload, rows: next, index: nextIndex, selected } };
      });
    };

    const addPathBatch = async (paths: readonly string[], stagingKeys?: readonly string[]) => {
      const res = await services.api['files.add']({ paths: [...paths] });
      const keyByPath = new Map<string, string>();
      if (stagingKeys) paths.forEach((p, i) => keyByPath.set(p, stagingKeys[i]!));
      upsert(res.items, res.items.map((it) => keyByPath.get(it.path)));
      const orphaned = stagingKeys ? res.rejected.map((r) => keyByPath.get(r.path)).filter((k): k is string => !!k) : [];
      if (orphaned.length) markStagingFailed(orphaned, res.rejected.map((r) => r.error));
      if (res.rejected.length) patch({ rejected: [...get().upload.rejected, ...res.rejected].slice(-200) });
    };

    const markStagingFailed = (keys: readonly string[], errors: readonly ApiErrorBody[]) => {
      set((s) => {
        const rows = s.upload.rows.slice();
        keys.forEach((k, i) => {
          const at = s.upload.index[k];
          if (at !== undefined) rows[at] = { ...rows[at]!, state: 'problem', problem: errors[i] ?? errors[0] ?? null };
        });
        return { upload: { ...s.upload, rows } };
      });
    };

    const call = async (fn: () => Promise<{ uploads: UploadItem[]; totals: UploadTotals }>, replace = false) => {
      try {
        get().uploadActions.applyUploads(await fn(), replace);
      } catch (err) {
        fail(err);
      }
    };

    const readyIds = (ids?: readonly string[]) =>
      (ids ?? Object.keys(get().upload.selected)).filter((id) => {
        const at = get().upload.index[id];
        return at !== undefined && get().upload.rows[at]!.state === 'ready';
      });

    return {
      upload: initialUploadState,
      uploadActions: {
        async init() {
          patch({ loading: true, error: null });
          try {
            const [files, uploads] = await Promise.all([services.api['files.list']({}), services.api['uploads.list']({})]);
            const rows = files.items.map(rowFromItem);
            patch({
              rows,
              index: indexOf(rows),
              pendingProbes: files.items.filter((f) => f.state === 'probing').length,
              loading: false,
            });
            get().uploadActions.applyUploads(uploads, true);
          } catch (err) {
            patch({ loading: false, error: toUiError(err) });
          }
        },

        async addPaths(paths) {
          patch({ error: null });
          try {
            for (let i = 0; i < paths.length; i += ADD_BATCH) await addPathBatch(paths.slice(i, i + ADD_BATCH));
          } catch (err) {
            fail(err);
          }
        },

        addDroppedPaths(dropped) {
          const paths = dropped.map((f) => services.pathForFile(f));
          if (!paths.length || !paths.every((p): p is string => !!p)) return false;
          void get().uploadActions.addPaths(paths);
          return true;
        },

        async addPicked(files) {
          if (!files.length) return;
          patch({ error: null });
          // Electron gives real paths: the main process reads the files where they are.
          const paths = files.map((f) => services.pathForFile(f.file));
          if (paths.every((p): p is string => !!p)) return get().uploadActions.addPaths(paths);

          // Browser: show every file at once, then copy the bytes to the console a few at a time and add them
          // in batches as they land, so the first probes start while the rest is still copying.
          const keys = files.map(() => `staging-${++stagingCounter}`);
          set((s) => {
            const rows = s.upload.rows.slice();
            const index = { ...s.upload.index };
            files.forEach((f, i) => {
              index[keys[i]!] = rows.length;
              rows.push({
                key: keys[i]!,
                fileId: null,
                name: f.file.name,
                relativeDir: f.relativeDir,
                sizeBytes: f.file.size,
                state: 'staging',
                media: null,
                problem: null,
                route: null,
              });
            });
            const st = s.upload.staging;
            return { upload: { ...s.upload, rows, index, staging: { ...st, total: st.total + files.length } } };
          });

          let batch: { path: string; key: string }[] = [];
          let flushing: Promise<void> = Promise.resolve();
          let lastFlush = Date.now();
          const flush = () => {
            const b = batch;
            batch = [];
            lastFlush = Date.now();
            if (!b.length) return;
            flushing = flushing.then(() =>
              addPathBatch(b.map((x) => x.path), b.map((x) => x.key)).catch((err) => {
                markStagingFailed(b.map((x) => x.key), [toUiError(err)]);
                fail(err);
              }),
            );
          };
          await mapLimit(files, STAGE_CONCURRENCY, async (f, i) => {
            try {
              const path = await services.stageFile(f.file, f.relativeDir);
              batch.push({ path, key: keys[i]! });
              set((s) => ({ upload: { ...s.upload, staging: { ...s.upload.staging, done: s.upload.staging.done + 1 } } }));
              if (batch.length >= ADD_BATCH || Date.now() - lastFlush > 400) flush();
            } catch (err) {
              markStagingFailed([keys[i]!], [toUiError(err)]);
              set((s) => ({ upload: { ...s.upload, staging: { ...s.upload.staging, failed: s.upload.staging.failed + 1 } } }));
            }
          });
          flush();
          await flushing;
        },

        applyFilesUpdated(payload) {
          upsert(payload.items, [], payload.removedIds);
          patch({ pendingProbes: payload.pending });
        },

        applyUploads(payload, replace = false) {
          set((s) => {
            const uploads: Record<string, UploadItem> = replace ? {} : { ...s.upload.uploads };
            for (const u of payload.uploads) uploads[u.fileId] = u;
            return { upload: { ...s.upload, uploads, totals: payload.totals } };
          });
        },

        setSelected(ids, selected) {
          set((s) => {
            const next: Record<string, true> = { ...s.upload.selected };
            for (const id of ids) {
              if (selected) next[id] = true;
              else delete next[id];
            }
            return { upload: { ...s.upload, selected: next } };
          });
        },

        selectOnly(ids) {
          const next: Record<string, true> = {};
          for (const id of ids) next[id] = true;
          patch({ selected: next });
        },

        selectAllReady() {
          const next: Record<string, true> = {};
          for (const r of get().upload.rows) if (r.fileId && r.state === 'ready') next[r.fileId] = true;
          patch({ selected: next });
        },

        clearSelection() {
          patch({ selected: {} });
        },

        async removeSelected() {
          const ids = Object.keys(get().upload.selected);
          if (!ids.length) return;
          try {
            await services.api['files.remove']({ ids });
            upsert([], [], ids);
          } catch (err) {
            fail(err);
          }
        },

        async startUploads(ids) {
          const ready = readyIds(ids);
          if (!ready.length) return;
          await call(() => services.api['uploads.start']({ ids: ready }));
        },
        async pauseUploads(ids) {
          await call(() => services.api['uploads.pause'](ids ? { ids: [...ids] } : {}));
        },
        async resumeUploads(ids) {
          await call(() => services.api['uploads.resume'](ids ? { ids: [...ids] } : {}));
        },
        async cancelUploads(ids) {
          if (ids.length) await call(() => services.api['uploads.cancel']({ ids: [...ids] }));
        },
        async retryUploads(ids) {
          if (ids.length) await call(() => services.api['uploads.retry']({ ids: [...ids] }));
        },
        setBatchPriority(priority) {
          patch({ priority: clampPriority(priority) });
        },
        setFilePriority(fileId, priority) {
          const next = { ...get().upload.priorities };
          if (priority === null) delete next[fileId];
          else next[fileId] = clampPriority(priority);
          patch({ priorities: next });
        },
        dismissError() {
          patch({ error: null });
        },
      },
    };
  };
}
