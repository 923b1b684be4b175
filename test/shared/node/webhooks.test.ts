import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { JobStore } from '../../../shared/common/job-store.ts';
import { createJobOutputs, type JobOutputs } from '../../../shared/node/job-outputs.ts';
import { createLocalStore } from '../../../shared/node/local-store.ts';
import { openSqliteJobStore } from '../../../shared/node/sqlite-job-store.ts';
import {
  createWebhookNotifier,
  deliveryIdFor,
  redactUrl,
  retryAfterSec,
  verifySignature,
  webhookPayload,
  type WebhookNotifierOptions,
  type WebhookPayload,
} from '../../../shared/node/webhooks.ts';
import { newJob, testSpec } from '../../helpers/jobs.ts';
import { finish, move, startReceiver } from '../../helpers/webhook-receiver.ts';

/**
 * Webhooks against a real HTTP receiver on 127.0.0.1 and a real SQLite job store; events are made by moving jobs
 * through the store with the lifecycle's change(). Backoff is shortened (10 ms base) except where Retry-After is asked.
 */

const SECRET = 'whsec-test-0123456789';
let dir: string;
let store: JobStore;
let outputs: JobOutputs;
const closers: Array<() => Promise<void>> = [];

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-webhooks-'));
  store = openSqliteJobStore(path.join(dir, 'jobs.db'));
  outputs = createJobOutputs(createLocalStore(path.join(dir, 'store')));
});
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

async function receiver(options: Parameters<typeof startReceiver>[0] = {}) {
  const r = await startReceiver(options);
  closers.push(r.close);
  return r;
}

function logSpy() {
  const warnings: string[] = [];
  return { warnings, log: { warn: (_o: object, msg: string) => void warnings.push(msg), info: () => undefined } };
}

function notifier(url: string | null, extra: Partial<WebhookNotifierOptions> = {}) {
  const spy = logSpy();
  const n = createWebhookNotifier({
    store,
    outputs,
    url,
    secret: SECRET,
    attempts: 4,
    log: spy.log,
    retry: { baseDelaySec: 0.01, maxDelaySec: 0.05, jitter: 0.5 },
    ...extra,
  });
  return { ...spy, notifier: n };
}

async function newStoredJob(overrides: Parameters<typeof testSpec>[0] = {}) {
  const job = newJob(testSpec(overrides));
  await store.insert([job]);
  return job.spec.id;
}

async function publish(jobId: string) {
  const out = path.join(dir, `out-${jobId}`);
  mkdirSync(path.join(out, 'hls'), { recursive: true });
  writeFileSync(path.join(out, 'hls', 'master.m3u8'), '#EXTM3U\n');
  writeFileSync(path.join(out, 'manifest.mpd'), '<MPD/>');
  writeFileSync(path.join(out, 'poster.jpg'), Buffer.alloc(100, 1));
  writeFileSync(path.join(out, 'report.json'), '{}');
  return outputs.publishOutputs(jobId, out, 1);
}

const bodyOf = (raw: Buffer) => JSON.parse(raw.toString('utf8')) as WebhookPayload;

describe('webhook delivery', () => {
  it('posts each announced event, signed over the raw body, with the output keys of a done job', async () => {
    const r = await receiver();
    const { notifier: n } = notifier(r.url);

    const doneId = await newStoredJob();
    const manifest = await publish(doneId);
    const done = await finish(store, doneId);
    const failedId = await newStoredJob();
    const failed = (await move(store, failedId, { stage: 'failed', error: { code: 'ENCODE_FAILED', message: 'ffmpeg exited 1' }, finishedAt: new Date().toISOString() }))!;
    const cancelledId = await newStoredJob();
    const cancelled = (await move(store, cancelledId, { stage: 'cancelled', error: { code: 'CANCELLED', message: 'cancelled by operator' } }))!;

    for (const e of [done, failed, cancelled]) {
      const a = await n.announce(e);
      expect(a.deliveries).toEqual([expect.objectContaining({ ok: true, outcome: 'delivered', statusCode: 200, attempts: 1 })]);
    }
    expect(r.received).toHaveLength(3);
    for (const hook of r.received) {
      expect(verifySignature(SECRET, hook.raw, hook.headers['x-tiercast-signature'] as string)).toBe(true);
      expect(verifySignature('another-secret', hook.raw, hook.headers['x-tiercast-signature'] as string)).toBe(false);
      expect(hook.headers['content-type']).toBe('application/json');
      expect(hook.headers['user-agent']).toMatch(/^Tiercast-Webhook\//);
      expect(hook.headers['x-tiercast-event']).toBe(bodyOf(hook.raw).event);
      expect(hook.headers['x-tiercast-delivery']).toBe(deliveryIdFor(bodyOf(hook.raw).jobId, bodyOf(hook.raw).seq, r.url));
    }
    const [b1, b2, b3] = r.received.map((h) => bodyOf(h.raw));
    const v = manifest.report.split('/')[0];
    expect(b1).toEqual({
      event: 'job.done',
      jobId: doneId,
      seq: done.seq,
      at: done.at,
      stage: 'done',
      from: 'finalizing',
      tier: 'local',
      attempts: 1,
      error: null,
      note: null,
      outputs: {
        manifest: `outputs/${doneId}/manifest.json`,
        hls: `outputs/${doneId}/${v}/hls/master.m3u8`,
        dash: `outputs/${doneId}/${v}/manifest.mpd`,
        poster: `outputs/${doneId}/${v}/poster.jpg`,
        thumbnails: null,
        report: `outputs/${doneId}/${v}/report.json`,
      },
    });
    expect(b2).toMatchObject({ event: 'job.failed', jobId: failedId, stage: 'failed', from: 'queued', attempts: 0, error: { code: 'ENCODE_FAILED', message: 'ffmpeg exited 1' }, outputs: null });
    expect(b3).toMatchObject({ event: 'job.cancelled', jobId: cancelledId, stage: 'cancelled', error: { code: 'CANCELLED' }, outputs: null });
    // The delivery log of each job holds its one attempt.
    expect(await store.deliveries(failedId)).toEqual([
      expect.objectContaining({ jobId: failedId, seq: failed.seq, event: 'job.failed', attempt: 1, ok: true, statusCode: 200, error: null, url: r.url }),
    ]);
    expect(await store.deliveries(cancelledId)).toHaveLength(1);
    expect(cancelled.type).toBe('job.cancelled');
  });

  it('retries a receiver answering 500 with the same delivery id and body, until a 2xx; every attempt is logged', async () => {
    const r = await receiver({ replies: [{ status: 500 }, { status: 502 }], status: 204 });
    const { notifier: n } = notifier(r.url);
    const id = await newStoredJob();
    const e = (await move(store, id, { stage: 'failed', error: { code: 'INTERNAL', message: 'boom' } }))!;

    const a = await n.announce(e);
    expect(a.deliveries[0]).toMatchObject({ ok: true, attempts: 3, statusCode: 204, outcome: 'delivered' });
    expect(r.received).toHaveLength(3);
    expect(new Set(r.received.map((h) => h.headers['x-tiercast-delivery'])).size).toBe(1);
    expect(new Set(r.received.map((h) => h.raw.toString('hex'))).size).toBe(1);
    const log = await store.deliveries(id);
    expect(log.map((d) => [d.attempt, d.ok, d.statusCode, d.error])).toEqual([
      [1, false, 500, 'HTTP 500 Internal Server Error'],
      [2, false, 502, 'HTTP 502 Bad Gateway'],
      [3, true, 204, null],
    ]);
    expect(new Set(log.map((d) => d.deliveryId))).toEqual(new Set([a.deliveries[0]!.deliveryId]));

    // A second announce of the same event (another process, a stream retry) finds it delivered and sends nothing.
    const again = await n.announce(e);
    expect(again.deliveries[0]).toMatchObject({ ok: true, attempts: 0, outcome: 'delivered' });
    expect(r.received).toHaveLength(3);
  });

  it('gives up after notifications.webhookAttempts, and a later call does not start over', async () => {
    const r = await receiver({ status: 500 });
    const { notifier: n, warnings } = notifier(r.url, { attempts: 3 });
    const id = await newStoredJob();
    const e = (await move(store, id, { stage: 'cancelled' }))!;
    const a = await n.announce(e);
    expect(a.deliveries[0]).toMatchObject({ ok: false, attempts: 3, statusCode: 500, outcome: 'failed', error: 'HTTP 500 Internal Server Error' });
    expect(r.received).toHaveLength(3);
    expect(warnings.some((w) => /giving up/.test(w))).toBe(true);
    await n.announce(e);
    expect(r.received).toHaveLength(3);
    expect((await store.deliveries(id)).map((d) => d.attempt)).toEqual([1, 2, 3]);
  });

  it('honours Retry-After on 429 and 503 instead of the short backoff', async () => {
    const r = await receiver({ replies: [{ status: 429, headers: { 'retry-after': '1' } }, { status: 503, headers: { 'retry-after': '1' } }] });
    const { notifier: n } = notifier(r.url);
    const id = await newStoredJob();
    const e = (await move(store, id, { stage: 'failed', error: { code: 'INTERNAL', message: 'x' } }))!;
    const a = await n.announce(e);
    expect(a.deliveries[0]).toMatchObject({ ok: true, attempts: 3 });
    const [t1, t2, t3] = r.received.map((h) => h.at);
    // The backoff alone would wait at most 50 ms; the receiver asked for 1 s each time.
    expect(t2! - t1!).toBeGreaterThanOrEqual(950);
    expect(t3! - t2!).toBeGreaterThanOrEqual(950);
    expect((await store.deliveries(id)).map((d) => d.statusCode)).toEqual([429, 503, 200]);
  });

  it("posts to the job's own webhook URL too, with its own delivery id", async () => {
    const configured = await receiver();
    const own = await receiver();
    const { notifier: n } = notifier(configured.url);
    const id = await newStoredJob({ webhookUrl: `${own.url}?token=s3cr3t` });
    const e = (await move(store, id, { stage: 'cancelled' }))!;
    const a = await n.announce(e);
    expect(a.deliveries.map((d) => d.ok)).toEqual([true, true]);
    expect(configured.received).toHaveLength(1);
    expect(own.received).toHaveLength(1);
    expect(own.received[0]!.path).toBe('/hooks?token=s3cr3t');
    const ids = [configured.received[0]!.headers['x-tiercast-delivery'], own.received[0]!.headers['x-tiercast-delivery']];
    expect(ids[0]).not.toBe(ids[1]);
    expect(ids[1]).toBe(deliveryIdFor(id, e.seq, `${own.url}?token=s3cr3t`));
    expect(own.received[0]!.raw.equals(configured.received[0]!.raw)).toBe(true);
    const log = await store.deliveries(id);
    expect(log.map((d) => d.url).sort()).toEqual([configured.url, `${own.url}?…`].sort());
    expect(JSON.stringify(log)).not.toContain('s3cr3t');
  });

  it('records a network error without the secret or the URL token, and sends unsigned with one warning when no secret is set', async () => {
    const r = await receiver();
    const port = new URL(r.url).port;
    await r.close();
    const { notifier: n, warnings } = notifier(null, { secret: null, attempts: 2 });
    const id = await newStoredJob({ webhookUrl: `http://127.0.0.1:${port}/down?key=topsecret` });
    const e = (await move(store, id, { stage: 'cancelled' }))!;
    const a = await n.announce(e);
    expect(a.deliveries[0]).toMatchObject({ ok: false, statusCode: null, outcome: 'failed' });
    const log = await store.deliveries(id);
    expect(log).toHaveLength(2);
    expect(log[0]!.error).toMatch(/ECONNREFUSED/);
    expect(JSON.stringify(log)).not.toContain('topsecret');
    // Unsigned: warned once, however many deliveries.
    const r2 = await receiver();
    const n2 = notifier(r2.url, { secret: null });
    await n2.notifier.announce((await move(store, await newStoredJob(), { stage: 'cancelled' }))!);
    await n2.notifier.announce((await move(store, await newStoredJob(), { stage: 'cancelled' }))!);
    expect(r2.received).toHaveLength(2);
    expect(r2.received[0]!.headers['x-tiercast-signature']).toBeUndefined();
    expect(n2.warnings.filter((w) => /TIERCAST_WEBHOOK_SECRET/.test(w))).toHaveLength(1);
    expect(warnings.filter((w) => /TIERCAST_WEBHOOK_SECRET/.test(w))).toHaveLength(1);
  });

  it('times out a receiver that does not answer', async () => {
    const http = await import('node:http');
    const server = http.createServer(() => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/slow`;
    const { notifier: n } = notifier(url, { attempts: 1, timeoutMs: 200 });
    const e = (await move(store, await newStoredJob(), { stage: 'cancelled' }))!;
    const a = await n.announce(e);
    expect(a.deliveries[0]).toMatchObject({ ok: false, outcome: 'failed', error: 'timed out after 0.2 s' });
  });
});

describe('webhook pieces', () => {
  it('verifySignature refuses a tampered body, a wrong prefix and a short header', () => {
    const body = '{"event":"job.done"}';
    const sig = `sha256=${hmacHex(body)}`;
    expect(verifySignature(SECRET, body, sig)).toBe(true);
    expect(verifySignature(SECRET, Buffer.from(body), sig)).toBe(true);
    expect(verifySignature(SECRET, `${body} `, sig)).toBe(false);
    expect(verifySignature(SECRET, body, sig.replace('sha256=', 'sha1='))).toBe(false);
    expect(verifySignature(SECRET, body, sig.slice(0, 20))).toBe(false);
    expect(verifySignature(SECRET, body, undefined)).toBe(false);
  });

  it('delivery ids are stable, UUID-shaped, and differ by job, event and URL', () => {
    const a = deliveryIdFor('j1', 5, 'https://a.example/h');
    expect(deliveryIdFor('j1', 5, 'https://a.example/h')).toBe(a);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set([a, deliveryIdFor('j2', 5, 'https://a.example/h'), deliveryIdFor('j1', 6, 'https://a.example/h'), deliveryIdFor('j1', 5, 'https://b.example/h')]).size).toBe(4);
  });

  it('parses Retry-After as seconds or an HTTP date; redacts URLs', () => {
    expect(retryAfterSec('7')).toBe(7);
    expect(retryAfterSec(new Date(Date.UTC(2030, 0, 1, 0, 0, 30)).toUTCString(), Date.UTC(2030, 0, 1))).toBe(30);
    expect(retryAfterSec('soon')).toBeNull();
    expect(retryAfterSec(null)).toBeNull();
    expect(redactUrl('https://user:pw@hooks.example:8443/a/b?sig=x')).toBe('https://hooks.example:8443/a/b?…');
  });

  it('refuses to build a body for an event that is not announced', () => {
    expect(() => webhookPayload({ jobId: 'j', seq: 2, at: 'x', type: 'job.stage', stage: 'encoding', from: 'analyzing', tier: 'local', attempts: 1 }, null)).toThrow(/not announced/);
  });
});

/** An independent HMAC (not signBody), so the check is not the code checking itself. */
function hmacHex(body: string): string {
  return createHmac('sha256', SECRET).update(body, 'utf8').digest('hex');
}
