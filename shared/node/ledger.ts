import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import pLimit from 'p-limit';
import { TiercastError } from '../common/errors.ts';
import {
  JOB_SCHEMA_VERSION,
  JobIdSchema,
  JobSpecSchema,
  JobStatusSchema,
  OutputManifestSchema,
  isTerminal,
  ledgerKeys,
  type JobSpec,
  type JobSpecInput,
  type JobStatus,
  type OutputManifest,
  type Stage,
  type Tier,
} from '../common/job.ts';
import type { ObjectStore, TransferProgress } from './object-store.ts';

/**
 * The job ledger lives in the object store (local folder or S3), so every tier reads and writes the same truth:
 *   jobs/<id>/job.json      the spec, written once
 *   jobs/<id>/status.json   stage, progress, tier, attempts, error; rewritten as the job moves
 *   outputs/<id>/v<attempt>-<random>/...   one folder per publish attempt
 *   outputs/<id>/manifest.json             written LAST, points at one complete, verified version folder
 * Older version folders are removed after a new manifest is written, keeping the previous one for readers that
 * are part-way through it.
 *
 * A reader that finds a manifest always finds every file it lists. A second run of the same job uploads into a
 * new version folder and only then swaps the manifest, so a published result is never mixed or half-replaced.
 *
 * Concurrency: status updates are read-modify-write without conditional writes (neither s3rver nor the local store
 * offer them through ObjectStore); the queue gives one worker a job at a time, which is what makes this safe.
 */

export interface CreateJobOptions {
  readonly tier?: Tier | null;
  readonly tierReason?: string | null;
  readonly estimatedCostUsd?: number | null;
  readonly priceDate?: string | null;
}

/** Fields a worker may change. `note` goes into the history entry when the stage or tier changes. */
export type StatusPatch = Partial<Omit<JobStatus, 'schemaVersion' | 'id' | 'createdAt' | 'updatedAt' | 'history'>> & {
  readonly note?: string;
};

export interface ListJobsOptions {
  /** Only jobs in these stages. */
  readonly stage?: Stage | readonly Stage[];
  /** Stop after this many jobs (after filtering). */
  readonly limit?: number;
  /** Job ids strictly after this one (key order), for paging. */
  readonly startAfter?: string;
  /** Status reads in flight at once. Default 16. */
  readonly concurrency?: number;
}

export interface PublishOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: TransferProgress) => void;
  /** Files uploaded at once. Default 4. */
  readonly concurrency?: number;
  /** Written as report.json in the version folder when the output folder has none. */
  readonly report?: unknown;
  /** Entry points, relative to the output folder; found by name when omitted. */
  readonly entries?: {
    readonly hls?: string | null;
    readonly dash?: string | null;
    readonly poster?: string | null;
    readonly thumbnails?: string | null;
  };
}

export interface JobLedger {
  readonly store: ObjectStore;
  createJob(spec: JobSpecInput, options?: CreateJobOptions): Promise<{ spec: JobSpec; status: JobStatus }>;
  getSpec(id: string): Promise<JobSpec>;
  getStatus(id: string): Promise<JobStatus>;
  updateStatus(id: string, patch: StatusPatch | ((current: JobStatus) => StatusPatch)): Promise<JobStatus>;
  listJobs(options?: ListJobsOptions): AsyncIterable<JobStatus>;
  publishOutputs(jobId: string, localDir: string, attempt: number, options?: PublishOptions): Promise<OutputManifest>;
  /** null until the job has published. */
  readManifest(id: string): Promise<OutputManifest | null>;
}

const HISTORY_LIMIT = 200;

export function createLedger(store: ObjectStore): JobLedger {
  async function readJson(key: string, id: string, what: string): Promise<unknown> {
    let buf: Buffer;
    try {
      buf = await store.getBuffer(key);
    } catch (err) {
      if (err instanceof TiercastError && err.code === 'INPUT_NOT_FOUND') {
        throw new TiercastError('JOB_NOT_FOUND', `job ${id}: no ${what} at ${key} in ${store.location}`, { cause: err });
      }
      throw err;
    }
    try {
      return JSON.parse(buf.toString('utf8'));
    } catch (err) {
      throw new TiercastError('INVALID_JOB', `job ${id}: ${what} is not valid JSON`, { cause: err });
    }
  }

  function checkId(id: string): void {
    const r = JobIdSchema.safeParse(id);
    if (!r.success) throw new TiercastError('INVALID_JOB', `invalid job id ${JSON.stringify(id)}: ${r.error.issues[0]?.message ?? 'bad id'}`);
  }

  async function writeJson(key: string, value: unknown): Promise<void> {
    await store.put(key, `${JSON.stringify(value, null, 2)}\n`, { contentType: 'application/json' });
  }

  const ledger: JobLedger = {
    store,

    async createJob(input, options = {}) {
      const parsed = JobSpecSchema.safeParse(input);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new TiercastError('INVALID_JOB', `invalid job spec: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'unknown'}`, {
          cause: parsed.error,
        });
      }
      const spec = parsed.data;
      if ((await store.head(ledgerKeys.spec(spec.id))) || (await store.head(ledgerKeys.status(spec.id)))) {
        throw new TiercastError('INVALID_JOB', `job ${spec.id} already exists in ${store.location}`, { details: { jobId: spec.id } });
      }
      const now = new Date().toISOString();
      const status: JobStatus = JobStatusSchema.parse({
        schemaVersion: JOB_SCHEMA_VERSION,
        id: spec.id,
        stage: 'queued',
        progress: 0,
        tier: options.tier ?? null,
        tierReason: options.tierReason ?? null,
        attempts: 0,
        createdAt: spec.createdAt,
        updatedAt: now,
        startedAt: null,
        finishedAt: null,
        worker: null,
        error: null,
        estimatedCostUsd: options.estimatedCostUsd ?? null,
        costUsd: null,
        priceDate: options.priceDate ?? null,
        history: [{ at: now, stage: 'queued', tier: options.tier ?? null, ...(options.tierReason ? { note: options.tierReason } : {}) }],
      });
      // Spec first: a status without its spec would be a job nobody can run.
      await writeJson(ledgerKeys.spec(spec.id), spec);
      await writeJson(ledgerKeys.status(spec.id), status);
      return { spec, status };
    },

    async getSpec(id) {
      checkId(id);
      const r = JobSpecSchema.safeParse(await readJson(ledgerKeys.spec(id), id, 'job.json'));
      if (!r.success) throw new TiercastError('INVALID_JOB', `job ${id}: job.json does not match the job schema: ${r.error.issues[0]?.message}`, { cause: r.error });
      return r.data;
    },

    async getStatus(id) {
      checkId(id);
      const r = JobStatusSchema.safeParse(await readJson(ledgerKeys.status(id), id, 'status.json'));
      if (!r.success) throw new TiercastError('INVALID_JOB', `job ${id}: status.json does not match the status schema: ${r.error.issues[0]?.message}`, { cause: r.error });
      return r.data;
    },

    async updateStatus(id, patchOrFn) {
      const current = await ledger.getStatus(id);
      const { note, ...patch } = typeof patchOrFn === 'function' ? patchOrFn(current) : patchOrFn;
      const now = new Date().toISOString();
      const next = { ...current, ...patch, id: current.id, schemaVersion: current.schemaVersion, createdAt: current.createdAt, updatedAt: now };
      let history = current.history;
      // Only transitions go into the history; progress ticks would make status.json grow without telling anything.
      if (next.stage !== current.stage || next.tier !== current.tier) {
        history = [...history, { at: now, stage: next.stage, tier: next.tier, ...(note ? { note } : {}) }].slice(-HISTORY_LIMIT);
      }
      const r = JobStatusSchema.safeParse({ ...next, history });
      if (!r.success) {
        throw new TiercastError('INVALID_JOB', `job ${id}: status update rejected: ${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message}`, {
          cause: r.error,
        });
      }
      await writeJson(ledgerKeys.status(id), r.data);
      return r.data;
    },

    async *listJobs(options = {}) {
      const stages = options.stage === undefined ? null : new Set<Stage>(typeof options.stage === 'string' ? [options.stage] : options.stage);
      const limit = options.limit ?? Number.POSITIVE_INFINITY;
      if (limit <= 0) return;
      const run = pLimit(Math.max(1, options.concurrency ?? 16));
      const window = Math.max(1, options.concurrency ?? 16) * 4;
      let yielded = 0;
      let batch: string[] = [];

      const readBatch = (ids: string[]) =>
        Promise.all(
          ids.map((id) =>
            run(async () => {
              try {
                return await ledger.getStatus(id);
              } catch (err) {
                // A job being created (spec written, status not yet) or a stray folder: not a job to list.
                if (err instanceof TiercastError && (err.code === 'JOB_NOT_FOUND' || err.code === 'INVALID_JOB')) return null;
                throw err;
              }
            }),
          ),
        );

      // Statuses are read a window at a time (in parallel within it, in order out of it). Without a stage filter
      // a limited listing reads no more statuses than it can still yield.
      const windowSize = () => (stages === null && Number.isFinite(limit) ? Math.min(window, limit - yielded) : window);
      async function* drain(statuses: (JobStatus | null)[]): AsyncGenerator<JobStatus, boolean> {
        for (const s of statuses) {
          if (!s || (stages && !stages.has(s.stage))) continue;
          yield s;
          if (++yielded >= limit) return true;
        }
        return false;
      }
      for await (const prefix of store.listPrefixes(ledgerKeys.jobsPrefix)) {
        const id = prefix.slice(ledgerKeys.jobsPrefix.length, -1);
        if (options.startAfter !== undefined && id <= options.startAfter) continue;
        if (!JobIdSchema.safeParse(id).success) continue;
        batch.push(id);
        if (batch.length >= windowSize()) {
          const statuses = await readBatch(batch);
          batch = [];
          if (yield* drain(statuses)) return;
        }
      }
      if (batch.length > 0) yield* drain(await readBatch(batch));
    },

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

      const outPrefix = ledgerKeys.outputPrefix(jobId);
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
      const existing = await ledger.readManifest(jobId).catch(() => null);
      if (existing && existing.attempt > attempt) {
        await store.deletePrefix(`${outPrefix}${version}/`).catch(() => undefined);
        throw new TiercastError('OUTPUT_VERIFY_FAILED', `job ${jobId}: attempt ${existing.attempt} already published; attempt ${attempt} discarded`, {
          details: { publishedAttempt: existing.attempt },
        });
      }
      await writeJson(ledgerKeys.manifest(jobId), manifest);
      const previous = existing?.report.split('/')[0];
      await cleanupVersions(jobId, previous).catch(() => undefined);
      return manifest;
    },

    async readManifest(id) {
      checkId(id);
      let buf: Buffer;
      try {
        buf = await store.getBuffer(ledgerKeys.manifest(id));
      } catch (err) {
        if (err instanceof TiercastError && err.code === 'INPUT_NOT_FOUND') return null;
        throw err;
      }
      const r = OutputManifestSchema.safeParse(JSON.parse(buf.toString('utf8')));
      if (!r.success) throw new TiercastError('INVALID_JOB', `job ${id}: manifest.json does not match the manifest schema`, { cause: r.error });
      return r.data;
    },
  };

  /**
   * Remove version folders that belong to older attempts, except the current one and the one the manifest named
   * just before: a reader that fetched the previous manifest a moment ago can still read all its files. Folders
   * of the same or a newer attempt may be a concurrent run still uploading; a later publish cleans them.
   */
  async function cleanupVersions(jobId: string, previous: string | undefined): Promise<void> {
    const current = await ledger.readManifest(jobId);
    if (!current) return;
    const keep = new Set([current.report.split('/')[0], previous]);
    const outPrefix = ledgerKeys.outputPrefix(jobId);
    for await (const prefix of store.listPrefixes(outPrefix)) {
      const name = prefix.slice(outPrefix.length, -1);
      const m = /^v(\d+)-[0-9a-f]+$/.exec(name);
      if (!m || keep.has(name)) continue;
      if (Number(m[1]) < current.attempt) await store.deletePrefix(prefix);
    }
  }

  return ledger;
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

/**
 * An operator's cancel: CANCELLED written into the status in one read-modify-write, refused (INVALID_REQUEST) for a
 * job already done or failed. A queued job is then skipped by whichever worker takes it; a running one stops at its
 * next status write on any tier (executeJob finds the cancel and aborts). Returns the status before and after.
 *
 * The ledger has no conditional writes, so a runner's status write that read the status just before the cancel
 * landed can put it back (a window of one GET+PUT every couple of seconds). The cancel is therefore checked again
 * after `settleMs` and re-asserted, up to `reasserts` times, unless the job finished meanwhile.
 */
export async function cancelJob(
  ledger: Pick<JobLedger, 'updateStatus' | 'getStatus'>,
  id: string,
  who: string,
  options: { settleMs?: number; reasserts?: number } = {},
): Promise<{ before: JobStatus; after: JobStatus }> {
  let before: JobStatus | null = null;
  const patchFor = (current: JobStatus): StatusPatch => ({
    stage: 'failed',
    error: { code: 'CANCELLED', message: `cancelled from ${who}` },
    finishedAt: new Date().toISOString(),
    note: `cancelled from ${who} while ${current.stage}`,
  });
  let after = await ledger.updateStatus(id, (current) => {
    before = current;
    if (isTerminal(current.stage)) {
      throw new TiercastError('INVALID_REQUEST', `job ${id} is already ${current.stage}${current.error ? ` (${current.error.code})` : ''}; nothing to cancel`);
    }
    return patchFor(current);
  });
  const settleMs = options.settleMs ?? 750;
  for (let i = 0; i < (options.reasserts ?? 3) && settleMs > 0; i++) {
    await new Promise((r) => setTimeout(r, settleMs));
    const now = await ledger.getStatus(id);
    // Still cancelled, or finished for real (done, or failed with its own error): the cancel has nothing to add.
    if (isTerminal(now.stage)) {
      after = now;
      break;
    }
    after = await ledger.updateStatus(id, (current) => (isTerminal(current.stage) ? {} : patchFor(current)));
  }
  return { before: before as unknown as JobStatus, after };
}
