import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Command } from 'commander';
import type { TiercastConfig } from '../../shared/common/config-schema.ts';
import { TERMINAL_STAGES, TIERS, type JobSpec, type JobStatus, type OutputFormat, type Tier } from '../../shared/common/job.ts';
import type { Ladder } from '../../shared/common/ladder-schema.ts';
import type { JobQueue } from '../../shared/common/job-queue.ts';
import type { JobLedger } from '../../shared/node/ledger.ts';
import type { ObjectStore, TransferProgress } from '../../shared/node/object-store.ts';
import type { Dispatchers } from '../../cloud/dispatch/types.ts';
import { LADDER_HELP, ladderOption, type LadderFor } from './ladder-option.ts';
import { exitCodeFor, formatBytes } from './probe.ts';
import { analyzeWithLadder, configForVerb, failVerb, formatUsdShort, parseTier, routeToJson, type AnalyzedFile } from './route.ts';

/** The store, ledger, queues and dispatchers configuration names (local default: the data home's store and queue). */
export interface Backends {
  readonly home: string;
  readonly store: ObjectStore;
  readonly ledger: JobLedger;
  readonly localQueue: JobQueue;
  readonly dispatchers: Dispatchers;
  close(): void;
}

export async function openBackends(config: TiercastConfig, options: { withDispatchers?: boolean } = {}): Promise<Backends> {
  const [{ dataHome, homePaths }, { createLedger }, { createLocalQueue }] = await Promise.all([
    import('../../shared/node/data-home.ts'),
    import('../../shared/node/ledger.ts'),
    import('../../shared/node/local-queue.ts'),
  ]);
  const home = dataHome();
  const paths = homePaths(home);
  const closers: Array<() => void> = [];
  // The store module pulls in the AWS SDK only when S3 is configured... it is imported lazily like the rest.
  const { createStoreFromConfig } = await import('../../cloud/store-from-config.ts');
  const built = createStoreFromConfig(config, { home });
  const store: ObjectStore = built.store;
  closers.push(built.close);
  const localQueue = createLocalQueue(config.queue.kind === 'local' ? (config.queue.dir ?? paths.queue) : paths.queue);
  let dispatchers: Dispatchers = {};
  if (options.withDispatchers) {
    const { createDispatchers } = await import('../../cloud/dispatch/index.ts');
    const built = createDispatchers(config, { localQueue });
    dispatchers = built.dispatchers;
    closers.push(() => built.close());
  }
  return {
    home,
    store,
    ledger: createLedger(store),
    localQueue,
    dispatchers,
    close() {
      for (const c of closers) c();
    },
  };
}

/** Sortable by time (base-36 milliseconds) and unique (random suffix); safe as a key segment. */
export function newJobId(now = Date.now()): string {
  return `j${now.toString(36)}-${randomBytes(4).toString('hex')}`;
}

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

interface DispatchedFile {
  readonly analyzed: AnalyzedFile;
  readonly jobId: string | null;
  readonly tier: Tier | null;
  readonly ref: string | null;
  readonly reason: string | null;
  readonly estimatedCostUsd: number | null;
  error: { code: string; message: string } | null;
  final: JobStatus | null;
}

function parseFormats(v: string): OutputFormat[] | null {
  const list = [...new Set(v.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean))];
  return list.length > 0 && list.every((f) => f === 'hls' || f === 'dash') ? (list as OutputFormat[]) : null;
}

/** Upload, create and dispatch one analysed file. Nothing is created in the ledger until the input is fully stored. */
async function dispatchOne(
  a: AnalyzedFile,
  jobId: string,
  ladder: Ladder,
  opts: { priority: number; tier: 'auto' | Tier; formats: OutputFormat[] },
  backends: Backends,
): Promise<DispatchedFile> {
  const base = { analyzed: a, jobId: null, tier: null, ref: null, reason: null, estimatedCostUsd: null, final: null };
  if (a.error || !a.route || a.sizeBytes === null) return { ...base, error: a.error ?? { code: 'INTERNAL', message: 'not routed' } };
  const [{ safeName }, { dispatchJob }] = await Promise.all([import('../../shared/node/safe-name.ts'), import('../../cloud/dispatch/dispatch-job.ts')]);
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
  let spec: JobSpec;
  try {
    ({ spec } = await backends.ledger.createJob({
      schemaVersion: 1,
      id: jobId,
      createdAt: new Date().toISOString(),
      input: { key, name, sizeBytes: a.sizeBytes },
      media: a.media,
      ladder,
      formats: opts.formats,
      priority: opts.priority,
      requestedTier: opts.tier,
    }));
  } catch (err) {
    // No job, so the uploaded input would be an orphan: remove it (best effort).
    await backends.store.delete(key).catch(() => undefined);
    const code = (err as { code?: string }).code ?? 'INTERNAL';
    return { ...base, error: { code, message: `${name}: ${err instanceof Error ? err.message : String(err)}` } };
  }
  try {
    const outcome = await dispatchJob(spec, a.route, { ledger: backends.ledger, dispatchers: backends.dispatchers });
    return { ...base, jobId, tier: outcome.tier, ref: outcome.ref, reason: outcome.reason, estimatedCostUsd: outcome.estimatedCostUsd, error: null };
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'DISPATCH_FAILED';
    return { ...base, jobId, tier: a.route.tier, error: { code, message: `${name}: ${err instanceof Error ? err.message : String(err)}` } };
  }
}

/** --retry: route a queued/failed job again with its last failure and dispatch it. */
async function retryOne(jobId: string, config: TiercastConfig, backends: Backends): Promise<DispatchedFile> {
  const analyzed: AnalyzedFile = { file: jobId, sizeBytes: null, media: null, fitted: null, route: null, error: null };
  const base = { analyzed, jobId, ref: null, final: null };
  try {
    const { redispatchJob } = await import('../../cloud/dispatch/dispatch-job.ts');
    const o = await redispatchJob(jobId, { ledger: backends.ledger, dispatchers: backends.dispatchers, config });
    return { ...base, tier: o.tier, ref: o.ref, reason: o.reason, estimatedCostUsd: o.estimatedCostUsd, error: null };
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'DISPATCH_FAILED';
    return { ...base, tier: null, reason: null, estimatedCostUsd: null, error: { code, message: `job ${jobId}: ${err instanceof Error ? err.message : String(err)}` } };
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * --wait: local jobs run in an in-process worker (the agent's, in local mode) until the queue is empty; cloud jobs are
 * followed through the ledger. Returns when every dispatched job is done or failed (or on Ctrl-C).
 */
async function waitForJobs(results: DispatchedFile[], config: TiercastConfig, backends: Backends, signal: AbortSignal): Promise<void> {
  const pending = () => results.filter((r) => r.jobId && !r.error && !(r.final && TERMINAL_STAGES.includes(r.final.stage)));
  const shown = new Map<string, string>();
  const refresh = async () => {
    for (const r of pending()) {
      r.final = await backends.ledger.getStatus(r.jobId!).catch(() => r.final);
      if (r.final && !TERMINAL_STAGES.includes(r.final.stage)) {
        // One line per change of stage, tier or tenth of progress: readable in CI logs.
        const line = `${r.final.stage} ${Math.floor(r.final.progress * 10) * 10}% on ${r.final.tier ?? '?'}`;
        if (shown.get(r.jobId!) !== line) process.stderr.write(`${r.jobId}: ${line}\n`);
        shown.set(r.jobId!, line);
      }
    }
  };
  const hasLocal = results.some((r) => r.tier === 'local' && !r.error);
  let worker: { once(): Promise<void>; stop(o?: { graceMs?: number }): Promise<void> } | null = null;
  let workerRun: Promise<void> | null = null;
  if (hasLocal) {
    const [{ createWorker }, { executeJob }, { createLogger }, { createLocalMetricsSink }, { homePaths }] = await Promise.all([
      import('../../agent/worker.ts'),
      import('../../shared/node/execute-job.ts'),
      import('../../shared/node/log.ts'),
      import('../../shared/node/local-metrics.ts'),
      import('../../shared/node/data-home.ts'),
    ]);
    const paths = homePaths(backends.home);
    const startWorker = () => {
      const w = createWorker({
        queue: backends.localQueue,
        store: backends.store,
        ledger: backends.ledger,
        tier: 'local',
        concurrency: config.tiers.local.concurrency,
        workRoot: paths.work,
        minFreeDiskBytes: 256 * 1024 * 1024,
        visibilityTimeoutSec: 120,
        heartbeatSec: 30,
        waitSeconds: 1,
        maxReceives: 3,
        graceMs: 5_000,
        log: createLogger({ name: 'tiercast-dispatch', level: process.env.TIERCAST_LOG_LEVEL ?? 'warn' }),
        metrics: createLocalMetricsSink(paths.metrics, { namespace: config.metrics.namespace }),
        execute: executeJob as Parameters<typeof createWorker>[0]['execute'],
      });
      worker = w;
      workerRun = w.once().catch((err: unknown) => {
        process.stderr.write(`local worker: ${err instanceof Error ? err.message : String(err)}\n`);
      });
    };
    startWorker();
    signal.addEventListener('abort', () => void (worker as { stop(o?: { graceMs?: number }): Promise<void> } | null)?.stop({ graceMs: 0 }), { once: true });
    // A job set back for retry is invisible for a while, so once() can end before it is done: run again until it is.
    for (;;) {
      await workerRun;
      await refresh();
      if (signal.aborted || !pending().some((r) => r.tier === 'local')) break;
      await sleep(1000);
      startWorker();
    }
  }
  while (!signal.aborted && pending().length > 0) {
    await refresh();
    if (pending().length > 0) await sleep(2000);
  }
}

export function register(program: Command): void {
  program
    .command('dispatch')
    .description('Upload files to the store, create jobs in the ledger and send each to its tier')
    .argument('<files...>', 'media files (with --retry: job ids)')
    .option('--tier <tier>', `auto or one of ${TIERS.join(', ')}`, 'auto')
    .option('--retry', 'the arguments are ids of queued or failed jobs: route each again (one tier up after a tier limit) and dispatch it')
    .option('--ladder <name|file|auto>', LADDER_HELP, 'default')
    .option('--priority <n>', '1-10; 8-10 go to the high-priority queue', '5')
    .option('--formats <list>', 'hls, dash or both', 'hls,dash')
    .option('--wait', 'wait until every job is done or failed; local jobs run in this process')
    .option('--config <file>', 'config file instead of <data home>/config.json')
    .option('--json', 'print one JSON document on stdout')
    .addHelpText(
      'after',
      '\nEach file is probed and routed first (see `tiercast route`); a file that cannot be probed is not uploaded.\n' +
        'Inputs go to inputs/<job id>/<safe name> in the configured store, the job is created only once its input is\n' +
        'stored, then handed to its tier. Local jobs wait on the data home queue for `tiercast agent --local`\n' +
        '(or use --wait, which runs that worker here until they finish).\n' +
        'With --retry, a job a tier handed back (TIMEOUT, TIER_LIMIT_EXCEEDED, OUT_OF_MEMORY) goes one tier up.\n' +
        'Exit codes: 0 all dispatched (with --wait: all done), 1 some file or job failed, 2 usage or configuration error.',
    )
    .action(async (files: string[], opts: { tier?: string; ladder: string; priority: string; formats: string; wait?: boolean; retry?: boolean; config?: string; json?: boolean }) => {
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
        config = await configForVerb(opts);
        ladderFor = await ladderOption(opts.ladder);
        backends = await openBackends(config, { withDispatchers: true });
      } catch (err) {
        failVerb('dispatch', err, json);
        return;
      }
      const controller = new AbortController();
      const onSignal = () => controller.abort();
      process.once('SIGINT', onSignal);
      const results: DispatchedFile[] = [];
      try {
        for (const file of files) {
          if (controller.signal.aborted) break;
          if (opts.retry) {
            const r = await retryOne(file, config, backends);
            results.push(r);
            if (r.error) process.stderr.write(`${r.error.code}: ${r.error.message}\n`);
            else process.stderr.write(`job ${r.jobId} -> ${r.tier} (~${formatUsdShort(r.estimatedCostUsd ?? 0)}): ${r.reason}\n`);
            continue;
          }
          const jobId = newJobId();
          // `auto` is resolved here, where the source is on disk: the job spec carries the resolved ladder.
          const { analyzed, ladder } = await analyzeWithLadder(file, ladderFor!, config, { tier: tier!, jobId, formatCount: formats!.length });
          const r = await dispatchOne(analyzed, jobId, ladder!, { priority, tier: tier!, formats: formats! }, backends);
          results.push(r);
          const name = path.basename(file);
          if (r.error) process.stderr.write(`${r.error.code}: ${r.error.message}\n`);
          else process.stderr.write(`${name} -> job ${r.jobId} on ${r.tier} (~${formatUsdShort(r.estimatedCostUsd ?? 0)}): ${r.reason}\n`);
          if (!r.error && r.tier === 'local' && config.store.kind === 's3' && !opts.wait) {
            // `tiercast agent --local` serves the data home's folder store, not this bucket.
            process.stderr.write(`  note: job ${r.jobId} is in ${backends.store.location} on the local queue; only \`tiercast dispatch --wait\` runs local jobs of an S3 store\n`);
          }
        }
        if (opts.wait) await waitForJobs(results, config, backends, controller.signal);
      } finally {
        process.off('SIGINT', onSignal);
        backends.close();
      }
      const failedJob = (r: DispatchedFile) => r.error !== null || (opts.wait === true && r.final?.stage !== 'done');
      const failed = results.filter(failedJob).length + (files.length - results.length);
      if (json) {
        const doc = {
          schemaVersion: 1,
          verb: 'dispatch',
          ok: failed === 0,
          store: backends.store.location,
          jobs: results.map((r) => ({
            ...routeToJson(r.analyzed),
            jobId: r.jobId,
            tier: r.tier ?? r.analyzed.route?.tier ?? null,
            reason: r.reason ?? r.analyzed.route?.reason ?? null,
            ref: r.ref,
            estimatedCostUsd: r.estimatedCostUsd,
            status: r.final ? { stage: r.final.stage, progress: r.final.progress, error: r.final.error, costUsd: r.final.costUsd } : null,
            error: r.error ?? (r.final?.error ? { code: r.final.error.code, message: r.final.error.message } : null),
          })),
        };
        process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
      } else {
        if (opts.wait) {
          for (const r of results.filter((x) => x.final)) {
            process.stderr.write(`${r.jobId}: ${r.final!.stage}${r.final!.error ? ` ${r.final!.error.code}: ${r.final!.error.message}` : ''}\n`);
          }
        }
        if (files.length > 1) process.stderr.write(`${files.length - failed} of ${files.length} ${opts.wait ? 'done' : 'dispatched'}\n`);
      }
      const allConfig = failed > 0 && results.every((r) => !failedJob(r) || (r.error !== null && exitCodeFor(r.error.code) === 2));
      process.exitCode = failed === 0 ? 0 : allConfig ? 2 : 1;
    });
}
