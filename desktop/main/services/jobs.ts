import { randomBytes } from 'node:crypto';
import pLimit from 'p-limit';
import type { ApiErrorBody, JobDetail, JobRow } from '../../../shared/common/api-contract.ts';
import { TiercastError, toTiercastError } from '../../../shared/common/errors.ts';
import { JOB_SCHEMA_VERSION, isTerminal, ledgerKeys, type JobSpec, type JobStatus, type OutputFormat, type Stage, type Tier } from '../../../shared/common/job.ts';
import type { Ladder } from '../../../shared/common/ladder-schema.ts';
import type { MediaInfo } from '../../../shared/common/media.ts';
import { cancelJob, type JobLedger } from '../../../shared/node/ledger.ts';
import type { Logger } from '../../../shared/node/log.ts';

/**
 * Jobs as the console sees them: dispatch (upload if needed, route, create in the ledger, hand to a tier), and a
 * live table read from the ledger (local folder or S3). The table is a cache: a full listing at start and every
 * minute (jobs created elsewhere, e.g. by the CLI), and the unfinished jobs re-read every second; only rows that
 * changed go out on `jobs.updated`.
 */

export interface DispatchInput {
  readonly fileId: string;
  readonly name: string;
  readonly key: string;
  readonly sizeBytes: number;
  readonly media: MediaInfo;
}

export interface RouteDecision {
  readonly tier: Tier;
  readonly reason: string;
  readonly estimatedCostUsd: number | null;
  readonly priceDate: string | null;
  /** The router's full answer, handed back to `send` (cloud dispatch needs its alternatives). */
  readonly route?: unknown;
}

export interface JobsServiceOptions {
  readonly ledger: () => JobLedger;
  /** Decides the tier of a new (or retried) job. */
  readonly route: (input: { sizeBytes: number; media: MediaInfo | null; ladder: Ladder; requested: 'auto' | Tier; jobId: string }) => RouteDecision;
  /** Hands a created job to its tier (local queue, Lambda, ECS, SQS). Throws DISPATCH_FAILED and friends. */
  readonly send: (job: { jobId: string; tier: Tier; priority: number; spec: JobSpec; decision: RouteDecision }) => Promise<void>;
  readonly onUpdate: (rows: JobRow[]) => void;
  /** Stops a job this process is running (the local tier); true when there was one. */
  readonly abortRunning?: (id: string) => boolean;
  readonly log?: Pick<Logger, 'warn' | 'info'>;
  readonly activePollMs?: number;
  readonly fullRefreshMs?: number;
}

export function newJobId(): string {
  return `j${Date.now().toString(36)}${randomBytes(5).toString('hex')}`;
}

interface SpecSummary {
  readonly name: string;
  readonly ladder: string;
  readonly input: JobSpec['input'];
  readonly formats: readonly OutputFormat[];
}

const errorBody = (err: unknown): ApiErrorBody => {
  const e = toTiercastError(err);
  return { code: e.code, message: e.message.slice(0, 4000) };
};

export function jobRow(status: JobStatus, spec: SpecSummary | undefined, nowMs = Date.now()): JobRow {
  const started = status.startedAt ? Date.parse(status.startedAt) : null;
  const finished = status.finishedAt ? Date.parse(status.finishedAt) : null;
  return {
    id: status.id,
    name: spec?.name ?? status.id,
    stage: status.stage,
    progress: status.progress,
    tier: status.tier,
    tierReason: status.tierReason?.slice(0, 2000) ?? null,
    attempts: status.attempts,
    createdAt: status.createdAt,
    updatedAt: status.updatedAt,
    startedAt: status.startedAt,
    finishedAt: status.finishedAt,
    elapsedSec: started === null ? null : Math.max(0, ((finished ?? nowMs) - started) / 1000),
    estimatedCostUsd: status.estimatedCostUsd,
    costUsd: status.costUsd,
    priceDate: status.priceDate,
    ladder: spec?.ladder ?? '',
    error: status.error ? { code: status.error.code, message: status.error.message.slice(0, 4000) } : null,
  };
}

const STATUS_KEY = /^jobs\/([^/]+)\/status\.json$/;

export interface JobsService {
  dispatch(
    inputs: readonly DispatchInput[],
    options: { tier: 'auto' | Tier; ladder: Ladder; formats?: readonly OutputFormat[]; priority?: number },
  ): Promise<Array<{ fileId: string; jobId: string | null; tier: Tier | null; reason: string | null; error: ApiErrorBody | null }>>;
  list(filter: { stage?: Stage | 'active'; tier?: Tier; search?: string; limit: number; cursor?: string }): {
    jobs: JobRow[];
    nextCursor: string | null;
    total: number;
    counts: Partial<Record<Stage, number>>;
  };
  get(id: string): Promise<Omit<JobDetail, 'outputs' | 'report'> & { status: JobStatus }>;
  retry(id: string): Promise<JobRow>;
  cancel(id: string): Promise<JobRow>;
  refreshAll(): Promise<void>;
  refreshActive(): Promise<void>;
  /** A status seen first-hand (the in-process worker's progress), pushed without waiting for the next poll. */
  observe(status: JobStatus): void;
  start(): void;
  close(): void;
}

export function createJobsService(options: JobsServiceOptions): JobsService {
  const rows = new Map<string, JobRow>();
  const statuses = new Map<string, JobStatus>();
  const specs = new Map<string, SpecSummary>();
  const readLimit = pLimit(16);
  let timers: NodeJS.Timeout[] = [];
  let refreshing: Promise<void> | null = null;
  let activeBusy = false;

  async function specOf(id: string): Promise<SpecSummary | undefined> {
    const cached = specs.get(id);
    if (cached) return cached;
    try {
      const spec = await options.ledger().getSpec(id);
      const summary = { name: spec.input.name, ladder: spec.ladder.name, input: spec.input, formats: spec.formats };
      specs.set(id, summary);
      return summary;
    } catch {
      return undefined;
    }
  }

  function upsert(status: JobStatus, spec: SpecSummary | undefined, changed: JobRow[]): JobRow {
    const prev = statuses.get(status.id);
    statuses.set(status.id, status);
    const row = jobRow(status, spec);
    rows.set(status.id, row);
    if (!prev || prev.updatedAt !== status.updatedAt || prev.stage !== status.stage || prev.progress !== status.progress) changed.push(row);
    return row;
  }

  function emit(changed: JobRow[]): void {
    for (let i = 0; i < changed.length; i += 1000) options.onUpdate(changed.slice(i, i + 1000));
  }

  /** Last-modified time of each job's status object at the last full refresh. */
  const statusMtime = new Map<string, number>();

  /**
   * The whole table from one key listing: only statuses that are new or whose object changed since the last look
   * are read, so a ledger of 25,000 jobs costs a few LIST pages per refresh (not 25,000 GETs on S3).
   */
  async function refreshAll(): Promise<void> {
    refreshing ??= (async () => {
      const changed: JobRow[] = [];
      const pending: Promise<void>[] = [];
      try {
        const ledger = options.ledger();
        for await (const meta of ledger.store.list(ledgerKeys.jobsPrefix)) {
          const m = STATUS_KEY.exec(meta.key);
          if (!m) continue;
          const id = m[1]!;
          const mtime = meta.lastModified.getTime();
          if (statusMtime.get(id) === mtime && statuses.has(id)) continue;
          pending.push(
            readLimit(async () => {
              try {
                upsert(await ledger.getStatus(id), await specOf(id), changed);
                statusMtime.set(id, mtime);
              } catch {
                // Unreadable or half-written status: tried again on the next refresh.
              }
            }),
          );
          if (changed.length >= 500) emit(changed.splice(0));
        }
        await Promise.all(pending);
      } catch (err) {
        options.log?.warn({ err: (err as Error).message }, 'job listing failed');
      }
      emit(changed);
    })().finally(() => {
      refreshing = null;
    });
    return refreshing;
  }

  let lastActiveAt = 0;
  /**
   * Unfinished jobs re-read. With many of them the pace slows (about 100 reads a second at most), so a long queue
   * on S3 does not turn into a flood of GETs.
   */
  async function refreshActive(): Promise<void> {
    if (activeBusy) return;
    const active = [...statuses.values()].filter((s) => !isTerminal(s.stage)).map((s) => s.id);
    if (Date.now() - lastActiveAt < active.length * 10) return;
    activeBusy = true;
    lastActiveAt = Date.now();
    try {
      const changed: JobRow[] = [];
      await Promise.all(
        active.map((id) =>
          readLimit(async () => {
            try {
              upsert(await options.ledger().getStatus(id), await specOf(id), changed);
            } catch {
              // A job deleted from the store meanwhile: its row simply stays as last seen.
            }
          }),
        ),
      );
      emit(changed);
    } finally {
      activeBusy = false;
    }
  }

  async function dispatchOne(
    input: DispatchInput,
    opts: { tier: 'auto' | Tier; ladder: Ladder; formats?: readonly OutputFormat[]; priority?: number },
  ) {
    const jobId = newJobId();
    const decision = options.route({ sizeBytes: input.sizeBytes, media: input.media, ladder: opts.ladder, requested: opts.tier, jobId });
    const v = input.media.video!;
    const priority = opts.priority ?? 5;
    const { spec, status } = await options.ledger().createJob(
      {
        schemaVersion: JOB_SCHEMA_VERSION,
        id: jobId,
        createdAt: new Date().toISOString(),
        input: { key: input.key, name: input.name, sizeBytes: input.sizeBytes },
        media: { durationSec: input.media.durationSec, width: v.displayWidth, height: v.displayHeight, fps: Number.isFinite(v.fps) ? v.fps : 0 },
        ladder: opts.ladder,
        formats: opts.formats ? [...opts.formats] : ['hls', 'dash'],
        priority,
        requestedTier: opts.tier,
      },
      { tier: decision.tier, tierReason: decision.reason, estimatedCostUsd: decision.estimatedCostUsd, priceDate: decision.priceDate },
    );
    specs.set(jobId, { name: spec.input.name, ladder: spec.ladder.name, input: spec.input, formats: spec.formats });
    const changed: JobRow[] = [];
    upsert(status, specs.get(jobId), changed);
    emit(changed);
    try {
      await options.send({ jobId, tier: decision.tier, priority, spec, decision });
    } catch (err) {
      const e = toTiercastError(err, 'DISPATCH_FAILED');
      // The dispatcher may have recorded the failure already; never leave a job queued that no tier will run.
      const current = await options.ledger().getStatus(jobId);
      const failed =
        current.stage === 'failed'
          ? current
          : await options.ledger().updateStatus(jobId, {
              stage: 'failed',
              error: { code: e.code, message: e.message },
              finishedAt: new Date().toISOString(),
              note: 'dispatch failed',
            });
      const c: JobRow[] = [];
      upsert(failed, specs.get(jobId), c);
      emit(c);
      throw e;
    }
    return { jobId, decision };
  }

  const service: JobsService = {
    async dispatch(inputs, opts) {
      const results = [];
      for (const input of inputs) {
        try {
          const { jobId, decision } = await dispatchOne(input, opts);
          results.push({ fileId: input.fileId, jobId, tier: decision.tier, reason: decision.reason.slice(0, 2000), error: null });
        } catch (err) {
          results.push({ fileId: input.fileId, jobId: null, tier: null, reason: null, error: errorBody(err) });
        }
      }
      return results;
    },
    list(filter) {
      const search = filter.search?.trim().toLowerCase();
      const counts: Partial<Record<Stage, number>> = {};
      const matching: JobRow[] = [];
      for (const row of rows.values()) {
        counts[row.stage] = (counts[row.stage] ?? 0) + 1;
        if (filter.stage === 'active' ? isTerminal(row.stage) : filter.stage && row.stage !== filter.stage) continue;
        if (filter.tier && row.tier !== filter.tier) continue;
        if (search && !row.id.toLowerCase().includes(search) && !row.name.toLowerCase().includes(search)) continue;
        matching.push(row);
      }
      matching.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.id < b.id ? 1 : -1));
      const offset = filter.cursor && /^\d+$/.test(filter.cursor) ? Number(filter.cursor) : 0;
      const now = Date.now();
      const page = matching.slice(offset, offset + filter.limit).map((r) => {
        const s = statuses.get(r.id);
        return s && !isTerminal(s.stage) ? jobRow(s, specs.get(r.id), now) : r;
      });
      const next = offset + filter.limit;
      return { jobs: page, nextCursor: next < matching.length ? String(next) : null, total: matching.length, counts };
    },
    async get(id) {
      const ledger = options.ledger();
      const status = await ledger.getStatus(id);
      const spec = await specOf(id);
      const changed: JobRow[] = [];
      const row = upsert(status, spec, changed);
      emit(changed);
      return {
        status,
        job: row,
        history: status.history.slice(-1000).map((h) => ({ at: h.at, stage: h.stage, tier: h.tier, ...(h.note ? { note: h.note.slice(0, 2000) } : {}) })),
        input: spec?.input ?? { key: '', name: id, sizeBytes: 0 },
        formats: spec ? [...spec.formats] : [],
      };
    },
    async retry(id) {
      const ledger = options.ledger();
      const [status, spec] = await Promise.all([ledger.getStatus(id), ledger.getSpec(id)]);
      // Failed jobs, and queued ones waiting out a retry backoff after an error ("retry now"). A second message for
      // the latter is safe: a re-delivered job finds its status or manifest and never publishes twice.
      const waiting = status.stage === 'queued' && status.error !== null;
      if (status.stage !== 'failed' && !waiting) {
        throw new TiercastError('INVALID_REQUEST', `job ${id} is ${status.stage}; only failed jobs (or queued ones waiting to retry after an error) can be retried`);
      }
      const decision = options.route({
        sizeBytes: spec.input.sizeBytes,
        media: null,
        ladder: spec.ladder,
        requested: status.tier ?? 'auto',
        jobId: id,
      });
      const tier = decision.tier;
      // An operator's retry is a fresh set of attempts: the executor refuses a job whose attempts are used up.
      const queued = await ledger.updateStatus(id, {
        stage: 'queued',
        progress: 0,
        error: null,
        finishedAt: null,
        attempts: 0,
        tier,
        note: `retried from the console (after ${status.attempts} attempt${status.attempts === 1 ? '' : 's'})`,
      });
      const changed: JobRow[] = [];
      upsert(queued, await specOf(id), changed);
      emit(changed);
      await options.send({ jobId: id, tier, priority: spec.priority, spec, decision });
      return rows.get(id)!;
    },
    async cancel(id) {
      const ledger = options.ledger();
      // A job running here is aborted too; its runner writes CANCELLED again once ffmpeg has stopped, so a late
      // progress write of the aborted run cannot bring it back. Jobs on other tiers (Lambda, Fargate, EC2 agents) stop at
      // their next status write, which finds the cancel in the ledger (executeJob) and aborts ffmpeg there.
      options.abortRunning?.(id);
      // One read-modify-write that refuses a finished job (INVALID_REQUEST), the same write as `tiercast cancel`; a
      // finished job is not running here, so the abort above was a no-op for it.
      const { after: cancelled } = await cancelJob(ledger, id, 'the console');
      const changed: JobRow[] = [];
      upsert(cancelled, await specOf(id), changed);
      emit(changed);
      return rows.get(id)!;
    },
    refreshAll,
    refreshActive,
    observe(status) {
      // Only progress: a runner reports done/failed a moment before the ledger says so, and the table must never
      // show a job done whose status and outputs a reader cannot see yet. Terminal stages come from the ledger.
      if (isTerminal(status.stage)) return;
      const prev = statuses.get(status.id);
      if (prev && (prev.updatedAt > status.updatedAt || isTerminal(prev.stage))) return;
      const changed: JobRow[] = [];
      upsert(status, specs.get(status.id), changed);
      emit(changed);
    },
    start() {
      void refreshAll();
      const a = setInterval(() => void refreshActive(), options.activePollMs ?? 1000);
      const b = setInterval(() => void refreshAll(), options.fullRefreshMs ?? 60_000);
      a.unref();
      b.unref();
      timers = [a, b];
    },
    close() {
      for (const t of timers) clearInterval(t);
      timers = [];
    },
  };
  return service;
}
