import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSpotWatcher, type SpotNotice } from '../../agent/spot-watch.ts';

/** A tiny IMDSv2 stand-in: token on PUT, 401 without it, 404 until a notice is "posted". */
let server: http.Server;
let endpoint: string;
let notice: SpotNotice | null = null;
const tokensIssued: string[] = [];
const requests: string[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    if (req.method === 'PUT' && req.url === '/latest/api/token') {
      if (!req.headers['x-aws-ec2-metadata-token-ttl-seconds']) return res.writeHead(400).end();
      const t = `tok${tokensIssued.length}`;
      tokensIssued.push(t);
      return res.writeHead(200).end(t);
    }
    if (req.url === '/latest/meta-data/spot/instance-action') {
      if (!tokensIssued.includes(String(req.headers['x-aws-ec2-metadata-token']))) return res.writeHead(401).end();
      if (!notice) return res.writeHead(404).end();
      return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(notice));
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
});

describe('spot watcher', () => {
  it('stays quiet while there is no notice, then fires once with the notice (IMDSv2 token sent)', async () => {
    const seen: SpotNotice[] = [];
    const w = startSpotWatcher({ endpoint, intervalMs: 50, onNotice: (n) => seen.push(n) });
    await new Promise((r) => setTimeout(r, 200));
    expect(seen).toEqual([]);
    expect(requests).toContain('PUT /latest/api/token');
    notice = { action: 'terminate', time: '2026-11-22T05:00:00Z' };
    for (let i = 0; i < 40 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 200));
    w.stop();
    expect(seen).toEqual([{ action: 'terminate', time: '2026-11-22T05:00:00Z' }]);
    // One token reused across checks, not one per request.
    expect(tokensIssued.length).toBe(1);
  });

  it('fetches a new token when the old one is refused', async () => {
    notice = null;
    tokensIssued.length = 0; // the server forgets every token: the cached one now gets 401
    const w = startSpotWatcher({ endpoint, intervalMs: 60_000, onNotice: () => {} });
    expect(await w.check()).toBeNull();
    w.stop();
    expect(tokensIssued.length).toBeGreaterThanOrEqual(1);
  });
});
