import path from 'node:path';
import type { Command } from 'commander';
import type { TiercastConfig } from '../../shared/common/config-schema.ts';
import { TERMINAL_STAGES, TIERS, type JobSpec, type JobStatus, type OutputFormat, type Tier } from '../../shared/common/job.ts';
import type { Ladder } from '../../shared/common/ladder-schema.ts';
import type { TransferProgress } from '../../shared/node/object-store.ts';
import { newJobId } from '../../shared/node/job-ids.ts';
import { openBackends, type Backends } from '../backends.ts';
import { LADDER_HELP, ladderOption, type LadderFor } from './ladder-option.ts';
import { exitCodeFor, formatBytes } from './probe.ts';
import { analyzeWithLadder, configForVerb, failVerb, formatUsdShort, parseTier, routeToJson, type AnalyzedFile } from './route.ts';

async function uploadProgress(label: string, total: number): Promise<{ update: (p: TransferProgress) => void; stop: () => void }> {
  if (process.stderr.isTTY) {
    const { SingleBar, Presets } = await import('cli-progress');
    const bar = new SingleBar({ stream: process.stderr, format: `upload ${label} |{bar}| {percentage}% {value}/{total} bytes`, hideCursor: true }, Presets.shades_classic);
    bar.start(Math.max(1, total), 0);
    return { update: (p) => bar.update(p.loaded), stop: () => bar.stop() };
  }
  let lastQuarter = -1;
  return {
    update: (p) => {
      const quarter = Math.floor((p.loaded / Math.max(1, total)) * 4);
      if (quarter === lastQuarter) return;
      lastQuarter = quarter;
      process.stderr.write(`upload ${label}: ${Math.min(100, quarter * 25)}% of ${formatBytes(total)}\n`);
    },
    stop: () => undefined,
  };
}

interface SubmittedFile {
  readonly analyzed: AnalyzedFile;
  readonly jobId: string | null;
  readonly tier: Tier | null;
  readonly reason: string | null;
  readonly estimatedCostUsd: number | null;
  error: { code: string; message: string } | null;
  final: JobStatus | null;
}

function parseFormats(v: string): OutputFormat[] | null {
  const list = [...new Set(v.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean))];
  return list.length > 0 && list.every((f) => f === 'hls' || f === 'dash') ? (list as OutputFormat[]) : null;
}

/** Upload and submit one analysed file. Nothing is created in the job store until the input is fully stored. */
async function submitOne(
  a: AnalyzedFile,
  jobId: string,
  ladder: Ladder | null,
  opts: { priority: number; tier: 'auto' | Tier; formats: OutputFormat[]; webhookUrl: string | null },
  backends: Backends,
): Promise<SubmittedFile> {
  const base = { analyzed: a, jobId: null, tier: null, reason: null, estimatedCostUsd: null, final: null };
  if (a.error || !a.route || a.sizeBytes === null || !ladder) return { ...base, error: a.error ?? { code: 'INTERNAL', message: 'not routed' } };
  const { safeName } = await import('../../shared/node/safe-name.ts');
  const name = path.basename(a.file);
  const ext = path.extname(name).toLowerCase().replace(/[^.a-z0-9]/g, '');
  const key = `inputs/${jobId}/${safeName(name)}${ext}`;
  const progress = await uploadProgress(name, a.sizeBytes);
  try {
    await backends.store.putFile(key, a.file, { onProgress: progress.update });
  } catch (err) {
    progress.stop();
    const code = (err as { code?: string }).code ?? 'STORE_ERROR';
    return { ...base, error: { code, message: `${name}: upload to ${backends.store.location} failed: ${err instanceof Error ? err.message : String(err)}` } };
  }
  progress.stop();
  try {
    const [submitted] = await backends.jobs.submit([
      {
        spec: { schemaVersion: 1, id: jobId, createdAt: new Date().toISOString(), input: { key, name, sizeBytes: a.sizeBytes }, media: a.media, ladder, formats: opts.formats, priority: opts.priority, requestedTier: opts.tier, webhookUrl: opts.webhookUrl },
        route: a.route,
        // The job id is random per run: a retried command makes a new job, and the key ties the job to its input.
        idempotencyKey: key,
      },
    ]);
    const status = submitted!.status;
    return { ...base, jobId, tier: status.tier, reason: status.tierReason, estimatedCostUsd: status.estimatedCostUsd, error: null, final: status };
  } catch (err) {
    // No job, so the uploaded input would be an orphan: remove it (best effort).
    await backends.store.delete(key).catch(() => undefined);
    const code = (err as { code?: string }).code ?? 'INTERNAL';
    return { ...base, error: { code, message: `${name}: ${err instanceof Error ? err.message : String(err)}` } };
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * --wait: local jobs run in this process on the one local-worker set-up (as `tiercast agent --local`), until every
 * submitted job is finished; cloud jobs are followed through the job store. Returns on Ctrl-C too.
 */
async function waitForJobs(results: SubmittedFile[], config: TiercastConfig, backends: Backends, signal: AbortSignal): Promise<void> {
  const pending = () => results.filter((r) => r.jobId && !r.error && !(r.final && TERMINAL_STAGES.includes(r.final.stage)));
  const shown = new Map<string, string>();
  const refresh = async () => {
    for (const r of pending()) {
      r.final = (await backends.jobStore.get(r.jobId!).catch(() => null))?.status ?? r.final;
      if (r.final && !TERMINAL_STAGES.includes(r.final.stage)) {
        // One line per change of stage, tier or tenth of progress: readable in CI logs.
        const line = `${r.final.stage} ${Math.floor(r.final.progress * 10) * 10}% on ${r.final.tier ?? '?'}`;
        if (shown.get(r.jobId!) !== line) process.stderr.write(`${r.jobId}: ${line}\n`);
        shown.set(r.jobId!, line);
      }
    }
  };
  let stopWorker: (() => Promise<void>) | null = null;
  if (results.some((r) => r.tier === 'local' && !r.error)) {
    const [{ createLocalWorker }, { createLogger }, { createLocalMetricsSink }, { homePaths }] = await Promise.all([
      import('../../shared/node/local-worker.ts'),
      import('../../shared/node/log.ts'),
      import('../../shared/node/local-metrics.ts'),
      import('../../shared/node/data-home.ts'),
    ]);
    const { worker } = createLocalWorker({
      config,
      home: backends.home,
      queue: backends.localQueue,
      store: backends.store,
      jobs: backends.jobs,
      log: createLogger({ name: 'tiercast-submit', level: process.env.TIERCAST_LOG_LEVEL ?? 'warn' }),
      metrics: createLocalMetricsSink(homePaths(backends.home).metrics, { namespace: config.metrics.namespace }),
      waitSeconds: 1,
    });
    await worker.start();
    stopWorker = () => worker.stop({ graceMs: 0 });
  }
  try {
    while (!signal.aborted && pending().length > 0) {
      await refresh();
      if (pending().length > 0) await sleep(500);
    }
  } finally {
    await stopWorker?.();
    await refresh();
  }
}

export function register(program: Command): void {
  program
    .command('submit')
    .alias('dispatch')
    .description('Upload files to the store and submit a job for each; admission hands them to their tiers')
    .argument('<files...>', 'media files')
    .option('--tier <tier>', `auto or one of ${TIERS.join(', ')}`, 'auto')
    .option('--ladder <name|file|auto>', LADDER_HELP, 'default')
    .option('--priority <n>', '1-10: admission takes the highest first, then the oldest', '5')
    .option('--formats <list>', 'hls, dash or both', 'hls,dash')
    .option('--codecs <list>', 'video codecs, comma-separated, in order of preference: h264, hevc, av1 (overrides the ladder\'s)')
    .option('--webhook <url>', "this job's own webhook (besides notifications.webhookUrl)")
    .option('--wait', 'wait until every job is finished; local jobs run in this process')
    .option('--config <file>', 'config file instead of <data home>/config.json')
    .option('--json', 'print one JSON document on stdout')
    .addHelpText(
      'after',
      '\nEach file is probed and routed first (see `tiercast route`); a file that cannot be probed is not uploaded.\n' +
        'Inputs go to inputs/<job id>/<safe name> in the configured store; the job is created only once its input is\n' +
        'stored, then admitted to its tier while the tier is under its cap (jobs.maxInFlight). Local jobs wait for\n' +
        '`tiercast agent --local` (or use --wait, which runs that worker here until they finish).\n' +
        '`dispatch` is the old name of this verb. Retry, cancel, delete and redrive jobs with their own verbs.\n' +
        'Exit codes: 0 all submitted (with --wait: all done), 1 some file or job failed, 2 usage or configuration error.',
    )
    .action(async (files: string[], opts: { tier?: string; ladder: string; priority: string; formats: string; codecs?: string; webhook?: string; wait?: boolean; config?: string; json?: boolean }) => {
      const json = opts.json === true;
      const tier = parseTier(opts.tier);
      const priority = Number(opts.priority);
      const formats = parseFormats(opts.formats);
      let config: TiercastConfig;
      let ladderFor: LadderFor;
      let backends: Backends;
      try {
        const usage = (m: string) => Object.assign(new Error(m), { code: 'CONFIG_INVALID' });
        if (!tier) throw usage(`--tier "${opts.tier}": use auto or one of ${TIERS.join(', ')}`);
        if (!Number.isInteger(priority) || priority < 1 || priority > 10) throw usage(`--priority "${opts.priority}": an integer 1-10`);
        if (!formats) throw usage(`--formats "${opts.formats}": use hls, dash or hls,dash`);
        if (opts.webhook !== undefined && !/^https?:\/\/[^\s]+$/.test(opts.webhook)) throw usage(`--webhook "${opts.webhook}": an http(s) URL`);
        config = await configForVerb(opts);
        ladderFor = await ladderOption(opts.ladder, opts.codecs);
        backends = await openBackends(config);
      } catch (err) {
        failVerb('submit', err, json);
        return;
      }
      const controller = new AbortController();
      const onSignal = () => controller.abort();
      process.once('SIGINT', onSignal);
      const results: SubmittedFile[] = [];
      try {
        for (const file of files) {
          if (controller.signal.aborted) break;
          const jobId = newJobId();
          // `auto` is resolved here, where the source is on disk: the job spec carries the resolved ladder.
          const { analyzed, ladder } = await analyzeWithLadder(file, ladderFor!, config, { tier: tier!, jobId, formatCount: formats!.length });
          const r = await submitOne(analyzed, jobId, ladder, { priority, tier: tier!, formats: formats!, webhookUrl: opts.webhook ?? null }, backends);
          results.push(r);
          const name = path.basename(file);
          if (r.error) process.stderr.write(`${r.error.code}: ${r.error.message}\n`);
          else process.stderr.write(`${name} -> job ${r.jobId} on ${r.tier} (~${formatUsdShort(r.estimatedCostUsd ?? 0)}): ${r.reason}\n`);
          if (!r.error && r.tier === 'local' && config.store.kind === 's3' && !opts.wait) {
            // `tiercast agent --local` serves the data home's folder store, not this bucket.
            process.stderr.write(`  note: job ${r.jobId} is in ${backends.store.location} for the local tier; only \`tiercast submit --wait\` runs local jobs of an S3 store\n`);
          }
        }
        if (opts.wait) await waitForJobs(results, config, backends, controller.signal);
      } finally {
        process.off('SIGINT', onSignal);
        await backends.close();
      }
      const failedJob = (r: SubmittedFile) => r.error !== null || (opts.wait === true && r.final?.stage !== 'done');
      const failed = results.filter(failedJob).length + (files.length - results.length);
      if (json) {
        const doc = {
          schemaVersion: 1,
          verb: 'submit',
          ok: failed === 0,
          store: backends.store.location,
          jobStore: backends.jobStore.location,
          jobs: results.map((r) => ({
            ...routeToJson(r.analyzed),
            jobId: r.jobId,
            tier: r.tier ?? r.analyzed.route?.tier ?? null,
            reason: r.reason ?? r.analyzed.route?.reason ?? null,
            estimatedCostUsd: r.estimatedCostUsd,
            status: r.final ? { stage: r.final.stage, progress: r.final.progress, attempts: r.final.attempts, error: r.final.error, costUsd: r.final.costUsd } : null,
            error: r.error ?? (r.final?.error && r.final.stage !== 'done' ? { code: r.final.error.code, message: r.final.error.message } : null),
          })),
        };
        process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
      } else {
        if (opts.wait) {
          for (const r of results.filter((x) => x.final)) {
            process.stderr.write(`${r.jobId}: ${r.final!.stage}${r.final!.error ? ` ${r.final!.error.code}: ${r.final!.error.message}` : ''}\n`);
          }
        }
        if (files.length > 1) process.stderr.write(`${files.length - failed} of ${files.length} ${opts.wait ? 'done' : 'submitted'}\n`);
      }
      const allConfig = failed > 0 && results.every((r) => !failedJob(r) || (r.error !== null && exitCodeFor(r.error.code) === 2));
      process.exitCode = failed === 0 ? 0 : allConfig ? 2 : 1;
    });
}
