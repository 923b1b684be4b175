import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  announcedEventFromStreamImage,
  createJobEventsHandler,
  type DynamoStreamRecord,
  type JobEventsOptions,
  type StreamImage,
} from '../../../cloud/lambda/job-events.ts';
import type { JobEvent } from '../../../shared/common/job-lifecycle.ts';
import type { JobStore } from '../../../shared/common/job-store.ts';
import { createJobOutputs } from '../../../shared/node/job-outputs.ts';
import { createLocalStore } from '../../../shared/node/local-store.ts';
import type { ObjectStore } from '../../../shared/node/object-store.ts';
import { openSqliteJobStore } from '../../../shared/node/sqlite-job-store.ts';
import { deliveryIdFor, verifySignature, type WebhookPayload } from '../../../shared/node/webhooks.ts';
import { newJob, testSpec } from '../../helpers/jobs.ts';
import { finish, move, startReceiver } from '../../helpers/webhook-receiver.ts';

/**
 * The job table's stream consumer. The delivery log is a real SQLite job store (the factory parameter), the webhook
 * receiver a real HTTP server on 127.0.0.1, manifests a local-folder object store; EventBridge and Secrets Manager,
 * which no local server speaks, are aws-sdk-client-mock with exact command inputs. Stream records are built the way
 * cloud/dynamo-job-store.ts writes event items (cloud/job-table-layout.ts: JOB#<id> / EVT#<seq>).
 */

const eventBridge = mockClient(EventBridgeClient);
const secrets = mockClient(SecretsManagerClient);
const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:tiercast-webhook-AbCdEf';
const SECRET = 'from-secrets-manager-1234';

let dir: string;
let store: JobStore;
let objectStore: ObjectStore;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let emf: string[];
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-job-events-'));
  store = openSqliteJobStore(path.join(dir, 'jobs.db'));
  objectStore = createLocalStore(path.join(dir, 'store'));
});
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  eventBridge.reset();
  secrets.reset();
  secrets.on(GetSecretValueCommand).resolves({ SecretString: SECRET });
  eventBridge.on(PutEventsCommand).callsFake((input: { Entries: unknown[] }) => ({ FailedEntryCount: 0, Entries: input.Entries.map((_, i) => ({ EventId: `e${i}` })) }));
  receiver = await startReceiver();
  emf = [];
});
afterEach(async () => receiver.close());

function env(extra: Record<string, string> = {}) {
  return {
    TIERCAST_HOME: path.join(dir, 'home'),
    AWS_REGION: 'us-east-1',
    TIERCAST_JOB_TABLE: 'tiercast-jobs',
    TIERCAST_WEBHOOK_URL: receiver.url,
    TIERCAST_WEBHOOK_SECRET_ARN: SECRET_ARN,
    ...extra,
  };
}

function handlerWith(extra: Partial<JobEventsOptions> = {}, envExtra: Record<string, string> = {}) {
  return createJobEventsHandler({
    env: env(envExtra),
    openStore: () => store,
    objectStore,
    eventBridge: new EventBridgeClient({ region: 'us-east-1' }),
    secretsManager: new SecretsManagerClient({ region: 'us-east-1' }),
    metricsSink: (line) => emf.push(line),
    log: { info: () => undefined, warn: () => undefined, error: () => undefined } as never,
    notifier: { retry: { baseDelaySec: 0.005, maxDelaySec: 0.01, jitter: 0 } },
    ...extra,
  });
}

let streamSeq = 1000;
/** A stream record of an item as cloud/dynamo-job-store.ts writes an event (`announce` only on announced types). */
function eventRecord(e: JobEvent, eventName: 'INSERT' | 'MODIFY' | 'REMOVE' = 'INSERT'): DynamoStreamRecord {
  const image: StreamImage = {
    pk: { S: `JOB#${e.jobId}` },
    sk: { S: `EVT#${String(e.seq).padStart(10, '0')}` },
    type: { S: e.type },
    at: { S: e.at },
    body: { S: JSON.stringify(e) },
    ...(['job.done', 'job.failed', 'job.cancelled'].includes(e.type) ? { announce: { S: e.type } } : {}),
  };
  streamSeq += 1;
  return {
    eventID: `evt-${streamSeq}`,
    eventName,
    dynamodb: { Keys: { pk: image.pk!, sk: image.sk! }, ...(eventName === 'REMOVE' ? {} : { NewImage: image }), SequenceNumber: String(streamSeq) },
  };
}
function itemRecord(image: StreamImage): DynamoStreamRecord {
  streamSeq += 1;
  return { eventID: `evt-${streamSeq}`, eventName: 'INSERT', dynamodb: { NewImage: image, SequenceNumber: String(streamSeq) } };
}

async function storedJob(overrides: Parameters<typeof testSpec>[0] = {}) {
  const j = newJob(testSpec(overrides));
  await store.insert([j]);
  return j.spec.id;
}

async function publish(jobId: string) {
  const out = path.join(dir, `out-${jobId}`);
  mkdirSync(path.join(out, 'hls'), { recursive: true });
  writeFileSync(path.join(out, 'hls', 'master.m3u8'), '#EXTM3U\n');
  writeFileSync(path.join(out, 'thumbs.vtt'), 'WEBVTT\n');
  writeFileSync(path.join(out, 'report.json'), '{}');
  return createJobOutputs(objectStore).publishOutputs(jobId, out, 1);
}

const bodies = () => receiver.received.map((h) => JSON.parse(h.raw.toString('utf8')) as WebhookPayload);

describe('job-events stream consumer', () => {
  it('delivers the signed webhook and puts the exact EventBridge entries for done, failed and cancelled', async () => {
    const doneId = await storedJob();
    const m = await publish(doneId);
    const done = await finish(store, doneId);
    const failedId = await storedJob();
    const failed = (await move(store, failedId, { stage: 'failed', error: { code: 'NOT_MEDIA', message: 'not a video' } }))!;
    const cancelledId = await storedJob();
    const cancelled = (await move(store, cancelledId, { stage: 'cancelled' }))!;

    const handler = handlerWith();
    const out = await handler({ Records: [eventRecord(done), eventRecord(failed), eventRecord(cancelled)] }, { getRemainingTimeInMillis: () => 60_000 });
    expect(out).toEqual({ batchItemFailures: [] });

    expect(receiver.received).toHaveLength(3);
    for (const h of receiver.received) expect(verifySignature(SECRET, h.raw, h.headers['x-tiercast-signature'] as string)).toBe(true);
    const byEvent = Object.fromEntries(bodies().map((b) => [b.event, b]));
    const v = m.report.split('/')[0];
    expect(byEvent['job.done']!.outputs).toEqual({
      manifest: `outputs/${doneId}/manifest.json`,
      hls: `outputs/${doneId}/${v}/hls/master.m3u8`,
      dash: null,
      poster: null,
      thumbnails: `outputs/${doneId}/${v}/thumbs.vtt`,
      report: `outputs/${doneId}/${v}/report.json`,
    });
    expect(byEvent['job.failed']).toMatchObject({ jobId: failedId, seq: failed.seq, error: { code: 'NOT_MEDIA', message: 'not a video' } });

    expect(eventBridge).toHaveReceivedCommandTimes(PutEventsCommand, 1);
    const entry = (payload: WebhookPayload, detailType: string) => ({
      Source: 'tiercast',
      DetailType: detailType,
      Detail: JSON.stringify(payload),
      EventBusName: 'default',
      Time: new Date(payload.at),
    });
    // Detail is the webhook body byte for byte (the receiver got the same JSON).
    expect(eventBridge).toHaveReceivedCommandWith(PutEventsCommand, {
      Entries: [entry(byEvent['job.done']!, 'Job Done'), entry(byEvent['job.failed']!, 'Job Failed'), entry(byEvent['job.cancelled']!, 'Job Cancelled')],
    });
    const sent = eventBridge.commandCalls(PutEventsCommand)[0]!.args[0].input.Entries!;
    expect(sent.map((e) => e.Detail).sort()).toEqual(receiver.received.map((h) => h.raw.toString('utf8')).sort());
    expect(JSON.parse(sent[2]!.Detail!)).toMatchObject({ event: 'job.cancelled', jobId: cancelledId, seq: cancelled.seq, stage: 'cancelled' });

    // The secret is read once per container.
    await handler({ Records: [] });
    expect(secrets).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
    expect(secrets).toHaveReceivedCommandWith(GetSecretValueCommand, { SecretId: SECRET_ARN });
    expect(emf).toEqual([]);
  });

  it('ignores records that are not new announced event items', async () => {
    const id = await storedJob();
    const stage = (await move(store, id, { stage: 'downloading', attempts: 1 }))!;
    const cancelled = (await move(store, id, { stage: 'cancelled' }))!;
    const handler = handlerWith();
    const out = await handler({
      Records: [
        eventRecord(stage), // job.stage: in the history, not announced
        eventRecord(cancelled, 'MODIFY'), // TTL rewrite of an old event
        eventRecord(cancelled, 'REMOVE'), // TTL expiry or job deleted
        itemRecord({ pk: { S: `JOB#${id}` }, sk: { S: 'JOB' }, stage: { S: 'cancelled' } }),
        itemRecord({ pk: { S: `JOB#${id}` }, sk: { S: `DLV#abc#0001` }, body: { S: '{}' } }),
        itemRecord({ pk: { S: 'CTR#chunks' }, sk: { S: 'CTR' }, value: { N: '3' } }),
      ],
    });
    expect(out).toEqual({ batchItemFailures: [] });
    expect(receiver.received).toEqual([]);
    expect(eventBridge).toHaveReceivedCommandTimes(PutEventsCommand, 0);
    expect(await store.deliveries(id)).toEqual([]);
  });

  it('a webhook failing every attempt emits WebhookDeliveryFailed and does not fail the batch; the EventBridge event still goes', async () => {
    const failing = await startReceiver({ status: 500 });
    const id = await storedJob({ webhookUrl: `${failing.url}/own` });
    const e = (await move(store, id, { stage: 'cancelled' }))!;
    const record = eventRecord(e);
    const out = await handlerWith({}, { TIERCAST_WEBHOOK_URL: failing.url })({ Records: [record] });
    expect(out).toEqual({ batchItemFailures: [] });
    // Two targets (configured and the job's own), six attempts each (notifications.webhookAttempts default).
    expect(failing.received).toHaveLength(12);
    const log = await store.deliveries(id);
    expect(log).toHaveLength(12);
    expect(new Set(log.map((d) => d.deliveryId))).toEqual(new Set([deliveryIdFor(id, e.seq, failing.url), deliveryIdFor(id, e.seq, `${failing.url}/own`)]));
    expect(emf.map((l) => JSON.parse(l))).toEqual([
      expect.objectContaining({ WebhookDeliveryFailed: 1, jobId: id, _aws: expect.objectContaining({ CloudWatchMetrics: [{ Namespace: 'Tiercast', Dimensions: [[]], Metrics: [{ Name: 'WebhookDeliveryFailed', Unit: 'Count' }] }] }) }),
      expect.objectContaining({ WebhookDeliveryFailed: 1, jobId: id }),
    ]);
    expect(eventBridge).toHaveReceivedCommandTimes(PutEventsCommand, 1);

    // The stream hands the record again (a retry of the batch): no attempt is repeated, no metric counted twice.
    await handlerWith({}, { TIERCAST_WEBHOOK_URL: failing.url })({ Records: [record] });
    expect(failing.received).toHaveLength(12);
    expect(emf).toHaveLength(2);
    await failing.close();
  });

  it('reports only the records EventBridge refused or that hit an infrastructure error', async () => {
    const a = (await move(store, await storedJob(), { stage: 'cancelled' }))!;
    const b = (await move(store, await storedJob(), { stage: 'cancelled' }))!;
    const ra = eventRecord(a);
    const rb = eventRecord(b);
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ EventId: 'ok' }, { ErrorCode: 'InternalFailure', ErrorMessage: 'try again' }] });
    expect(await handlerWith()({ Records: [ra, rb] })).toEqual({ batchItemFailures: [{ itemIdentifier: rb.dynamodb!.SequenceNumber }] });

    eventBridge.on(PutEventsCommand).rejects(new Error('ThrottlingException'));
    const c = (await move(store, await storedJob(), { stage: 'cancelled' }))!;
    const rc = eventRecord(c);
    expect(await handlerWith()({ Records: [rc] })).toEqual({ batchItemFailures: [{ itemIdentifier: rc.dynamodb!.SequenceNumber }] });

    // The job store failing is infrastructure too: the record is handed again.
    const broken = { ...store, deliveries: async () => Promise.reject(new Error('ProvisionedThroughputExceeded')) } as JobStore;
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'x' }] });
    const d = (await move(store, await storedJob(), { stage: 'cancelled' }))!;
    const rd = eventRecord(d);
    expect(await handlerWith({ openStore: () => broken })({ Records: [rd] })).toEqual({ batchItemFailures: [{ itemIdentifier: rd.dynamodb!.SequenceNumber }] });
  });

  it('stops retrying before the function times out and reports the record, whose delivery resumes when handed again', async () => {
    const failing = await startReceiver({ replies: [{ status: 500 }] });
    const e = (await move(store, await storedJob(), { stage: 'cancelled' }))!;
    const record = eventRecord(e);
    const slow = handlerWith({ safetyMs: 0, notifier: { retry: { baseDelaySec: 5, maxDelaySec: 5, jitter: 0 } } }, { TIERCAST_WEBHOOK_URL: failing.url });
    const out = await slow({ Records: [record] }, { getRemainingTimeInMillis: () => 300 });
    expect(out).toEqual({ batchItemFailures: [{ itemIdentifier: record.dynamodb!.SequenceNumber }] });
    expect(eventBridge).toHaveReceivedCommandTimes(PutEventsCommand, 1); // the EventBridge event is not held back
    expect(emf).toEqual([]);
    expect(await slow({ Records: [record] }, { getRemainingTimeInMillis: () => 60_000 })).toEqual({ batchItemFailures: [] });
    expect((await store.deliveries(e.jobId)).map((d) => [d.attempt, d.statusCode])).toEqual([
      [1, 500],
      [2, 200],
    ]);
    await failing.close();
  });

  it('uses TIERCAST_WEBHOOK_SECRET without Secrets Manager, and fails the invocation when the secret cannot be read', async () => {
    const e = (await move(store, await storedJob(), { stage: 'cancelled' }))!;
    await handlerWith({}, { TIERCAST_WEBHOOK_SECRET_ARN: '', TIERCAST_WEBHOOK_SECRET: 'plain-env-secret' })({ Records: [eventRecord(e)] });
    expect(verifySignature('plain-env-secret', receiver.received[0]!.raw, receiver.received[0]!.headers['x-tiercast-signature'] as string)).toBe(true);
    expect(secrets).toHaveReceivedCommandTimes(GetSecretValueCommand, 0);

    secrets.on(GetSecretValueCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    const h = handlerWith();
    await expect(h({ Records: [eventRecord(e)] })).rejects.toThrow(/webhook secret .* could not be read \(AccessDeniedException\)/);
    // Not cached: the next invocation tries again.
    secrets.on(GetSecretValueCommand).resolves({ SecretString: SECRET });
    await expect(h({ Records: [] })).resolves.toEqual({ batchItemFailures: [] });
  });
});

describe('announcedEventFromStreamImage', () => {
  const e: JobEvent = { jobId: 'j-1', seq: 7, at: '2026-12-04T15:00:00.000Z', type: 'job.failed', stage: 'failed', from: 'encoding', tier: 'lambda', attempts: 2, error: { code: 'ENCODE_FAILED', message: 'x' } };
  const image = (over: Partial<Record<string, string>> = {}): StreamImage =>
    Object.fromEntries(Object.entries({ pk: 'JOB#j-1', sk: 'EVT#0000000007', type: e.type, at: e.at, body: JSON.stringify(e), announce: e.type, ...over }).filter(([, v]) => v !== undefined).map(([k, v]) => [k, { S: v }]));

  it('returns the event of an announced event item', () => {
    expect(announcedEventFromStreamImage(image())).toEqual(e);
  });
  it('returns null for other items', () => {
    expect(announcedEventFromStreamImage(undefined)).toBeNull();
    expect(announcedEventFromStreamImage(image({ announce: undefined }))).toBeNull();
    expect(announcedEventFromStreamImage(image({ announce: 'job.stage' }))).toBeNull();
    expect(announcedEventFromStreamImage(image({ sk: 'JOB' }))).toBeNull();
    expect(announcedEventFromStreamImage(image({ pk: 'CTR#x' }))).toBeNull();
  });
  it('refuses an announced item whose body does not match its keys', () => {
    expect(() => announcedEventFromStreamImage(image({ body: '{not json' }))).toThrow(/not JSON/);
    expect(() => announcedEventFromStreamImage(image({ sk: 'EVT#0000000008' }))).toThrow(/does not match/);
    expect(() => announcedEventFromStreamImage(image({ announce: 'job.done' }))).toThrow(/does not match/);
  });
});
