import pLimit from 'p-limit';
import type { JobEvent } from '../common/job-lifecycle.ts';
import type { JobStore } from '../common/job-store.ts';
import type { JobOutputs } from './job-outputs.ts';
import { sleep } from './sleep.ts';
import { createWebhookNotifier, type WebhookLog, type WebhookNotifierOptions } from './webhooks.ts';

/**
 * The local half of the outbox (README "Webhooks"): the SQLite store writes each done/failed/cancelled event in the
 * same transaction as the state change; this loop, run by the local worker processes (agent --local, the console,
 * dispatch --wait), polls `undelivered()`, delivers each event to the webhooks (shared/node/webhooks.ts) and settles
 * it, also after the last attempt failed (the failure stays in the job's delivery log). Several processes may poll
 * the same store: an event can then be sent twice, with the same X-Tiercast-Delivery id (at least once).
 * On AWS the DynamoDB store has no undelivered(): the table's stream feeds cloud/lambda/job-events.ts instead.
 */

export interface WebhookOutboxOptions {
  readonly store: JobStore;
  readonly outputs: JobOutputs | null;
  /** notifications.webhookUrl; without it only jobs carrying their own webhookUrl are posted. */
  readonly url: string | null;
  readonly secret: string | null;
  /** notifications.webhookAttempts. */
  readonly attempts: number;
  readonly log: WebhookLog;
  /** Between polls when the last one found nothing more. Default 2000 ms. */
  readonly intervalMs?: number;
  /** Events delivered at once. Default 4. */
  readonly concurrency?: number;
  /** Events read per poll. Default 50. */
  readonly batchSize?: number;
  /** Tests: shorter timeouts and backoff. */
  readonly notifier?: Pick<WebhookNotifierOptions, 'timeoutMs' | 'retry' | 'maxRetryAfterSec' | 'random'>;
}

export interface WebhookOutbox {
  /** One poll: delivers and settles what is undelivered now; resolves to the number of events settled. */
  poll(): Promise<number>;
  /**
   * Stops polling and waits for the deliveries in flight: a request under way finishes (or times out); a delivery
   * waiting to retry stops there and its event stays undelivered, for the next process to resume. Idempotent.
   */
  stop(): Promise<void>;
}

export function startWebhookOutbox(options: WebhookOutboxOptions): WebhookOutbox {
  const { store, log } = options;
  const undelivered = store.undelivered?.bind(store);
  const settle = store.settleEvent?.bind(store);
  if (!undelivered || !settle) {
    log.info({ store: store.kind }, 'webhook outbox not started: this job store delivers its events itself (the DynamoDB stream)');
    return { poll: async () => 0, stop: async () => undefined };
  }
  const intervalMs = options.intervalMs ?? 2000;
  const batchSize = options.batchSize ?? 50;
  const limit = pLimit(Math.max(1, options.concurrency ?? 4));
  const stopping = new AbortController();
  const notifier = createWebhookNotifier({
    store,
    outputs: options.outputs,
    url: options.url,
    secret: options.secret,
    attempts: options.attempts,
    log,
    ...options.notifier,
  });

  async function handle(event: JobEvent): Promise<boolean> {
    try {
      const { deliveries } = await notifier.announce(event, stopping.signal);
      if (deliveries.some((d) => d.outcome === 'interrupted')) return false;
      await settle!(event.jobId, event.seq);
      return true;
    } catch (err) {
      // The store failed (busy, disk): the event stays undelivered and the next poll tries again.
      log.warn({ jobId: event.jobId, seq: event.seq, err: err instanceof Error ? err.message : String(err) }, 'webhook outbox: event not delivered; will retry');
      return false;
    }
  }

  let passing: Promise<number> | null = null;
  /** One pass at a time: the loop and a caller's poll() share it, so no event is delivered twice by one process. */
  function poll(): Promise<number> {
    passing ??= (async () => {
      try {
        const events = await undelivered!(batchSize);
        const settled = await Promise.all(events.map((e) => limit(() => (stopping.signal.aborted ? false : handle(e)))));
        return settled.filter(Boolean).length;
      } finally {
        passing = null;
      }
    })();
    return passing;
  }

  const loop = (async () => {
    while (!stopping.signal.aborted) {
      let settled = 0;
      let full = false;
      try {
        settled = await poll();
        full = settled >= batchSize;
      } catch (err) {
        log.warn({ err: err instanceof Error ? err.message : String(err) }, 'webhook outbox: could not read undelivered events');
      }
      if (!full) await sleep(intervalMs, stopping.signal);
    }
  })();

  return {
    poll,
    async stop() {
      stopping.abort();
      await loop;
      await passing;
    },
  };
}
