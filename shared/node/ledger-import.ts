import pLimit from 'p-limit';
import { TiercastError, toTiercastError, type ErrorCode } from '../common/errors.ts';
import { importedStatus } from '../common/job-lifecycle.ts';
import type { JobStore, NewJob } from '../common/job-store.ts';
import { JobIdSchema, JobStatusSchema, parseJobSpec, type Stage, type Tier } from '../common/job.ts';
import type { ObjectStore } from './object-store.ts';

/**
 * `tiercast jobs import`: the JSON ledger of earlier Tiercast versions (jobs/<id>/job.json and status.json in the
 * object store) into the job store, once. Safe to run again: a job already in the store is left as it is. A job whose
 * files do not parse fails alone, named, and the rest go on. The ledger files are read, never changed or deleted.
 * README "Job control plane".
 */

/** Where the old ledger kept a job (the layout of shared/node/ledger.ts before the job store). */
const LEDGER_PREFIX = 'jobs/';
const ledgerFile = (id: string, name: 'job.json' | 'status.json') => `${LEDGER_PREFIX}${id}/${name}`;
const BATCH = 200;

export interface LedgerImportSummary {
  readonly found: number;
  readonly imported: number;
  /** Already in the job store (imported before, or submitted there). */
  readonly present: number;
  readonly failed: ReadonlyArray<{ readonly jobId: string; readonly code: ErrorCode; readonly message: string }>;
  /** Imported jobs by the stage they now have; queued ones wait for admission. */
  readonly stages: Partial<Record<Stage, number>>;
  /** Tiers of the imported queued jobs, for the caller's admission pass. */
  readonly queuedTiers: readonly Tier[];
}

export interface LedgerImportOptions {
  readonly dryRun?: boolean;
  readonly now?: () => Date;
  /** Ledger files read at once. Default 16. */
  readonly concurrency?: number;
  readonly onProgress?: (done: number) => void;
}

export async function importLedger(objects: ObjectStore, jobs: JobStore, options: LedgerImportOptions = {}): Promise<LedgerImportSummary> {
  const ids = await ledgerJobIds(objects);
  const limit = pLimit(options.concurrency ?? 16);
  const now = options.now ?? (() => new Date());
  const tally = { imported: 0, present: 0, failed: [] as { jobId: string; code: ErrorCode; message: string }[], stages: {} as Partial<Record<Stage, number>>, tiers: new Set<Tier>() };
  for (let i = 0; i < ids.length; i += BATCH) {
    const read = await Promise.all(ids.slice(i, i + BATCH).map((id) => limit(() => readLedgerJob(objects, id, now()))));
    const ready: NewJob[] = [];
    for (const r of read) {
      if ('error' in r) tally.failed.push(r.error);
      else ready.push(r.job);
    }
    const outcomes = options.dryRun ? ready.map(() => ({ created: true })) : await jobs.insert(ready);
    outcomes.forEach((o, k) => count(tally, ready[k]!, o.created));
    options.onProgress?.(Math.min(ids.length, i + BATCH));
  }
  return { found: ids.length, imported: tally.imported, present: tally.present, failed: tally.failed, stages: tally.stages, queuedTiers: [...tally.tiers] };
}

function count(tally: { imported: number; present: number; stages: Partial<Record<Stage, number>>; tiers: Set<Tier> }, job: NewJob, created: boolean): void {
  if (!created) {
    tally.present += 1;
    return;
  }
  tally.imported += 1;
  tally.stages[job.status.stage] = (tally.stages[job.status.stage] ?? 0) + 1;
  if (job.status.stage === 'queued' && job.status.tier) tally.tiers.add(job.status.tier);
}

/** Job ids with a job.json in the ledger, in key order; keys that are not ledger files are ignored. */
async function ledgerJobIds(objects: ObjectStore): Promise<string[]> {
  const ids: string[] = [];
  for await (const meta of objects.list(LEDGER_PREFIX)) {
    const m = /^jobs\/([^/]+)\/job\.json$/.exec(meta.key);
    if (m && JobIdSchema.safeParse(m[1]).success) ids.push(m[1]!);
  }
  return ids;
}

async function readLedgerJob(objects: ObjectStore, id: string, now: Date): Promise<{ job: NewJob } | { error: { jobId: string; code: ErrorCode; message: string } }> {
  try {
    const spec = parseJobSpec(await readJson(objects, ledgerFile(id, 'job.json')));
    const old = JobStatusSchema.parse(await readJson(objects, ledgerFile(id, 'status.json')));
    if (spec.id !== id || old.id !== id) throw new TiercastError('INVALID_JOB', `the ledger files under jobs/${id}/ name job ${spec.id} and ${old.id}`);
    return { job: { spec, ...importedStatus(old, now) } };
  } catch (err) {
    const e = toTiercastError(err, 'INVALID_JOB');
    const message = err instanceof Error && err.name === 'ZodError' ? `jobs/${id}/: not a Tiercast ledger job (${firstIssue(err)})` : e.message;
    return { error: { jobId: id, code: e.code, message } };
  }
}

async function readJson(objects: ObjectStore, key: string): Promise<unknown> {
  const body = await objects.getBuffer(key);
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new TiercastError('INVALID_JOB', `${key} is not JSON (${body.length} bytes)`);
  }
}

function firstIssue(err: unknown): string {
  const issue = (err as { issues?: { path: PropertyKey[]; message: string }[] }).issues?.[0];
  return issue ? `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}` : 'does not parse';
}
