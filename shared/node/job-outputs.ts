import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import pLimit from 'p-limit';
import { TiercastError } from '../common/errors.ts';
import { JOB_SCHEMA_VERSION, JobIdSchema, OutputManifestSchema, storeKeys, type OutputManifest } from '../common/job.ts';
import type { ObjectStore, TransferProgress } from './object-store.ts';

/**
 * A job's outputs in the object store (local folder or S3); job state itself is the job store's
 * (shared/common/job-store.ts):
 *   outputs/<id>/v<attempt>-<random>/...   one folder per publish attempt
 *   outputs/<id>/manifest.json             written LAST, points at one complete, verified version folder
 * Older version folders are removed after a new manifest is written, keeping the previous one for readers that
 * are part-way through it.
 *
 * A reader that finds a manifest always finds every file it lists. A second run of the same job uploads into a
 * new version folder and only then swaps the manifest, so a published result is never mixed or half-replaced.
 */

export interface PublishOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: TransferProgress) => void;
  /** Files uploaded at once. Default 4. */
  readonly concurrency?: number;
  /** Written as report.json in the version folder when the output folder has none. */
  readonly report?: unknown;
  /**
   * Runs after every file is uploaded and verified, right before the manifest is written; a throw (the job was
   * cancelled meanwhile) publishes nothing and removes the uploaded version folder.
   */
  readonly beforeManifest?: () => Promise<void>;
  /** Entry points, relative to the output folder; found by name when omitted. */
  readonly entries?: {
    readonly hls?: string | null;
    readonly dash?: string | null;
    readonly poster?: string | null;
    readonly thumbnails?: string | null;
  };
}

export interface JobOutputs {
  readonly store: ObjectStore;
  publishOutputs(jobId: string, localDir: string, attempt: number, options?: PublishOptions): Promise<OutputManifest>;
  /** null until the job has published. */
  readManifest(id: string): Promise<OutputManifest | null>;
  /** Every output of the job (all versions and the manifest). */
  deleteOutputs(id: string): Promise<void>;
}

export function createJobOutputs(store: ObjectStore): JobOutputs {
  function checkId(id: string): void {
    const r = JobIdSchema.safeParse(id);
    if (!r.success) throw new TiercastError('INVALID_JOB', `invalid job id ${JSON.stringify(id)}: ${r.error.issues[0]?.message ?? 'bad id'}`);
  }

  async function writeJson(key: string, value: unknown): Promise<void> {
    await store.put(key, `${JSON.stringify(value, null, 2)}\n`, { contentType: 'application/json' });
  }

  const outputs: JobOutputs = {
    store,

    async publishOutputs(jobId, localDir, attempt, options = {}) {
      checkId(jobId);
      const signal = options.signal;
      const files = await listFiles(localDir);
      if (files.length === 0) throw new TiercastError('OUTPUT_VERIFY_FAILED', `job ${jobId}: output folder ${localDir} is empty`);
      if (options.report !== undefined && !files.includes('report.json')) {
        await fsp.writeFile(path.join(localDir, 'report.json'), `${JSON.stringify(options.report, null, 2)}\n`);
        files.push('report.json');
        files.sort();
      }
      if (!files.includes('report.json')) throw new TiercastError('OUTPUT_VERIFY_FAILED', `job ${jobId}: no report.json among the outputs`);

      const outPrefix = storeKeys.outputPrefix(jobId);
      const version = `v${attempt}-${randomBytes(4).toString('hex')}`;
      const sizes = new Map<string, number>();
      for (const f of files) sizes.set(f, (await fsp.stat(path.join(localDir, f))).size);
      const total = [...sizes.values()].reduce((a, b) => a + b, 0);
      let doneBytes = 0;
      const inFlight = new Map<string, number>();
      const report = () => {
        let loaded = doneBytes;
        for (const v of inFlight.values()) loaded += v;
        options.onProgress?.({ loaded, total });
      };

      const limit = pLimit(Math.max(1, options.concurrency ?? 4));
      const entries: OutputManifest['files'] = [];
      // One failure stops the other uploads; the clean-up below waits until none is still writing.
      const internal = new AbortController();
      const onAbort = () => internal.abort(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      let firstError: unknown;
      try {
        const settled = await Promise.allSettled(
          files.map((rel) =>
            limit(async () => {
              if (signal?.aborted) throw new TiercastError('CANCELLED', `publishing job ${jobId}: cancelled`, { cause: signal.reason });
              if (internal.signal.aborted) return;
              const abs = path.join(localDir, rel);
              try {
                const sha256 = await hashFile(abs);
                await store.putFile(`${outPrefix}${version}/${rel}`, abs, {
                  signal: internal.signal,
                  onProgress: (p) => {
                    inFlight.set(rel, p.loaded);
                    report();
                  },
                });
                inFlight.delete(rel);
                doneBytes += sizes.get(rel)!;
                report();
                entries.push({ path: `${version}/${rel}`, sizeBytes: sizes.get(rel)!, sha256 });
              } catch (err) {
                firstError ??= err;
                internal.abort(err);
                throw err;
              }
            }),
          ),
        );
        const rejected = settled.find((r) => r.status === 'rejected');
        if (signal?.aborted) throw new TiercastError('CANCELLED', `publishing job ${jobId}: cancelled`, { cause: signal.reason });
        if (firstError !== undefined || rejected) throw firstError ?? (rejected as PromiseRejectedResult).reason;
        // Verify what the store holds, not what we sent: a manifest must never name a missing or short file.
        await Promise.all(
          entries.map((e) =>
            limit(async () => {
              const meta = await store.head(outPrefix + e.path);
              if (!meta || meta.size !== e.sizeBytes) {
                throw new TiercastError('OUTPUT_VERIFY_FAILED', `job ${jobId}: ${e.path} is ${meta ? `${meta.size} bytes, expected ${e.sizeBytes}` : 'missing'} after upload`);
              }
            }),
          ),
        );
      } catch (err) {
        // Nothing points at this version folder; remove it so failed attempts do not pile up.
        await store.deletePrefix(`${outPrefix}${version}/`).catch(() => undefined);
        throw err;
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }

      entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
      // Entry points: the caller's (from the transcode report), else found by name, shallowest first.
      const byDepth = [...files].sort((a, b) => a.split('/').length - b.split('/').length || (a < b ? -1 : 1));
      const pick = (given: string | null | undefined, ...finders: ((f: string) => boolean)[]): string | null => {
        let rel: string | null = null;
        if (given !== undefined) rel = given;
        else for (const find of finders) if ((rel = byDepth.find(find) ?? null)) break;
        if (rel === null) return null;
        if (!files.includes(rel)) throw new TiercastError('OUTPUT_VERIFY_FAILED', `job ${jobId}: entry ${rel} is not among the outputs`);
        return `${version}/${rel}`;
      };
      const e = options.entries ?? {};
      const manifest = OutputManifestSchema.parse({
        schemaVersion: JOB_SCHEMA_VERSION,
        jobId,
        publishedAt: new Date().toISOString(),
        attempt,
        files: entries,
        hls: pick(e.hls, (f) => path.posix.basename(f) === 'master.m3u8', (f) => f.endsWith('.m3u8')),
        dash: pick(e.dash, (f) => f.endsWith('.mpd')),
        poster: pick(e.poster, (f) => /^poster\.(jpe?g|png|webp)$/.test(path.posix.basename(f))),
        thumbnails: pick(e.thumbnails, (f) => f.endsWith('.vtt') && /thumb/.test(f)),
        report: `${version}/report.json`,
      });

      // A newer attempt that already published wins: an older, slower run must not replace it.
      const existing = await outputs.readManifest(jobId).catch(() => null);
      if (existing && existing.attempt > attempt) {
        await store.deletePrefix(`${outPrefix}${version}/`).catch(() => undefined);
        throw new TiercastError('OUTPUT_VERIFY_FAILED', `job ${jobId}: attempt ${existing.attempt} already published; attempt ${attempt} discarded`, {
          details: { publishedAttempt: existing.attempt },
        });
      }
      try {
        await options.beforeManifest?.();
      } catch (err) {
        await store.deletePrefix(`${outPrefix}${version}/`).catch(() => undefined);
        throw err;
      }
      await writeJson(storeKeys.manifest(jobId), manifest);
      const previous = existing?.report.split('/')[0];
      await cleanupVersions(jobId, previous).catch(() => undefined);
      return manifest;
    },

    async readManifest(id) {
      checkId(id);
      let buf: Buffer;
      try {
        buf = await store.getBuffer(storeKeys.manifest(id));
      } catch (err) {
        if (err instanceof TiercastError && err.code === 'INPUT_NOT_FOUND') return null;
        throw err;
      }
      const r = OutputManifestSchema.safeParse(JSON.parse(buf.toString('utf8')));
      if (!r.success) throw new TiercastError('INVALID_JOB', `job ${id}: manifest.json does not match the manifest schema`, { cause: r.error });
      return r.data;
    },

    async deleteOutputs(id) {
      checkId(id);
      // The manifest first: from then on no reader is sent to files that are about to go.
      await store.delete(storeKeys.manifest(id)).catch((err: unknown) => {
        if (!(err instanceof TiercastError && err.code === 'INPUT_NOT_FOUND')) throw err;
      });
      await store.deletePrefix(storeKeys.outputPrefix(id));
    },
  };

  /**
   * Remove version folders that belong to older attempts, except the current one and the one the manifest named
   * just before: a reader that fetched the previous manifest a moment ago can still read all its files. Folders
   * of the same or a newer attempt may be a concurrent run still uploading; a later publish cleans them.
   */
  async function cleanupVersions(jobId: string, previous: string | undefined): Promise<void> {
    const current = await outputs.readManifest(jobId);
    if (!current) return;
    const keep = new Set([current.report.split('/')[0], previous]);
    const outPrefix = storeKeys.outputPrefix(jobId);
    for await (const prefix of store.listPrefixes(outPrefix)) {
      const name = prefix.slice(outPrefix.length, -1);
      const m = /^v(\d+)-[0-9a-f]+$/.exec(name);
      if (!m || keep.has(name)) continue;
      if (Number(m[1]) < current.attempt) await store.deletePrefix(prefix);
    }
  }

  return outputs;
}

/** Relative POSIX paths of every regular file under dir, sorted. */
async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(rel: string): Promise<void> {
    let entries;
    try {
      entries = await fsp.readdir(path.join(dir, rel), { withFileTypes: true });
    } catch (err) {
      throw new TiercastError('OUTPUT_VERIFY_FAILED', `output folder ${dir} cannot be read`, { cause: err });
    }
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(r);
      else if (e.isFile()) out.push(r);
    }
  }
  await walk('');
  return out.sort();
}

async function hashFile(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}
