import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobStore } from '../../../shared/common/job-store.ts';
import { openSqliteJobStore } from '../../../shared/node/sqlite-job-store.ts';
import { startWebhookOutbox, type WebhookOutbox, type WebhookOutboxOptions } from '../../../shared/node/webhook-outbox.ts';
import { verifySignature } from '../../../shared/node/webhooks.ts';
import { newJob, testSpec } from '../../helpers/jobs.ts';
import { finish, move, startReceiver } from '../../helpers/webhook-receiver.ts';

/** The local outbox on a real SQLite store and a real HTTP receiver. */

const SECRET = 'outbox-secret';
let dir: string;
let store: JobStore;
const cleanups: Array<() => Promise<void>> = [];
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-outbox-'));
  store = openSqliteJobStore(path.join(dir, 'jobs.db'));
});
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const quiet = { warn: () => undefined, info: () => undefined };
function outbox(url: string | null, extra: Partial<WebhookOutboxOptions> = {}): WebhookOutbox {
  const o = startWebhookOutbox({
    store,
    outputs: null,
    url,
    secret: SECRET,
    attempts: 3,
    log: quiet,
    // Long: the tests drive passes with poll(); the loop's own first pass is shared with the first poll().
    intervalMs: 60_000,
    notifier: { retry: { baseDelaySec: 0.01, maxDelaySec: 0.02, jitter: 0 } },
    ...extra,
  });
  cleanups.push(() => o.stop());
  return o;
}
async function stored(webhookUrl?: string) {
  const j = newJob(testSpec(webhookUrl ? { webhookUrl } : {}));
  await store.insert([j]);
  return j.spec.id;
}

describe('webhook outbox', () => {
  it('delivers each announced event once and settles it; a second poll sends nothing', async () => {
    const r = await startReceiver();
    cleanups.push(r.close);
    const a = await stored();
    const b = await stored();
    const c = await stored();
    await finish(store, a); // job.stage events on the way are not announced
    await move(store, b, { stage: 'failed', error: { code: 'NOT_MEDIA', message: 'not a video' } });
    await move(store, c, { stage: 'cancelled' });
    expect(await store.undelivered!(10)).toHaveLength(3);

    const o = outbox(r.url);
    expect(await o.poll()).toBe(3);
    expect(r.received.map((h) => JSON.parse(h.raw.toString()).event).sort()).toEqual(['job.cancelled', 'job.done', 'job.failed']);
    expect(r.received.every((h) => verifySignature(SECRET, h.raw, h.headers['x-tiercast-signature'] as string))).toBe(true);
    expect(await store.undelivered!(10)).toEqual([]);
    expect(await o.poll()).toBe(0);
    expect(r.received).toHaveLength(3);
  });

  it('settles an event whose receiver stays down after the last attempt; the failures stay in the delivery log', async () => {
    const r = await startReceiver();
    const downUrl = r.url;
    await r.close();
    const id = await stored();
    await move(store, id, { stage: 'cancelled' });
    const o = outbox(downUrl);
    expect(await o.poll()).toBe(1);
    expect(await store.undelivered!(10)).toEqual([]);
    const log = await store.deliveries(id);
    expect(log.map((d) => [d.attempt, d.ok, d.statusCode])).toEqual([
      [1, false, null],
      [2, false, null],
      [3, false, null],
    ]);
    expect(log[0]!.error).toMatch(/ECONNREFUSED/);

    // The outbox is still alive: the next event, to a receiver that is up, goes through.
    const up = await startReceiver();
    cleanups.push(up.close);
    const id2 = await stored(up.url);
    await move(store, id2, { stage: 'cancelled' });
    expect(await o.poll()).toBe(1);
    expect(up.received).toHaveLength(1);
  });

  it('settles events nobody is configured to receive, so they do not pile up', async () => {
    const id = await stored();
    await move(store, id, { stage: 'cancelled' });
    const o = outbox(null);
    expect(await o.poll()).toBe(1);
    expect(await store.undelivered!(10)).toEqual([]);
    expect(await store.deliveries(id)).toEqual([]);
  });

  it('stop() waits for the request in flight and leaves an event waiting to retry undelivered, for the next process', async () => {
    const r = await startReceiver({ status: 500 });
    cleanups.push(r.close);
    const id = await stored();
    await move(store, id, { stage: 'cancelled' });
    const o = startWebhookOutbox({
      store,
      outputs: null,
      url: r.url,
      secret: SECRET,
      attempts: 3,
      log: quiet,
      intervalMs: 60_000,
      notifier: { retry: { baseDelaySec: 30, maxDelaySec: 30, jitter: 0 } },
    });
    while (r.received.length === 0) await new Promise((res) => setTimeout(res, 10));
    const t0 = Date.now();
    await o.stop();
    expect(Date.now() - t0).toBeLessThan(5000); // did not sit out the 30 s backoff
    await o.stop(); // idempotent
    expect(r.received).toHaveLength(1);
    expect(await store.undelivered!(10)).toHaveLength(1);

    // The next process resumes the attempt count from the delivery log and delivers.
    r.replies.push({ status: 200 });
    const next = outbox(r.url);
    expect(await next.poll()).toBe(1);
    expect((await store.deliveries(id)).map((d) => [d.attempt, d.ok])).toEqual([
      [1, false],
      [2, true],
    ]);
  });

  it('polls by itself on its interval', async () => {
    const r = await startReceiver();
    cleanups.push(r.close);
    outbox(r.url, { intervalMs: 50 });
    const id = await stored();
    await move(store, id, { stage: 'cancelled' });
    const deadline = Date.now() + 10_000;
    while (r.received.length === 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    expect(r.received).toHaveLength(1);
  });

  it('does not start on a store that delivers through its own stream', async () => {
    const infos: string[] = [];
    const { undelivered: _u, settleEvent: _s, ...streamLike } = store;
    const o = startWebhookOutbox({ store: { ...streamLike, kind: 'dynamodb' } as JobStore, outputs: null, url: 'http://127.0.0.1:9/x', secret: null, attempts: 1, log: { warn: () => undefined, info: (_o, m) => void infos.push(m) } });
    expect(await o.poll()).toBe(0);
    await o.stop();
    expect(infos[0]).toMatch(/DynamoDB stream/);
  });
});
