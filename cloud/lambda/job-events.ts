import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import pLimit from 'p-limit';
import { TiercastError, toTiercastError } from '../../shared/common/errors.ts';
import { ANNOUNCED_EVENTS, type JobEvent, type JobEventType } from '../../shared/common/job-lifecycle.ts';
import type { JobStore } from '../../shared/common/job-store.ts';
import { loadConfig, type TiercastConfig } from '../../shared/node/config.ts';
import { dataHome } from '../../shared/node/data-home.ts';
import { createJobOutputs, type JobOutputs } from '../../shared/node/job-outputs.ts';
import { createLogger, type Logger } from '../../shared/node/log.ts';
import { buildEmfDocument, stdoutSink } from '../../shared/node/metrics-emf.ts';
import type { ObjectStore } from '../../shared/node/object-store.ts';
import { createWebhookNotifier, type AnnouncedEventType, type WebhookNotifier, type WebhookNotifierOptions, type WebhookPayload } from '../../shared/node/webhooks.ts';
import { openJobStore } from '../jobs-from-config.ts';
import { createStoreFromConfig } from '../store-from-config.ts';
import { JOB_TABLE } from '../job-table-layout.ts';

/**
 * The job table's stream consumer (README "Webhooks", cloud/README.md "Job events"): for each new event item
 * (`JOB#<id>` / `EVT#<seq>`, cloud/job-table-layout.ts) of an announced type (job.done, job.failed, job.cancelled)
 * it delivers the webhooks (shared/node/webhooks.ts, the same code as the local outbox, with the delivery log in the
 * job table) and puts an EventBridge event on the default bus: source `tiercast`, detail-type `Job Done` /
 * `Job Failed` / `Job Cancelled`, detail = the webhook body.
 *
 * A webhook that fails every attempt is a receiver's problem, not this function's: it is logged in the job's
 * delivery log, counted as the WebhookDeliveryFailed metric (EMF, no dimensions, for the alarm) and the batch goes
 * on. Only infrastructure errors (the table, PutEvents, running out of time) are reported as batchItemFailures, so
 * the stream hands those records again; a record handed again is safe: a delivery the log shows as done is not sent
 * again and one cut short resumes its attempt count.
 *
 * Environment: TIERCAST_JOB_TABLE (the job store is the table whatever TIERCAST_JOB_STORE says), TIERCAST_WEBHOOK_URL,
 * TIERCAST_WEBHOOK_SECRET_ARN (Secrets Manager, the SecretString as is, read once per container) or
 * TIERCAST_WEBHOOK_SECRET, and for output keys in job.done bodies TIERCAST_STORE=s3 + TIERCAST_BUCKET (+ PREFIX).
 */

/** The parts of a DynamoDB stream record this function reads (Lambda's DynamoDBStreamEvent). */
export interface StreamAttributeValue {
  readonly S?: string;
  readonly N?: string;
  readonly [type: string]: unknown;
}
export type StreamImage = Readonly<Record<string, StreamAttributeValue>>;
export interface DynamoStreamRecord {
  readonly eventID?: string;
  readonly eventName?: 'INSERT' | 'MODIFY' | 'REMOVE' | string;
  readonly dynamodb?: { readonly NewImage?: StreamImage; readonly SequenceNumber?: string; readonly Keys?: StreamImage };
}
export interface DynamoStreamEvent {
  readonly Records: readonly DynamoStreamRecord[];
}
export interface StreamBatchResponse {
  readonly batchItemFailures: ReadonlyArray<{ readonly itemIdentifier: string }>;
}
export interface LambdaContextLike {
  getRemainingTimeInMillis(): number;
}

export const EVENT_SOURCE = 'tiercast';
export const DETAIL_TYPES: Readonly<Record<AnnouncedEventType, string>> = {
  'job.done': 'Job Done',
  'job.failed': 'Job Failed',
  'job.cancelled': 'Job Cancelled',
};

const str = (image: StreamImage, name: string): string | null => (typeof image[name]?.S === 'string' ? image[name].S : null);

/**
 * The announced event an item image holds, or null for every other item (a job, a delivery, a counter, an event that
 * is not announced). The one place that knows how cloud/dynamo-job-store.ts writes event items: `pk` JOB#<id>, `sk`
 * EVT#<zero-padded seq>, `announce` = the event type when announced, `body` = the JobEvent as JSON.
 * An announced item whose body does not match its keys is INVALID_REQUEST (it would not improve on a retry).
 */
export function announcedEventFromStreamImage(image: StreamImage | undefined): JobEvent | null {
  if (!image) return null;
  const pk = str(image, JOB_TABLE.partitionKey);
  const sk = str(image, JOB_TABLE.sortKey);
  const announce = str(image, 'announce');
  if (!pk?.startsWith('JOB#') || !sk?.startsWith('EVT#') || !announce || !ANNOUNCED_EVENTS.includes(announce as JobEventType)) return null;
  const jobId = pk.slice(4);
  const seq = Number(sk.slice(4));
  let event: JobEvent;
  try {
    event = JSON.parse(str(image, 'body') ?? '') as JobEvent;
  } catch {
    throw new TiercastError('INVALID_REQUEST', `event item ${pk} ${sk}: body is not JSON`, { details: { jobId, seq } });
  }
  if (event?.jobId !== jobId || event.seq !== seq || event.type !== announce || typeof event.stage !== 'string' || typeof event.at !== 'string') {
    throw new TiercastError('INVALID_REQUEST', `event item ${pk} ${sk}: body does not match the item (${announce})`, { details: { jobId, seq } });
  }
  return event;
}

export function eventBridgeEntry(payload: WebhookPayload): PutEventsRequestEntry {
  return { Source: EVENT_SOURCE, DetailType: DETAIL_TYPES[payload.event], Detail: JSON.stringify(payload), EventBusName: 'default', Time: new Date(payload.at) };
}

export interface JobEventsOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** The job store holding the delivery log and the jobs' own webhooks; default: the job table (openJobStore). */
  readonly openStore?: (config: TiercastConfig) => JobStore | Promise<JobStore>;
  /** Where manifests are read from; default: the configured S3 store, or none (bodies without output keys). */
  readonly objectStore?: ObjectStore | null;
  readonly eventBridge?: EventBridgeClient;
  readonly secretsManager?: SecretsManagerClient;
  /** EMF lines; default stdout. */
  readonly metricsSink?: (line: string) => void;
  readonly log?: Logger;
  /** Records handled at once. Default 8. */
  readonly concurrency?: number;
  /** Stop retrying this long before the function's timeout (the records are reported and handed again). Default 15 s. */
  readonly safetyMs?: number;
  /** Tests: shorter backoff and timeouts. */
  readonly notifier?: Pick<WebhookNotifierOptions, 'timeoutMs' | 'retry' | 'maxRetryAfterSec' | 'random'>;
}

interface Runtime {
  readonly notifier: WebhookNotifier;
  readonly eventBridge: EventBridgeClient;
  readonly emitFailed: (jobId: string) => void;
  readonly log: Logger;
}

async function readSecret(env: NodeJS.ProcessEnv, client: () => SecretsManagerClient): Promise<string | null> {
  const arn = env.TIERCAST_WEBHOOK_SECRET_ARN;
  if (!arn) return env.TIERCAST_WEBHOOK_SECRET || null;
  try {
    const out = await client().send(new GetSecretValueCommand({ SecretId: arn }));
    if (!out.SecretString) throw new TiercastError('CONFIG_INVALID', `secret ${arn} has no SecretString: store the webhook secret as text`);
    return out.SecretString;
  } catch (err) {
    if (err instanceof TiercastError) throw err;
    throw new TiercastError('CONFIG_INVALID', `the webhook secret ${arn} could not be read (${(err as Error).name}): check TIERCAST_WEBHOOK_SECRET_ARN and secretsmanager:GetSecretValue`, { cause: err });
  }
}

async function buildRuntime(options: JobEventsOptions): Promise<Runtime> {
  const env = options.env ?? process.env;
  const home = dataHome(env);
  const config = await loadConfig({ env, home, flags: { jobs: { store: 'dynamodb' } } });
  const log = options.log ?? createLogger({ name: 'tiercast-job-events', format: 'json' });
  const region = config.aws.region;
  const store = await (options.openStore ?? ((c) => openJobStore(c, { home })))(config);
  let objectStore = options.objectStore;
  if (objectStore === undefined) objectStore = config.store.kind === 's3' ? createStoreFromConfig(config, { home, resumable: false }).store : null;
  if (!objectStore) log.info({}, 'no S3 store configured (TIERCAST_BUCKET): job.done bodies carry no output keys');
  const outputs: JobOutputs | null = objectStore ? createJobOutputs(objectStore) : null;
  const secret = await readSecret(env, () => options.secretsManager ?? new SecretsManagerClient(region ? { region } : {}));
  const sink = options.metricsSink ?? stdoutSink();
  const notifier = createWebhookNotifier({
    store,
    outputs,
    url: config.notifications.webhookUrl ?? null,
    secret,
    attempts: config.notifications.webhookAttempts,
    log,
    ...options.notifier,
  });
  return {
    notifier,
    eventBridge: options.eventBridge ?? new EventBridgeClient(region ? { region } : {}),
    log,
    emitFailed: (jobId) => {
      const doc = buildEmfDocument(config.metrics.namespace, Date.now(), null, { WebhookDeliveryFailed: 1 }, { jobId });
      if (doc) sink(JSON.stringify(doc));
    },
  };
}

export function createJobEventsHandler(options: JobEventsOptions = {}) {
  let runtime: Promise<Runtime> | null = null;
  /** Once per container; a failed start (a secret that cannot be read) is tried again on the next invocation. */
  const getRuntime = () =>
    (runtime ??= buildRuntime(options).catch((err: unknown) => {
      runtime = null;
      throw err;
    }));

  return async function handler(event: DynamoStreamEvent, context?: LambdaContextLike): Promise<StreamBatchResponse> {
    const rt = await getRuntime();
    const safetyMs = options.safetyMs ?? 15_000;
    const left = context ? context.getRemainingTimeInMillis() - safetyMs : null;
    const signal = left === null ? undefined : AbortSignal.timeout(Math.max(1, left));
    const failures = new Set<string>();
    const limit = pLimit(Math.max(1, options.concurrency ?? 8));

    const work = (event.Records ?? []).map((record, index) => {
      const id = record.dynamodb?.SequenceNumber ?? record.eventID ?? String(index);
      if (record.eventName !== 'INSERT') return null;
      let e: JobEvent | null;
      try {
        e = announcedEventFromStreamImage(record.dynamodb?.NewImage);
      } catch (err) {
        rt.log.error({ record: id, err: toTiercastError(err).toJSON() }, 'stream record skipped: not a valid event item');
        return null;
      }
      return e ? { id, event: e } : null;
    });

    const announced = await Promise.all(
      work.map((w) =>
        w === null
          ? null
          : limit(async () => {
              try {
                const { payload, deliveries } = await rt.notifier.announce(w.event, signal);
                for (const d of deliveries) if (d.outcome === 'failed' && d.attempts > 0) rt.emitFailed(w.event.jobId);
                // Cut short by the deadline: handed again, and the delivery resumes from its log.
                if (deliveries.some((d) => d.outcome === 'interrupted')) failures.add(w.id);
                return { id: w.id, payload };
              } catch (err) {
                rt.log.error({ record: w.id, jobId: w.event.jobId, err: toTiercastError(err).toJSON() }, 'event not announced: the record will be handed again');
                failures.add(w.id);
                return null;
              }
            }),
      ),
    );

    const ready = announced.filter((a): a is { id: string; payload: WebhookPayload } => a !== null);
    for (let i = 0; i < ready.length; i += 10) {
      const chunk = ready.slice(i, i + 10);
      try {
        const out = await rt.eventBridge.send(new PutEventsCommand({ Entries: chunk.map((c) => eventBridgeEntry(c.payload)) }));
        (out.Entries ?? []).forEach((entry, k) => {
          if (entry.ErrorCode && chunk[k]) {
            rt.log.error({ record: chunk[k].id, jobId: chunk[k].payload.jobId, code: entry.ErrorCode, message: entry.ErrorMessage }, 'EventBridge refused the event');
            failures.add(chunk[k].id);
          }
        });
      } catch (err) {
        rt.log.error({ err: toTiercastError(err).toJSON() }, 'PutEvents failed: the records will be handed again');
        for (const c of chunk) failures.add(c.id);
      }
    }
    return { batchItemFailures: [...failures].map((itemIdentifier) => ({ itemIdentifier })) };
  };
}

/** The function Lambda calls (the stack's stream consumer; handler `job-events.handler`). */
export const handler = createJobEventsHandler();
