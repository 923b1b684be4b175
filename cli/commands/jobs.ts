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

export function register(program: Command): void {
  program
    .command('jobs')
    .description('List jobs in the ledger with their stage, tier, attempts, elapsed time and cost')
    .option('--stage <stage>', `only jobs in this stage (${STAGES.join(', ')}); comma-separated for several`)
    .option('--limit <n>', 'only the N most recent jobs')
    .option('--config <file>', 'config file instead of <data home>/config.json')
    .option('--json', 'print one JSON document on stdout')
    .addHelpText('after', '\nCOST shows the actual cost once the job has run, otherwise the estimate as ~$x.\nExit codes: 0 listed, 2 usage or configuration error (or the store cannot be read).')
    .action(async (opts: { stage?: string; limit?: string; config?: string; json?: boolean }) => {
      const json = opts.json === true;
      try {
        const stages = opts.stage ? opts.stage.split(',').map((s) => s.trim()) : undefined;
        const badStage = stages?.find((s) => !(STAGES as readonly string[]).includes(s));
        if (badStage !== undefined) throw Object.assign(new Error(`--stage "${badStage}": use one of ${STAGES.join(', ')}`), { code: 'CONFIG_INVALID' });
        const limit = opts.limit === undefined ? undefined : Number(opts.limit);
        if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
          throw Object.assign(new Error(`--limit "${opts.limit}": a positive integer`), { code: 'CONFIG_INVALID' });
        }
        const config = await configForVerb(opts);
        const { openBackends } = await import('./dispatch.ts');
        const backends = await openBackends(config);
        const jobs: JobStatus[] = [];
        try {
          // Ids need not sort by time (the console and scripts make their own), so all are read and sorted by createdAt.
          for await (const s of backends.ledger.listJobs(stages ? { stage: stages as Stage[] } : {})) jobs.push(s);
        } finally {
          backends.close();
        }
        jobs.sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt) || (a.id < b.id ? 1 : -1));
        const shown = limit === undefined ? jobs : jobs.slice(0, limit);
        if (json) {
          process.stdout.write(`${JSON.stringify({ schemaVersion: 1, verb: 'jobs', ok: true, store: backends.store.location, count: shown.length, jobs: shown }, null, 2)}\n`);
        } else if (shown.length === 0) {
          process.stderr.write(`no jobs${stages ? ` in stage ${stages.join(', ')}` : ''} in ${backends.store.location}\n`);
        } else {
          process.stdout.write(`${formatJobsTable(shown)}\n`);
        }
        process.exitCode = 0;
      } catch (err) {
        failVerb('jobs', err, json);
      }
    });
}
