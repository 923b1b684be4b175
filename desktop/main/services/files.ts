import { randomBytes } from 'node:crypto';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pLimit from 'p-limit';
import type { ApiErrorBody, FileItem, MediaSummary, RouteSummary } from '../../../shared/common/api-contract.ts';
import { TiercastError, toTiercastError } from '../../../shared/common/errors.ts';
import type { MediaInfo } from '../../../shared/common/media.ts';
import type { Logger } from '../../../shared/node/log.ts';

/**
 * The files the operator added: folders walked, each file probed and routed. files.add answers at once; probing
 * runs behind a small p-limit (ffprobe is a process per file, and the machine has other work), and results go out
 * in batches on `files.updated` (at most every 150 ms or 250 files), so adding 5,000 files never blocks the event
 * loop or floods the renderer. A file that is empty, too large, not a video or unreadable is flagged with a
 * problem and left out; it never stops the others.
 */

export const MAX_FILES_PER_ADD = 20_000;
/** What files.list may answer (the contract's bound): past it, adds are truncated until files are removed. */
export const MAX_FILES = 100_000;

export interface FileRegistryOptions {
  readonly probe: (file: string, options: { signal?: AbortSignal }) => Promise<MediaInfo>;
  /** Routing for a probed file; may throw (the file stays ready with no route). */
  readonly route: (input: { sizeBytes: number; media: MediaInfo; name: string }) => Promise<RouteSummary> | RouteSummary;
  readonly maxInputBytes: () => number;
  readonly concurrency?: number;
  readonly onUpdate: (update: { items: FileItem[]; removedIds: string[]; pending: number }) => void;
  readonly log?: Pick<Logger, 'warn'>;
}

export interface FileRegistry {
  add(paths: readonly string[], options?: { relativeBase?: string }): Promise<{ items: FileItem[]; rejected: { path: string; error: ApiErrorBody }[]; truncated: boolean }>;
  list(): FileItem[];
  get(id: string): FileItem | undefined;
  media(id: string): MediaInfo | undefined;
  remove(ids: readonly string[]): number;
  reroute(ids?: readonly string[]): Promise<FileItem[]>;
  /** Resolves once nothing is being probed (tests, dispatch of just-added files). */
  idle(): Promise<void>;
  close(): void;
}

export function summarizeMedia(info: MediaInfo): MediaSummary {
  const v = info.video!;
  return {
    container: info.container.slice(0, 128),
    durationSec: info.durationSec,
    width: v.displayWidth,
    height: v.displayHeight,
    fps: Number.isFinite(v.fps) ? v.fps : 0,
    videoCodec: v.codec.slice(0, 64),
    audioCodec: info.audio[0]?.codec.slice(0, 64) ?? null,
    bitrate: info.bitrate,
    colorTransfer: v.colorTransfer,
    interlaced: v.interlaced,
    bitDepth: v.bitDepth,
    warnings: info.warnings.slice(0, 50).map((w) => w.slice(0, 500)),
  };
}

const errorBody = (err: unknown): ApiErrorBody => {
  const e = toTiercastError(err);
  return { code: e.code, message: e.message.slice(0, 4000) };
};

function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v >= 10 || i === 0 ? 0 : 1)} ${units[i]}`;
}

export function createFileRegistry(options: FileRegistryOptions): FileRegistry {
  const items = new Map<string, FileItem>();
  const byPath = new Map<string, string>();
  const infos = new Map<string, MediaInfo>();
  const limit = pLimit(options.concurrency ?? Math.max(1, Math.min(4, os.availableParallelism() - 1)));
  const controller = new AbortController();
  let pending = 0;
  const idleWaiters: Array<() => void> = [];
  const changed = new Map<string, FileItem>();
  const removed = new Set<string>();
  let timer: NodeJS.Timeout | null = null;

  function flush(): void {
    if (timer) clearTimeout(timer);
    timer = null;
    if (changed.size === 0 && removed.size === 0) return;
    const update = { items: [...changed.values()], removedIds: [...removed], pending };
    changed.clear();
    removed.clear();
    options.onUpdate(update);
  }
  function changedItem(item: FileItem): void {
    changed.set(item.id, item);
    if (changed.size >= 250) flush();
    else {
      timer ??= setTimeout(flush, 150);
      timer.unref?.();
    }
  }

  function set(id: string, patch: Partial<FileItem>): FileItem | undefined {
    const prev = items.get(id);
    if (!prev) return undefined;
    const next = { ...prev, ...patch };
    items.set(id, next);
    changedItem(next);
    return next;
  }

  async function routeOf(id: string): Promise<void> {
    const item = items.get(id);
    const info = infos.get(id);
    if (!item || !info) return;
    try {
      const route = await options.route({ sizeBytes: item.sizeBytes, media: info, name: item.name });
      set(id, { route });
    } catch (err) {
      options.log?.warn({ fileId: id, err: (err as Error).message }, 'routing failed');
      set(id, { route: null });
    }
  }

  async function probeOne(id: string): Promise<void> {
    try {
      const item = items.get(id);
      if (!item || item.state !== 'probing' || controller.signal.aborted) return;
      try {
        const info = await options.probe(item.path, { signal: controller.signal });
        if (!info.video) throw new TiercastError('NO_VIDEO_STREAM', `${item.name}: no video stream`);
        if (!items.has(id)) return;
        infos.set(id, info);
        set(id, { state: 'ready', media: summarizeMedia(info), problem: null });
        await routeOf(id);
      } catch (err) {
        if (controller.signal.aborted) return;
        set(id, { state: 'problem', problem: errorBody(err), media: null, route: null });
      }
    } finally {
      pending -= 1;
      if (pending === 0) {
        flush();
        for (const w of idleWaiters.splice(0)) w();
      }
    }
  }

  /** Regular files under `p` (itself when a file); symlinked folders are not followed (no loops). */
  async function* walk(p: string): AsyncGenerator<string> {
    let entries;
    try {
      entries = await fsp.readdir(p, { withFileTypes: true });
    } catch {
      return;
    }
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const full = path.join(p, e.name);
      if (e.isDirectory()) yield* walk(full);
      else if (e.isFile() || e.isSymbolicLink()) yield full;
    }
  }

  function newItem(file: string, base: string, sizeBytes: number): FileItem {
    const id = `f${randomBytes(8).toString('hex')}`;
    const rel = path.relative(base, path.dirname(file));
    const item: FileItem = {
      id,
      path: file,
      name: path.basename(file),
      relativeDir: rel.startsWith('..') ? '' : rel.split(path.sep).join('/'),
      sizeBytes,
      state: 'probing',
      media: null,
      problem: null,
      route: null,
      addedAt: new Date().toISOString(),
    };
    const max = options.maxInputBytes();
    if (sizeBytes === 0) {
      Object.assign(item, { state: 'problem', problem: { code: 'INPUT_EMPTY', message: `${item.name}: the file is empty (0 bytes)` } });
    } else if (sizeBytes > max) {
      Object.assign(item, {
        state: 'problem',
        problem: { code: 'INPUT_TOO_LARGE', message: `${item.name}: ${formatBytes(sizeBytes)} is over the ${formatBytes(max)} limit (Settings > thresholds)` },
      });
    }
    return item;
  }

  return {
    async add(paths, addOptions = {}) {
      const added: FileItem[] = [];
      const rejected: { path: string; error: ApiErrorBody }[] = [];
      let truncated = false;
      const full = () => added.length >= MAX_FILES_PER_ADD || items.size >= MAX_FILES;
      const take = async (file: string, base: string, size?: number) => {
        const abs = path.resolve(file);
        const known = byPath.get(abs);
        if (known && items.has(known)) {
          added.push(items.get(known)!);
          return;
        }
        let sizeBytes = size;
        if (sizeBytes === undefined) {
          const st = await fsp.stat(abs).catch(() => null);
          if (!st?.isFile()) return;
          sizeBytes = st.size;
        }
        const item = newItem(abs, base, sizeBytes);
        items.set(item.id, item);
        byPath.set(abs, item.id);
        added.push(item);
        if (item.state === 'probing') {
          pending += 1;
          void limit(() => probeOne(item.id));
        }
      };
      for (const p of paths) {
        if (full()) {
          truncated = true;
          break;
        }
        const abs = path.resolve(p);
        const st = await fsp.stat(abs).catch((err: NodeJS.ErrnoException) => err);
        if (st instanceof Error) {
          rejected.push({
            path: p,
            error: { code: 'INPUT_NOT_FOUND', message: `${path.basename(p)}: ${st.code === 'ENOENT' ? 'no such file or folder' : `cannot be read (${st.code})`}` },
          });
          continue;
        }
        if (st.isDirectory()) {
          for await (const f of walk(abs)) {
            if (full()) {
              truncated = true;
              break;
            }
            await take(f, path.dirname(abs));
          }
        } else if (st.isFile()) {
          await take(abs, addOptions.relativeBase ?? path.dirname(abs), st.size);
        } else {
          rejected.push({ path: p, error: { code: 'UNSUPPORTED_INPUT', message: `${path.basename(p)}: not a regular file or folder` } });
        }
      }
      return { items: added, rejected, truncated };
    },
    list: () => [...items.values()],
    get: (id) => items.get(id),
    media: (id) => infos.get(id),
    remove(ids) {
      let n = 0;
      for (const id of ids) {
        const item = items.get(id);
        if (!item) continue;
        items.delete(id);
        infos.delete(id);
        byPath.delete(item.path);
        changed.delete(id);
        removed.add(id);
        n++;
      }
      if (n) flush();
      return n;
    },
    async reroute(ids) {
      const targets = (ids ?? [...items.keys()]).filter((id) => items.get(id)?.state === 'ready');
      for (const id of targets) await routeOf(id);
      flush();
      return targets.map((id) => items.get(id)!);
    },
    idle() {
      if (pending === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    close() {
      controller.abort('closing');
      limit.clearQueue();
      if (timer) clearTimeout(timer);
    },
  };
}
