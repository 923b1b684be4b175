import type { Command } from 'commander';
import type { JobLedger } from '../../shared/node/ledger.ts';
import { configForVerb, failVerb } from './route.ts';

interface CancelOutcome {
  readonly id: string;
  readonly ok: boolean;
  /** Stage and tier the job was in when the cancel was written (null when it could not be read). */
  readonly previousStage: string | null;
  readonly tier: string | null;
  readonly error?: { readonly code: string; readonly message: string };
}

/** Each id cancelled on its own: an unknown or finished job is reported and the others are still cancelled. */
export async function cancelJobs(ledger: Pick<JobLedger, 'updateStatus' | 'getStatus'>, ids: readonly string[], who = 'the CLI'): Promise<CancelOutcome[]> {
  const { cancelJob } = await import('../../shared/node/ledger.ts');
  const out: CancelOutcome[] = [];
  for (const id of ids) {
    try {
      const { before } = await cancelJob(ledger, id, who);
      out.push({ id, ok: true, previousStage: before.stage, tier: before.tier });
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'INTERNAL';
      out.push({ id, ok: false, previousStage: null, tier: null, error: { code, message: err instanceof Error ? err.message : String(err) } });
    }
  }
  return out;
}

export function register(program: Command): void {
  program
    .command('cancel')
    .description('Cancel jobs: queued ones never start, running ones stop at their next status write, on any tier')
    .argument('<ids...>', 'job ids (as `tiercast jobs` lists them)')
    .option('--config <file>', 'config file instead of <data home>/config.json')
    .option('--json', 'print one JSON document on stdout')
    .addHelpText(
      'after',
      '\nA running job stops within seconds wherever it runs (Lambda, Fargate, EC2 agents, this machine) and publishes\n' +
        'nothing; a job whose outputs were already published stays done.\n' +
        'Exit codes: 0 all cancelled, 1 some job could not be (unknown, or already done or failed), 2 usage or configuration error.',
    )
    .action(async (ids: string[], opts: { config?: string; json?: boolean }) => {
      const json = opts.json === true;
      try {
        const config = await configForVerb(opts);
        const { openBackends } = await import('./dispatch.ts');
        const backends = await openBackends(config);
        let outcomes: CancelOutcome[];
        try {
          outcomes = await cancelJobs(backends.ledger, ids);
        } finally {
          backends.close();
        }
        for (const o of outcomes) {
          if (o.ok) process.stderr.write(`cancelled ${o.id} (was ${o.previousStage}${o.tier ? ` on ${o.tier}` : ''})\n`);
          else process.stderr.write(`${o.error!.code}: ${o.error!.message}\n`);
        }
        const ok = outcomes.every((o) => o.ok);
        if (json) process.stdout.write(`${JSON.stringify({ schemaVersion: 1, verb: 'cancel', ok, jobs: outcomes }, null, 2)}\n`);
        process.exitCode = ok ? 0 : 1;
      } catch (err) {
        failVerb('cancel', err, json);
      }
    });
}
