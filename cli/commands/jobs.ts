import type { Command } from 'commander';
import { STAGES, type JobStatus, type Stage } from '../../shared/common/job.ts';
import type { JobStore, StageCounts } from '../../shared/common/job-store.ts';
import { openBackends } from '../backends.ts';
import { configForVerb, failVerb, formatUsdShort } from './route.ts';

function elapsedSec(s: JobStatus, now: number): number {
  const start = Date.parse(s.startedAt ?? s.createdAt);
  const end = s.finishedAt ? Date.parse(s.finishedAt) : now;
  return Math.max(0, (end - start) / 1000);
}

const dur = (s: number) => (s < 120 ? `${Math.round(s)}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${(s / 3600).toFixed(1)}h`);

/** Cost column: the actual figure once known, else the estimate marked with ~. */
function costText(s: JobStatus): string {
  if (s.costUsd !== null) return formatUsdShort(s.costUsd);
  if (s.estimatedCostUsd !== null) return `~${formatUsdShort(s.estimatedCostUsd)}`;
  return '-';
}

export function formatJobsTable(jobs: readonly JobStatus[], now = Date.now()): string {
  const rows = [
    ['ID', 'STAGE', 'PRI', 'PROGRESS', 'TIER', 'ATTEMPTS', 'ELAPSED', 'COST', 'ERROR'],
    ...jobs.map((s) => [
      s.id,
      s.stage === 'failed' && s.deadLettered ? 'failed (dead-lettered)' : s.stage === 'retry-wait' && s.notBefore ? `retry-wait until ${s.notBefore.slice(11, 19)}` : s.stage,
      String(s.priority),
      `${Math.round(s.progress * 100)}%`,
      s.tier ?? '-',
      String(s.attempts),
      dur(elapsedSec(s, now)),
      costText(s),
      s.error ? s.error.code : '',
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

/** One line per change for --watch without a TTY: what a log or a pipe wants. */
export function jobLine(s: JobStatus, at = new Date()): string {
  return [at.toISOString(), s.id, s.stage, `${Math.round(s.progress * 100)}%`, s.tier ?? '-', `attempt ${s.attempts}`, s.error ? `${s.error.code}: ${s.error.message}` : '']
    .join('  ')
    .trimEnd();
}

/** What counts as a change worth a line: stage, tier, attempts, error, and progress in steps of 10 %. */
function changeKey(s: JobStatus): string {
  return [s.stage, s.tier, s.attempts, Math.floor(s.progress * 10), s.error?.code ?? ''].join('|');
}

/** "2026-12-04T10:00:00Z", or a duration back from now: 90s, 15m, 2h, 1d. */
export function parseSince(text: string, now = Date.now()): string | null {
  const m = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(text.trim());
  if (m) return new Date(now - Number(m[1]) * { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[m[2] as 's' | 'm' | 'h' | 'd']).toISOString();
  const t = Date.parse(text);
  return Number.isNaN(t) ? null : new Date(t).toISOString();
}

interface Filter {
  readonly stages?: Stage[];
  readonly priority?: number;
  readonly since?: string;
  readonly limit: number;
}

/** Newest updates first, a page at a time from the store's index, until the limit or the --since time. */
async function readJobs(store: JobStore, f: Filter): Promise<JobStatus[]> {
  const out: JobStatus[] = [];
  let cursor: string | null = null;
  do {
    const page: Awaited<ReturnType<JobStore['list']>> = await store.list({ ...(f.stages ? { stage: f.stages } : {}), limit: Math.min(1000, Math.max(50, f.limit)), cursor });
    for (const s of page.items) {
      if (f.since && s.updatedAt < f.since) return out;
      if (f.priority !== undefined && s.priority !== f.priority) continue;
      out.push(s);
      if (out.length >= f.limit) return out;
    }
    cursor = page.cursor;
  } while (cursor);
  return out;
}

export function formatCounts(c: StageCounts): string {
  const parts = STAGES.filter((s) => c[s] > 0).map((s) => `${s} ${c[s]}`);
  return parts.length ? parts.join(', ') : 'no jobs';
}

const usage = (m: string) => Object.assign(new Error(m), { code: 'CONFIG_INVALID' });

function parseFilter(opts: { stage?: string; limit?: string; priority?: string; since?: string }): Filter {
  const stages = opts.stage ? opts.stage.split(',').map((s) => s.trim()) : undefined;
  const badStage = stages?.find((s) => !(STAGES as readonly string[]).includes(s));
  if (badStage !== undefined) throw usage(`--stage "${badStage}": use one of ${STAGES.join(', ')}`);
  const limit = opts.limit === undefined ? 100 : Number(opts.limit);
  if (!Number.isInteger(limit) || limit < 1) throw usage(`--limit "${opts.limit}": a positive integer`);
  const priority = opts.priority === undefined ? undefined : Number(opts.priority);
  if (priority !== undefined && (!Number.isInteger(priority) || priority < 1 || priority > 10)) throw usage(`--priority "${opts.priority}": an integer 1-10`);
  const since = opts.since === undefined ? undefined : parseSince(opts.since);
  if (since === null) throw usage(`--since "${opts.since}": an ISO time or a duration such as 15m, 2h, 1d`);
  return { ...(stages ? { stages: stages as Stage[] } : {}), ...(priority !== undefined ? { priority } : {}), ...(since ? { since } : {}), limit };
}

export function register(program: Command): void {
  program
    .command('jobs')
    .description('List jobs from the job store: stage, priority, progress, tier, attempts, elapsed time and cost')
    .option('--stage <stage>', `only jobs in this stage (${STAGES.join(', ')}); comma-separated for several`)
    .option('--priority <n>', 'only jobs of this priority (1-10)')
    .option('--since <time>', 'only jobs changed since an ISO time or a duration ago (15m, 2h, 1d)')
    .option('--limit <n>', 'at most N jobs, most recently changed first', '100')
    .option('--watch', 'keep watching: redraw the table on a TTY, otherwise print a line whenever a job changes (Ctrl+C stops)')
    .option('--interval <seconds>', 'with --watch: seconds between asking the store for changes', '2')
    .option('--config <file>', 'config file instead of <data home>/config.json')
    .option('--json', 'print one JSON document on stdout')
    .addHelpText(
      'after',
      '\nCOST shows the actual cost once the job has run, otherwise the estimate as ~$x. Counts per stage go to stderr.\n' +
        '--watch reads one page, then only what changed (the store\'s change index): cheap on any number of jobs.\n' +
        'Exit codes: 0 listed (or watched until Ctrl+C), 2 usage or configuration error (or the store cannot be read).',
    )
    .action(async (opts: { stage?: string; limit?: string; priority?: string; since?: string; watch?: boolean; interval: string; config?: string; json?: boolean }) => {
      const json = opts.json === true;
      try {
        const filter = parseFilter(opts);
        const intervalSec = Number(opts.interval);
        if (!Number.isFinite(intervalSec) || intervalSec < 0.2 || intervalSec > 3600) throw usage(`--interval "${opts.interval}": seconds between 0.2 and 3600`);
        if (opts.watch && json) throw usage('--watch prints a stream, --json one document: use one of them');
        const backends = await openBackends(await configForVerb(opts));
        try {
          const store = backends.jobStore;
          if (opts.watch) {
            await watch(store, filter, intervalSec);
            process.exitCode = 0;
            return;
          }
          const [shown, counts] = await Promise.all([readJobs(store, filter), store.counts()]);
          if (json) {
            process.stdout.write(`${JSON.stringify({ schemaVersion: 1, verb: 'jobs', ok: true, jobStore: store.location, counts, count: shown.length, jobs: shown }, null, 2)}\n`);
          } else {
            if (shown.length === 0) process.stderr.write(`no jobs${filter.stages ? ` in stage ${filter.stages.join(', ')}` : ''} in ${store.location}\n`);
            else process.stdout.write(`${formatJobsTable(shown)}\n`);
            process.stderr.write(`${formatCounts(counts)} (${store.location})\n`);
          }
          process.exitCode = 0;
        } finally {
          await backends.close();
        }
      } catch (err) {
        failVerb('jobs', err, json);
      }
    });
}

/** --watch: one page, then the changes since it, until SIGINT/SIGTERM. A failed read is reported and retried. */
async function watch(store: JobStore, filter: Filter, intervalSec: number): Promise<void> {
  const { sleep } = await import('../../shared/node/sleep.ts');
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const tty = process.stdout.isTTY === true;
  const seen = new Map<string, string>();
  const rows = new Map<string, JobStatus>();
  const wanted = (s: JobStatus) => (!filter.stages || filter.stages.includes(s.stage)) && (filter.priority === undefined || s.priority === filter.priority);
  let cursor: string | null = null;
  try {
    while (!stop.signal.aborted) {
      try {
        let changed: JobStatus[];
        if (cursor === null) {
          // The cursor is taken before the page, so nothing that changes in between is missed.
          cursor = (await store.changedSince(null, 1)).cursor;
          changed = (await readJobs(store, filter)).reverse();
        } else {
          const page = await store.changedSince(cursor, 1000);
          cursor = page.cursor;
          changed = [...page.items];
        }
        for (const j of changed) {
          if (wanted(j)) rows.set(j.id, j);
          else rows.delete(j.id);
        }
        if (tty) {
          const jobs = [...rows.values()].sort((a, b) => (a.updatedAt < b.updatedAt ? 1 : -1)).slice(0, filter.limit);
          process.stdout.write(`\x1b[H\x1b[2J${jobs.length ? formatJobsTable(jobs) : `no jobs in ${store.location}`}\n\n${formatCounts(await store.counts())}; every ${intervalSec} s; Ctrl+C to stop\n`);
        } else {
          for (const j of changed.filter(wanted)) {
            const key = changeKey(j);
            if (seen.get(j.id) === key) continue;
            seen.set(j.id, key);
            process.stdout.write(`${jobLine(j)}\n`);
          }
        }
      } catch (err) {
        const code = (err as { code?: string }).code ?? 'INTERNAL';
        process.stderr.write(`${code}: reading the job store failed: ${err instanceof Error ? err.message : String(err)} (will try again)\n`);
      }
      await sleep(intervalSec * 1000, stop.signal);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
