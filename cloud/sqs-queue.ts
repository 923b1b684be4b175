import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
  type SQSClientConfig,
} from '@aws-sdk/client-sqs';
import { TiercastError, type ErrorCode } from '../shared/common/errors.ts';
import type { JobQueue, QueueMessage } from '../shared/common/job-queue.ts';

/**
 * JobQueue over SQS with an optional high-priority queue.
 *
 * Priorities: SQS has none, so there are two queues. `send` puts priority >= 8 (of 1..10, JobSpec.priority) on the
 * high queue when one is configured, everything else on the normal queue. `receive` asks the high queue first
 * (without waiting) and long-polls the normal queue only when the high one gave nothing, so a steady trickle of
 * high jobs always goes first, at the price of one extra short request per poll.
 *
 * Every SDK call gets the caller's AbortSignal, so a worker's stop() ends a 20 s long poll at once.
 */

export const SQS_HIGH_PRIORITY_MIN = 8;

export interface SqsJobQueueOptions {
  readonly client: SQSClient;
  readonly queueUrls: { readonly high?: string; readonly normal: string };
  /**
   * With a high-priority queue, the long poll on the normal queue waits at most this long, so a high-priority
   * message sent meanwhile waits at most this long too (default 5 s; SQS allows 0-20). An idle agent then makes
   * 2 requests per 5 s instead of per 20 s: about 35,000 a day, $0.014 at $0.40 per million.
   */
  readonly highPriorityLatencySec?: number;
}

export const DEFAULT_HIGH_PRIORITY_LATENCY_SEC = 5;

/** The agent builds its client here, because only cloud/ may import the SDK. */
export function createSqsClient(options: { region?: string; endpoint?: string; socketTimeoutMs?: number } & Partial<SQSClientConfig> = {}): SQSClient {
  const { socketTimeoutMs, ...rest } = options;
  return new SQSClient({
    // A long poll answers within 20 s; a connection silent for 60 s is dead and is dropped (the SDK's default is no
    // limit, which would leave an agent polling a half-open socket for ever).
    requestHandler: { connectionTimeout: 10_000, socketTimeout: socketTimeoutMs ?? 60_000 },
    ...rest,
    ...(options.region ? { region: options.region } : {}),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
  });
}

function classify(err: unknown): ErrorCode {
  const name = (err as { name?: string }).name ?? '';
  if (name === 'AbortError') return 'CANCELLED';
  if (/Throttl|RequestThrottled|OverLimit/i.test(name)) return 'THROTTLED';
  return 'QUEUE_ERROR';
}

function wrap(what: string, err: unknown, details: Record<string, unknown> = {}): TiercastError {
  const name = (err as { name?: string }).name;
  const message = err instanceof Error ? err.message : String(err);
  // The receipt no longer holds the message: its visibility lapsed and it was received again (or it is gone).
  const stale =
    name === 'ReceiptHandleIsInvalid' ||
    name === 'MessageNotInflight' ||
    /not available for visibility timeout change|receipt handle (?:has )?expired|ReceiptHandleIsInvalid/i.test(message);
  return new TiercastError(classify(err), `SQS ${what} failed: ${name ? `${name}: ` : ''}${message}`, {
    cause: err,
    details: stale ? { ...details, stale: true } : details,
  });
}

interface Handle {
  readonly url: string;
  readonly receipt: string;
}

/** The receipt handle we hand out names the queue it came from, so changeVisibility/delete need no lookup. */
function encodeHandle(url: string, receipt: string): string {
  return JSON.stringify({ url, receipt } satisfies Handle);
}

function decodeHandle(message: QueueMessage): Handle {
  try {
    const h = JSON.parse(message.receiptHandle) as Handle;
    if (typeof h.url === 'string' && typeof h.receipt === 'string') return h;
  } catch {
    /* fall through */
  }
  throw new TiercastError('QUEUE_ERROR', `not a receipt handle from this queue: ${message.receiptHandle.slice(0, 40)}`);
}

export function createSqsJobQueue(options: SqsJobQueueOptions): JobQueue {
  const { client } = options;
  const { high, normal } = options.queueUrls;
  if (!normal) throw new TiercastError('CONFIG_INVALID', 'SQS queue: the normal queue URL is required');
  const highLatency = Math.max(0, Math.min(20, Math.floor(options.highPriorityLatencySec ?? DEFAULT_HIGH_PRIORITY_LATENCY_SEC)));

  async function receiveFrom(
    url: string,
    lane: string,
    max: number,
    waitSeconds: number,
    visibility: number | undefined,
    signal: AbortSignal | undefined,
  ): Promise<QueueMessage[]> {
    try {
      const out = await client.send(
        new ReceiveMessageCommand({
          QueueUrl: url,
          MaxNumberOfMessages: max,
          WaitTimeSeconds: waitSeconds,
          ...(visibility !== undefined ? { VisibilityTimeout: visibility } : {}),
          MessageSystemAttributeNames: ['ApproximateReceiveCount'],
        }),
        { abortSignal: signal },
      );
      return (out.Messages ?? []).map((m) => ({
        id: m.MessageId ?? '',
        receiptHandle: encodeHandle(url, m.ReceiptHandle ?? ''),
        body: m.Body ?? '',
        receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? '1'),
        queue: lane,
      }));
    } catch (err) {
      if (signal?.aborted) return [];
      throw wrap('ReceiveMessage', err, { queue: lane });
    }
  }

  return {
    async send(body, sendOptions = {}) {
      const url = high && (sendOptions.priority ?? 5) >= SQS_HIGH_PRIORITY_MIN ? high : normal;
      try {
        const out = await client.send(
          new SendMessageCommand({
            QueueUrl: url,
            MessageBody: body,
            ...(sendOptions.delaySeconds ? { DelaySeconds: sendOptions.delaySeconds } : {}),
          }),
        );
        return { messageId: out.MessageId ?? '' };
      } catch (err) {
        throw wrap('SendMessage', err);
      }
    },

    async receive({ maxMessages, waitSeconds, visibilityTimeoutSeconds, signal }) {
      const max = Math.max(1, Math.min(10, Math.floor(maxMessages)));
      const wait = Math.max(0, Math.min(20, Math.floor(waitSeconds)));
      // AbortSignalLike is structurally what the SDK reads (aborted + addEventListener).
      const sig = signal as AbortSignal | undefined;
      if (high) {
        const got = await receiveFrom(high, 'high', max, 0, visibilityTimeoutSeconds, sig);
        if (got.length > 0 || sig?.aborted) return got;
      }
      const normalWait = high ? Math.min(wait, highLatency) : wait;
      return receiveFrom(normal, 'normal', max, normalWait, visibilityTimeoutSeconds, sig);
    },

    async changeVisibility(message, timeoutSeconds) {
      const h = decodeHandle(message);
      try {
        await client.send(
          new ChangeMessageVisibilityCommand({ QueueUrl: h.url, ReceiptHandle: h.receipt, VisibilityTimeout: Math.max(0, Math.min(43_200, Math.round(timeoutSeconds))) }),
        );
      } catch (err) {
        throw wrap('ChangeMessageVisibility', err, { messageId: message.id });
      }
    },

    async delete(message) {
      const h = decodeHandle(message);
      try {
        await client.send(new DeleteMessageCommand({ QueueUrl: h.url, ReceiptHandle: h.receipt }));
      } catch (err) {
        throw wrap('DeleteMessage', err, { messageId: message.id });
      }
    },

    async depth() {
      let visible = 0;
      let inFlight = 0;
      for (const url of [high, normal]) {
        if (!url) continue;
        try {
          const out = await client.send(
            new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
          );
          visible += Number(out.Attributes?.ApproximateNumberOfMessages ?? 0);
          inFlight += Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
        } catch (err) {
          throw wrap('GetQueueAttributes', err);
        }
      }
      return { visible, inFlight };
    },
  };
}
