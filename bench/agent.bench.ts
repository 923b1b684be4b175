/**
 * Agent overhead benchmark, in local mode (local queue + local store + the real executeJob and ffmpeg):
 * many tiny jobs (default 20 x 1 s clips) run by the agent's worker loop, against calling the core (transcodeFile)
 * directly on the same inputs, one job at a time in both cases. Reported per job:
 *   - pre:  from the worker taking the message to the transcode (probe + ffmpeg) starting (ledger reads, status writes,
 *           input copy);
 *   - post: from the transcode's end to the message being deleted (publish with sha256, manifest, status, delete);
 *   - total agent time / total core time (ratio).
 * The machine is shared, so compare the ratio, not the seconds.
 *
 *   npx tsx bench/agent.bench.ts [--jobs 20] [--duration 1] [--json]
 */
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { existsSync, renameSync } from 'node:fs';
import { pino } from 'pino';
import { createWorker, type ExecuteJobFn } from '../shared/node/worker.ts';
import { storeKeys } from '../shared/common/job.ts';
import { createJobsService } from '../shared/common/jobs-service.ts';
import { openSqliteJobStore } from '../shared/node/sqlite-job-store.ts';
import { createLocalDispatcher } from '../cloud/dispatch/local.ts';
import { LadderSchema } from '../shared/common/ladder-schema.ts';
import { noopMetrics } from '../shared/common/metrics-query.ts';
import { executeJob } from '../shared/node/execute-job.ts';
import { createLocalQueue } from '../shared/node/local-queue.ts';
import { createLocalStore } from '../shared/node/local-store.ts';
import { transcodeFile } from '../shared/node/transcode.ts';
import { loadConfig } from '../shared/node/config.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const jobs = Number(arg('jobs', '20'));
const durationSec = Number(arg('duration', '1'));
const asJson = process.argv.includes('--json');

const ladder = LadderSchema.parse({
  name: 'bench-tiny',
  segmentSeconds: 1,
  preset: 'ultrafast',
  rungs: [{ name: '180p', shortEdge: 180, videoBitrate: 200_000, maxrate: 300_000, bufsize: 400_000 }],
});

function makeClip(scratch: string): string {
  const file = path.join(os.tmpdir(), `tiercast-bench-agent-320x180-${durationSec}s.mp4`);
  if (existsSync(file)) return file;
  const tmp = path.join(scratch, 'clip.tmp.mp4');
  execFileSync('ffmpeg', [
    '-v', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=320x180:rate=25:duration=${durationSec}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${durationSec}`,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-ac', '2', tmp,
  ]);
  renameSync(tmp, file);
  return file;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const ms = (x: number) => `${x.toFixed(0)} ms`;

const scratch = mkdtempSync(path.join(os.tmpdir(), 'tiercast-bench-agent-'));
try {
  const clip = makeClip(scratch);

  // (a) The core alone: transcodeFile on each input, one after another. Run before AND after the agent (A-B-A) and
  // averaged, so a warming machine or a neighbour's load does not favour whichever side runs later; one warm-up first.
  let coreRun = 0;
  const corePass = async (): Promise<number[]> => {
    const out: number[] = [];
    coreRun += 1;
    for (let i = 0; i < jobs; i++) {
      const t0 = performance.now();
      await transcodeFile({ input: clip, outDir: path.join(scratch, `core${coreRun}`, `j${i}`), ladder, formats: ['hls', 'dash'] });
      out.push(performance.now() - t0);
    }
    rmSync(path.join(scratch, `core${coreRun}`), { recursive: true, force: true });
    return out;
  };
  await transcodeFile({ input: clip, outDir: path.join(scratch, 'warmup'), ladder, formats: ['hls', 'dash'] });
  const coreBefore = await corePass();

  // (b) The agent: the same jobs through dispatch's steps (store, ledger, queue) and the worker loop, concurrency 1.
  const home = path.join(scratch, 'home');
  const store = createLocalStore(path.join(home, 'store'));
  const queue = createLocalQueue(path.join(home, 'queue'), { pollIntervalMs: 50 });
  const config = await loadConfig({ env: {}, home });
  const jobStore = openSqliteJobStore(path.join(home, 'jobs.db'));
  const service = createJobsService({ store: jobStore, dispatchers: { local: createLocalDispatcher(queue) }, config, maxInFlight: { local: jobs } });
  const size = statSync(clip).size;
  for (let i = 0; i < jobs; i++) {
    const id = `bench${i}`;
    const key = `${storeKeys.inputPrefix}${id}.mp4`;
    await store.putFile(key, clip);
    await service.submit([{ spec: { schemaVersion: 1, id, createdAt: new Date().toISOString(), input: { key, name: 'clip.mp4', sizeBytes: size }, ladder, formats: ['hls', 'dash'] }, route: { tier: 'local', reason: 'bench' } }]);
  }
  const t = new Map<string, { started?: number; encStart?: number; encEnd?: number; finished?: number }>();
  const mark = (id: string, k: 'started' | 'encStart' | 'encEnd' | 'finished') => {
    const e = t.get(id) ?? {};
    e[k] = performance.now();
    t.set(id, e);
  };
  const execute: ExecuteJobFn = (args) =>
    executeJob({
      ...args,
      transcode: async (o) => {
        mark(args.jobId, 'encStart');
        try {
          return await transcodeFile(o);
        } finally {
          mark(args.jobId, 'encEnd');
        }
      },
    });
  const worker = createWorker({
    queue, store, jobs: service, tier: 'local', sweepIntervalSec: 0, concurrency: 1, workRoot: path.join(home, 'work'), minFreeDiskBytes: 0,
    visibilityTimeoutSec: 120, heartbeatSec: 40, waitSeconds: 0, maxReceives: 3, graceMs: 10_000,
    log: pino({ level: 'silent' }), metrics: noopMetrics, execute,
    onEvent: (e) => {
      if (e.type === 'job-started') mark(e.jobId, 'started');
      if (e.type === 'job-finished') mark(e.jobId, 'finished');
    },
  });
  const a0 = performance.now();
  await worker.once();
  const agentWallMs = performance.now() - a0;
  const status = worker.status();
  if (status.done !== jobs) throw new Error(`agent finished ${status.done} of ${jobs} jobs (failed ${status.failed})`);

  const coreAfter = await corePass();
  const coreMs = coreBefore.map((x, i) => (x + coreAfter[i]!) / 2);

  const rows = [...t.values()];
  const pre = rows.map((r) => r.encStart! - r.started!);
  const enc = rows.map((r) => r.encEnd! - r.encStart!);
  const post = rows.map((r) => r.finished! - r.encEnd!);
  const perJob = rows.map((r) => r.finished! - r.started!);
  const result = {
    jobs,
    clipSec: durationSec,
    coreTotalMs: Math.round(sum(coreMs)),
    coreTotalBeforeMs: Math.round(sum(coreBefore)),
    coreTotalAfterMs: Math.round(sum(coreAfter)),
    agentTotalMs: Math.round(agentWallMs),
    ratio: Number((agentWallMs / sum(coreMs)).toFixed(3)),
    perJobMedianMs: {
      core: Math.round(median(coreMs)),
      agentJob: Math.round(median(perJob)),
      takenToTranscode: Math.round(median(pre)),
      transcodeInAgent: Math.round(median(enc)),
      publishAndDelete: Math.round(median(post)),
    },
    overheadPerJobMs: Math.round((agentWallMs - sum(coreMs)) / jobs),
    // Robust against load drift: each agent job against its own transcode, measured in the same seconds.
    inJobRatio: Number((median(perJob) / median(enc)).toFixed(3)),
    pollGapPerJobMs: Math.round((agentWallMs - sum(perJob)) / jobs),
    measuredAt: new Date().toISOString(),
  };
  mkdirSync(path.join(here, 'results'), { recursive: true });
  writeFileSync(path.join(here, 'results', 'agent.json'), `${JSON.stringify(result, null, 2)}\n`);
  if (asJson) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    const p = result.perJobMedianMs;
    process.stdout.write(
      [
        `agent overhead, ${jobs} jobs of ${durationSec} s clips, one at a time (local queue + local store):`,
        `  core (transcodeFile) total      ${ms(result.coreTotalMs)}   median/job ${ms(p.core)}  (mean of a run before, ${ms(result.coreTotalBeforeMs)}, and after, ${ms(result.coreTotalAfterMs)})`,
        `  agent (queue -> deleted) total  ${ms(result.agentTotalMs)}   median/job ${ms(p.agentJob)}`,
        `    taken -> transcode starts      median ${ms(p.takenToTranscode)}  (ledger reads, status writes, input copy)`,
        `    transcode inside the agent     median ${ms(p.transcodeInAgent)}`,
        `    transcode end -> msg deleted   median ${ms(p.publishAndDelete)}  (publish, manifest, status, delete)`,
        `  between jobs (poll, claim)      ${ms(result.pollGapPerJobMs)} per job`,
        `  ratio agent / core: ${result.ratio}x   (overhead ${ms(result.overheadPerJobMs)} per job; noisy on a shared machine)`,
        `  ratio agent job / its own transcode (same seconds): ${result.inJobRatio}x`,
        '',
      ].join('\n'),
    );
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
