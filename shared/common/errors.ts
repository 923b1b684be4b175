/**
 * Stable error codes. A code never changes meaning once shipped: operators script against them,
 * the router escalates on them and the ledger stores them. Add new codes at the end; never reuse one.
 */
export const ERROR_CODES = [
  'INPUT_NOT_FOUND',
  'INPUT_EMPTY',
  'NOT_MEDIA',
  'NO_VIDEO_STREAM',
  'DECODE_FAILED',
  'INPUT_TRUNCATED',
  'UNSUPPORTED_INPUT',
  'INPUT_TOO_LARGE',
  'FFMPEG_MISSING',
  'ENCODE_FAILED',
  'OUTPUT_VERIFY_FAILED',
  'CANCELLED',
  'TIMEOUT',
  'TIER_LIMIT_EXCEEDED',
  'OUT_OF_MEMORY',
  'INTERRUPTED',
  'INVALID_JOB',
  'JOB_NOT_FOUND',
  'CONFIG_INVALID',
  'STORE_ERROR',
  'QUEUE_ERROR',
  'DISPATCH_FAILED',
  'CAPACITY_UNAVAILABLE',
  'THROTTLED',
  'INTERNAL',
  'INVALID_REQUEST',
  'FORBIDDEN',
  'SUBTITLE_INVALID',
  'ENCODER_MISSING',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorCodeInfo {
  /** Short human title for tables and UIs. */
  readonly title: string;
  /** The same job may succeed if tried again unchanged (infrastructure, not input). */
  readonly retryable: boolean;
  /** The job should be retried one tier up (it hit a tier's time, memory or disk limit). */
  readonly escalate: boolean;
}

export const ERROR_CODE_INFO: Readonly<Record<ErrorCode, ErrorCodeInfo>> = {
  INPUT_NOT_FOUND: { title: 'Input not found', retryable: false, escalate: false },
  INPUT_EMPTY: { title: 'Input is empty', retryable: false, escalate: false },
  NOT_MEDIA: { title: 'Not a media file', retryable: false, escalate: false },
  NO_VIDEO_STREAM: { title: 'No video stream', retryable: false, escalate: false },
  DECODE_FAILED: { title: 'Decoding failed', retryable: false, escalate: false },
  INPUT_TRUNCATED: { title: 'Input truncated', retryable: false, escalate: false },
  UNSUPPORTED_INPUT: { title: 'Unsupported input', retryable: false, escalate: false },
  INPUT_TOO_LARGE: { title: 'Input too large', retryable: false, escalate: true },
  FFMPEG_MISSING: { title: 'ffmpeg not installed', retryable: false, escalate: false },
  ENCODE_FAILED: { title: 'Encoding failed', retryable: true, escalate: false },
  OUTPUT_VERIFY_FAILED: { title: 'Output failed verification', retryable: true, escalate: false },
  CANCELLED: { title: 'Cancelled', retryable: false, escalate: false },
  TIMEOUT: { title: 'Timed out', retryable: true, escalate: true },
  TIER_LIMIT_EXCEEDED: { title: 'Tier limit exceeded', retryable: true, escalate: true },
  OUT_OF_MEMORY: { title: 'Out of memory', retryable: true, escalate: true },
  INTERRUPTED: { title: 'Interrupted (will retry)', retryable: true, escalate: false },
  INVALID_JOB: { title: 'Invalid job', retryable: false, escalate: false },
  JOB_NOT_FOUND: { title: 'Job not found', retryable: false, escalate: false },
  CONFIG_INVALID: { title: 'Invalid configuration', retryable: false, escalate: false },
  STORE_ERROR: { title: 'Object store error', retryable: true, escalate: false },
  QUEUE_ERROR: { title: 'Queue error', retryable: true, escalate: false },
  DISPATCH_FAILED: { title: 'Dispatch failed', retryable: true, escalate: false },
  CAPACITY_UNAVAILABLE: { title: 'Capacity unavailable', retryable: true, escalate: false },
  THROTTLED: { title: 'Throttled', retryable: true, escalate: false },
  INTERNAL: { title: 'Internal error', retryable: false, escalate: false },
  INVALID_REQUEST: { title: 'Invalid request', retryable: false, escalate: false },
  FORBIDDEN: { title: 'Not allowed', retryable: false, escalate: false },
  SUBTITLE_INVALID: { title: 'Invalid subtitles', retryable: false, escalate: false },
  ENCODER_MISSING: { title: 'Encoder not in this ffmpeg build', retryable: false, escalate: false },
};

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}

/** Base class of every error Tiercast raises on purpose. `code` is stable; `details` carries facts. */
export class TiercastError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TiercastError';
    this.code = code;
    this.details = options.details ?? {};
  }

  get retryable(): boolean {
    return ERROR_CODE_INFO[this.code].retryable;
  }

  get escalate(): boolean {
    return ERROR_CODE_INFO[this.code].escalate;
  }

  /** `CODE: message`, the form the CLI and logs show. */
  override toString(): string {
    return `${this.code}: ${this.message}`;
  }

  toJSON(): { code: ErrorCode; message: string; details: Readonly<Record<string, unknown>> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

/** Turns anything thrown into a TiercastError, keeping the original as `cause`. */
export function toTiercastError(err: unknown, fallback: ErrorCode = 'INTERNAL'): TiercastError {
  if (err instanceof TiercastError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new TiercastError(fallback, message, { cause: err });
}
