import type { Command } from 'commander';
import { STAGES, type JobStatus, type Stage } from '../../shared/common/job.ts';
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
    ['ID', 'STAGE', 'PROGRESS', 'TIER', 'ATTEMPTS', 'ELAPSED', 'COST', 'ERROR'],
    ...jobs.map((s) => [
      s.id,
      s.stage,
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

export function register(program: Command): void {
  program
    .command('jobs')
    .description('List jobs in the ledger with their stage, tier, attempts, elapsed time and cost')
    .option('--stage <stage>', `only jobs in this stage (${STAGES.join(', ')}); comma-separated for several`)
    .option('--limit <n>', 'only the N most recent jobs')
    .option('--watch', 'keep watching: redraw the table on a TTY, otherwise print a line whenever a job changes (Ctrl+C stops)')
    .option('--interval <seconds>', 'with --watch: seconds between reads of the ledger', '2')
    .option('--config <file>', 'config file instead of <data home>/config.json')
    .option('--json', 'print one JSON document on stdout')
    .addHelpText(
      'after',
      '\nCOST shows the actual cost once the job has run, otherwise the estimate as ~$x.\n' +
        '--watch reads the whole (filtered) ledger each interval: on a large S3 ledger narrow it with --stage or --limit.\n' +
        'Exit codes: 0 listed (or watched until Ctrl+C), 2 usage or configuration error (or the store cannot be read).',
    )
    .action(async (opts: { stage?: string; limit?: string; watch?: boolean; interval: string; config?: string; json?: boolean }) => {
      const json = opts.json === true;
      try {
        const stages = opts.stage ? opts.stage.split(',').map((s) => s.trim()) : undefined;
        const badStage = stages?.find((s) => !(STAGES as readonly string[]).includes(s));
        if (badStage !== undefined) throw Object.assign(new Error(`--stage "${badStage}": use one of ${STAGES.join(', ')}`), { code: 'CONFIG_INVALID' });
        const limit = opts.limit === undefined ? undefined : Number(opts.limit);
        if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
          throw Object.assign(new Error(`--limit "${opts.limit}": a positive integer`), { code: 'CONFIG_INVALID' });
        }
        const intervalSec = Number(opts.interval);
        if (!Number.isFinite(intervalSec) || intervalSec < 0.2 || intervalSec > 3600) {
          throw Object.assign(new Error(`--interval "${opts.interval}": seconds between 0.2 and 3600`), { code: 'CONFIG_INVALID' });
        }
        if (opts.watch && json) throw Object.assign(new Error('--watch prints a stream, --json one document: use one of them'), { code: 'CONFIG_INVALID' });
        const config = await configForVerb(opts);
        const { openBackends } = await import('./dispatch.ts');
        const backends = await openBackends(config);
        const read = async (): Promise<JobStatus[]> => {
          const jobs: JobStatus[] = [];
          // Ids need not sort by time (the console and scripts make their own), so all are read and sorted by createdAt.
          for await (const s of backends.ledger.listJobs(stages ? { stage: stages as Stage[] } : {})) jobs.push(s);
          jobs.sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt) || (a.id < b.id ? 1 : -1));
          return limit === undefined ? jobs : jobs.slice(0, limit);
        };
        try {
          if (opts.watch) {
            await watch(read, intervalSec, backends.store.location);
            process.exitCode = 0;
            return;
          }
          const shown = await read();
          if (json) {
            process.stdout.write(`${JSON.stringify({ schemaVersion: 1, verb: 'jobs', ok: true, store: backends.store.location, count: shown.length, jobs: shown }, null, 2)}\n`);
          } else if (shown.length === 0) {
            process.stderr.write(`no jobs${stages ? ` in stage ${stages.join(', ')}` : ''} in ${backends.store.location}\n`);
          } else {
            process.stdout.write(`${formatJobsTable(shown)}\n`);
          }
          process.exitCode = 0;
        } finally {
          backends.close();
        }
      } catch (err) {
        failVerb('jobs', err, json);
      }
    });
}

/** --watch: until SIGINT/SIGTERM, redraw (TTY) or print changed jobs (otherwise). A failed read is reported and retried. */
async function watch(read: () => Promise<JobStatus[]>, intervalSec: number, location: string): Promise<void> {
  const { sleep } = await import('../../shared/node/sleep.ts');
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const tty = process.stdout.isTTY === true;
  const seen = new Map<string, string>();
  try {
    while (!stop.signal.aborted) {
      try {
        const jobs = await read();
        if (tty) {
          const active = jobs.filter((j) => j.stage !== 'done' && j.stage !== 'failed').length;
          process.stdout.write(`\x1b[H\x1b[2J${jobs.length ? formatJobsTable(jobs) : `no jobs in ${location}`}\n\n${active} active of ${jobs.length}; every ${intervalSec} s; Ctrl+C to stop\n`);
        } else {
          for (const j of [...jobs].reverse()) {
            const key = changeKey(j);
            if (seen.get(j.id) === key) continue;
            seen.set(j.id, key);
            process.stdout.write(`${jobLine(j)}\n`);
          }
        }
      } catch (err) {
        const code = (err as { code?: string }).code ?? 'INTERNAL';
        process.stderr.write(`${code}: reading the ledger failed: ${err instanceof Error ? err.message : String(err)} (will try again)\n`);
      }
      await sleep(intervalSec * 1000, stop.signal);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
