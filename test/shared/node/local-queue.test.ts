import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TiercastError } from '../../../shared/common/errors.ts';
import { createLocalQueue } from '../../../shared/node/local-queue.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-lq-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('createLocalQueue', () => {
  it('delivers a message with its body, counts receives and deletes it', async () => {
    const q = createLocalQueue(dir);
    const { messageId } = await q.send('{"a":1}');
    const [m] = await q.receive({ maxMessages: 10, waitSeconds: 0 });
    expect(m).toMatchObject({ id: messageId, body: '{"a":1}', receiveCount: 1, queue: 'normal' });
    expect(await q.depth()).toEqual({ visible: 0, inFlight: 1 });
    await q.delete(m!);
    expect(await q.depth()).toEqual({ visible: 0, inFlight: 0 });
    expect(await q.receive({ maxMessages: 10, waitSeconds: 0 })).toEqual([]);
  });

  it('hands out messages sent back to back in the order they were sent (same millisecond included)', async () => {
    const q = createLocalQueue(dir);
    for (let i = 0; i < 40; i++) await q.send(`m${i}`);
    const got: string[] = [];
    while (got.length < 40) got.push(...(await q.receive({ maxMessages: 10, waitSeconds: 0 })).map((m) => m.body));
    expect(got).toEqual(Array.from({ length: 40 }, (_, i) => `m${i}`));
  });

  it('gives each message to exactly one of many concurrent receivers (separate instances, one folder)', async () => {
    const sender = createLocalQueue(dir);
    for (let i = 0; i < 30; i++) await sender.send(`m${i}`);
    const receivers = Array.from({ length: 5 }, () => createLocalQueue(dir));
    const got = (await Promise.all(receivers.flatMap((r) => [r.receive({ maxMessages: 10, waitSeconds: 0 }), r.receive({ maxMessages: 10, waitSeconds: 0 })]))).flat();
    const bodies = got.map((m) => m.body).sort();
    expect(new Set(bodies).size).toBe(bodies.length);
    expect(bodies.length).toBe(30);
  });

  it('keeps a received message invisible until its lease expires, then delivers it again with a new receipt', async () => {
    const q = createLocalQueue(dir, { visibilityTimeoutSec: 1 });
    await q.send('x');
    const [first] = await q.receive({ maxMessages: 1, waitSeconds: 0 });
    expect(await q.receive({ maxMessages: 1, waitSeconds: 0 })).toEqual([]);
    const [second] = await q.receive({ maxMessages: 1, waitSeconds: 3 });
    expect(second).toMatchObject({ id: first!.id, body: 'x', receiveCount: 2 });
    expect(second!.receiptHandle).not.toBe(first!.receiptHandle);
    // The crashed holder's receipt no longer works: it cannot delete the message the new holder has.
    await expect(q.delete(first!)).rejects.toMatchObject({ code: 'QUEUE_ERROR', details: { stale: true } });
    await q.delete(second!);
  });

  it('changeVisibility extends a lease and 0 makes the message visible at once', async () => {
    const q = createLocalQueue(dir, { visibilityTimeoutSec: 1 });
    await q.send('x');
    const [m] = await q.receive({ maxMessages: 1, waitSeconds: 0 });
    await q.changeVisibility(m!, 30);
    await sleep(1200);
    expect(await q.receive({ maxMessages: 1, waitSeconds: 0 })).toEqual([]);
    await q.changeVisibility(m!, 0);
    const [again] = await q.receive({ maxMessages: 1, waitSeconds: 0 });
    expect(again).toMatchObject({ id: m!.id, receiveCount: 2 });
  });

  it('moves a message to the dead letters once it was received maxReceives times', async () => {
    const q = createLocalQueue(dir, { maxReceives: 2 });
    await q.send('poison');
    for (let i = 1; i <= 2; i++) {
      const [m] = await q.receive({ maxMessages: 1, waitSeconds: 0 });
      expect(m!.receiveCount).toBe(i);
      await q.changeVisibility(m!, 0);
    }
    expect(await q.receive({ maxMessages: 1, waitSeconds: 0 })).toEqual([]);
    const dead = await q.deadLetters();
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ body: 'poison', receiveCount: 2, reason: null });
  });

  it('dead-letters a message on request, keeping the reason', async () => {
    const q = createLocalQueue(dir);
    await q.send('not json');
    const [m] = await q.receive({ maxMessages: 1, waitSeconds: 0 });
    await q.deadLetter(m!, 'INVALID_JOB: body is not JSON');
    expect(await q.depth()).toEqual({ visible: 0, inFlight: 0 });
    expect(await q.deadLetters()).toEqual([expect.objectContaining({ body: 'not json', reason: 'INVALID_JOB: body is not JSON' })]);
  });

  it('delivers high priority before normal, oldest first within a lane', async () => {
    const q = createLocalQueue(dir);
    await q.send('n1', { priority: 5 });
    await sleep(2);
    await q.send('n2');
    await q.send('h1', { priority: 9 });
    const got = await q.receive({ maxMessages: 10, waitSeconds: 0 });
    expect(got.map((m) => [m.body, m.queue])).toEqual([['h1', 'high'], ['n1', 'normal'], ['n2', 'normal']]);
  });

  it('long-polls until a message arrives, and honours delaySeconds', async () => {
    const q = createLocalQueue(dir, { pollIntervalMs: 50 });
    await q.send('later', { delaySeconds: 1 });
    expect(await q.receive({ maxMessages: 1, waitSeconds: 0 })).toEqual([]);
    const pending = q.receive({ maxMessages: 1, waitSeconds: 5 });
    setTimeout(() => void q.send('now'), 100);
    const got = await pending;
    expect(got.map((m) => m.body)).toEqual(['now']);
    const [later] = await q.receive({ maxMessages: 1, waitSeconds: 3 });
    expect(later).toMatchObject({ body: 'later', receiveCount: 1 });
  });

  it('returns from a long poll when aborted', async () => {
    const q = createLocalQueue(dir, { pollIntervalMs: 50 });
    const ac = new AbortController();
    const pending = q.receive({ maxMessages: 1, waitSeconds: 20, signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    const started = Date.now();
    expect(await pending).toEqual([]);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('rejects invalid options with CONFIG_INVALID', () => {
    expect(() => createLocalQueue(dir, { maxReceives: 0 })).toThrow(TiercastError);
    expect(() => createLocalQueue(dir, { visibilityTimeoutSec: -1 })).toThrow(/visibilityTimeoutSec/);
  });
});
