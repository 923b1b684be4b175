import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readiness, startHealthServer, type HealthServer } from '../../agent/health.ts';
import type { WorkerStatus } from '../../shared/node/worker.ts';

let status: WorkerStatus;
let server: HealthServer;

const base: WorkerStatus = {
  state: 'polling',
  running: [],
  concurrency: 2,
  done: 0,
  failed: 0,
  retried: 0,
  released: 0,
  invalid: 0,
  pollErrors: 0,
  lastPollOkAt: null,
  lastQueueOkAt: null,
  lastPollErrorAt: null,
  startedAt: Date.now(),
};

beforeAll(async () => {
  status = { ...base, lastPollOkAt: Date.now() };
  server = await startHealthServer({ status: () => status, port: 0 });
});
afterAll(async () => {
  await server?.close();
});

describe('health endpoint', () => {
  it('binds to 127.0.0.1 on a random port', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.port).toBeGreaterThan(0);
  });

  it('/healthz answers 200 while the event loop runs', async () => {
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true });
  });

  it('/readyz follows the worker: ready while polling, 503 while draining', async () => {
    status = { ...base, state: 'polling', lastPollOkAt: Date.now() };
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    status = { ...status, state: 'draining' };
    const res = await fetch(`${server.url}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ ready: false, reason: 'worker is draining' });
  });

  it('/metrics exposes job counters and gauges in Prometheus text, counting from the worker status', async () => {
    status = {
      ...base,
      state: 'full',
      running: [{ jobId: 'a', messageId: 'm', startedAt: new Date().toISOString(), receiveCount: 1 }],
      done: 3,
      failed: 1,
      pollErrors: 2,
      lastPollOkAt: 1_700_000_000_000,
    };
    const res = await fetch(`${server.url}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/^tiercast_agent_jobs_running 1$/m);
    expect(text).toMatch(/^tiercast_agent_jobs_done_total 3$/m);
    expect(text).toMatch(/^tiercast_agent_jobs_failed_total 1$/m);
    expect(text).toMatch(/^tiercast_agent_poll_errors_total 2$/m);
    expect(text).toMatch(/^tiercast_agent_last_poll_timestamp_seconds 1700000000$/m);
    expect(text).toMatch(/^# TYPE tiercast_agent_jobs_done_total counter$/m);
    status = { ...status, done: 5 };
    expect(await (await fetch(`${server.url}/metrics`)).text()).toMatch(/^tiercast_agent_jobs_done_total 5$/m);
  });

  it('unknown paths are 404', async () => {
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
  });
});

describe('readiness', () => {
  const now = 1_000_000;
  it.each([
    [{ state: 'polling', lastPollOkAt: now - 1000 }, true],
    [{ state: 'polling', lastPollOkAt: now - 120_000 }, false],
    [{ state: 'polling', lastPollOkAt: null }, false],
    [{ state: 'full', lastPollOkAt: null }, true],
    [{ state: 'full', lastPollOkAt: now - 600_000, lastQueueOkAt: now - 5_000 }, true],
    [{ state: 'full', lastPollOkAt: now - 600_000, lastQueueOkAt: now - 300_000 }, false],
    [{ state: 'paused-disk', lastPollOkAt: now }, false],
    [{ state: 'stopped', lastPollOkAt: now }, false],
  ] as const)('%o -> %s', (over, ready) => {
    expect(readiness({ ...base, ...over } as WorkerStatus, now, 60_000).ready).toBe(ready);
  });
});
