import type { Logger } from '../shared/node/log.ts';

/**
 * EC2 Spot interruption notice watcher. AWS gives a two-minute warning at
 * /latest/meta-data/spot/instance-action (404 until then; 200 with {"action":"terminate|stop|hibernate","time":...}).
 * IMDSv2: a session token from PUT /latest/api/token first, sent as X-aws-ec2-metadata-token; renewed on 401 or
 * before it expires. The endpoint is configurable so tests run it against a local HTTP server.
 */

export interface SpotNotice {
  readonly action: string;
  readonly time: string;
}

export interface SpotWatcherOptions {
  readonly onNotice: (notice: SpotNotice) => void;
  /** Default http://169.254.169.254 (AWS_EC2_METADATA_SERVICE_ENDPOINT is honoured by the caller). */
  readonly endpoint?: string;
  readonly intervalMs?: number;
  readonly tokenTtlSec?: number;
  readonly log?: Logger;
  readonly fetch?: typeof fetch;
}

export interface SpotWatcher {
  stop(): void;
  /** One check now (the timer calls this); resolves to the notice if there is one. */
  check(): Promise<SpotNotice | null>;
}

export function startSpotWatcher(options: SpotWatcherOptions): SpotWatcher {
  const endpoint = (options.endpoint ?? 'http://169.254.169.254').replace(/\/+$/, '');
  const intervalMs = options.intervalMs ?? 5_000;
  const ttl = options.tokenTtlSec ?? 21_600;
  const doFetch = options.fetch ?? fetch;
  let token: { value: string; expiresAt: number } | null = null;
  let fired = false;
  let stopped = false;
  let failures = 0;
  let busy = false;

  async function getToken(): Promise<string> {
    if (token && token.expiresAt > Date.now() + 60_000) return token.value;
    const res = await doFetch(`${endpoint}/latest/api/token`, {
      method: 'PUT',
      headers: { 'X-aws-ec2-metadata-token-ttl-seconds': String(ttl) },
      signal: AbortSignal.timeout(2_000),
    });
    if (!res.ok) throw new Error(`IMDS token: HTTP ${res.status}`);
    token = { value: (await res.text()).trim(), expiresAt: Date.now() + ttl * 1000 };
    return token.value;
  }

  async function check(): Promise<SpotNotice | null> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const res = await doFetch(`${endpoint}/latest/meta-data/spot/instance-action`, {
        headers: { 'X-aws-ec2-metadata-token': await getToken() },
        signal: AbortSignal.timeout(2_000),
      });
      if (res.status === 401) {
        token = null;
        continue;
      }
      if (res.status === 404) return null;
      if (!res.ok) throw new Error(`IMDS spot/instance-action: HTTP ${res.status}`);
      const body = (await res.json()) as Partial<SpotNotice>;
      return { action: String(body.action ?? 'terminate'), time: String(body.time ?? '') };
    }
    throw new Error('IMDS: token refused twice');
  }

  async function tick(): Promise<void> {
    if (stopped || fired || busy) return;
    busy = true;
    try {
      const notice = await check();
      failures = 0;
      if (notice && !fired && !stopped) {
        fired = true;
        options.log?.warn({ notice }, 'EC2 Spot interruption notice: stopping gracefully');
        options.onNotice(notice);
      }
    } catch (err) {
      failures += 1;
      // Off EC2 or with IMDS disabled every call fails; say so once, then stay quiet.
      if (failures === 1) options.log?.warn({ err: String(err), endpoint }, 'spot watcher: instance metadata not reachable (will keep trying)');
    } finally {
      busy = false;
    }
  }

  const timer = setInterval(() => void tick(), intervalMs);
  timer.unref();
  void tick();
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
    },
    check,
  };
}
