import type { ApiErrorBody, JobDetail, JobRow } from '../../../shared/common/api-contract.ts';
import { toTiercastError } from '../../../shared/common/errors.ts';
import type { JobStore, StageCounts } from '../../../shared/common/job-store.ts';
import { STAGES, TERMINAL_STAGES, type JobSpec, type JobStatus, type OutputFormat, type Stage, type Tier } from '../../../shared/common/job.ts';
import type { JobsService } from '../../../shared/common/jobs-service.ts';
import type { Ladder } from '../../../shared/common/ladder-schema.ts';
import type { MediaInfo } from '../../../shared/common/media.ts';
import type { Route } from '../../../shared/common/router.ts';
import type { Logger } from '../../../shared/node/log.ts';

/**
 * Jobs as the console sees them: every action is one call of the jobs service (shared/common/jobs-service.ts, the
 * same calls the CLI makes), and the table is read from the job store a page at a time plus "changed since" a cursor
 * (README "Job control plane"). This module only maps the service's statuses to the console's rows and polls the
 * store's change index, so a refresh costs what changed.
 */

export interface SubmitInput {
  readonly fileId: string;
  readonly name: string;
  readonly key: string;
  readonly sizeBytes: number;
  readonly media: MediaInfo;
}

export interface ConsoleJobsOptions {
  /** The current jobs service (it changes when Settings move the store). */
  readonly jobs: () => JobsService;
  readonly route: (input: { sizeBytes: number; media: MediaInfo; ladder: Ladder; requested: 'auto' | Tier; jobId: string }) => Route;
  readonly onUpdate: (rows: JobRow[]) => void;
  readonly newJobId: () => string;
  readonly log?: Pick<Logger, 'warn'>;
  readonly pollMs?: number;
}

interface SpecSummary {
  readonly name: string;
  readonly ladder: string;
  readonly input: JobSpec['input'];
  readonly formats: readonly OutputFormat[];
}

const summaryOf = (spec: JobSpec): SpecSummary => ({ name: spec.input.name, ladder: spec.ladder.name, input: spec.input, formats: spec.formats });

export const errorBody = (err: unknown): ApiErrorBody => {
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

const ACTIVE: readonly Stage[] = STAGES.filter((s) => !TERMINAL_STAGES.includes(s));

export type ActionResult = { id: string; job: JobRow | null; error: ApiErrorBody | null };

export function createConsoleJobs(options: ConsoleJobsOptions) {
  /** Name and ladder per job, for the rows (a spec never changes). */
  const specs = new Map<string, SpecSummary>();
  let changesCursor: string | null = null;
  let timer: NodeJS.Timeout | null = null;
  let polling = false;
  const store = (): JobStore => options.jobs().store;

  async function rowsOf(statuses: readonly JobStatus[]): Promise<JobRow[]> {
    const now = Date.now();
    const out: JobRow[] = [];
    for (const s of statuses) {
      let spec = specs.get(s.id);
      if (!spec) {
        const rec = await store().get(s.id).catch(() => null);
        if (rec) specs.set(s.id, (spec = summaryOf(rec.spec)));
      }
      out.push(jobRow(s, spec, now));
    }
    return out;
  }

  const countsOf = (c: StageCounts): Partial<Record<Stage, number>> => Object.fromEntries(Object.entries(c).filter(([, n]) => n > 0));

  /** Changes since the last poll go out on jobs.updated. */
  async function poll(): Promise<void> {
    if (polling) return;
    polling = true;
    try {
      if (changesCursor === null) {
        changesCursor = (await store().changedSince(null, 1)).cursor;
        return;
      }
      for (;;) {
        const page = await store().changedSince(changesCursor, 1000);
        changesCursor = page.cursor;
        if (page.items.length > 0) options.onUpdate(await rowsOf(page.items));
        if (page.items.length < 1000) return;
      }
    } catch (err) {
      options.log?.warn({ err: (err as Error).message }, 'reading job changes failed; trying again');
    } finally {
      polling = false;
    }
  }

  async function act(ids: readonly string[], run: (id: string) => Promise<JobStatus | null>): Promise<ActionResult[]> {
    const out: ActionResult[] = [];
    for (const id of ids) {
      try {
        const s = await run(id);
        out.push({ id, job: s ? (await rowsOf([s]))[0]! : null, error: null });
      } catch (err) {
        out.push({ id, job: null, error: errorBody(err) });
      }
    }
    void poll();
    return out;
  }

  return {
    /** Creates one job per stored input, routed here (the Upload screen shows that route) and admitted by the service. */
    async submit(inputs: readonly SubmitInput[], opts: { tier: 'auto' | Tier; ladder: Ladder; formats?: readonly OutputFormat[]; priority?: number; priorities?: Readonly<Record<string, number>> }) {
      const results: Array<{ fileId: string; jobId: string | null; tier: Tier | null; reason: string | null; error: ApiErrorBody | null }> = [];
      for (const input of inputs) {
        try {
          const jobId = options.newJobId();
          const route = options.route({ sizeBytes: input.sizeBytes, media: input.media, ladder: opts.ladder, requested: opts.tier, jobId });
          const v = input.media.video!;
          const [r] = await options.jobs().submit([
            {
              spec: {
                schemaVersion: 1,
                id: jobId,
                createdAt: new Date().toISOString(),
                input: { key: input.key, name: input.name, sizeBytes: input.sizeBytes },
                media: { durationSec: input.media.durationSec, width: v.displayWidth, height: v.displayHeight, fps: Number.isFinite(v.fps) ? v.fps : 0 },
                ladder: opts.ladder,
                formats: opts.formats ? [...opts.formats] : ['hls', 'dash'],
                priority: opts.priorities?.[input.fileId] ?? opts.priority ?? 5,
                requestedTier: opts.tier,
              },
              route,
            },
          ]);
          const status = r!.status;
          results.push({ fileId: input.fileId, jobId: r!.jobId, tier: status.tier, reason: status.tierReason?.slice(0, 2000) ?? null, error: null });
        } catch (err) {
          results.push({ fileId: input.fileId, jobId: null, tier: null, reason: null, error: errorBody(err) });
        }
      }
      void poll();
      return results;
    },

    /** One page of the store's index (newest change first) and the counts per stage. */
    async page(q: { stage?: Stage | 'active'; tier?: Tier; limit: number; cursor?: string | null }) {
      const stage = q.stage === 'active' ? ACTIVE : q.stage;
      const [page, counts] = await Promise.all([
        store().list({ ...(stage ? { stage } : {}), ...(q.tier ? { tier: q.tier } : {}), limit: q.limit, cursor: q.cursor ?? null }),
        store().counts(),
      ]);
      return { rows: await rowsOf(page.items), cursor: page.cursor, counts: countsOf(counts) };
    },

    /** What changed after the cursor (null: a cursor for "from now on"), with fresh counts when anything did. */
    async changes(cursor: string | null, limit = 1000) {
      const page = await store().changedSince(cursor, limit);
      const counts = page.items.length > 0 || cursor === null ? countsOf(await store().counts()) : null;
      return { rows: await rowsOf(page.items), cursor: page.cursor, counts };
    },

    async detail(id: string): Promise<Omit<JobDetail, 'outputs' | 'report'> & { status: JobStatus }> {
      const view = await options.jobs().get(id);
      specs.set(id, summaryOf(view.spec));
      const [row] = await rowsOf([view.status]);
      return {
        status: view.status,
        job: row!,
        history: view.status.history.slice(-1000).map((h) => ({ at: h.at, stage: h.stage, tier: h.tier, ...(h.note ? { note: h.note.slice(0, 2000) } : {}) })),
        input: view.spec.input,
        formats: [...view.spec.formats],
      };
    },

    retry: (ids: readonly string[]) => act(ids, (id) => options.jobs().retry(id, 'the console')),
    cancel: (ids: readonly string[]) => act(ids, async (id) => (await options.jobs().cancel(id, 'the console')).after),
    remove: (ids: readonly string[]) => act(ids, async (id) => (await options.jobs().remove(id, 'the console'), specs.delete(id), null)),
    redrive: (ids: readonly string[]) => act(ids, async (id) => (await options.jobs().redrive([id], 'the console'))[0]!),
    deadLettered: () => options.jobs().deadLettered(),
    poll,
    /** A new store (Settings): the change cursor starts again. */
    reset() {
      specs.clear();
      changesCursor = null;
      void poll();
    },
    start() {
      void poll();
      timer = setInterval(() => void poll(), options.pollMs ?? 1000);
      timer.unref();
    },
    close() {
      if (timer) clearInterval(timer);
      timer = null;
    },
  };
}

export type ConsoleJobs = ReturnType<typeof createConsoleJobs>;
