import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorker, type ExecuteJobFn } from '../../shared/node/worker.ts';
import { noopMetrics } from '../../shared/common/metrics-query.ts';
import { executeJob } from '../../shared/node/execute-job.ts';
import { createJobOutputs } from '../../shared/node/job-outputs.ts';
import { makeClip } from '../helpers/clips.ts';
import { jobsFor } from '../helpers/jobs.ts';
import { fixtureClip } from '../helpers/media.ts';
import { expectIntactOutputs, outputVersions, sleep, slowFfmpeg, spawnAgent, submitJob, waitFor, waitForStage } from './helpers.ts';

/** Local mode (the embedded default): local folder queue + local store + real executeJob and ffmpeg. */

let tmp: string;
let clip: string;
const log = pino({ level: 'silent' });

beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'tiercast-agent-local-'));
  clip = makeClip({ durationSec: 1, width: 320, height: 180, fps: 25 });
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const opened: Array<{ close(): Promise<void> }> = [];
afterAll(async () => {
  for (const o of opened) await o.close();
});
async function home(name: string, caps?: { local: number }) {
  const dir = path.join(tmp, name);
  // In the data home's config.json, so the agent processes spawned below admit with the same caps.
  if (caps) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ jobs: { maxInFlight: caps } }));
  }
  const h = await jobsFor(dir);
  opened.push(h);
  return h;
}
const stageOf = async (h: Awaited<ReturnType<typeof home>>, id: string) => (await h.jobStore.get(id)).status;

describe('agent in local mode', () => {
  it('runs several jobs two at a time; a corrupt input fails alone with DECODE_FAILED', async () => {
    const h = await home('concurrency', { local: 4 });
    const { paths, store, queue, jobs } = h;
    for (const id of ['a1', 'a2', 'a3']) await submitJob(store, jobs, id, clip);
    await submitJob(store, jobs, 'corrupt', fixtureClip('corruptVp9'));
    let now = 0;
    let max = 0;
    const execute: ExecuteJobFn = async (args) => {
      now += 1;
      max = Math.max(max, now);
      try {
        return await executeJob(args);
      } finally {
        now -= 1;
      }
    };
    const worker = createWorker({
      queue, store, jobs, tier: 'local', concurrency: 2, workRoot: paths.work, minFreeDiskBytes: 0,
      visibilityTimeoutSec: 60, heartbeatSec: 20, waitSeconds: 1, maxReceives: 3, graceMs: 10_000, log, metrics: noopMetrics, execute,
    });
    await worker.once();
    expect(max).toBeLessThanOrEqual(2);
    expect(worker.status()).toMatchObject({ done: 3, failed: 1 });
    for (const id of ['a1', 'a2', 'a3']) {
      expect((await stageOf(h, id)).stage).toBe('done');
      await expectIntactOutputs(store, id);
    }
    const bad = await stageOf(h, 'corrupt');
    expect(bad).toMatchObject({ stage: 'failed', error: { code: 'DECODE_FAILED' } });
    expect(await createJobOutputs(store).readManifest('corrupt')).toBeNull();
    expect(await queue.depth()).toEqual({ visible: 0, inFlight: 0 });
    expect(await queue.deadLetters()).toEqual([]);
    expect(readdirSync(paths.work)).toEqual([]);
  });

  it('a poison message goes to the dead letters with its reason and the real jobs still run', async () => {
    const { paths, store, queue, jobs } = await home('poison');
    await queue.send('{"schemaVersion":1,"jobId":');
    await submitJob(store, jobs, 'fine', clip);
    const worker = createWorker({
      queue, store, jobs, tier: 'local', concurrency: 1, workRoot: paths.work, minFreeDiskBytes: 0,
      visibilityTimeoutSec: 60, heartbeatSec: 20, waitSeconds: 1, maxReceives: 3, graceMs: 10_000, log, metrics: noopMetrics, execute: executeJob,
    });
    await worker.once();
    expect(worker.status()).toMatchObject({ done: 1, invalid: 1 });
    const dead = await queue.deadLetters();
    expect(dead).toHaveLength(1);
    expect(dead[0]!.reason).toMatch(/^INVALID_JOB: body is not JSON/);
  });

  it('SIGTERM waits for the running job; a second SIGTERM aborts it and hands the message back at once', async () => {
    const h = await home('twice');
    await submitJob(h.store, h.jobs, 'twice', clip);
    const agent = spawnAgent(['--local', '--concurrency', '1'], {
      TIERCAST_HOME: h.paths.home,
      TIERCAST_AGENT_GRACE_MS: '600000',
      TIERCAST_AGENT_WAIT_SECONDS: '1',
      TIERCAST_FFMPEG: slowFfmpeg(tmp, 30),
      TIERCAST_FFPROBE: '/usr/bin/ffprobe',
    });
    try {
      await waitForStage(h.jobStore, 'twice', ['analyzing', 'encoding']);
      agent.child.kill('SIGTERM');
      await waitFor('draining', async () => agent.stderr().includes('stopping: no new jobs'), 10_000);
      await sleep(500);
      // Within its grace period the agent is still running the job.
      expect(agent.child.exitCode).toBeNull();
      agent.child.kill('SIGTERM');
      const { code } = await agent.exited;
      expect(code, agent.stderr()).toBe(0);
    } finally {
      agent.killGroup();
    }
    // Back in the queue with the attempt given back, sent again to the tier; its message is visible at once.
    const after = await stageOf(h, 'twice');
    expect(after).toMatchObject({ attempts: 0, error: { code: 'INTERRUPTED' } });
    expect(['queued', 'dispatched']).toContain(after.stage);
    expect((await h.queue.depth()).visible).toBeGreaterThanOrEqual(1);
  });

  it("SIGKILL mid-job: once the job's lease lapses a second agent takes it over and completes it, published once", async () => {
    const h = await home('crash');
    const queue = h.queue;
    await submitJob(h.store, h.jobs, 'crashy', clip);
    const env = { TIERCAST_HOME: h.paths.home, TIERCAST_JOB_LEASE_SEC: '5', TIERCAST_AGENT_VISIBILITY_TIMEOUT_SEC: '4', TIERCAST_AGENT_HEARTBEAT_SEC: '1', TIERCAST_AGENT_WAIT_SECONDS: '1' };
    const first = spawnAgent(['--local', '--concurrency', '1'], { ...env, TIERCAST_FFMPEG: slowFfmpeg(tmp, 30), TIERCAST_FFPROBE: '/usr/bin/ffprobe' });
    try {
      await waitForStage(h.jobStore, 'crashy', ['analyzing', 'encoding']);
    } catch (err) {
      first.killGroup();
      throw new Error(`${(err as Error).message}\n${first.stderr()}`);
    }
    const workDirs = readdirSync(h.paths.work);
    expect(workDirs.some((d) => d.startsWith(`agent-${first.child.pid}-`))).toBe(true);
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    first.killGroup(); // the orphaned (sleeping) ffmpeg wrapper
    // Still leased to the dead agent: invisible until its visibility timeout ends.
    expect(await queue.depth()).toEqual({ visible: 0, inFlight: 1 });

    const second = spawnAgent(['--local', '--once', '--concurrency', '1'], { ...env, TIERCAST_AGENT_WAIT_SECONDS: '6' });
    const { code } = await second.exited;
    expect(code, second.stderr()).toBe(0);
    const status = await stageOf(h, 'crashy');
    expect(status.stage).toBe('done');
    expect(status.attempts).toBe(2);
    const events = await h.jobStore.events('crashy');
    expect(events.filter((e) => e.stage === 'done')).toHaveLength(1);
    // Two runs, one finish: the second run took the job either by claiming the lapsed lease itself or after the sweep
    // reclaimed it (whichever came first); never while the first one's lease was live.
    expect(events.filter((e) => e.stage === 'downloading')).toHaveLength(2);
    const manifest = await expectIntactOutputs(h.store, 'crashy');
    expect(manifest.attempt).toBe(2);
    expect(await outputVersions(h.store, 'crashy')).toHaveLength(1);
    expect(await queue.depth()).toEqual({ visible: 0, inFlight: 0 });
    // The second agent swept the dead agent's work folder at start-up.
    expect(existsSync(path.join(h.paths.work, workDirs[0]!))).toBe(false);
    // JSON log lines carry the job id.
    expect(second.logs().some((l) => l.jobId === 'crashy' && l.msg === 'job done')).toBe(true);
    // Local mode: EMF lines go to the data home's metrics folder (what the console's dashboard reads), not stdout.
    const lines = readdirSync(h.paths.metrics).flatMap((f) => readFileSync(path.join(h.paths.metrics, f), 'utf8').split('\n').filter(Boolean));
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toContainEqual(expect.objectContaining({ jobId: 'crashy', JobsSucceeded: 1, Tier: 'local' }));
    expect(second.stdout()).toBe('');
  });

  it('three agent processes draining 60 jobs run each exactly once', async () => {
    const h = await home('three', { local: 6 });
    const tiny = makeClip({ durationSec: 0.5, width: 160, height: 90, fps: 10 });
    const ids = Array.from({ length: 60 }, (_, i) => `many${String(i).padStart(2, '0')}`);
    for (const id of ids) await submitJob(h.store, h.jobs, id, tiny);
    const env = { TIERCAST_HOME: h.paths.home, TIERCAST_AGENT_WAIT_SECONDS: '1', TIERCAST_LOG_LEVEL: 'info' };
    const agents = [0, 1, 2].map(() => spawnAgent(['--local', '--once', '--concurrency', '1'], { ...env }));
    const exits = await Promise.all(agents.map((a) => a.exited));
    for (const [i, e] of exits.entries()) expect(e.code, agents[i]!.stderr().slice(-2000)).toBe(0);
    const runsPerJob = new Map<string, number>();
    for (const id of ids) {
      const s = await stageOf(h, id);
      expect(s.stage, id).toBe('done');
      expect(s.attempts, id).toBe(1);
      const events = await h.jobStore.events(id);
      runsPerJob.set(id, events.filter((e) => e.stage === 'downloading').length);
      expect(await outputVersions(h.store, id)).toHaveLength(1);
    }
    expect([...runsPerJob.values()].every((n) => n === 1)).toBe(true);
    // The work was shared: every agent ran some of it.
    const doneBy = agents.map((a) => a.logs().filter((l) => l.msg === 'job done' && 'manifestFiles' in l).length);
    expect(doneBy.reduce((x, y) => x + y, 0)).toBe(60);
    expect(doneBy.filter((n) => n > 0).length).toBeGreaterThanOrEqual(2);
  });
});
