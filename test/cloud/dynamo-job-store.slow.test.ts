import { GetCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoJobStore, createJobTable, shardOf } from '../../cloud/dynamo-job-store.ts';
import { JOB_TABLE } from '../../cloud/job-table-layout.ts';
import { change } from '../../shared/common/job-lifecycle.ts';
import { isVersionConflict, type JobStore } from '../../shared/common/job-store.ts';
import { jobStoreContract } from '../contract/job-store.contract.ts';
import { startDynalite, type Dynalite } from '../helpers/dynalite.ts';
import { raceEightProcesses } from '../helpers/job-store-racers.ts';
import { newJob, testSpec } from '../helpers/jobs.ts';

let tables = 0;
async function freshTable(d: Dynalite, options: { maxAttempts?: number } = {}) {
  const doc = DynamoDBDocumentClient.from(d.client(options));
  const tableName = `tiercast-jobs-${process.pid}-${++tables}`;
  await createJobTable(doc, tableName);
  return { doc, tableName };
}

jobStoreContract('DynamoDB (dynalite)', async () => {
  const d = await startDynalite();
  const { doc, tableName } = await freshTable(d);
  return {
    store: createDynamoJobStore({ client: doc, tableName }),
    teardown: () => d.close(),
  };
});

describe('DynamoDB job store (dynalite)', () => {
  let d: Dynalite;
  let doc: DynamoDBDocumentClient;
  let tableName: string;
  let store: JobStore;
  beforeAll(async () => {
    d = await startDynalite();
    ({ doc, tableName } = await freshTable(d));
    store = createDynamoJobStore({ client: doc, tableName, retentionDays: 7 });
  });
  afterAll(async () => {
    await d?.close();
  });
  const raw = async (sk: string, id: string) => (await doc.send(new GetCommand({ TableName: tableName, Key: { pk: `JOB#${id}`, sk }, ConsistentRead: true }))).Item;

  // Eight tsx processes start on a shared 2-core machine: most of the time is their start-up.
  it('8 processes racing on one job: exactly one wins each version, one version per write', async () => {
    const job = newJob();
    await store.insert([job]);
    await raceEightProcesses(store, job.spec.id, { ...process.env, ...d.env, RACER_STORE: 'dynamodb', RACER_LOCATION: tableName });
  }, 400_000);

  it('keeps the index attributes in step: admission keys only while queued, stage shard follows the stage', async () => {
    const job = newJob(testSpec({ priority: 8 }), { tier: 'ec2' });
    await store.insert([job]);
    const id = job.spec.id;
    const queued = await raw('JOB', id);
    expect(queued).toMatchObject({
      stageShard: `queued#${shardOf(id)}`,
      updatedKey: `${job.status.updatedAt}#${id}`,
      changeShard: `chg#${shardOf(id)}`,
      admitTier: 'ec2',
      admitKey: `02#${job.spec.createdAt}#${id}`,
    });
    expect(queued).not.toHaveProperty(JOB_TABLE.ttlAttribute);
    const c = change(job.status, { stage: 'dispatched' }, new Date());
    await store.write(c.next, 1, c.event);
    const dispatched = await raw('JOB', id);
    expect(dispatched).toMatchObject({ stageShard: `dispatched#${shardOf(id)}`, updatedKey: `${c.next.updatedAt}#${id}`, version: 2 });
    expect(dispatched).not.toHaveProperty('admitTier');
    expect(dispatched).not.toHaveProperty('admitKey');
    expect((await store.admissionQueue('ec2', 10)).map((s) => s.id)).not.toContain(id);
  });

  it('a finished job, its events and deliveries get the TTL attribute; a retried one loses it', async () => {
    const job = newJob();
    await store.insert([job]);
    const id = job.spec.id;
    await store.recordDelivery({ jobId: id, deliveryId: 'd1', seq: 2, event: 'job.cancelled', url: 'http://127.0.0.1:9/', attempt: 1, at: new Date().toISOString(), ok: true, statusCode: 200, error: null });
    const c = change(job.status, { stage: 'cancelled' }, new Date());
    const before = Math.floor(Date.now() / 1000);
    await store.write(c.next, 1, c.event);
    const week = 7 * 86_400;
    for (const sk of ['JOB', 'EVT#0000000001', 'EVT#0000000002']) {
      const item = await raw(sk, id);
      expect(Number(item?.[JOB_TABLE.ttlAttribute]), sk).toBeGreaterThanOrEqual(before + week);
      expect(Number(item?.[JOB_TABLE.ttlAttribute]), sk).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + week);
    }
    expect(await raw('EVT#0000000002', id)).toMatchObject({ announce: 'job.cancelled' });
    expect(await raw('EVT#0000000001', id)).not.toHaveProperty('announce');
    const r = change(c.next, { stage: 'queued' }, new Date());
    await store.write(r.next, 2, r.event);
    for (const sk of ['JOB', 'EVT#0000000001', 'EVT#0000000002', 'EVT#0000000003']) expect(await raw(sk, id), sk).not.toHaveProperty(JOB_TABLE.ttlAttribute);
  });

  it('retries throttling (twice ProvisionedThroughputExceeded, then through) and writes once', async () => {
    const throttled = DynamoDBDocumentClient.from(d.client({ maxAttempts: 3 }));
    let thrown = 0;
    const seen: string[] = [];
    throttled.middlewareStack.add(
      (next, context) => async (args) => {
        seen.push(String(context.commandName));
        if (context.commandName === 'TransactWriteItemsCommand' && thrown < 2) {
          thrown += 1;
          throw Object.assign(new Error('Throughput exceeds the current capacity of your table or index.'), {
            name: 'ProvisionedThroughputExceededException',
            $fault: 'client',
            $metadata: { httpStatusCode: 400 },
          });
        }
        return next(args);
      },
      { step: 'finalizeRequest', name: 'injectThrottle', priority: 'low' },
    );
    const s = createDynamoJobStore({ client: throttled, tableName });
    const job = newJob();
    await store.insert([job]);
    const c = change(job.status, { stage: 'dispatched' }, new Date());
    await s.write(c.next, 1, c.event);
    expect(thrown).toBe(2);
    expect(seen.filter((n) => n === 'TransactWriteItemsCommand')).toHaveLength(3);
    expect((await store.get(job.spec.id)).status.version).toBe(2);
    expect((await store.events(job.spec.id)).map((e) => e.seq)).toEqual([1, 2]);
  });

  it('retries a TransactionConflict (another transaction in flight on the item): not a lost race, not an error', async () => {
    const conflicted = DynamoDBDocumentClient.from(d.client());
    let thrown = 0;
    conflicted.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'TransactWriteItemsCommand' && thrown < 2) {
          thrown += 1;
          throw Object.assign(new Error('Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict, None]'), {
            name: 'TransactionCanceledException',
            $fault: 'client',
            $metadata: { httpStatusCode: 400 },
            CancellationReasons: [{ Code: 'TransactionConflict', Message: 'Transaction is ongoing for the item' }, { Code: 'None' }],
          });
        }
        return next(args);
      },
      { step: 'finalizeRequest', name: 'injectConflict', priority: 'low' },
    );
    const job = newJob();
    await store.insert([job]);
    const c = change(job.status, { stage: 'dispatched' }, new Date());
    await createDynamoJobStore({ client: conflicted, tableName }).write(c.next, 1, c.event);
    expect(thrown).toBe(2);
    expect((await store.get(job.spec.id)).status).toMatchObject({ version: 2, stage: 'dispatched' });
  });

  it('a lost race never shows as an error: VersionConflict, JOB_NOT_FOUND for a job that is not there', async () => {
    const job = newJob();
    await store.insert([job]);
    const a = change(job.status, { progress: 0.1 }, new Date());
    await store.write(a.next, 1, null);
    const lost = await store.write(a.next, 1, null).then(() => null, (e: unknown) => e);
    expect(isVersionConflict(lost)).toBe(true);
    const ghost = newJob();
    await expect(store.write(change(ghost.status, { progress: 0.2 }, new Date()).next, 1, null)).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
  });

  it('a missing table is STORE_ERROR naming the table and the stack that creates it', async () => {
    const s = createDynamoJobStore({ client: doc, tableName: 'no-such-table' });
    await expect(s.get('x1')).rejects.toMatchObject({ code: 'STORE_ERROR', message: expect.stringMatching(/no-such-table.*ResourceNotFoundException.*deploy the Tiercast stack/s) });
  });

  it('inserts 300 jobs with submit keys in 9 parallel transactions; a second insert creates none', async () => {
    const jobs = Array.from({ length: 300 }, (_, i) => newJob(testSpec(), { tier: 'lambda' }, `bulk-${Date.now()}-${i}`));
    const first = await store.insert(jobs);
    expect(first.filter((o) => o.created)).toHaveLength(300);
    const again = await store.insert([...jobs.slice(0, 10), newJob()]);
    expect(again.map((o) => o.created)).toEqual([...Array(10).fill(false), true]);
    expect(await store.findByIdempotencyKey(jobs[299]!.idempotencyKey!)).toBe(jobs[299]!.spec.id);
  });
});

describe('DynamoDB job store listing every stage', () => {
  it('pages over all stages newest first from the change index, a cursor losing nothing', async () => {
    const d = await startDynalite();
    try {
      const { doc, tableName } = await freshTable(d);
      const store = createDynamoJobStore({ client: doc, tableName });
      const jobs = Array.from({ length: 12 }, () => newJob());
      await store.insert(jobs);
      for (const j of jobs.slice(0, 4)) await store.write(change(j.status, { stage: 'cancelled' }, new Date()).next, 1, null);
      const first = await store.list({ limit: 5 });
      const rest = await store.list({ limit: 100, cursor: first.cursor });
      const all = [...first.items, ...rest.items];
      expect(all.map((s) => s.id).sort()).toEqual(jobs.map((j) => j.spec.id).sort());
      for (let i = 1; i < all.length; i++) expect(all[i - 1]!.updatedAt >= all[i]!.updatedAt).toBe(true);
      expect(all.slice(0, 4).every((s) => s.stage === 'cancelled')).toBe(true);
      expect(rest.cursor).toBeNull();
    } finally {
      await d.close();
    }
  });
});
