import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { TiercastError } from '../common/errors.ts';
import { ANNOUNCED_EVENTS, backoffSec, type JobEvent, type JobEventType } from '../common/job-lifecycle.ts';
import type { JobStore, WebhookDelivery } from '../common/job-store.ts';
import { storeKeys, type JobError, type OutputManifest, type Stage, type Tier } from '../common/job.ts';
import type { JobOutputs } from './job-outputs.ts';
import { sleep } from './sleep.ts';

/**
 * Webhooks for job.done, job.failed and job.cancelled (README "Webhooks"). One body per event, posted to the
 * configured URL (notifications.webhookUrl / TIERCAST_WEBHOOK_URL) and to the job's own spec.webhookUrl, each with its
 * own delivery id. Signed as GitHub signs: `X-Tiercast-Signature: sha256=<hex HMAC-SHA256 of the raw body>` with
 * TIERCAST_WEBHOOK_SECRET. Delivery is at least once: the delivery id is derived from job, event and URL, so a retry,
 * a second process or the stream consumer on AWS all send the same id and receivers dedupe on it.
 * Used by the local outbox (shared/node/webhook-outbox.ts) and the stream consumer (cloud/lambda/job-events.ts).
 */

export const WEBHOOK_USER_AGENT = 'Tiercast-Webhook/1';
/** Per attempt (AbortSignal.timeout). */
export const WEBHOOK_TIMEOUT_MS = 10_000;
/** Backoff between attempts: 1 s doubled per attempt up to 30 s, half of each delay drawn at random. */
export const WEBHOOK_RETRY = { baseDelaySec: 1, maxDelaySec: 30, jitter: 0.5 } as const;
/** A Retry-After longer than this is shortened to it (a Lambda cannot wait an hour). */
export const WEBHOOK_MAX_RETRY_AFTER_SEC = 60;

export type AnnouncedEventType = 'job.done' | 'job.failed' | 'job.cancelled';
export const isAnnounced = (type: JobEventType): type is AnnouncedEventType => ANNOUNCED_EVENTS.includes(type);

/** Object-store keys of a finished job's outputs (null when that output was not produced). */
export interface WebhookOutputs {
  readonly manifest: string;
  readonly hls: string | null;
  readonly dash: string | null;
  readonly poster: string | null;
  readonly thumbnails: string | null;
  readonly report: string;
}

/** The JSON body (also the EventBridge event's detail). */
export interface WebhookPayload {
  readonly event: AnnouncedEventType;
  readonly jobId: string;
  /** The event's number within the job (its status version). */
  readonly seq: number;
  readonly at: string;
  readonly stage: Stage;
  readonly from: Stage | null;
  readonly tier: Tier | null;
  readonly attempts: number;
  readonly error: JobError | null;
  readonly note: string | null;
  /** job.done only, once the manifest is published; null otherwise. */
  readonly outputs: WebhookOutputs | null;
}

export function outputKeys(manifest: OutputManifest): WebhookOutputs {
  const key = (rel: string | null) => (rel === null ? null : storeKeys.outputPrefix(manifest.jobId) + rel);
  return {
    manifest: storeKeys.manifest(manifest.jobId),
    hls: key(manifest.hls),
    dash: key(manifest.dash),
    poster: key(manifest.poster),
    thumbnails: key(manifest.thumbnails),
    report: key(manifest.report)!,
  };
}

export function webhookPayload(event: JobEvent, manifest: OutputManifest | null): WebhookPayload {
  if (!isAnnounced(event.type)) throw new TiercastError('INTERNAL', `event ${event.type} of job ${event.jobId} is not announced`);
  return {
    event: event.type,
    jobId: event.jobId,
    seq: event.seq,
    at: event.at,
    stage: event.stage,
    from: event.from,
    tier: event.tier,
    attempts: event.attempts,
    error: event.error ?? null,
    note: event.note ?? null,
    outputs: event.type === 'job.done' && manifest ? outputKeys(manifest) : null,
  };
}

/** The same for every retry and every process: a UUID-shaped digest of job, event and target URL. */
export function deliveryIdFor(jobId: string, seq: number, url: string): string {
  const h = createHash('sha256').update(`${jobId}\n${seq}\n${url}`).digest('hex');
  // RFC 9562 version 8 (custom) with the variant bits set, so it reads and validates as a UUID.
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function signBody(secret: string, rawBody: string | Uint8Array): string {
  return `sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
}

/** For receivers and tests: checks X-Tiercast-Signature against the raw body (bytes as received), in constant time. */
export function verifySignature(secret: string, rawBody: string | Uint8Array, header: string | null | undefined): boolean {
  if (!secret || typeof header !== 'string' || !/^sha256=[0-9a-f]{64}$/i.test(header)) return false;
  const expected = Buffer.from(signBody(secret, rawBody).slice(7), 'hex');
  const given = Buffer.from(header.slice(7), 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The URL as logs and the delivery log show it: no user info, no query (either may carry a token). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}${u.search ? '?…' : ''}`;
  } catch {
    return '(invalid URL)';
  }
}

/** Seconds from a Retry-After header (delta-seconds or an HTTP date), or null. */
export function retryAfterSec(header: string | null, now: number = Date.now()): number | null {
  if (!header) return null;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const t = Date.parse(trimmed);
  return Number.isNaN(t) ? null : Math.max(0, (t - now) / 1000);
}

export interface WebhookLog {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface WebhookNotifierOptions {
  /** The delivery log (recordDelivery/deliveries) and, to find a job's own webhook, get. */
  readonly store: Pick<JobStore, 'get' | 'recordDelivery' | 'deliveries'>;
  /** To put the output keys in job.done bodies; null leaves `outputs` null. */
  readonly outputs: Pick<JobOutputs, 'readManifest'> | null;
  /** notifications.webhookUrl. */
  readonly url: string | null;
  /** TIERCAST_WEBHOOK_SECRET; none: unsigned, with one warning. */
  readonly secret: string | null;
  /** Attempts per delivery (notifications.webhookAttempts), counted across processes through the delivery log. */
  readonly attempts: number;
  readonly log: WebhookLog;
  readonly timeoutMs?: number;
  readonly retry?: { readonly baseDelaySec: number; readonly maxDelaySec: number; readonly jitter: number };
  readonly maxRetryAfterSec?: number;
  readonly random?: () => number;
}

export interface DeliveryResult {
  readonly deliveryId: string;
  /** Redacted. */
  readonly url: string;
  readonly ok: boolean;
  /** Attempts made by this call (earlier ones are in the delivery log). */
  readonly attempts: number;
  readonly statusCode: number | null;
  readonly error: string | null;
  /** delivered: a 2xx now or earlier; failed: every attempt used; interrupted: stopped between attempts (to resume). */
  readonly outcome: 'delivered' | 'failed' | 'interrupted';
}

export interface Announcement {
  readonly payload: WebhookPayload;
  readonly deliveries: readonly DeliveryResult[];
}

export interface WebhookNotifier {
  /** The body of an announced event, with output keys read from the manifest for job.done. */
  payloadFor(event: JobEvent): Promise<WebhookPayload>;
  /** Posts one body to one URL with retries; `signal` stops the waits between attempts (outcome interrupted). */
  deliver(url: string, payload: WebhookPayload, signal?: AbortSignal): Promise<DeliveryResult>;
  /** payloadFor, then deliver to the configured URL and the job's own one, at once. */
  announce(event: JobEvent, signal?: AbortSignal): Promise<Announcement>;
}

export function createWebhookNotifier(options: WebhookNotifierOptions): WebhookNotifier {
  const timeoutMs = options.timeoutMs ?? WEBHOOK_TIMEOUT_MS;
  const retry = options.retry ?? WEBHOOK_RETRY;
  const maxRetryAfterSec = options.maxRetryAfterSec ?? WEBHOOK_MAX_RETRY_AFTER_SEC;
  const random = options.random ?? Math.random;
  const budget = Math.max(1, options.attempts);
  const { log, secret } = options;
  let warnedUnsigned = false;

  /** Error text for the delivery log: what failed, never the secret or the URL's token. */
  const scrub = (text: string, url: string) => {
    let out = text.split(url).join(redactUrl(url));
    if (secret) out = out.split(secret).join('[redacted]');
    return out.slice(0, 500);
  };
  const describe = (err: unknown): string => {
    const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
    if (e?.name === 'TimeoutError') return `timed out after ${timeoutMs / 1000} s`;
    if (e?.cause?.code || e?.cause?.message) return `${e.cause.code ?? 'network error'}: ${e.cause.message ?? e.message ?? ''}`;
    return e?.message ?? String(err);
  };

  /** One POST: the status (null on a network error), the error text, and Retry-After when asked to slow down. */
  async function attempt(url: string, body: string, headers: Record<string, string>): Promise<{ statusCode: number | null; error: string | null; retryAfter: number | null }> {
    try {
      // No redirects: a 3xx is a failed delivery, so a body is never re-posted to a place nobody configured.
      const res = await fetch(url, { method: 'POST', body, headers, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
      await res.body?.cancel().catch(() => undefined);
      const ok = res.status >= 200 && res.status < 300;
      const retryAfter = res.status === 429 || res.status === 503 ? retryAfterSec(res.headers.get('retry-after')) : null;
      return { statusCode: res.status, error: ok ? null : `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`, retryAfter };
    } catch (err) {
      return { statusCode: null, error: scrub(describe(err), url), retryAfter: null };
    }
  }

  async function deliver(url: string, payload: WebhookPayload, signal?: AbortSignal): Promise<DeliveryResult> {
    const deliveryId = deliveryIdFor(payload.jobId, payload.seq, url);
    const shown = redactUrl(url);
    const earlier = (await options.store.deliveries(payload.jobId)).filter((d) => d.deliveryId === deliveryId);
    const done = earlier.find((d) => d.ok);
    if (done) return { deliveryId, url: shown, ok: true, attempts: 0, statusCode: done.statusCode, error: null, outcome: 'delivered' };
    const body = JSON.stringify(payload);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': WEBHOOK_USER_AGENT,
      'x-tiercast-event': payload.event,
      'x-tiercast-delivery': deliveryId,
    };
    if (secret) headers['x-tiercast-signature'] = signBody(secret, body);
    else if (!warnedUnsigned) {
      warnedUnsigned = true;
      log.warn({ url: shown }, 'TIERCAST_WEBHOOK_SECRET is not set: webhooks are sent without X-Tiercast-Signature, so receivers cannot tell them from forgeries');
    }

    let n = earlier.reduce((max, d) => Math.max(max, d.attempt), 0);
    let last: { statusCode: number | null; error: string | null } = { statusCode: earlier.at(-1)?.statusCode ?? null, error: earlier.at(-1)?.error ?? null };
    let made = 0;
    while (n < budget) {
      if (signal?.aborted) return { deliveryId, url: shown, ok: false, attempts: made, ...last, outcome: 'interrupted' };
      n += 1;
      made += 1;
      const r = await attempt(url, body, headers);
      const ok = r.error === null;
      const record: WebhookDelivery = { jobId: payload.jobId, deliveryId, seq: payload.seq, event: payload.event, url: shown, attempt: n, at: new Date().toISOString(), ok, statusCode: r.statusCode, error: r.error };
      await options.store.recordDelivery(record);
      last = { statusCode: r.statusCode, error: r.error };
      if (ok) return { deliveryId, url: shown, ok: true, attempts: made, ...last, outcome: 'delivered' };
      if (n >= budget) break;
      const delaySec = r.retryAfter !== null ? Math.min(maxRetryAfterSec, r.retryAfter) : backoffSec(n, retry, random);
      log.info({ jobId: payload.jobId, deliveryId, url: shown, attempt: n, statusCode: r.statusCode, error: r.error, retryInSec: delaySec }, 'webhook delivery failed; retrying');
      await sleep(delaySec * 1000, signal);
    }
    log.warn({ jobId: payload.jobId, deliveryId, url: shown, attempts: n, ...last }, 'webhook delivery failed: giving up (see the job delivery log)');
    return { deliveryId, url: shown, ok: false, attempts: made, ...last, outcome: 'failed' };
  }

  async function payloadFor(event: JobEvent): Promise<WebhookPayload> {
    let manifest: OutputManifest | null = null;
    if (event.type === 'job.done' && options.outputs) {
      manifest = await options.outputs.readManifest(event.jobId).catch((err: unknown) => {
        log.warn({ jobId: event.jobId, err: describe(err) }, 'webhook: the output manifest could not be read; the body carries no output keys');
        return null;
      });
    }
    return webhookPayload(event, manifest);
  }

  /** The configured URL and the job's own, without repeats; a job deleted meanwhile has only the configured one. */
  async function targetsOf(jobId: string): Promise<string[]> {
    let own: string | null = null;
    try {
      own = (await options.store.get(jobId)).spec.webhookUrl;
    } catch (err) {
      if (!(err instanceof TiercastError && err.code === 'JOB_NOT_FOUND')) throw err;
    }
    return [...new Set([options.url, own].filter((u): u is string => typeof u === 'string' && u.length > 0))];
  }

  return {
    payloadFor,
    deliver,
    async announce(event, signal) {
      const targets = await targetsOf(event.jobId);
      const payload = await payloadFor(event);
      const deliveries = await Promise.all(targets.map((url) => deliver(url, payload, signal)));
      return { payload, deliveries };
    },
  };
}
