import { createHash, randomBytes } from 'node:crypto';
import { constants as fsConstants, createReadStream, createWriteStream, type Dirent } from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TiercastError } from '../common/errors.ts';
import { fsyncDir, fsyncFile } from './atomic-file.ts';
import type { GetOptions, ListOptions, ObjectMeta, ObjectStore, PutOptions, PutResult, TransferProgress } from './object-store.ts';

/**
 * The embedded default object store: one folder, keys are relative paths under it.
 *
 * - Writes go to a temporary file in the destination folder and are renamed into place, so a reader sees either the
 *   old object or the whole new one, never a partial one.
 * - Temporary names start with TEMP_MARK; listings skip them and keys may not use that segment prefix.
 * - putFile resumes: the temporary file of an interrupted copy is named after the source's path, size and mtime, so
 *   a second putFile of the unchanged file appends to what was already copied instead of starting over.
 * - Two processes copying the same file to the same key at once are not coordinated (within one process they
 *   are): the size check before the rename turns a clash into a STORE_ERROR rather than a corrupt object.
 * - A key cannot also be a "folder" of other keys (`a/b` and `a/b/c` cannot both exist, as they can in S3);
 *   writing the second fails with STORE_ERROR. The ledger's key layout never does this.
 * - Symbolic links are never followed: the store never makes one, so a link inside the root was planted (one under
 *   outputs/ served /etc/passwd through the console's media route). Reading, heading, copying or writing through one
 *   fails with FORBIDDEN; listings leave links out.
 */

const TEMP_MARK = '.~tc.';
/** Opens a file for reading without following a link in its last component (0 where the platform has no such flag). */
const READ_NOFOLLOW = fsConstants.O_RDONLY | (fsConstants.O_NOFOLLOW ?? 0);
/** Partial files being written by putFile in this process (across store instances). */
const activePartials = new Set<string>();
/** Progress callbacks at most this often (bytes), plus the final one. */
const PROGRESS_STEP = 256 * 1024;

export function createLocalStore(root: string): ObjectStore {
  const base = path.resolve(root);

  function fileOf(key: string): string {
    validateKey(key);
    return path.join(base, ...key.split('/'));
  }

  /**
   * The key's path after checking, with lstat from the root down, that no part of it is a symbolic link. A part that
   * does not exist ends the check (the caller then finds nothing, or creates real folders).
   */
  async function unlinkedPath(key: string): Promise<string> {
    const file = fileOf(key);
    let at = base;
    for (const segment of key.split('/')) {
      at = path.join(at, segment);
      let st;
      try {
        st = await fsp.lstat(at);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException | undefined)?.code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return file;
        throw storeError(`cannot stat ${key}`, err);
      }
      if (st.isSymbolicLink()) {
        throw new TiercastError('FORBIDDEN', `local store: ${key} is or lies under a symbolic link; the store never follows links`, { details: { key } });
      }
    }
    return file;
  }

  /** A read handle on the key's file, refusing links (see unlinkedPath; O_NOFOLLOW closes the gap to the open). */
  async function openForRead(key: string): Promise<fsp.FileHandle> {
    const file = await unlinkedPath(key);
    const handle = await fsp.open(file, READ_NOFOLLOW).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException | undefined)?.code === 'ELOOP') {
        throw new TiercastError('FORBIDDEN', `local store: ${key} is a symbolic link; the store never follows links`, { cause: err, details: { key } });
      }
      throw err;
    });
    const st = await handle.stat();
    if (!st.isFile()) {
      await handle.close();
      throw new TiercastError('INPUT_NOT_FOUND', `no object ${key}`);
    }
    return handle;
  }

  async function writeAtomically(
    key: string,
    write: (tempPath: string) => Promise<void>,
    tempPath?: string,
  ): Promise<string> {
    const dest = await unlinkedPath(key);
    await fsp.mkdir(path.dirname(dest), { recursive: true });
    const temp = tempPath ?? path.join(path.dirname(dest), `${TEMP_MARK}${path.basename(dest)}.${randomBytes(6).toString('hex')}`);
    try {
      await write(temp);
      await fsyncFile(temp); // the ledger's job.json and status.json live here: durable before they replace the old
      await fsp.rename(temp, dest);
      await fsyncDir(path.dirname(dest));
    } catch (err) {
      if (tempPath === undefined) await fsp.rm(temp, { force: true }).catch(() => undefined);
      throw err;
    }
    return dest;
  }

  async function pruneEmptyParents(file: string): Promise<void> {
    let dir = path.dirname(file);
    while (dir.startsWith(base + path.sep)) {
      try {
        await fsp.rmdir(dir);
      } catch {
        return; // not empty (or already gone): stop climbing
      }
      dir = path.dirname(dir);
    }
  }

  async function metaOf(key: string): Promise<ObjectMeta | null> {
    try {
      const st = await fsp.lstat(await unlinkedPath(key));
      if (!st.isFile()) return null;
      return { key, size: st.size, lastModified: st.mtime };
    } catch (err) {
      if (err instanceof TiercastError) throw err;
      if (isNotFound(err) || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
      throw storeError(`cannot stat ${key}`, err);
    }
  }

  /** Depth-first walk in key order: a directory's keys all start with `name/`, so sorting entries by that string keeps global order. */
  async function* walk(dirKey: string, prefix: string, startAfter: string | undefined): AsyncGenerator<ObjectMeta> {
    let entries: Dirent[];
    try {
      entries = await fsp.readdir(dirKey === '' ? base : path.join(base, ...dirKey.slice(0, -1).split('/')), { withFileTypes: true });
    } catch (err) {
      if (isNotFound(err) || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return;
      throw storeError(`cannot list ${dirKey || '/'}`, err);
    }
    const items = entries
      .filter((e) => !e.name.startsWith(TEMP_MARK) && (e.isFile() || e.isDirectory()))
      .map((e) => ({ key: dirKey + e.name + (e.isDirectory() ? '/' : ''), dir: e.isDirectory() }))
      .sort((a, b) => compareKeys(a.key, b.key));
    for (const item of items) {
      if (item.dir) {
        // Skip subtrees that cannot hold a key matching the prefix or after startAfter.
        if (!(item.key.startsWith(prefix) || prefix.startsWith(item.key))) continue;
        if (startAfter !== undefined && compareKeys(item.key, startAfter) < 0 && !startAfter.startsWith(item.key)) continue;
        yield* walk(item.key, prefix, startAfter);
      } else {
        if (!item.key.startsWith(prefix)) continue;
        if (startAfter !== undefined && compareKeys(item.key, startAfter) <= 0) continue;
        const meta = await metaOf(item.key);
        if (meta) yield meta;
      }
    }
  }

  const store: ObjectStore = {
    kind: 'local',
    location: base,

    async put(key, body, options = {}) {
      const dest = fileOf(key);
      const total = Buffer.isBuffer(body) || body instanceof Uint8Array ? body.byteLength : typeof body === 'string' ? Buffer.byteLength(body) : undefined;
      try {
        await writeAtomically(key, async (temp) => {
          const source = body instanceof Readable ? body : Readable.from([typeof body === 'string' ? Buffer.from(body) : Buffer.from(body)]);
          const counter = progressCounter(0, total, options.onProgress);
          await pipeline(source, counter, createWriteStream(temp), { signal: options.signal });
        });
      } catch (err) {
        throw mapError(err, `put ${key}`, options.signal, 'write');
      }
      const st = await fsp.stat(dest);
      return { key, size: st.size };
    },

    async putFile(key, filePath, options = {}) {
      const dest = fileOf(key);
      let src;
      try {
        src = await fsp.stat(filePath);
      } catch (err) {
        throw new TiercastError('INPUT_NOT_FOUND', `cannot read ${filePath}`, { cause: err });
      }
      // Same source path, size and mtime => same bytes (as far as a copy can tell), so a partial copy is reusable.
      const fingerprint = createHash('sha256').update(`${path.resolve(filePath)}\0${src.size}\0${src.mtimeMs}`).digest('hex').slice(0, 16);
      const resumable = path.join(path.dirname(dest), `${TEMP_MARK}${path.basename(dest)}.${fingerprint}.partial`);
      // Two copies of the same file to the same key at once must not append to one partial file: the second
      // (in this process) copies to a private temp name and does not resume.
      const temp = activePartials.has(resumable)
        ? path.join(path.dirname(dest), `${TEMP_MARK}${path.basename(dest)}.${randomBytes(6).toString('hex')}`)
        : resumable;
      activePartials.add(temp);
      let resumed = false;
      try {
        await writeAtomically(
          key,
          async () => {
            let offset = 0;
            try {
              const partial = await fsp.stat(temp);
              offset = partial.size <= src.size ? partial.size : 0;
            } catch {
              offset = 0;
            }
            resumed = offset > 0;
            options.onProgress?.({ loaded: offset, total: src.size });
            if (offset < src.size || offset === 0) {
              await pipeline(
                createReadStream(filePath, { start: offset }),
                progressCounter(offset, src.size, options.onProgress),
                createWriteStream(temp, { flags: offset > 0 ? 'a' : 'w' }),
                { signal: options.signal },
              );
            }
            const written = await fsp.stat(temp);
            if (written.size !== src.size) {
              await fsp.rm(temp, { force: true });
              throw new TiercastError('STORE_ERROR', `copy of ${filePath} to ${key} has ${written.size} bytes, expected ${src.size} (source changed while copying?)`);
            }
          },
          temp,
        );
      } catch (err) {
        // The partial temp file is kept on cancellation so the next putFile resumes; kept on other errors too,
        // because its name pins the source's size and mtime, so it is never reused for different content.
        if (temp !== resumable) await fsp.rm(temp, { force: true }).catch(() => undefined);
        throw mapError(err, `put ${key} from ${filePath}`, options.signal, 'write');
      } finally {
        activePartials.delete(temp);
      }
      return { key, size: src.size, resumed };
    },

    async get(key, options: GetOptions = {}) {
      let handle;
      try {
        handle = await openForRead(key);
      } catch (err) {
        throw mapError(err, `get ${key}`);
      }
      const st = await handle.stat();
      const range = options.range;
      if (range) {
        if (range.start < 0 || range.start >= st.size || (range.end !== undefined && range.end < range.start)) {
          await handle.close();
          throw new TiercastError('STORE_ERROR', `invalid range ${range.start}-${range.end ?? ''} for ${key} (${st.size} bytes)`);
        }
      }
      return handle.createReadStream({
        start: range?.start,
        end: range ? Math.min(range.end ?? st.size - 1, st.size - 1) : undefined,
        signal: options.signal,
        autoClose: true,
      });
    },

    async getBuffer(key) {
      let handle;
      try {
        handle = await openForRead(key);
        return await handle.readFile();
      } catch (err) {
        throw mapError(err, `get ${key}`);
      } finally {
        await handle?.close();
      }
    },

    async getFile(key, filePath, options = {}) {
      const meta = await metaOf(key);
      if (!meta) throw new TiercastError('INPUT_NOT_FOUND', `no object ${key}`);
      const temp = path.join(path.dirname(filePath), `${TEMP_MARK}${path.basename(filePath)}.${randomBytes(6).toString('hex')}`);
      try {
        await fsp.mkdir(path.dirname(filePath), { recursive: true });
        const handle = await openForRead(key);
        await pipeline(handle.createReadStream({ autoClose: true }), progressCounter(0, meta.size, options.onProgress), createWriteStream(temp), {
          signal: options.signal,
        });
        await fsp.rename(temp, filePath);
      } catch (err) {
        await fsp.rm(temp, { force: true }).catch(() => undefined);
        throw mapError(err, `get ${key} to ${filePath}`, options.signal);
      }
      return meta;
    },

    head: metaOf,

    async *list(prefix: string, options: ListOptions = {}) {
      validatePrefix(prefix);
      yield* walk('', prefix, options.startAfter);
    },

    async *listPrefixes(prefix: string) {
      validatePrefix(prefix);
      const slash = prefix.lastIndexOf('/');
      const dirKey = prefix.slice(0, slash + 1);
      let entries: Dirent[];
      try {
        entries = await fsp.readdir(dirKey === '' ? base : path.join(base, ...dirKey.slice(0, -1).split('/')), { withFileTypes: true });
      } catch (err) {
        if (isNotFound(err) || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return;
        throw storeError(`cannot list ${prefix}`, err);
      }
      const names = entries
        .filter((e) => e.isDirectory() && !e.name.startsWith(TEMP_MARK))
        .map((e) => `${dirKey}${e.name}/`)
        .filter((k) => k.startsWith(prefix))
        .sort(compareKeys);
      yield* names;
    },

    async delete(key) {
      const file = fileOf(key);
      try {
        await fsp.unlink(file);
      } catch (err) {
        if (isNotFound(err)) return; // S3 semantics: deleting a missing key succeeds
        throw storeError(`cannot delete ${key}`, err);
      }
      await pruneEmptyParents(file);
    },

    async deletePrefix(prefix) {
      // Collect first: deleting while walking would race the directory reads.
      const keys: string[] = [];
      for await (const meta of store.list(prefix)) keys.push(meta.key);
      for (const key of keys) await store.delete(key);
      return keys.length;
    },

    async copy(fromKey, toKey) {
      try {
        const from = await unlinkedPath(fromKey);
        await writeAtomically(toKey, (temp) => fsp.copyFile(from, temp));
      } catch (err) {
        throw mapError(err, `copy ${fromKey} to ${toKey}`, undefined, 'write');
      }
    },
  };
  return store;
}

/** Keys are `/`-separated relative paths; anything that could escape the root or alias another key is refused. */
export function validateKey(key: string): void {
  const bad = (why: string) => new TiercastError('STORE_ERROR', `invalid object key ${JSON.stringify(key)}: ${why}`);
  if (typeof key !== 'string' || key.length === 0) throw bad('empty');
  if (key.length > 1024) throw bad('longer than 1024 characters');
  if (key.includes('\\')) throw bad('backslash');
  if (key.includes('\0')) throw bad('NUL character');
  if (key.startsWith('/') || /^[A-Za-z]:/.test(key)) throw bad('absolute');
  for (const segment of key.split('/')) {
    if (segment === '') throw bad('empty segment');
    if (segment === '.' || segment === '..') throw bad('. or .. segment');
    if (segment.startsWith(TEMP_MARK)) throw bad(`segment starting with ${TEMP_MARK} is reserved`);
  }
}

function validatePrefix(prefix: string): void {
  if (prefix === '') return;
  // A prefix is a key with an optional trailing slash.
  validateKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
}

/** S3 orders keys by UTF-8 bytes; JS string comparison orders by UTF-16 units, which differs above U+FFFF. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function progressCounter(
  start: number,
  total: number | undefined,
  onProgress: ((p: TransferProgress) => void) | undefined,
): Transform {
  let loaded = start;
  let lastReported = start;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      loaded += chunk.length;
      if (onProgress && loaded - lastReported >= PROGRESS_STEP) {
        lastReported = loaded;
        onProgress({ loaded, total });
      }
      done(null, chunk);
    },
    flush(done) {
      onProgress?.({ loaded, total: total ?? loaded });
      done();
    },
  });
}

function isNotFound(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT';
}

function storeError(message: string, cause: unknown): TiercastError {
  return new TiercastError('STORE_ERROR', `local store: ${message}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
}

function mapError(err: unknown, what: string, signal?: AbortSignal, mode: 'read' | 'write' = 'read'): TiercastError {
  if (err instanceof TiercastError) return err;
  if (signal?.aborted || (err as Error | undefined)?.name === 'AbortError') {
    return new TiercastError('CANCELLED', `${what}: cancelled`, { cause: err });
  }
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (mode === 'write' && (code === 'EISDIR' || code === 'EEXIST' || code === 'ENOTDIR')) {
    return new TiercastError('STORE_ERROR', `${what}: the key and another key's folder collide (a local store cannot hold both a/b and a/b/c)`, { cause: err });
  }
  if (isNotFound(err) || code === 'EISDIR') {
    return new TiercastError('INPUT_NOT_FOUND', `${what}: no such object`, { cause: err });
  }
  return storeError(what, err);
}
