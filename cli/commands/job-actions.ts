import type { Command } from 'commander';
import type { JobStatus } from '../../shared/common/job.ts';
import type { JobsService } from '../../shared/common/jobs-service.ts';
import { openBackends } from '../backends.ts';
import { configForVerb, failVerb } from './route.ts';

/**
 * The operator's job verbs: cancel, retry, delete, redrive. Each is one call of the jobs service per id (the console
 * makes the same calls), and each id succeeds or fails on its own: an unknown job is JOB_NOT_FOUND, a move the job's
 * stage does not allow is INVALID_REQUEST naming that stage, and the other ids still go through.
 */

export interface ActionOutcome {
  readonly id: string;
  readonly ok: boolean;
  /** Stage and tier after the action (for delete: before it). */
  readonly stage: string | null;
  readonly tier: string | null;
  readonly error?: { readonly code: string; readonly message: string };
}

type Action = (jobs: JobsService, id: string, who: string) => Promise<JobStatus>;

const ACTIONS = {
  cancel: {
    description: 'Cancel jobs: waiting ones never start, running ones stop at their next status write, on any tier',
    help: 'A running job stops within seconds wherever it runs and publishes nothing; a job already publishing (finalizing) or finished cannot be cancelled.',
    run: (async (jobs, id, who) => (await jobs.cancel(id, who)).after) as Action,
    done: 'cancelled',
  },
  retry: {
    description: 'Run failed or cancelled jobs again (a fresh attempt budget; one tier up after a tier limit), or a job waiting to retry now',
    help: 'A job that is queued or running cannot be retried (INVALID_REQUEST names its stage).',
    run: ((jobs, id, who) => jobs.retry(id, who)) as Action,
    done: 'retried',
  },
  delete: {
    description: 'Delete finished jobs (done, failed or cancelled) with their outputs',
    help: 'A waiting or running job must be cancelled first. Inputs are kept.',
    run: ((jobs, id, who) => jobs.remove(id, who)) as Action,
    done: 'deleted',
  },
} as const;

export async function runAction(jobs: JobsService, action: Action, ids: readonly string[], who = 'the CLI'): Promise<ActionOutcome[]> {
  const out: ActionOutcome[] = [];
  for (const id of ids) {
    try {
      const s = await action(jobs, id, who);
      out.push({ id, ok: true, stage: s.stage, tier: s.tier });
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'INTERNAL';
      out.push({ id, ok: false, stage: null, tier: null, error: { code, message: err instanceof Error ? err.message : String(err) } });
    }
  }
  return out;
}

function report(verb: string, done: string, outcomes: readonly ActionOutcome[], json: boolean): void {
  for (const o of outcomes) {
    if (o.ok) process.stderr.write(`${done} ${o.id}${o.stage && done !== 'deleted' ? ` (now ${o.stage}${o.tier ? ` on ${o.tier}` : ''})` : ''}\n`);
    else process.stderr.write(`${o.error!.code}: ${o.error!.message}\n`);
  }
  const ok = outcomes.every((o) => o.ok);
  if (json) process.stdout.write(`${JSON.stringify({ schemaVersion: 1, verb, ok, jobs: outcomes }, null, 2)}\n`);
  process.exitCode = ok ? 0 : 1;
}

const EXIT_HELP = 'Exit codes: 0 all done, 1 some job could not be (unknown, or its stage does not allow it), 2 usage or configuration error.';

export function register(program: Command): void {
  for (const [verb, a] of Object.entries(ACTIONS)) {
    program
      .command(verb)
      .description(a.description)
      .argument('<ids...>', 'job ids (as `tiercast jobs` lists them)')
      .option('--config <file>', 'config file instead of <data home>/config.json')
      .option('--json', 'print one JSON document on stdout')
      .addHelpText('after', `\n${a.help}\n${EXIT_HELP}`)
      .action(async (ids: string[], opts: { config?: string; json?: boolean }) => {
        const json = opts.json === true;
        try {
          const backends = await openBackends(await configForVerb(opts));
          try {
            report(verb, a.done, await runAction(backends.jobs, a.run, ids), json);
          } finally {
            await backends.close();
          }
        } catch (err) {
          failVerb(verb, err, json);
        }
      });
  }
  program
    .command('redrive')
    .description('Send dead-lettered jobs (failed after their last attempt of a retryable error) again; all of them without ids')
    .argument('[ids...]', 'job ids; none: every dead-lettered job')
    .option('--config <file>', 'config file instead of <data home>/config.json')
    .option('--json', 'print one JSON document on stdout')
    .addHelpText('after', `\n${EXIT_HELP}`)
    .action(async (ids: string[], opts: { config?: string; json?: boolean }) => {
      const json = opts.json === true;
      try {
        const backends = await openBackends(await configForVerb(opts));
        try {
          const targets = ids.length > 0 ? ids : await backends.jobs.deadLettered();
          if (targets.length === 0) process.stderr.write('no dead-lettered jobs\n');
          const redrive: Action = async (jobs, id, who) => (await jobs.redrive([id], who))[0]!;
          report('redrive', 'redriven', await runAction(backends.jobs, redrive, targets), json);
        } finally {
          await backends.close();
        }
      } catch (err) {
        failVerb('redrive', err, json);
      }
    });
}
