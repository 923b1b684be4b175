import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from '../shared/node/log.ts';
import type { WorkerStatus } from '../shared/node/worker.ts';

/**
 * Health probes on the worker's status (sqs-consumer and BullMQ ship none):
 * - /healthz: the process answers and its event loop is not stalled (p99 delay under a limit);
 * - /readyz: the worker is taking work (polling or full, not draining) and reached its queue recently;
 * - /metrics: Prometheus text (jobs running, done, failed, retried, poll errors, last poll time, process defaults).
 * Bound to 127.0.0.1 unless told otherwise: it is for the host's own supervisor and scraper.
 */

export interface HealthServerOptions {
  readonly status: () => WorkerStatus;
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  /** /readyz fails when the last successful poll is older than this. */
  readonly readyWindowMs?: number;
  /** /healthz fails when the event loop's p99 delay over the last interval exceeds this. */
  readonly maxEventLoopDelayMs?: number;
  readonly log?: Logger;
}

export interface HealthServer {
  readonly url: string;
  readonly port: number;
  readonly registry: Registry;
  close(): Promise<void>;
}

export function readiness(status: WorkerStatus, now: number, readyWindowMs: number): { ready: boolean; reason: string } {
  if (status.state === 'draining' || status.state === 'stopped') return { ready: false, reason: `worker is ${status.state}` };
  if (status.state === 'paused-disk') return { ready: false, reason: 'polling paused: free disk below the threshold' };
  if (status.state === 'idle') return { ready: false, reason: 'worker not started' };
  if (status.state === 'full') {
    // Not polling while full; the heartbeats say whether the queue still answers.
    const last = status.lastQueueOkAt ?? status.lastPollOkAt;
    if (last !== null && now - last > readyWindowMs) return { ready: false, reason: `full, and the queue has not answered for ${Math.round((now - last) / 1000)} s` };
    return { ready: true, reason: 'running at full concurrency' };
  }
  if (status.lastPollOkAt === null) return { ready: false, reason: 'no successful poll yet' };
  const age = now - status.lastPollOkAt;
  if (age > readyWindowMs) return { ready: false, reason: `last successful poll ${Math.round(age / 1000)} s ago` };
  return { ready: true, reason: 'polling' };
}

export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const host = options.host ?? '127.0.0.1';
  const readyWindowMs = options.readyWindowMs ?? 60_000;
  const maxDelayMs = options.maxEventLoopDelayMs ?? 5_000;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tiercast_agent_' });

  const loopDelay = monitorEventLoopDelay({ resolution: 20 });
  loopDelay.enable();
  let lastP99Ms = 0;
  const sampler = setInterval(() => {
    lastP99Ms = loopDelay.percentile(99) / 1e6;
    loopDelay.reset();
  }, 5_000);
  sampler.unref();

  // Counters mirror the worker's own totals at scrape time (the worker stays free of prom-client).
  const seen = { done: 0, failed: 0, retried: 0, released: 0, invalid: 0, pollErrors: 0 };
  const counter = (name: string, help: string, key: keyof typeof seen) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const v = options.status()[key];
        if (v > seen[key]) this.inc(v - seen[key]);
        seen[key] = v;
      },
    });
  counter('tiercast_agent_jobs_done_total', 'Jobs that finished with published outputs', 'done');
  counter('tiercast_agent_jobs_failed_total', 'Jobs that failed for good', 'failed');
  counter('tiercast_agent_jobs_retried_total', 'Job attempts that failed and were released for a retry', 'retried');
  counter('tiercast_agent_jobs_released_total', 'Jobs interrupted by a stop and handed back to the queue', 'released');
  counter('tiercast_agent_invalid_messages_total', 'Queue messages that were not valid job messages', 'invalid');
  counter('tiercast_agent_poll_errors_total', 'Failed queue polls', 'pollErrors');
  new Gauge({
    name: 'tiercast_agent_jobs_running',
    help: 'Jobs running now',
    registers: [registry],
    collect() {
      this.set(options.status().running.length);
    },
  });
  new Gauge({
    name: 'tiercast_agent_concurrency',
    help: 'Jobs this agent runs at most at once',
    registers: [registry],
    collect() {
      this.set(options.status().concurrency);
    },
  });
  new Gauge({
    name: 'tiercast_agent_last_poll_timestamp_seconds',
    help: 'Unix time of the last successful queue poll (0 before the first)',
    registers: [registry],
    collect() {
      const t = options.status().lastPollOkAt;
      this.set(t === null ? 0 : t / 1000);
    },
  });
  new Gauge({
    name: 'tiercast_agent_ready',
    help: '1 when /readyz would answer 200',
    registers: [registry],
    collect() {
      this.set(readiness(options.status(), Date.now(), readyWindowMs).ready ? 1 : 0);
    },
  });

  const send = (res: http.ServerResponse, code: number, body: unknown) => {
    res.writeHead(code, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'method not allowed' });
    if (url.pathname === '/healthz') {
      const ok = lastP99Ms <= maxDelayMs;
      return send(res, ok ? 200 : 503, { ok, eventLoopDelayP99Ms: Math.round(lastP99Ms), uptimeSec: Math.round(process.uptime()) });
    }
    if (url.pathname === '/readyz') {
      const status = options.status();
      const r = readiness(status, Date.now(), readyWindowMs);
      return send(res, r.ready ? 200 : 503, { ready: r.ready, reason: r.reason, state: status.state, running: status.running.length });
    }
    if (url.pathname === '/metrics') {
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(text);
        },
        (err: unknown) => send(res, 500, { error: String(err) }),
      );
      return;
    }
    send(res, 404, { error: 'not found', paths: ['/healthz', '/readyz', '/metrics'] });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  options.log?.info({ url }, 'health endpoint listening');
  let closed: Promise<void> | null = null;
  return {
    url,
    port,
    registry,
    close() {
      closed ??= new Promise<void>((resolve) => {
        clearInterval(sampler);
        loopDelay.disable();
        server.closeAllConnections?.();
        server.close(() => resolve());
      });
      return closed;
    },
  };
}
