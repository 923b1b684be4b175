import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSqsClient, createSqsJobQueue } from '../../cloud/sqs-queue.ts';
import { startFauxqs, type Fauxqs } from '../helpers/fauxqs.ts';

let fx: Fauxqs;
beforeAll(async () => {
  fx = await startFauxqs();
});
afterAll(async () => {
  await fx?.stop();
});

let n = 0;
async function queues(opts: { visibilityTimeout?: number; maxReceiveCount?: number } = {}) {
  n += 1;
  const dlq = await fx.createQueue(`dlq-${n}`);
  const normal = await fx.createQueue(`normal-${n}`, { dlq, maxReceiveCount: opts.maxReceiveCount ?? 3, visibilityTimeout: opts.visibilityTimeout ?? 30 });
  const high = await fx.createQueue(`high-${n}`, { dlq, maxReceiveCount: opts.maxReceiveCount ?? 3, visibilityTimeout: opts.visibilityTimeout ?? 30 });
  return { dlq, normal, high, queue: createSqsJobQueue({ client: fx.client, queueUrls: { high, normal } }) };
}

describe('createSqsJobQueue (fauxqs)', () => {
  it('sends, receives with a receive count, and deletes', async () => {
    const { queue } = await queues();
    const { messageId } = await queue.send('{"x":1}');
    const [m] = await queue.receive({ maxMessages: 10, waitSeconds: 1 });
    expect(m).toMatchObject({ id: messageId, body: '{"x":1}', receiveCount: 1, queue: 'normal' });
    expect(await queue.depth()).toEqual({ visible: 0, inFlight: 1 });
    await queue.delete(m!);
    expect(await queue.depth()).toEqual({ visible: 0, inFlight: 0 });
  });

  it('routes priority >= 8 to the high queue and polls it first', async () => {
    const { queue } = await queues();
    await queue.send('normal', { priority: 5 });
    await queue.send('high', { priority: 9 });
    const first = await queue.receive({ maxMessages: 10, waitSeconds: 1 });
    expect(first.map((m) => [m.body, m.queue])).toEqual([['high', 'high']]);
    const second = await queue.receive({ maxMessages: 10, waitSeconds: 1 });
    expect(second.map((m) => [m.body, m.queue])).toEqual([['normal', 'normal']]);
  });

  it('with a high queue, the normal long poll is capped so a high-priority message never waits out a 20 s poll', async () => {
    const { high, normal } = await queues();
    const waits: { url: string; wait: number | undefined }[] = [];
    const spy = (next: (a: unknown) => Promise<unknown>) => async (args: unknown) => {
      const input = (args as { input: { QueueUrl?: string; WaitTimeSeconds?: number } }).input;
      if (input.WaitTimeSeconds !== undefined) waits.push({ url: input.QueueUrl!, wait: input.WaitTimeSeconds });
      return next(args);
    };
    fx.client.middlewareStack.add(spy as never, { step: 'initialize', name: 'waitSpy' });
    try {
      const both = createSqsJobQueue({ client: fx.client, queueUrls: { high, normal }, highPriorityLatencySec: 1 });
      const normalOnly = createSqsJobQueue({ client: fx.client, queueUrls: { normal } });
      expect(await both.receive({ maxMessages: 1, waitSeconds: 20 })).toEqual([]);
      expect(await normalOnly.receive({ maxMessages: 1, waitSeconds: 2 })).toEqual([]);
      // A high-priority message sent during a poll is taken by the next one.
      const polling = both.receive({ maxMessages: 1, waitSeconds: 20 });
      await both.send('urgent', { priority: 9 });
      await polling;
      const [m] = await both.receive({ maxMessages: 1, waitSeconds: 20 });
      expect(m).toMatchObject({ body: 'urgent', queue: 'high' });
    } finally {
      fx.client.middlewareStack.remove('waitSpy');
    }
    expect(waits.slice(0, 3)).toEqual([
      { url: high, wait: 0 },
      { url: normal, wait: 1 },
      { url: normal, wait: 2 },
    ]);
  });

  it('changeVisibility 0 makes a message visible again with a higher receive count', async () => {
    const { queue } = await queues();
    await queue.send('again');
    const [m] = await queue.receive({ maxMessages: 1, waitSeconds: 1 });
    expect(await queue.receive({ maxMessages: 1, waitSeconds: 0 })).toEqual([]);
    await queue.changeVisibility(m!, 0);
    const [m2] = await queue.receive({ maxMessages: 1, waitSeconds: 1 });
    expect(m2).toMatchObject({ id: m!.id, receiveCount: 2 });
  });

  it('a receipt whose lease lapsed and was received again is reported stale (the worker stops its run)', async () => {
    const { queue } = await queues({ visibilityTimeout: 1 });
    await queue.send('lapsed');
    const [old] = await queue.receive({ maxMessages: 1, waitSeconds: 1, visibilityTimeoutSeconds: 1 });
    await new Promise((r) => setTimeout(r, 1500));
    const [again] = await queue.receive({ maxMessages: 1, waitSeconds: 2, visibilityTimeoutSeconds: 30 });
    expect(again).toMatchObject({ id: old!.id, receiveCount: 2 });
    await expect(queue.changeVisibility(old!, 30)).rejects.toMatchObject({ code: 'QUEUE_ERROR', details: { stale: true } });
    // The new holder's receipt still works, and an ordinary failure is not called stale.
    await queue.changeVisibility(again!, 30);
    const bogus = { ...again!, receiptHandle: JSON.stringify({ url: 'http://127.0.0.1:1/000000000000/none', receipt: 'x' }) };
    const err = await queue.changeVisibility(bogus, 30).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'QUEUE_ERROR' });
    expect((err as { details?: { stale?: boolean } }).details?.stale).toBeUndefined();
  });

  it('a poll on a connection that goes silent fails with QUEUE_ERROR instead of hanging the agent', async () => {
    const { createServer } = await import('node:net');
    const sockets: import('node:net').Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as import('node:net').AddressInfo).port;
    const client = createSqsClient({
      region: 'us-east-1',
      endpoint: `http://127.0.0.1:${port}`,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
      socketTimeoutMs: 300,
    });
    try {
      const queue = createSqsJobQueue({ client, queueUrls: { normal: `http://127.0.0.1:${port}/000000000000/q` } });
      await expect(queue.receive({ maxMessages: 1, waitSeconds: 1 })).rejects.toMatchObject({ code: 'QUEUE_ERROR', message: expect.stringMatching(/timed out/i) });
      expect(sockets.length).toBeGreaterThan(0);
    } finally {
      client.destroy();
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });

  it('ends a long poll at once when the signal aborts', async () => {
    const { queue } = await queues();
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    const started = Date.now();
    expect(await queue.receive({ maxMessages: 1, waitSeconds: 20, signal: ac.signal })).toEqual([]);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('a message received maxReceiveCount times lands in the DLQ through the redrive policy', async () => {
    const { queue, dlq } = await queues({ maxReceiveCount: 2 });
    await queue.send('poison');
    for (let i = 1; i <= 2; i++) {
      const [m] = await queue.receive({ maxMessages: 1, waitSeconds: 1 });
      expect(m!.receiveCount).toBe(i);
      await queue.changeVisibility(m!, 0);
    }
    expect(await queue.receive({ maxMessages: 1, waitSeconds: 0 })).toEqual([]);
    const dead = await fx.client.send(new ReceiveMessageCommand({ QueueUrl: dlq, WaitTimeSeconds: 1 }));
    expect(dead.Messages?.map((m) => m.Body)).toEqual(['poison']);
  });

  it('turns SDK failures into QUEUE_ERROR', async () => {
    const queue = createSqsJobQueue({ client: fx.client, queueUrls: { normal: `${fx.endpoint}/000000000000/missing-queue` } });
    await expect(queue.send('x')).rejects.toMatchObject({ code: 'QUEUE_ERROR' });
  });
});
