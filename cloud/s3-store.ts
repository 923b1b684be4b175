import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pLimit from 'p-limit';
import pRetry from 'p-retry';
import { TiercastError } from '../shared/common/errors.ts';
import { writeFileAtomic } from '../shared/node/atomic-file.ts';
import { validateKey } from '../shared/node/local-store.ts';
import type { ObjectMeta, ObjectStore, PutOptions, PutResult } from '../shared/node/object-store.ts';

/**
 * The S3 object store. Streams go through lib-storage's Upload; files go through a resumable multipart upload of
 * our own whose upload id and completed parts are kept in a small JSON file under `resumeDir`, so an interrupted
 * large upload continues from ListParts instead of starting over.
 */

export interface S3ClientOptions {
  readonly region?: string;
  readonly endpoint?: string;
  readonly forcePathStyle?: boolean;
  /** Named profile; otherwise the SDK's default provider chain (environment, SSO, instance role ...). */
  readonly profile?: string;
  /** SDK attempts per request (its own retry); default the SDK's (3). */
  readonly maxAttempts?: number;
  /**
   * A connection that sends or receives nothing for this long is dropped, and the SDK retries the request
   * (default 120 s; the SDK's own default is no limit, so a half-dead connection could hang a job's download or
   * upload for ever). Connecting gets 10 s.
   */
  readonly socketTimeoutMs?: number;
}

export const DEFAULT_S3_SOCKET_TIMEOUT_MS = 120_000;

export function createS3Client(options: S3ClientOptions = {}): S3Client {
  return new S3Client({
    ...(options.region ? { region: options.region } : {}),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.forcePathStyle !== undefined ? { forcePathStyle: options.forcePathStyle } : {}),
    ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}),
    // Credentials are resolved by the SDK's default chain (for this profile when set) when needed and never pass
    // through Tiercast's own objects or logs.
    ...(options.profile ? { profile: options.profile } : {}),
    // Only send/check checksums where S3 requires them: S3-compatible servers (s3rver, MinIO versions) reject the
    // SDK's default CRC32 trailers, and multipart parts carry Content-MD5-free ETags either way.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { connectionTimeout: 10_000, socketTimeout: options.socketTimeoutMs ?? DEFAULT_S3_SOCKET_TIMEOUT_MS },
  });
}

export interface S3StoreOptions {
  readonly client: S3Client;
  readonly bucket: string;
  /** Key prefix inside the bucket (e.g. `tiercast/`); keys of this store are relative to it. */
  readonly prefix?: string;
  /** Where resumable-upload state files live (e.g. homePaths().uploads). Without it, putFile cannot resume. */
  readonly resumeDir?: string;
  /** Default multipart part size (bytes, at least 5 MiB). Default 8 MiB. */
  readonly partSizeBytes?: number;
  /** Default parts in flight. Default 4. */
  readonly concurrency?: number;
  /** Retries of one part (on top of the SDK's own) on 5xx, SlowDown, throttling and network errors. Default 5. */
  readonly partRetries?: number;
  /** Backoff of the first retry in ms (doubles each time). Default 250. */
  readonly retryMinTimeoutMs?: number;
}

const MiB = 1024 * 1024;
const MIN_PART = 5 * MiB;
const MAX_PARTS = 10_000;

interface ResumeState {
  readonly version: 1;
  readonly bucket: string;
  readonly key: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly uploadId: string;
  readonly partSize: number;
  readonly createdAt: string;
  parts: { PartNumber: number; ETag: string; Size: number }[];
}

export function createS3Store(options: S3StoreOptions): ObjectStore {
  const { client, bucket } = options;
  const base = normalizePrefix(options.prefix ?? '');
  const defaultPartSize = Math.max(options.partSizeBytes ?? 8 * MiB, MIN_PART);
  const defaultConcurrency = Math.max(1, options.concurrency ?? 4);
  const partRetries = options.partRetries ?? 5;
  const retryMinTimeout = options.retryMinTimeoutMs ?? 250;
  let swept = false;

  const full = (key: string) => {
    validateKey(key);
    return base + key;
  };
  const fullPrefix = (prefix: string) => {
    if (prefix !== '') validateKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
    return base + prefix;
  };
  const strip = (k: string) => k.slice(base.length);

  /** Retry one S3 request on what S3 says is transient. */
  function withRetry<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return pRetry(fn, {
      retries: partRetries,
      minTimeout: retryMinTimeout,
      factor: 2,
      maxTimeout: 10_000,
      randomize: true,
      ...(signal ? { signal } : {}),
      shouldRetry: ({ error }) => !signal?.aborted && isTransient(error),
    });
  }

  async function singlePut(fullKey: string, body: Buffer, options: PutOptions): Promise<PutResult> {
    const out = await withRetry(
      () =>
        client.send(
          new PutObjectCommand({ Bucket: bucket, Key: fullKey, Body: body, ContentLength: body.length, ContentType: options.contentType }),
          { abortSignal: options.signal },
        ),
      options.signal,
    );
    options.onProgress?.({ loaded: body.length, total: body.length });
    return { key: strip(fullKey), size: body.length, etag: out.ETag };
  }

  async function readState(file: string, expect: Pick<ResumeState, 'bucket' | 'key' | 'size' | 'mtimeMs'>): Promise<ResumeState | null> {
    try {
      const s = JSON.parse(await fsp.readFile(file, 'utf8')) as ResumeState;
      const ok =
        s.version === 1 && s.bucket === expect.bucket && s.key === expect.key && s.size === expect.size && s.mtimeMs === expect.mtimeMs &&
        typeof s.uploadId === 'string' && Number.isInteger(s.partSize) && s.partSize >= MIN_PART && Array.isArray(s.parts);
      return ok ? s : null;
    } catch {
      return null;
    }
  }

  async function writeState(file: string, state: ResumeState): Promise<void> {
    await fsp.mkdir(path.dirname(file), { recursive: true });
    await writeFileAtomic(file, JSON.stringify(state));
  }

  async function listAllParts(fullKey: string, uploadId: string, signal?: AbortSignal) {
    const parts: { PartNumber: number; ETag: string; Size: number }[] = [];
    let marker: string | undefined;
    for (;;) {
      const page = await client.send(
        new ListPartsCommand({ Bucket: bucket, Key: fullKey, UploadId: uploadId, PartNumberMarker: marker }),
        { abortSignal: signal },
      );
      for (const p of page.Parts ?? []) {
        if (p.PartNumber !== undefined && p.ETag && p.Size !== undefined) parts.push({ PartNumber: p.PartNumber, ETag: p.ETag, Size: p.Size });
      }
      if (!page.IsTruncated || page.NextPartNumberMarker === undefined) return parts;
      marker = String(page.NextPartNumberMarker);
    }
  }

  async function multipartFile(fullKey: string, filePath: string, size: number, mtimeMs: number, opts: PutOptions): Promise<PutResult> {
    const stateFile = options.resumeDir
      ? path.join(options.resumeDir, `${createHash('sha256').update(`${bucket}\0${fullKey}\0${size}\0${mtimeMs}`).digest('hex').slice(0, 32)}.json`)
      : undefined;
    const signal = opts.signal;
    if (options.resumeDir && !swept) {
      swept = true;
      await sweepStaleState(options.resumeDir);
    }
    let state = stateFile ? await readState(stateFile, { bucket, key: fullKey, size, mtimeMs }) : null;
    const done = new Map<number, { ETag: string; Size: number }>();
    let resumed = false;

    const expectedSize = (partSize: number, n: number) => Math.min(partSize, size - (n - 1) * partSize);

    if (state) {
      try {
        // ListParts, not the state file, is the truth about what S3 holds.
        for (const p of await listAllParts(fullKey, state.uploadId, signal)) {
          if (p.Size === expectedSize(state.partSize, p.PartNumber)) done.set(p.PartNumber, { ETag: p.ETag, Size: p.Size });
        }
        resumed = true;
      } catch (err) {
        if (signal?.aborted) throw mapS3Error(err, `resume ${fullKey}`, signal);
        if (!isNotFound(err)) throw mapS3Error(err, `list parts of ${fullKey}`);
        state = null; // the upload expired or was aborted: start over
      }
    }
    if (!state) {
      const created = await withRetry(
        () => client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: fullKey, ContentType: opts.contentType }), { abortSignal: signal }),
        signal,
      ).catch((err: unknown) => {
        throw mapS3Error(err, `start upload of ${fullKey}`, signal);
      });
      const partSize = Math.max(opts.partSizeBytes ?? defaultPartSize, MIN_PART, Math.ceil(size / MAX_PARTS));
      state = {
        version: 1, bucket, key: fullKey, size, mtimeMs, uploadId: created.UploadId!, partSize, createdAt: new Date().toISOString(), parts: [],
      };
      if (stateFile) await writeState(stateFile, state);
    }
    const st = state;
    const partCount = Math.max(1, Math.ceil(size / st.partSize));
    let loaded = [...done.values()].reduce((a, p) => a + p.Size, 0);
    opts.onProgress?.({ loaded, total: size });

    // One controller for all parts: a fatal error stops the others, and so does the caller's signal.
    const internal = new AbortController();
    const onAbort = () => internal.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    let firstError: unknown;
    let saving = Promise.resolve();
    const saveState = () => {
      if (!stateFile) return;
      st.parts = [...done.entries()].map(([PartNumber, p]) => ({ PartNumber, ...p })).sort((a, b) => a.PartNumber - b.PartNumber);
      const snapshot = { ...st, parts: [...st.parts] };
      saving = saving.then(() => writeState(stateFile, snapshot)).catch(() => undefined);
    };

    const handle = await fsp.open(filePath, 'r');
    try {
      const concurrency = Math.max(1, opts.concurrency ?? defaultConcurrency);
      const limit = pLimit(concurrency);
      // One buffer per slot, reused part after part: memory stays partSize x concurrency and the GC is not fed
      // a fresh buffer per part (bench/upload.bench.ts, 500 MB: peak RSS 190 MiB with fresh buffers, 130 with the pool).
      const pool: Buffer[] = [];
      const missing = Array.from({ length: partCount }, (_, i) => i + 1).filter((n) => !done.has(n));
      await Promise.allSettled(
        missing.map((n) =>
          limit(async () => {
            if (internal.signal.aborted) return;
            const length = expectedSize(st.partSize, n);
            // Parts are read into memory (partSize x concurrency at most) so a retry can resend the same bytes.
            const slot = pool.pop() ?? Buffer.allocUnsafe(st.partSize);
            const body = slot.subarray(0, length);
            try {
              const { bytesRead } = await handle.read(body, 0, length, (n - 1) * st.partSize);
              if (bytesRead !== length) throw new TiercastError('STORE_ERROR', `${filePath} changed while uploading (short read of part ${n})`);
              const out = await withRetry(
                () =>
                  client.send(
                    new UploadPartCommand({ Bucket: bucket, Key: fullKey, UploadId: st.uploadId, PartNumber: n, Body: body, ContentLength: length }),
                    { abortSignal: internal.signal },
                  ),
                internal.signal,
              );
              done.set(n, { ETag: out.ETag!, Size: length });
              loaded += length;
              opts.onProgress?.({ loaded, total: size });
              saveState();
            } catch (err) {
              if (firstError === undefined && !internal.signal.aborted) firstError = err;
              internal.abort(err);
            } finally {
              if (pool.length < concurrency) pool.push(slot);
            }
          }).catch((err: unknown) => {
            if (firstError === undefined) firstError = err;
            internal.abort(err);
          }),
        ),
      );
    } finally {
      signal?.removeEventListener('abort', onAbort);
      await handle.close();
      await saving;
    }

    if (signal?.aborted) {
      // Keep the multipart upload and the state file: the next putFile of the same file resumes from here.
      throw new TiercastError('CANCELLED', `upload of ${fullKey} cancelled after ${done.size}/${partCount} parts (resumable)`, {
        cause: signal.reason,
        details: { uploadId: st.uploadId, partsDone: done.size, partCount },
      });
    }
    if (firstError !== undefined || done.size !== partCount) {
      await abortUpload(fullKey, st.uploadId, stateFile);
      throw mapS3Error(firstError ?? new Error(`only ${done.size}/${partCount} parts uploaded`), `upload ${fullKey}`);
    }

    const parts: CompletedPart[] = [...done.entries()].sort((a, b) => a[0] - b[0]).map(([PartNumber, p]) => ({ PartNumber, ETag: p.ETag }));
    let etag: string | undefined;
    try {
      const out = await withRetry(
        () =>
          client.send(
            new CompleteMultipartUploadCommand({ Bucket: bucket, Key: fullKey, UploadId: st.uploadId, MultipartUpload: { Parts: parts } }),
            { abortSignal: signal },
          ),
        signal,
      );
      etag = out.ETag;
    } catch (err) {
      if (!signal?.aborted && !isTransient(err)) await abortUpload(fullKey, st.uploadId, stateFile);
      throw mapS3Error(err, `complete upload of ${fullKey}`, signal);
    }
    if (stateFile) await fsp.rm(stateFile, { force: true });
    return { key: strip(fullKey), size, etag, resumed };
  }

  async function abortUpload(fullKey: string, uploadId: string, stateFile: string | undefined): Promise<void> {
    if (stateFile) await fsp.rm(stateFile, { force: true }).catch(() => undefined);
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: fullKey, UploadId: uploadId })).catch(() => undefined);
  }

  async function* listPages(prefix: string, extra: { Delimiter?: string; StartAfter?: string; MaxKeys?: number }) {
    let token: string | undefined;
    do {
      const page = await client
        .send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token, ...extra, ...(token ? { StartAfter: undefined } : {}) }))
        .catch((err: unknown) => {
          throw mapS3Error(err, `list ${prefix}`);
        });
      yield page;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  const store: ObjectStore = {
    kind: 's3',
    location: `s3://${bucket}/${base}`,

    async put(key, body, opts = {}) {
      const fullKey = full(key);
      if (typeof body === 'string' || Buffer.isBuffer(body) || body instanceof Uint8Array) {
        const buf = typeof body === 'string' ? Buffer.from(body) : Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
        if (buf.length <= Math.max(opts.partSizeBytes ?? defaultPartSize, MIN_PART)) {
          return singlePut(fullKey, buf, opts).catch((err: unknown) => {
            throw mapS3Error(err, `put ${key}`, opts.signal);
          });
        }
      }
      const controller = new AbortController();
      const onAbort = () => controller.abort(opts.signal?.reason);
      if (opts.signal?.aborted) throw new TiercastError('CANCELLED', `put ${key}: cancelled`);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      const upload = new Upload({
        client,
        params: { Bucket: bucket, Key: fullKey, Body: body, ContentType: opts.contentType },
        partSize: Math.max(opts.partSizeBytes ?? defaultPartSize, MIN_PART),
        queueSize: Math.max(1, opts.concurrency ?? defaultConcurrency),
        leavePartsOnError: false,
        abortController: controller,
      });
      let loaded = 0;
      upload.on('httpUploadProgress', (p) => {
        loaded = p.loaded ?? loaded;
        opts.onProgress?.({ loaded, total: p.total });
      });
      try {
        const out = await upload.done();
        const meta = await store.head(key);
        return { key, size: meta?.size ?? loaded, etag: out.ETag };
      } catch (err) {
        throw mapS3Error(err, `put ${key}`, opts.signal);
      } finally {
        opts.signal?.removeEventListener('abort', onAbort);
      }
    },

    async putFile(key, filePath, opts = {}) {
      const fullKey = full(key);
      let st;
      try {
        st = await fsp.stat(filePath);
      } catch (err) {
        throw new TiercastError('INPUT_NOT_FOUND', `cannot read ${filePath}`, { cause: err });
      }
      const partSize = Math.max(opts.partSizeBytes ?? defaultPartSize, MIN_PART);
      if (st.size <= partSize) {
        const buf = await fsp.readFile(filePath);
        return singlePut(fullKey, buf, opts).catch((err: unknown) => {
          throw mapS3Error(err, `put ${key}`, opts.signal);
        });
      }
      return multipartFile(fullKey, filePath, st.size, st.mtimeMs, opts);
    },

    async get(key, opts = {}) {
      const range = opts.range;
      if (range && (range.start < 0 || (range.end !== undefined && range.end < range.start))) {
        throw new TiercastError('STORE_ERROR', `invalid range ${range.start}-${range.end ?? ''} for ${key}`);
      }
      try {
        const out = await client.send(
          new GetObjectCommand({ Bucket: bucket, Key: full(key), Range: range ? `bytes=${range.start}-${range.end ?? ''}` : undefined }),
          { abortSignal: opts.signal },
        );
        return out.Body as Readable;
      } catch (err) {
        throw mapS3Error(err, `get ${key}`, opts.signal);
      }
    },

    async getBuffer(key, opts = {}) {
      try {
        const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: full(key) }), { abortSignal: opts.signal });
        return Buffer.from(await out.Body!.transformToByteArray());
      } catch (err) {
        throw mapS3Error(err, `get ${key}`, opts.signal);
      }
    },

    async getFile(key, filePath, opts = {}) {
      const temp = path.join(path.dirname(filePath), `.~tc.${path.basename(filePath)}.${randomBytes(6).toString('hex')}`);
      try {
        const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: full(key) }), { abortSignal: opts.signal });
        const total = out.ContentLength;
        await fsp.mkdir(path.dirname(filePath), { recursive: true });
        let loaded = 0;
        let last = 0;
        const counter = new Transform({
          transform(chunk: Buffer, _e, cb) {
            loaded += chunk.length;
            if (opts.onProgress && loaded - last >= 256 * 1024) {
              last = loaded;
              opts.onProgress({ loaded, total });
            }
            cb(null, chunk);
          },
        });
        await pipeline(out.Body as Readable, counter, createWriteStream(temp), { signal: opts.signal });
        if (total !== undefined && loaded !== total) throw new TiercastError('STORE_ERROR', `download of ${key} ended after ${loaded} of ${total} bytes`);
        opts.onProgress?.({ loaded, total: loaded });
        await fsp.rename(temp, filePath);
        return { key, size: loaded, lastModified: out.LastModified ?? new Date(), etag: out.ETag, contentType: out.ContentType };
      } catch (err) {
        await fsp.rm(temp, { force: true }).catch(() => undefined);
        throw mapS3Error(err, `get ${key} to ${filePath}`, opts.signal);
      }
    },

    async head(key) {
      try {
        const out = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: full(key) }));
        return { key, size: out.ContentLength ?? 0, lastModified: out.LastModified ?? new Date(0), etag: out.ETag, contentType: out.ContentType };
      } catch (err) {
        if (isNotFound(err)) return null;
        throw mapS3Error(err, `head ${key}`);
      }
    },

    async *list(prefix, opts = {}) {
      const p = fullPrefix(prefix);
      for await (const page of listPages(p, {
        ...(opts.startAfter !== undefined ? { StartAfter: base + opts.startAfter } : {}),
        ...(opts.pageSize ? { MaxKeys: opts.pageSize } : {}),
      })) {
        for (const o of page.Contents ?? []) {
          if (!o.Key) continue;
          const meta: ObjectMeta = { key: strip(o.Key), size: o.Size ?? 0, lastModified: o.LastModified ?? new Date(0), etag: o.ETag };
          yield meta;
        }
      }
    },

    async *listPrefixes(prefix) {
      for await (const page of listPages(fullPrefix(prefix), { Delimiter: '/' })) {
        for (const cp of page.CommonPrefixes ?? []) if (cp.Prefix) yield strip(cp.Prefix);
      }
    },

    async delete(key) {
      try {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: full(key) }));
      } catch (err) {
        if (isNotFound(err)) return;
        throw mapS3Error(err, `delete ${key}`);
      }
    },

    async deletePrefix(prefix) {
      let count = 0;
      let batch: string[] = [];
      const flush = async () => {
        if (batch.length === 0) return;
        const keys = batch;
        batch = [];
        const out = await client
          .send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }))
          .catch((err: unknown) => {
            throw mapS3Error(err, `delete under ${prefix}`);
          });
        if (out.Errors && out.Errors.length > 0) {
          const e = out.Errors[0]!;
          throw new TiercastError('STORE_ERROR', `delete under ${prefix}: ${out.Errors.length} keys failed (${e.Key}: ${e.Code} ${e.Message ?? ''})`);
        }
        count += keys.length;
      };
      // Continuation tokens carry the last key seen, so deleting earlier keys does not disturb the listing.
      for await (const page of listPages(fullPrefix(prefix), {})) {
        for (const o of page.Contents ?? []) {
          if (!o.Key) continue;
          batch.push(o.Key);
          if (batch.length === 1000) await flush();
        }
      }
      await flush();
      return count;
    },

    async copy(fromKey, toKey) {
      const source = `${bucket}/${full(fromKey)}`.split('/').map(encodeURIComponent).join('/');
      try {
        // CopyObject handles objects up to 5 GB; Tiercast copies outputs and manifests, far below that.
        await client.send(new CopyObjectCommand({ Bucket: bucket, Key: full(toKey), CopySource: source }));
      } catch (err) {
        throw mapS3Error(err, `copy ${fromKey} to ${toKey}`);
      }
    },
  };
  return store;
}

/**
 * State of uploads nobody resumed within a week goes: by then the bucket's lifecycle rule has aborted the upload
 * (the stack sets 7 days), so ListParts would only answer NoSuchUpload.
 */
export const RESUME_STATE_MAX_AGE_MS = 7 * 24 * 3600 * 1000;

async function sweepStaleState(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return;
  }
  const cutoff = Date.now() - RESUME_STATE_MAX_AGE_MS;
  for (const name of names) {
    if (!/^[0-9a-f]{32}\.json(\.[0-9a-f]+\.tmp)?$/.test(name)) continue;
    const file = path.join(dir, name);
    const st = await fsp.stat(file).catch(() => null);
    if (st && st.mtimeMs < cutoff) await fsp.rm(file, { force: true }).catch(() => undefined);
  }
}

function normalizePrefix(prefix: string): string {
  if (prefix === '') return '';
  const p = prefix.replace(/^\/+/, '');
  return p.endsWith('/') ? p : `${p}/`;
}

interface SdkErrorShape {
  name?: string;
  Code?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

function s3CodeOf(err: unknown): { name: string; status: number | undefined } {
  const e = (err ?? {}) as SdkErrorShape;
  return { name: e.Code ?? e.name ?? '', status: e.$metadata?.httpStatusCode };
}

function isNotFound(err: unknown): boolean {
  const { name, status } = s3CodeOf(err);
  return status === 404 || name === 'NoSuchKey' || name === 'NotFound' || name === 'NoSuchUpload';
}

const TRANSIENT_NAMES = new Set([
  'SlowDown', 'Throttling', 'ThrottlingException', 'RequestTimeout', 'RequestTimeTooSkewed', 'InternalError', 'ServiceUnavailable',
  'TimeoutError', 'RequestTimeoutException', 'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT',
]);

/** 5xx, SlowDown/throttling and dropped connections: the same request may succeed if sent again. */
export function isTransient(err: unknown): boolean {
  if (err instanceof TiercastError) return false;
  const { name, status } = s3CodeOf(err);
  if (name === 'AbortError') return false;
  if (status !== undefined && (status >= 500 || status === 429)) return true;
  if (TRANSIENT_NAMES.has(name)) return true;
  const code = (err as { code?: string } | undefined)?.code;
  return code !== undefined && TRANSIENT_NAMES.has(code);
}

/** SDK errors to Tiercast's: the S3 code and HTTP status stay in details, the SDK error in `cause`. */
export function mapS3Error(err: unknown, what: string, signal?: AbortSignal): TiercastError {
  if (err instanceof TiercastError) return err;
  const { name, status } = s3CodeOf(err);
  const message = err instanceof Error ? err.message : String(err);
  if (signal?.aborted || name === 'AbortError') return new TiercastError('CANCELLED', `${what}: cancelled`, { cause: err });
  const details = { s3Code: name || undefined, httpStatus: status };
  // A missing bucket is the configuration's fault, not a missing input: say which setting to fix.
  if (name === 'NoSuchBucket') {
    const bucket = (err as { BucketName?: string }).BucketName;
    return new TiercastError('STORE_ERROR', `${what}: the bucket ${bucket ? `${bucket} ` : ''}does not exist (check TIERCAST_BUCKET / store.bucket and the region)`, { cause: err, details });
  }
  if (isNotFound(err)) return new TiercastError('INPUT_NOT_FOUND', `${what}: not found (${name || status})`, { cause: err, details });
  return new TiercastError('STORE_ERROR', `${what}: ${name ? `${name}: ` : ''}${message}`, { cause: err, details });
}
