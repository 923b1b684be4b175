import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

/**
 * Crash-safe replacement of a small local file (config, saved ladders, upload state, work-folder owners, queue
 * bodies): write a temporary file in the same folder, fsync it, rename it over the target, fsync the folder. After a
 * crash or power cut the target holds the old bytes or the new ones, never a torn or empty file, and a completed
 * write is durable. write-file-atomic fsyncs the file but not the folder (so the rename itself can be lost), hence
 * this one helper; every local writer goes through it.
 *
 * Temporary names are `.<name>.tc-tmp-<pid>-<hex>`; a crash between write and rename leaves one behind, which
 * sweepStaleFiles (with isAtomicTemp) removes at start-up once it is older than any live write could be.
 */

const TEMP_RE = /^\..+\.tc-tmp-\d+-[0-9a-f]{8}$/;

export interface AtomicWriteOptions {
  /** File mode of a new file (e.g. 0o600 for the config). */
  readonly mode?: number;
}

export function isAtomicTemp(name: string): boolean {
  return TEMP_RE.test(name);
}

function tempFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.tc-tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** Folders cannot be opened for fsync on Windows (EPERM/EISDIR); there the rename is as durable as NTFS makes it. */
function ignorableDirSyncError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EPERM' || code === 'EISDIR' || code === 'EINVAL' || code === 'EBADF';
}

export async function fsyncDir(dir: string): Promise<void> {
  let handle;
  try {
    handle = await fsp.open(dir, 'r');
    await handle.sync();
  } catch (err) {
    if (!ignorableDirSyncError(err)) throw err;
  } finally {
    await handle?.close();
  }
}

/** fsync a file written by other means (a stream, a copy) before it is renamed into place. */
export async function fsyncFile(file: string): Promise<void> {
  const handle = await fsp.open(file, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function writeFileAtomic(file: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  const temp = tempFor(file);
  try {
    const handle = await fsp.open(temp, 'wx', options.mode ?? 0o666);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fsp.rename(temp, file);
  } catch (err) {
    await fsp.rm(temp, { force: true }).catch(() => undefined);
    throw err;
  }
  await fsyncDir(path.dirname(file));
}

/** The same for callers that must finish before returning control (state saved on exit, timers). */
export function writeFileAtomicSync(file: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): void {
  const temp = tempFor(file);
  try {
    const fd = openSync(temp, 'wx', options.mode ?? 0o666);
    try {
      writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, file);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
  let fd: number | undefined;
  try {
    fd = openSync(path.dirname(file), 'r');
    fsyncSync(fd);
  } catch (err) {
    if (!ignorableDirSyncError(err)) throw err;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export interface SweepOptions {
  /** Which entries are leftovers (by name). */
  readonly match: (name: string) => boolean;
  /** Only entries not modified for this long: a live writer touches its file far more often than that. */
  readonly olderThanMs: number;
  /** Descend into sub-folders (the local object store's key folders). */
  readonly recursive?: boolean;
  readonly now?: number;
}

/**
 * Removes leftovers of crashed writers under `dir` (files or folders whose name matches and whose mtime is older
 * than the threshold); returns the paths removed. A missing folder is nothing to sweep.
 */
export async function sweepStaleFiles(dir: string, options: SweepOptions): Promise<string[]> {
  const now = options.now ?? Date.now();
  const removed: string[] = [];
  let entries;
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return removed;
    throw err;
  }
  for (const entry of entries) {
    const p = path.join(dir, entry.name);
    if (options.match(entry.name)) {
      const st = await fsp.lstat(p).catch(() => null);
      if (st && now - st.mtimeMs >= options.olderThanMs) {
        await fsp.rm(p, { recursive: true, force: true });
        removed.push(p);
      }
    } else if (options.recursive && entry.isDirectory()) {
      removed.push(...(await sweepStaleFiles(p, options)));
    }
  }
  return removed;
}
