import type { z } from 'zod';
import {
  contract,
  events,
  isCallName,
  type ApiParsedRequest,
  type ApiResult,
  type CallName,
  type Contract,
  type EventChannel,
  type EventPayload,
} from '../../shared/common/api-contract.ts';
import { TiercastError, toTiercastError } from '../../shared/common/errors.ts';
import type { Logger } from '../../shared/node/log.ts';

/** Who is calling: handlers may answer differently per transport (e.g. staging is web-only). */
export interface CallContext {
  readonly transport: 'ipc' | 'web';
}

export type ApiResponseInput<K extends CallName> = z.input<Contract[K]['response']>;
export type CallHandler<K extends CallName> = (request: ApiParsedRequest<K>, ctx: CallContext) => Promise<ApiResponseInput<K>>;
export type Handlers = { [K in CallName]: CallHandler<K> };

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}

/**
 * The one place every transport goes through: the request is validated against the call's schema before a handler
 * sees it, and the handler's answer is validated on the way out, so a bug in main can never hand the renderer a
 * shape the contract does not promise (it becomes an INTERNAL error instead). Errors become the envelope's
 * `{ code, message }`; stacks and causes stay in the log.
 */
export async function invokeCall(
  handlers: Handlers,
  name: unknown,
  rawRequest: unknown,
  ctx: CallContext,
  log?: Pick<Logger, 'warn' | 'error'>,
): Promise<ApiResult<unknown>> {
  if (!isCallName(name)) {
    return { ok: false, error: { code: 'INVALID_REQUEST', message: `unknown call ${JSON.stringify(String(name)).slice(0, 80)}` } };
  }
  const spec = contract[name];
  const parsed = spec.request.safeParse(rawRequest ?? {});
  if (!parsed.success) {
    return { ok: false, error: { code: 'INVALID_REQUEST', message: `${name}: ${describeIssues(parsed.error)}` } };
  }
  let value: unknown;
  try {
    value = await (handlers[name] as (r: unknown, c: CallContext) => Promise<unknown>)(parsed.data, ctx);
  } catch (err) {
    const e = toTiercastError(err);
    if (e.code === 'INTERNAL') log?.error({ err, call: name }, 'console call failed');
    return { ok: false, error: { code: e.code, message: e.message.slice(0, 4000) } };
  }
  const out = spec.response.safeParse(value);
  if (!out.success) {
    log?.error({ call: name, issues: out.error.issues.slice(0, 5) }, 'console call answered outside its contract');
    return { ok: false, error: { code: 'INTERNAL', message: `${name}: the answer did not match the contract (${describeIssues(out.error)})` } };
  }
  return { ok: true, value: out.data };
}

/** HTTP status for an error envelope (the body carries the code either way). */
export function httpStatusOf(code: string): number {
  switch (code) {
    case 'INVALID_REQUEST':
    case 'CONFIG_INVALID':
    case 'INVALID_JOB':
      return 400;
    case 'FORBIDDEN':
      return 403;
    case 'INPUT_NOT_FOUND':
    case 'JOB_NOT_FOUND':
      return 404;
    case 'INPUT_TOO_LARGE':
      return 413;
    case 'INTERNAL':
      return 500;
    default:
      return 422;
  }
}

export type EventListener = (channel: EventChannel, payload: unknown) => void;

/** main -> renderer pushes. Payloads are validated when emitted, so every transport forwards contract shapes. */
export interface EventBus {
  emit<C extends EventChannel>(channel: C, payload: EventPayload<C>): void;
  subscribe(listener: EventListener): () => void;
}

export function createEventBus(log?: Pick<Logger, 'error'>): EventBus {
  const listeners = new Set<EventListener>();
  return {
    emit(channel, payload) {
      const parsed = events[channel].safeParse(payload);
      if (!parsed.success) {
        log?.error({ channel, issues: parsed.error.issues.slice(0, 5) }, 'event outside its contract dropped');
        return;
      }
      for (const l of [...listeners]) {
        try {
          l(channel, parsed.data);
        } catch (err) {
          log?.error({ err, channel }, 'event listener failed');
        }
      }
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

export { TiercastError };
