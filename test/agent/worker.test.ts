import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createWorker, validateWorkerOptions, type ExecuteJobFn, type WorkerOptions } from '../../shared/node/worker.ts';
import { TiercastError } from '../../shared/common/errors.ts';
import { noopMetrics } from '../../shared/common/metrics-query.ts';
import { createLocalQueue, type LocalJobQueue } from '../../shared/node/local-queue.ts';
import { createLocalStore } from '../../shared/node/local-store.ts';
import { createJobsService } from '../../shared/common/jobs-service.ts';
import { openSqliteJobStore } from '../../shared/node/sqlite-job-store.ts';
import { loadConfig } from '../../shared/node/config.ts';

/** The worker loop with an injected executor: queue semantics, concurrency, stop. The real executor: *.slow tests. */

let root: string;
let queue: LocalJobQueue;
const log = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'tiercast-worker-'));
  queue = createLocalQueue(path.join(root, 'queue'), { maxReceives: 3, pollIntervalMs: 50 });
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

// A real jobs service over an empty in-memory store: the injected executors below never touch it; the sweep is off.
const jobs = createJobsService({ store: openSqliteJobStore(':memory:'), dispatchers: {}, config: await loadConfig({ env: {}, home: os.tmpdir() }), maxInFlight: {} });

function options(execute: ExecuteJobFn, over: Partial<WorkerOptions> = {}): WorkerOptions {
  const store = createLocalStore(path.join(root || os.tmpdir(), 'store'));
  return {
    queue,
    store,
    jobs,
    sweepIntervalSec: 0,
    tier: 'local',
    concurrency: 2,
    workRoot: root ? path.join(root, 'work') : '',
    minFreeDiskBytes: 0,
    visibilityTimeoutSec: 30,
    heartbeatSec: 10,
    waitSeconds: 1,
    maxReceives: 3,
    graceMs: 5000,
    log,
    metrics: noopMetrics,
    execute,
    ...over,
  };
}

const msg = (jobId: string) => JSON.stringify({ schemaVersion: 1, jobId });
const okResult = { ok: true as const, manifest: { files: [] } as never, report: {} };

describe('worker loop (injected executor, local queue)', () => {
  it('runs every job, never more than `concurrency` at once, and deletes each message after success', async () => {
    let now = 0;
    let max = 0;
    const seen: string[] = [];
    const execute: ExecuteJobFn = async ({ jobId, workRoot }) => {
      now += 1;
      max = Math.max(max, now);
      seen.push(jobId);
      expect(existsSync(workRoot)).toBe(true);
      await sleep(150);
      now -= 1;
      return okResult;
    };
    for (let i = 0; i < 6; i++) await queue.send(msg(`job${i}`));
    const w = createWorker(options(execute));
    await w.once();
    expect(seen.sort()).toEqual(['job0', 'job1', 'job2', 'job3', 'job4', 'job5']);
    expect(max).toBe(2);
    expect(w.status()).toMatchObject({ done: 6, failed: 0, state: 'stopped' });
    expect(await queue.depth()).toEqual({ visible: 0, inFlight: 0 });
    // Each job's folder and the agent's own folder are gone.
    expect(readdirSync(path.join(root, 'work'))).toEqual([]);
  });

  it('a non-retryable failure is final (message deleted); the other jobs finish', async () => {
    const execute: ExecuteJobFn = async ({ jobId }) =>
      jobId === 'bad' ? { ok: false, error: new TiercastError('DECODE_FAILED', 'bad.webm: no frame'), outcome: 'failed' } : okResult;
    await queue.send(msg('bad'));
    await queue.send(msg('good'));
    const w = createWorker(options(execute));
    await w.once();
    expect(w.status()).toMatchObject({ done: 1, failed: 1, retried: 0 });
    expect(await queue.depth()).toEqual({ visible: 0, inFlight: 0 });
    expect(await queue.deadLetters()).toEqual([]);
  });

  it('a failed run leaves its retry to the job store: the message is deleted whatever the outcome', async () => {
    const outcomes = { w: 'retry-wait', e: 'escalated', l: 'lost', s: 'skipped' } as const;
    const execute: ExecuteJobFn = async ({ jobId }) => ({ ok: false, error: new TiercastError('ENCODE_FAILED', 'ffmpeg exited 1'), outcome: outcomes[jobId as keyof typeof outcomes] });
    for (const id of Object.keys(outcomes)) await queue.send(msg(id));
    const w = createWorker(options(execute));
    await w.once();
    expect(w.status()).toMatchObject({ retried: 2, released: 2, failed: 0 });
    expect(await queue.depth()).toEqual({ visible: 0, inFlight: 0 });
    expect(await queue.deadLetters()).toEqual([]);
  });

  it('a job store that cannot be reached: the message comes back after a backoff, and to the dead letters after maxReceives', async () => {
    const attempts: number[] = [];
    const execute: ExecuteJobFn = async () => {
      attempts.push(Date.now());
      return { ok: false, error: new TiercastError('STORE_ERROR', 'database is locked'), outcome: 'skipped' };
    };
    queue = createLocalQueue(path.join(root, 'queue'), { maxReceives: 2, pollIntervalMs: 50 });
    await queue.send(msg('flaky'));
    const w = createWorker(options(execute, { maxReceives: 2, retryBackoff: { baseSec: 1 }, waitSeconds: 3 }));
    await w.once();
    expect(attempts).toHaveLength(2);
    // The second attempt waited for the backoff (>= 1 s), not an immediate redelivery.
    expect(attempts[1]! - attempts[0]!).toBeGreaterThanOrEqual(900);
    const q2 = createLocalQueue(path.join(root, 'queue'), { maxReceives: 2 });
    expect(await q2.receive({ maxMessages: 1, waitSeconds: 0 })).toEqual([]);
    expect((await q2.deadLetters()).map((d) => d.body)).toEqual([msg('flaky')]);
  });

  it('a message that is not a job is dead-lettered with its reason, never run', async () => {
    let calls = 0;
    const execute: ExecuteJobFn = async () => {
      calls += 1;
      return okResult;
    };
    await queue.send('{"hello":');
    await queue.send(JSON.stringify({ schemaVersion: 1, jobId: '../etc' }));
    const w = createWorker(options(execute));
    await w.once();
    expect(calls).toBe(0);
    expect(w.status().invalid).toBe(2);
    const dead = await queue.deadLetters();
    expect(dead.map((d) => d.reason).sort()).toEqual([expect.stringMatching(/^INVALID_JOB: body is not JSON/), expect.stringMatching(/^INVALID_JOB: jobId: job id/)].sort());
  });

  it('extends visibility while a job runs longer than the visibility timeout, so no other worker gets it', async () => {
    let calls = 0;
    const execute: ExecuteJobFn = async () => {
      calls += 1;
      await sleep(3500);
      return okResult;
    };
    await queue.send(msg('long'));
    const a = createWorker(options(execute, { visibilityTimeoutSec: 2, heartbeatSec: 0.5 }));
    const b = createWorker(options(execute, { visibilityTimeoutSec: 2, heartbeatSec: 0.5 }));
    await a.start();
    await sleep(300);
    await b.start();
    await sleep(4000);
    await Promise.all([a.stop(), b.stop()]);
    expect(calls).toBe(1);
    expect(a.status().done + b.status().done).toBe(1);
    expect(await queue.depth()).toEqual({ visible: 0, inFlight: 0 });
  });

  it('stop: lets a job finish within the grace period, else aborts it and releases its message at once', async () => {
    let sawAbort = false;
    const execute: ExecuteJobFn = ({ signal }) =>
      new Promise((resolve) => {
        signal.addEventListener('abort', () => {
          sawAbort = true;
          resolve({ ok: false, error: new TiercastError('INTERRUPTED', 'aborted'), outcome: 'queued' });
        });
      });
    await queue.send(msg('stuck'));
    const w = createWorker(options(execute, { visibilityTimeoutSec: 600, heartbeatSec: 60 }));
    await w.start();
    while (w.status().running.length === 0) await sleep(20);
    await w.stop({ graceMs: 200 });
    expect(sawAbort).toBe(true);
    expect(w.status()).toMatchObject({ state: 'stopped', released: 1, failed: 0 });
    // Visible now, not after the 600 s visibility timeout.
    const [again] = await queue.receive({ maxMessages: 1, waitSeconds: 0 });
    expect(again).toMatchObject({ body: msg('stuck'), receiveCount: 2 });
    // stop() is idempotent.
    await w.stop();
  });

  it('stop: a job that finishes within the grace period completes normally and its message is deleted', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let aborted = false;
    const execute: ExecuteJobFn = async ({ signal }) => {
      signal.addEventListener('abort', () => (aborted = true));
      await gate;
      return okResult;
    };
    await queue.send(msg('almost-done'));
    await queue.send(msg('not-started'));
    const w = createWorker(options(execute, { concurrency: 1, graceMs: 10_000 }));
    await w.start();
    while (w.status().running.length === 0) await sleep(20);
    const stopping = w.stop();
    await sleep(100);
    expect(w.status().state).toBe('draining');
    release();
    await stopping;
    expect(aborted).toBe(false);
    expect(w.status()).toMatchObject({ state: 'stopped', done: 1, released: 0 });
    // The job that never started is still in the queue for the next worker.
    const left = await queue.receive({ maxMessages: 10, waitSeconds: 0 });
    expect(left.map((m) => m.body)).toEqual([msg('not-started')]);
  });

  it('emits the QueueDepth metric on the local tier', async () => {
    const emitted: Array<Record<string, number>> = [];
    await queue.send(msg('q1'));
    await queue.send(msg('q2'));
    const w = createWorker(
      options(async () => okResult, {
        concurrency: 1,
        minFreeDiskBytes: 10,
        freeDiskBytes: async () => 0, // paused, so the backlog stays put while we look
        metrics: { emit: (_tier, values) => emitted.push(values as Record<string, number>) },
      }),
    );
    await w.start();
    for (let i = 0; i < 50 && emitted.length === 0; i++) await sleep(20);
    await w.stop();
    expect(emitted).toContainEqual({ QueueDepth: 2 });
  });

  it('a second stop with graceMs 0 aborts at once instead of waiting out the grace', async () => {
    const execute: ExecuteJobFn = ({ signal }) =>
      new Promise((resolve) => signal.addEventListener('abort', () => resolve({ ok: false, error: new TiercastError('INTERRUPTED', 'aborted'), outcome: 'queued' })));
    await queue.send(msg('stuck'));
    const w = createWorker(options(execute, { graceMs: 600_000 }));
    await w.start();
    while (w.status().running.length === 0) await sleep(20);
    const first = w.stop();
    await sleep(100);
    expect(w.status().state).toBe('draining');
    await w.stop({ graceMs: 0 });
    await first;
    expect(w.status()).toMatchObject({ state: 'stopped', released: 1 });
  });

  it('once() asks for more with 1 s polls (the batch ends right after its last job); a running agent long-polls', async () => {
    const waits: { mode: string; wait: number }[] = [];
    let mode = 'once';
    const spied = {
      ...queue,
      receive: (o: Parameters<typeof queue.receive>[0]) => {
        waits.push({ mode, wait: o.waitSeconds });
        return queue.receive(o);
      },
    };
    await queue.send(msg('one'));
    await createWorker(options(async () => okResult, { queue: spied, waitSeconds: 20 })).once();
    expect(waits.length).toBeGreaterThan(0);
    expect(waits.every((w) => w.wait === 1)).toBe(true);
    mode = 'forever';
    const w = createWorker(options(async () => okResult, { queue: spied, waitSeconds: 20 }));
    await w.start();
    while (!waits.some((x) => x.mode === 'forever')) await sleep(10);
    await w.stop();
    expect(waits.filter((x) => x.mode === 'forever').map((x) => x.wait)).toEqual([20]);
  });

  it('once() gives up with QUEUE_ERROR when the queue stays unreachable', async () => {
    const broken = { ...queue, receive: async () => { throw new TiercastError('QUEUE_ERROR', 'connection refused'); } };
    const w = createWorker({ ...options(async () => okResult), queue: broken, pollErrorDelayMs: 10 });
    await expect(w.once()).rejects.toMatchObject({ code: 'QUEUE_ERROR', message: expect.stringMatching(/5 polls failed/) });
    expect(w.status()).toMatchObject({ state: 'stopped', pollErrors: 5 });
  });

  it('does not poll while free disk is below the threshold', async () => {
    let calls = 0;
    await queue.send(msg('waiting'));
    const w = createWorker(options(async () => (calls++, okResult), { minFreeDiskBytes: 10, freeDiskBytes: async () => 5 }));
    await w.start();
    await sleep(300);
    expect(w.status().state).toBe('paused-disk');
    await w.stop();
    expect(calls).toBe(0);
    expect(await queue.depth()).toEqual({ visible: 1, inFlight: 0 });
  });

  it('sweeps work folders of dead agents at start-up but leaves live ones', async () => {
    const work = path.join(root, 'work');
    const dead = path.join(work, 'agent-999999-deadbeef');
    const live = path.join(work, `agent-${process.pid}-0000beef`);
    mkdirSync(path.join(dead, 'job-x-abc'), { recursive: true });
    mkdirSync(live, { recursive: true });
    const w = createWorker(options(async () => okResult));
    await w.once();
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(live)).toBe(true);
  });
});

describe('validateWorkerOptions', () => {
  const base = { ...options(async () => okResult, { workRoot: path.join(os.tmpdir(), 'unused') }) };
  it.each([
    [{ heartbeatSec: 30, visibilityTimeoutSec: 30 }, /heartbeatSec: must be shorter than visibilityTimeoutSec/],
    [{ waitSeconds: 21 }, /waitSeconds/],
    [{ concurrency: 0 }, /concurrency/],
    [{ maxReceives: 0 }, /maxReceives/],
    [{ tier: 'lambda' }, /tier/],
    [{ graceMs: -1 }, /graceMs/],
  ])('rejects %o', (over, re) => {
    let caught: unknown;
    try {
      validateWorkerOptions({ ...base, ...(over as object) });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TiercastError);
    expect((caught as TiercastError).code).toBe('CONFIG_INVALID');
    expect((caught as TiercastError).message).toMatch(re);
  });

  it('accepts valid options', () => {
    expect(() => validateWorkerOptions(options(async () => okResult))).not.toThrow();
  });
});
