/**
 * The job stores at scale (issue 8: "route and create 25,000 jobs"), in one run:
 *  1. SQLite (shared/node/sqlite-job-store.ts, a jobs.db in a temp folder): route + create N jobs, inserted in
 *     batches of 500 as the jobs service submits them; a page of 50 by stage; counts per stage; peak RSS.
 *  2. The same N jobs on DynamoDB as dynalite plays it (cloud/dynamo-job-store.ts on test/helpers/dynalite.ts, in
 *     this process): jobs/s, the page and the counts. dynalite is not DynamoDB (LevelDB in memory, one request at a
 *     time through the helper): read it as "the store does its job at this size", never as DynamoDB's speed.
 * Routing uses the size mix of bench/routing-mix.ts (the same mix the JSON ledger was measured with: 12.4 s for 25,000).
 *
 *   npx tsx bench/jobstore.bench.ts [--jobs 25000] [--dynamo-jobs 25000] [--json]
 */
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDynamoJobStore, createJobTable } from '../cloud/dynamo-job-store.ts';
import { initialStatus } from '../shared/common/job-lifecycle.ts';
import type { JobStore, NewJob } from '../shared/common/job-store.ts';
import { JobSpecSchema, JOB_SCHEMA_VERSION } from '../shared/common/job.ts';
import { getLadder } from '../shared/common/ladders.ts';
import { routeJob } from '../shared/common/router.ts';
import { openSqliteJobStore } from '../shared/node/sqlite-job-store.ts';
import { startDynalite } from '../test/helpers/dynalite.ts';
import { inputFor, routingConfig } from './routing-mix.ts';

const INSERT_BATCH = 500;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const rssMiB = () => Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10;
const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

/** Route and insert N jobs in batches, then read a page of 50 queued and the counts. */
async function exercise(store: JobStore, jobs: number, config: Awaited<ReturnType<typeof routingConfig>>) {
  const ladder = getLadder('default');
  const createdAt = new Date().toISOString();
  let t = performance.now();
  let created = 0;
  for (let i = 0; i < jobs; i += INSERT_BATCH) {
    const batch: NewJob[] = [];
    for (let k = i; k < Math.min(jobs, i + INSERT_BATCH); k++) {
      const input = inputFor(k, ladder);
      const route = routeJob(input, config);
      const spec = JobSpecSchema.parse({
        schemaVersion: JOB_SCHEMA_VERSION,
        id: input.jobId!,
        createdAt,
        input: { key: `inputs/${input.jobId}/clip.mp4`, name: 'clip.mp4', sizeBytes: input.sizeBytes },
        media: input.media,
        ladder,
      });
      const { status, event } = initialStatus(spec, { tier: route.tier, tierReason: route.reason, estimatedCostUsd: route.estimate.costUsd, priceDate: route.estimate.priceDate }, new Date());
      batch.push({ spec, status, event });
    }
    created += (await store.insert(batch)).filter((o) => o.created).length;
  }
  const createSec = (performance.now() - t) / 1000;
  t = performance.now();
  const page = await store.list({ stage: 'queued', limit: 50 });
  const pageSec = (performance.now() - t) / 1000;
  t = performance.now();
  const counts = await store.counts();
  const countsSec = (performance.now() - t) / 1000;
  if (created !== jobs || page.items.length !== Math.min(50, jobs) || counts.queued !== jobs) {
    throw new Error(`${store.kind} lost jobs: created ${created} of ${jobs}, page ${page.items.length}, counted ${counts.queued} queued`);
  }
  return {
    jobs,
    seconds: { routeAndCreate: round(createSec), pageOf50ByStage: round(pageSec, 4), countsPerStage: round(countsSec, 4) },
    jobsPerSecond: Math.round(jobs / createSec),
  };
}

export async function runJobStoreBench(options: { jobs: number; dynamoJobs: number }) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-jobstore-bench-'));
  try {
    const config = await routingConfig(dir);
    global.gc?.();
    const baselineRssMiB = rssMiB();
    const sqliteStore = openSqliteJobStore(path.join(dir, 'jobs.db'));
    const sqlite = await exercise(sqliteStore, options.jobs, config);
    const health = await sqliteStore.health();
    await sqliteStore.close();
    const sqliteRssMiB = rssMiB();

    let dynamo = null;
    if (options.dynamoJobs > 0) {
      const d = await startDynalite();
      try {
        const doc = DynamoDBDocumentClient.from(d.client());
        await createJobTable(doc, 'tiercast-jobs-bench');
        dynamo = await exercise(createDynamoJobStore({ client: doc, tableName: 'tiercast-jobs-bench' }), options.dynamoJobs, config);
      } finally {
        await d.close();
      }
    }
    return {
      cpus: os.cpus().length,
      node: process.version,
      loadAverage: os.loadavg().map((n) => round(n, 1)),
      sqlite: { ...sqlite, fileMiB: round((health.bytes ?? 0) / 1024 / 1024, 1), peakRssMiB: sqliteRssMiB, peakRssOverBaselineMiB: round(sqliteRssMiB - baselineRssMiB, 1) },
      dynalite: dynamo,
      ratios: dynamo ? { sqliteOverDynaliteJobsPerSecond: round(sqlite.jobsPerSecond / dynamo.jobsPerSecond, 1) } : null,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const isMain = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const s = await runJobStoreBench({ jobs: arg('jobs', 25_000), dynamoJobs: arg('dynamo-jobs', 25_000) });
  const resultsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');
  mkdirSync(resultsDir, { recursive: true });
  const resultFile = path.join(resultsDir, `jobstore-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(resultFile, JSON.stringify(s, null, 2) + '\n');
  if (process.argv.includes('--json')) {
    process.stdout.write(JSON.stringify(s, null, 2) + '\n');
  } else {
    console.log(`job stores (${s.cpus} CPUs, Node ${s.node}, load ${s.loadAverage.join(' ')})`);
    const row = (name: string, r: NonNullable<typeof s.dynalite>) =>
      console.log(`${name.padEnd(10)} ${String(r.jobs).padStart(7)} jobs  route+create ${r.seconds.routeAndCreate} s (${r.jobsPerSecond} jobs/s)  page of 50 ${r.seconds.pageOf50ByStage} s  counts ${r.seconds.countsPerStage} s`);
    row('SQLite', s.sqlite);
    console.log(`SQLite file ${s.sqlite.fileMiB} MiB, peak RSS ${s.sqlite.peakRssMiB} MiB (${s.sqlite.peakRssOverBaselineMiB} over the baseline)`);
    if (s.dynalite) row('dynalite', s.dynalite);
    if (s.ratios) console.log(`SQLite / dynalite jobs/s: ${s.ratios.sqliteOverDynaliteJobsPerSecond} (dynalite is a functional figure, not DynamoDB's speed)`);
    console.log(`(written to ${path.relative(process.cwd(), resultFile)})`);
  }
}
