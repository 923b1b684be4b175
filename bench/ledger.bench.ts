/**
 * Routing plus the job ledger at scale (issue: "routing plus creating 25,000 jobs in the local ledger"), in one run:
 *  1. route N jobs (pure router, a realistic size/duration mix) - the routing cost alone;
 *  2. route + create N jobs in a local-folder ledger (spec + status per job, 16 in flight), the route's tier, reason
 *     and estimate written into the status as dispatch does;
 *  3. list all N jobs back (what `tiercast jobs` and the console do), and a stage-filtered list stopped at 50.
 * Reported: seconds and jobs/s per phase, routing's share of create time, listing time per job against create time
 * per job, and peak RSS (whole process, from getrusage) after each phase against the baseline after imports, plus
 * heap in use. The machine is shared: compare ratios, not seconds.
 *
 *   npx tsx bench/ledger.bench.ts [--jobs 25000] [--concurrency 16] [--keep] [--json]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { JOB_SCHEMA_VERSION, type JobSpecInput } from '../shared/common/job.ts';
import { getLadder } from '../shared/common/ladders.ts';
import { routeJob, type Route, type RouteInput } from '../shared/common/router.ts';
import { loadConfig } from '../shared/node/config.ts';
import { createLedger } from '../shared/node/ledger.ts';
import { createLocalStore } from '../shared/node/local-store.ts';

const MB = 1024 * 1024;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const rssMiB = () => Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10;
const heapMiB = () => Math.round((process.memoryUsage().heapUsed / MB) * 10) / 10;
const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

/** The issue's mix (60% < 50 MB, 30% 50-150 MB, 10% larger), 1080p30 at 5-12 Mb/s, deterministic per index. */
export function inputFor(i: number, ladder: RouteInput['ladder']): RouteInput {
  const r = (Math.imul(i, 2654435761) >>> 0) / 2 ** 32;
  // A second, independent draw for the bitrate, so size and duration are not tied together.
  const r2 = (Math.imul(i ^ 0x5bd1e995, 2246822519) >>> 0) / 2 ** 32;
  const band = i % 10;
  const sizeMb = band < 6 ? 5 + r * 44 : band < 9 ? 50 + r * 99 : 151 + r * 1500;
  const bitrate = 5e6 + r2 * 7e6;
  return {
    sizeBytes: Math.round(sizeMb * MB),
    media: { durationSec: (sizeMb * MB * 8) / bitrate, width: 1920, height: 1080, fps: 30 },
    ladder,
    jobId: `bench-${String(i).padStart(6, '0')}`,
  };
}

/** All AWS tiers named (no calls are made): the router then weighs every tier, its most expensive path. */
export function routingConfig(home: string) {
  return loadConfig({
    home,
    env: {
      TIERCAST_BUCKET: 'bench-bucket',
      AWS_REGION: 'us-east-1',
      LAMBDA_FUNCTION_NAME: 'f',
      LAMBDA_FUNCTION_NAME_ENHANCED: 'g',
      ECS_CLUSTER_NAME: 'c',
      ECS_TASK_DEFINITION: 't',
      ECS_SUBNETS: 'subnet-0a',
      TIERCAST_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/q',
    },
  });
}

export async function runLedgerBench(options: { jobs: number; concurrency: number; keep: boolean }) {
  const { jobs, concurrency } = options;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-ledger-bench-'));
  const config = await routingConfig(dir);
  const ladder = getLadder('default');
  const ledger = createLedger(createLocalStore(path.join(dir, 'store')));
  global.gc?.();
  const baseline = { rssMiB: rssMiB(), heapMiB: heapMiB() };

  try {
    // 1. Routing alone.
    let t = performance.now();
    const tiers: Record<string, number> = {};
    for (let i = 0; i < jobs; i++) {
      const route = routeJob(inputFor(i, ladder), config);
      tiers[route.tier] = (tiers[route.tier] ?? 0) + 1;
    }
    const routeSec = (performance.now() - t) / 1000;
    const afterRoute = { rssMiB: rssMiB(), heapMiB: heapMiB() };

    // 2. Route + create, as dispatch does (minus the upload and the adapter call).
    // A fixed pool of workers pulling the next index, so the harness holds `concurrency` promises, not N.
    const createdAt = new Date().toISOString();
    t = performance.now();
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < jobs; i = next++) {
        const input = inputFor(i, ladder);
        const route: Route = routeJob(input, config);
        const spec: JobSpecInput = {
          schemaVersion: JOB_SCHEMA_VERSION,
          id: input.jobId!,
          createdAt,
          input: { key: `inputs/${input.jobId}/clip.mp4`, name: 'clip.mp4', sizeBytes: input.sizeBytes },
          media: input.media,
          ladder,
        };
        await ledger.createJob(spec, { tier: route.tier, tierReason: route.reason, estimatedCostUsd: route.estimate.costUsd, priceDate: route.estimate.priceDate });
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const createSec = (performance.now() - t) / 1000;
    const afterCreate = { rssMiB: rssMiB(), heapMiB: heapMiB() };

    // 3. List all back, then a filtered page.
    t = performance.now();
    let listed = 0;
    let withReason = 0;
    for await (const s of ledger.listJobs()) {
      listed++;
      if (s.tierReason) withReason++;
    }
    const listSec = (performance.now() - t) / 1000;
    t = performance.now();
    let page = 0;
    for await (const _ of ledger.listJobs({ stage: 'queued', limit: 50 })) page++;
    const pageSec = (performance.now() - t) / 1000;
    const afterList = { rssMiB: rssMiB(), heapMiB: heapMiB() };
    if (listed !== jobs || withReason !== jobs || page !== Math.min(50, jobs)) {
      throw new Error(`ledger lost jobs: created ${jobs}, listed ${listed} (${withReason} with a reason), page ${page}`);
    }

    return {
      jobs,
      concurrency,
      cpus: os.cpus().length,
      node: process.version,
      tiers,
      seconds: { route: round(routeSec, 3), routeAndCreate: round(createSec), listAll: round(listSec), listFirst50Queued: round(pageSec, 3) },
      jobsPerSecond: { route: Math.round(jobs / routeSec), routeAndCreate: Math.round(jobs / createSec), listAll: Math.round(jobs / listSec) },
      ratios: {
        routingShareOfCreate: round(routeSec / createSec, 4),
        listPerJobOverCreatePerJob: round(listSec / createSec, 3),
      },
      memory: {
        baseline,
        afterRoute,
        afterCreate,
        afterList,
        peakRssOverBaselineMiB: round(afterList.rssMiB - baseline.rssMiB, 1),
      },
    };
  } finally {
    if (!options.keep) rmSync(dir, { recursive: true, force: true });
    else process.stderr.write(`kept ${dir}\n`);
  }
}

const isMain = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const summary = await runLedgerBench({ jobs: arg('jobs', 25_000), concurrency: arg('concurrency', 16), keep: process.argv.includes('--keep') });
  const resultsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');
  mkdirSync(resultsDir, { recursive: true });
  const resultFile = path.join(resultsDir, `ledger-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(resultFile, JSON.stringify(summary, null, 2) + '\n');
  if (process.argv.includes('--json')) {
    process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
  } else {
    const s = summary;
    console.log(`ledger: ${s.jobs} jobs in a local-folder store, ${s.concurrency} in flight (${s.cpus} CPUs, Node ${s.node})`);
    console.log(`tiers chosen: ${Object.entries(s.tiers).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    console.log('phase                 seconds    jobs/s   peak RSS MiB   heap MiB');
    const row = (name: string, sec: number, rate: number | string, m: { rssMiB: number; heapMiB: number }) =>
      console.log(`${name.padEnd(20)} ${String(sec).padStart(8)} ${String(rate).padStart(9)} ${String(m.rssMiB).padStart(14)} ${String(m.heapMiB).padStart(10)}`);
    row('baseline', 0, '-', s.memory.baseline);
    row('route only', s.seconds.route, s.jobsPerSecond.route, s.memory.afterRoute);
    row('route + createJob', s.seconds.routeAndCreate, s.jobsPerSecond.routeAndCreate, s.memory.afterCreate);
    row('listJobs (all)', s.seconds.listAll, s.jobsPerSecond.listAll, s.memory.afterList);
    console.log(`listJobs(stage queued, limit 50): ${s.seconds.listFirst50Queued} s`);
    console.log(`routing share of route+create time: ${(s.ratios.routingShareOfCreate * 100).toFixed(2)}%`);
    console.log(`list all / create all time: ${s.ratios.listPerJobOverCreatePerJob}`);
    console.log(`peak RSS over baseline: ${s.memory.peakRssOverBaselineMiB} MiB`);
    console.log(`(written to ${path.relative(process.cwd(), resultFile)})`);
  }
}
