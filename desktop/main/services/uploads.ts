import { mkdirSync } from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import pLimit from 'p-limit';
import { z } from 'zod';
import { UploadItemSchema, type UploadItem, type UploadState, type UploadTotals } from '../../../shared/common/api-contract.ts';
import { TiercastError, toTiercastError } from '../../../shared/common/errors.ts';
import { writeFileAtomicSync } from '../../../shared/node/atomic-file.ts';
import type { Logger } from '../../../shared/node/log.ts';
import type { ObjectStore } from '../../../shared/node/object-store.ts';

/**
 * Uploads of the operator's files to the configured store: bounded concurrency (p-limit), per-file and total
 * progress, pause / resume / cancel / retry, and resumption after a restart.
 *
 * Resumption rides on ObjectStore.putFile, which continues an interrupted upload of the same file to the same key
 * (the local store appends to its temporary copy, S3 continues its multipart upload). This manager only has to
 * remember what was being uploaded: its state lives in `<uploads dir>/uploads.json`, rewritten atomically on every
 * state change (and at most every second for progress). On start-up, uploads that were queued or running when the
 * console stopped are queued again; paused ones stay paused.
 */

export interface UploadSource {
  readonly fileId: string;
  readonly path: string;
  readonly name: string;
  readonly sizeBytes: number;
}

export interface UploadManager {
  start(sources: readonly UploadSource[]): UploadItem[];
  pause(ids?: readonly string[]): void;
  resume(ids?: readonly string[]): void;
  cancel(ids: readonly string[]): void;
  retry(ids: readonly string[]): void;
  list(): { uploads: UploadItem[]; totals: UploadTotals };
  get(fileId: string): UploadItem | undefined;
  /** Resolves when the upload of this file is done (or rejects when it fails, is cancelled or paused). */
  whenDone(fileId: string): Promise<UploadItem>;
  /** Stops running uploads without changing their recorded state, so the next start resumes them. */
  close(): Promise<void>;
}

export interface UploadManagerOptions {
  readonly store: () => ObjectStore;
  /** homePaths().uploads */
  readonly stateDir: string;
  readonly concurrency?: number;
  readonly onChange?: (changed: UploadItem[], totals: UploadTotals) => void;
  readonly log?: Pick<Logger, 'warn' | 'error' | 'info'>;
  /** Re-queue uploads that were running when the last session ended (default true). */
  readonly resumeOnStart?: boolean;
  /** Multipart part size passed to the store. */
  readonly partSizeBytes?: number;
}

const MAX_LISTED = 20_000;

const StateSchema = z.object({ version: z.literal(1), uploads: z.array(UploadItemSchema) });

/** Keys never contain the operator's raw name: only characters every store and file system accepts. */
export function uploadKey(fileId: string, name: string): string {
  const safe = name
    .normalize('NFC')
    .replace(/[^A-Za-z0-9._ -]+/g, '_')
    .replace(/^[.\s-]+/, '')
    .slice(-160)
    .trim();
  return `inputs/${fileId}/${safe || 'input'}`;
}

const now = () => new Date().toISOString();

export async function createUploadManager(options: UploadManagerOptions): Promise<UploadManager> {
  const concurrency = options.concurrency ?? 3;
  const limit = pLimit(concurrency);
  const stateFile = path.join(options.stateDir, 'uploads.json');
  const items = new Map<string, UploadItem>();
  const running = new Map<string, AbortController>();
  const waiters = new Map<string, Array<{ resolve: (u: UploadItem) => void; reject: (e: unknown) => void }>>();
  const changed = new Set<string>();
  let closed = false;

  // Restore.
  await fsp.mkdir(options.stateDir, { recursive: true });
  try {
    const parsed = StateSchema.safeParse(JSON.parse(await fsp.readFile(stateFile, 'utf8')));
    // Finished and cancelled uploads of earlier sessions are history, not work: only what can still move is kept.
    if (parsed.success) for (const u of parsed.data.uploads) if (u.state !== 'done' && u.state !== 'cancelled') items.set(u.fileId, u);
    else options.log?.warn({ file: stateFile }, 'upload state unreadable; starting with none');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') options.log?.warn({ err, file: stateFile }, 'upload state unreadable; starting with none');
  }

  // Persistence: whole file, atomically; synchronous so close() and crashes leave a consistent file.
  let persistTimer: NodeJS.Timeout | null = null;
  function persistNow(): void {
    if (persistTimer) clearTimeout(persistTimer);
    persistTimer = null;
    mkdirSync(options.stateDir, { recursive: true });
    writeFileAtomicSync(stateFile, JSON.stringify({ version: 1, uploads: [...items.values()] }));
  }
  function persistSoon(): void {
    persistTimer ??= setTimeout(() => {
      persistTimer = null;
      try {
        persistNow();
      } catch (err) {
        options.log?.error({ err }, 'cannot save upload state');
      }
    }, 1000);
    persistTimer.unref?.();
  }

  // Change notifications: batched (at most ten a second), so 5,000 small uploads are not 10,000 messages.
  let notifyTimer: NodeJS.Timeout | null = null;
  function notify(id: string): void {
    changed.add(id);
    notifyTimer ??= setTimeout(flush, 100);
    notifyTimer.unref?.();
  }
  function flush(): void {
    if (notifyTimer) clearTimeout(notifyTimer);
    notifyTimer = null;
    if (changed.size === 0) return;
    const list = [...changed].map((id) => items.get(id)).filter((u): u is UploadItem => u !== undefined);
    changed.clear();
    const t = totals();
    for (let i = 0; i < list.length; i += 5000) options.onChange?.(list.slice(i, i + 5000), t);
  }

  /**
   * Changes are announced within 100 ms and saved within a second (one whole-file write per second however many
   * files change, so thousands of small uploads do not mean thousands of synchronous writes). What a restart needs,
   * the queued/running set, is saved at once by start() and close().
   */
  function set(id: string, patch: Partial<UploadItem>): UploadItem {
    const prev = items.get(id)!;
    const next = { ...prev, ...patch, updatedAt: now() };
    items.set(id, next);
    persistSoon();
    notify(id);
    if (next.state === 'done' || next.state === 'failed' || next.state === 'cancelled' || next.state === 'paused') settle(next);
    return next;
  }

  function settle(u: UploadItem): void {
    const list = waiters.get(u.fileId);
    if (!list) return;
    waiters.delete(u.fileId);
    for (const w of list) {
      if (u.state === 'done') w.resolve(u);
      else w.reject(u.error ? new TiercastError(u.error.code, u.error.message) : new TiercastError('CANCELLED', `upload of ${u.name} ${u.state}`));
    }
  }

  function totals(): UploadTotals {
    const t: UploadTotals = { loadedBytes: 0, totalBytes: 0, queued: 0, uploading: 0, paused: 0, done: 0, failed: 0, cancelled: 0, concurrency };
    for (const u of items.values()) {
      t[u.state] += 1;
      if (u.state !== 'cancelled') {
        t.loadedBytes += u.loadedBytes;
        t.totalBytes += u.totalBytes;
      }
    }
    return t;
  }

  function schedule(id: string): void {
    void limit(() => run(id));
  }

  async function run(id: string): Promise<void> {
    const start = items.get(id);
    // Paused or cancelled while waiting for a slot: nothing to do.
    if (!start || start.state !== 'queued' || closed) return;
    const controller = new AbortController();
    running.set(id, controller);
    let u = set(id, { state: 'uploading', attempts: start.attempts + 1, error: null });
    try {
      const st = await fsp.stat(u.path).catch((err) => {
        throw new TiercastError('INPUT_NOT_FOUND', `${u.name}: the file is gone (${(err as NodeJS.ErrnoException).code ?? err})`, { cause: err });
      });
      if (st.size !== u.totalBytes) u = set(id, { totalBytes: st.size, loadedBytes: 0 });
      const result = await options.store().putFile(u.key, u.path, {
        signal: controller.signal,
        ...(options.partSizeBytes ? { partSizeBytes: options.partSizeBytes } : {}),
        onProgress: (p) => {
          const cur = items.get(id);
          if (cur?.state === 'uploading') set(id, { loadedBytes: Math.min(p.loaded, cur.totalBytes) });
        },
      });
      set(id, { state: 'done', loadedBytes: result.size, totalBytes: result.size, resumed: result.resumed === true });
    } catch (err) {
      const reason = controller.signal.aborted ? controller.signal.reason : undefined;
      if (reason === 'paused' || reason === 'cancelled' || reason === 'shutdown') {
        // State was set by pause()/cancel(); on shutdown it stays "uploading" so the next start resumes it.
        return;
      }
      const e = toTiercastError(err, 'STORE_ERROR');
      options.log?.warn({ fileId: id, code: e.code, err: e.message }, 'upload failed');
      set(id, { state: 'failed', error: { code: e.code, message: e.message.slice(0, 4000) } });
    } finally {
      running.delete(id);
    }
  }

  function idsOr(ids: readonly string[] | undefined): string[] {
    return ids ? ids.filter((id) => items.has(id)) : [...items.keys()];
  }

  function stop(id: string, reason: 'paused' | 'cancelled' | 'shutdown'): void {
    running.get(id)?.abort(reason);
  }

  const manager: UploadManager = {
    start(sources) {
      const out: UploadItem[] = [];
      for (const s of sources) {
        const existing = items.get(s.fileId);
        if (existing && existing.state !== 'cancelled' && existing.state !== 'failed') {
          out.push(existing);
          continue;
        }
        items.set(s.fileId, {
          fileId: s.fileId,
          name: s.name,
          path: s.path,
          key: existing?.key ?? uploadKey(s.fileId, s.name),
          state: 'queued',
          loadedBytes: 0,
          totalBytes: s.sizeBytes,
          resumed: false,
          attempts: existing?.attempts ?? 0,
          error: null,
          updatedAt: now(),
        });
        notify(s.fileId);
        out.push(items.get(s.fileId)!);
      }
      persistNow();
      for (const u of out) if (u.state === 'queued') schedule(u.fileId);
      return out.map((u) => items.get(u.fileId)!);
    },
    pause(ids) {
      for (const id of idsOr(ids)) {
        const u = items.get(id)!;
        if (u.state === 'queued' || u.state === 'uploading') {
          set(id, { state: 'paused' });
          stop(id, 'paused');
        }
      }
    },
    resume(ids) {
      for (const id of idsOr(ids)) {
        if (items.get(id)!.state === 'paused') {
          set(id, { state: 'queued' });
          schedule(id);
        }
      }
    },
    cancel(ids) {
      for (const id of idsOr(ids)) {
        const u = items.get(id)!;
        if (u.state !== 'done' && u.state !== 'cancelled') {
          set(id, { state: 'cancelled', loadedBytes: 0 });
          stop(id, 'cancelled');
        }
      }
    },
    retry(ids) {
      for (const id of idsOr(ids)) {
        const u = items.get(id)!;
        if (u.state === 'failed' || u.state === 'cancelled') {
          set(id, { state: 'queued', error: null, loadedBytes: 0 });
          schedule(id);
        }
      }
    },
    list() {
      // The contract bounds one answer; the most recently changed come first when there are more.
      const all = [...items.values()];
      const uploads = all.length <= MAX_LISTED ? all : all.sort((a, b) => (a.updatedAt < b.updatedAt ? 1 : -1)).slice(0, MAX_LISTED);
      return { uploads, totals: totals() };
    },
    get: (id) => items.get(id),
    whenDone(id) {
      const u = items.get(id);
      if (!u) return Promise.reject(new TiercastError('INPUT_NOT_FOUND', `no upload for file ${id}`));
      if (u.state === 'done') return Promise.resolve(u);
      if (u.state !== 'queued' && u.state !== 'uploading') {
        return Promise.reject(u.error ? new TiercastError(u.error.code, u.error.message) : new TiercastError('CANCELLED', `upload of ${u.name} is ${u.state}`));
      }
      return new Promise((resolve, reject) => {
        const list = waiters.get(id) ?? [];
        list.push({ resolve, reject });
        waiters.set(id, list);
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      limit.clearQueue();
      const active = [...running.keys()];
      for (const id of active) stop(id, 'shutdown');
      // Let aborted putFile calls unwind (they keep their partial data for the resume).
      const deadline = Date.now() + 5000;
      while (running.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      flush();
      persistNow();
    },
  };

  // Resume what the previous session left running or queued.
  const toResume = [...items.values()].filter((u) => u.state === 'uploading' || u.state === 'queued');
  for (const u of toResume) items.set(u.fileId, { ...u, state: 'queued' });
  if (toResume.length) persistNow();
  if (options.resumeOnStart !== false) for (const u of toResume) schedule(u.fileId);
  return manager;
}

export type { UploadState };
