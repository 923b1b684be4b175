import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEc2Dispatcher } from '../../../cloud/dispatch/queue.ts';
import { createSqsJobQueue } from '../../../cloud/sqs-queue.ts';
import { startFauxqs, type Fauxqs } from '../../helpers/fauxqs.ts';

/** The EC2 tier's dispatch against a real SQS protocol (fauxqs on 127.0.0.1). */
let sqs: Fauxqs;
let urls: { high: string; normal: string };
beforeAll(async () => {
  sqs = await startFauxqs();
  urls = { high: await sqs.createQueue('tiercast-high'), normal: await sqs.createQueue('tiercast-normal') };
});
afterAll(async () => {
  await sqs?.stop();
});

describe('EC2 dispatch through SQS', () => {
  it('sends a job pointer, priorities 8-10 to the high queue and 1-7 to the normal one', async () => {
    const queue = createSqsJobQueue({ client: sqs.client, queueUrls: urls });
    const dispatcher = createEc2Dispatcher(queue);
    const sent = [
      await dispatcher.dispatch({ jobId: 'job-low', tier: 'ec2', priority: 1 }),
      await dispatcher.dispatch({ jobId: 'job-seven', tier: 'ec2', priority: 7 }),
      await dispatcher.dispatch({ jobId: 'job-eight', tier: 'ec2', priority: 8 }),
      await dispatcher.dispatch({ jobId: 'job-top', tier: 'ec2', priority: 10 }),
    ];
    for (const s of sent) {
      expect(s.tier).toBe('ec2');
      expect(s.ref.length).toBeGreaterThan(0);
    }
    expect(sent[2]!.note).toMatch(/high priority/);

    const drain = async (url: string) => {
      const only = createSqsJobQueue({ client: sqs.client, queueUrls: { normal: url } });
      const bodies: unknown[] = [];
      for (;;) {
        const got = await only.receive({ maxMessages: 10, waitSeconds: 0 });
        if (got.length === 0) break;
        for (const m of got) {
          bodies.push(JSON.parse(m.body));
          await only.delete(m);
        }
      }
      return bodies;
    };
    const high = await drain(urls.high);
    const normal = await drain(urls.normal);
    expect(high).toEqual(expect.arrayContaining([{ schemaVersion: 1, jobId: 'job-eight' }, { schemaVersion: 1, jobId: 'job-top' }]));
    expect(high).toHaveLength(2);
    expect(normal).toEqual(expect.arrayContaining([{ schemaVersion: 1, jobId: 'job-low' }, { schemaVersion: 1, jobId: 'job-seven' }]));
    expect(normal).toHaveLength(2);
  });

  it('a queue that does not exist fails the dispatch with a classified error', async () => {
    const queue = createSqsJobQueue({ client: sqs.client, queueUrls: { normal: `${sqs.endpoint}/000000000000/missing-queue` } });
    const err = await createEc2Dispatcher(queue).dispatch({ jobId: 'job-x', tier: 'ec2', priority: 5 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'DISPATCH_FAILED' });
  });
});
