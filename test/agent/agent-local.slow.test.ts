import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorker, type ExecuteJobFn } from '../../shared/node/worker.ts';
import { noopMetrics } from '../../shared/common/metrics-query.ts';
import { homePaths } from '../../shared/node/data-home.ts';
import { executeJob } from '../../shared/node/execute-job.ts';
import { createLedger } from '../../shared/node/ledger.ts';
import { createLocalQueue } from '../../shared/node/local-queue.ts';
import { createLocalStore } from '../../shared/node/local-store.ts';
import { makeClip } from '../helpers/clips.ts';
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

function home(name: string) {
  const paths = homePaths(path.join(tmp, name));
  const store = createLocalStore(paths.store);
  const ledger = createLedger(store);
  return { paths, store, ledger };
}

describe('agent in local mode', () => {
  it('runs several jobs two at a time; a corrupt input fails alone with DECODE_FAILED', async () => {
    const { paths, store, ledger } = home('concurrency');
    const queue = createLocalQueue(paths.queue, { pollIntervalMs: 50 });
    for (const id of ['a1', 'a2', 'a3']) await submitJob(store, ledger, queue, id, clip);
    await submitJob(store, ledger, queue, 'corrupt', fixtureClip('corruptVp9'));
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
      queue, store, ledger, tier: 'local', concurrency: 2, workRoot: paths.work, minFreeDiskBytes: 0,
      visibilityTimeoutSec: 60, heartbeatSec: 20, waitSeconds: 1, maxReceives: 3, graceMs: 10_000, log, metrics: noopMetrics, execute,
    });
    await worker.once();
    expect(max).toBeLessThanOrEqual(2);
    expect(worker.status()).toMatchObject({ done: 3, failed: 1 });
    for (const id of ['a1', 'a2', 'a3']) {
      expect((await ledger.getStatus(id)).stage).toBe('done');
      await expectIntactOutputs(store, ledger, id);
    }
    const bad = await ledger.getStatus('corrupt');
    expect(bad).toMatchObject({ stage: 'failed', error: { code: 'DECODE_FAILED' } });
    expect(await ledger.readManifest('corrupt')).toBeNull();
    expect(await queue.depth()).toEqual({ visible: 0, inFlight: 0 });
    expect(await queue.deadLetters()).toEqual([]);
    expect(readdirSync(paths.work)).toEqual([]);
  });

  it('a poison message goes to the dead letters with its reason and the real jobs still run', async () => {
    const { paths, store, ledger } = home('poison');
    const queue = createLocalQueue(paths.queue, { pollIntervalMs: 50 });
    await queue.send('{"schemaVersion":1,"jobId":');
    await submitJob(store, ledger, queue, 'fine', clip);
    const worker = createWorker({
      queue, store, ledger, tier: 'local', concurrency: 1, workRoot: paths.work, minFreeDiskBytes: 0,
      visibilityTimeoutSec: 60, heartbeatSec: 20, waitSeconds: 1, maxReceives: 3, graceMs: 10_000, log, metrics: noopMetrics, execute: executeJob,
    });
    await worker.once();
    expect(worker.status()).toMatchObject({ done: 1, invalid: 1 });
    const dead = await queue.deadLetters();
    expect(dead).toHaveLength(1);
    expect(dead[0]!.reason).toMatch(/^INVALID_JOB: body is not JSON/);
  });

  it('SIGTERM waits for the running job; a second SIGTERM aborts it and hands the message back at once', async () => {
    const h = home('twice');
    const queue = createLocalQueue(h.paths.queue);
    await submitJob(h.store, h.ledger, queue, 'twice', clip);
    const agent = spawnAgent(['--local', '--concurrency', '1'], {
      TIERCAST_HOME: h.paths.home,
      TIERCAST_AGENT_GRACE_MS: '600000',
      TIERCAST_AGENT_WAIT_SECONDS: '1',
      TIERCAST_FFMPEG: slowFfmpeg(tmp, 30),
      TIERCAST_FFPROBE: '/usr/bin/ffprobe',
    });
    try {
      await waitForStage(h.ledger, 'twice', ['analyzing', 'encoding']);
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
    expect(await h.ledger.getStatus('twice')).toMatchObject({ stage: 'queued', error: { code: 'INTERRUPTED' } });
    expect(await queue.depth()).toEqual({ visible: 1, inFlight: 0 });
  });

  it('SIGKILL mid-job: the message comes back after its lease and a second agent completes the job', async () => {
    const h = home('crash');
    const queue = createLocalQueue(h.paths.queue);
    await submitJob(h.store, h.ledger, queue, 'crashy', clip);
    const env = { TIERCAST_HOME: h.paths.home, TIERCAST_AGENT_VISIBILITY_TIMEOUT_SEC: '4', TIERCAST_AGENT_HEARTBEAT_SEC: '1', TIERCAST_AGENT_WAIT_SECONDS: '1' };
    const first = spawnAgent(['--local', '--concurrency', '1'], { ...env, TIERCAST_FFMPEG: slowFfmpeg(tmp, 30), TIERCAST_FFPROBE: '/usr/bin/ffprobe' });
    try {
      await waitForStage(h.ledger, 'crashy', ['analyzing', 'encoding']);
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
    const status = await h.ledger.getStatus('crashy');
    expect(status.stage).toBe('done');
    expect(status.attempts).toBe(2);
    const manifest = await expectIntactOutputs(h.store, h.ledger, 'crashy');
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
});
