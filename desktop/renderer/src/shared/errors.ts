import { ERROR_CODE_INFO, isErrorCode, type ErrorCode } from '../../../../shared/common/errors.ts';

/** What the renderer knows of a failure: the stable code and the service's message. */
export interface UiError {
  readonly code: ErrorCode;
  readonly message: string;
}

/** What an operator can do about each code, shown under the message. */
// Partial: a code added to the contract later still shows its title until it gets a sentence here.
const HINTS: Readonly<Partial<Record<ErrorCode, string>>> = {
  INPUT_NOT_FOUND: 'Check that the file still exists and add it again.',
  INPUT_EMPTY: 'The file has no bytes; re-export or re-copy it from its source.',
  NOT_MEDIA: 'This is not a video file Tiercast can read; remove it from the batch.',
  NO_VIDEO_STREAM: 'The file has no video track (audio only or a still); remove it from the batch.',
  DECODE_FAILED: 'The video could not be decoded; the source is probably corrupt. Re-export it and try again.',
  INPUT_TRUNCATED: 'The file ends early (an interrupted copy?). Copy it again and retry.',
  UNSUPPORTED_INPUT: 'Not a file Tiercast can transcode as it is: a playlist, list or image sequence (give the media file itself), or no rung of the ladder fits it.',
  INPUT_TOO_LARGE: 'The file exceeds the limits of the chosen tier; pick a larger tier or let routing decide (auto).',
  FFMPEG_MISSING: 'Install ffmpeg (or set TIERCAST_FFMPEG) and restart the console.',
  ENCODE_FAILED: 'The encoder failed; retry the job, and look at the job report if it fails again.',
  OUTPUT_VERIFY_FAILED: 'The outputs did not verify; retry the job.',
  CANCELLED: 'The job was cancelled; retry it to run it again.',
  TIMEOUT: 'The job took too long for its tier; retry it on a larger tier.',
  TIER_LIMIT_EXCEEDED: 'The job hit a tier limit; retry it on a larger tier.',
  OUT_OF_MEMORY: 'The worker ran out of memory; retry it on a larger tier.',
  INTERRUPTED: 'The worker stopped mid-job; the job will be retried.',
  INVALID_JOB: 'The job description is invalid; check the ladder and the settings.',
  JOB_NOT_FOUND: 'The job no longer exists in the ledger; refresh the list.',
  CONFIG_INVALID: 'Fix the highlighted setting and save again.',
  STORE_ERROR: 'The object store could not be reached; check Settings > Store and test the connection.',
  QUEUE_ERROR: 'The job queue could not be reached; check the queue settings and test the connection.',
  DISPATCH_FAILED: 'Dispatching failed; check the tier configuration and try again.',
  CAPACITY_UNAVAILABLE: 'The tier has no capacity right now; retry later or choose another tier.',
  THROTTLED: 'AWS throttled the request; wait a moment and retry.',
  INTERNAL: 'Something unexpected failed; retry, and report it with the message if it persists.',
  INVALID_REQUEST: 'The console refused a malformed request; reload the window, and report it if it persists.',
  FORBIDDEN: 'The console refused this page; open the URL that `tiercast console --web` printed (it carries the access token).',
  SUBTITLE_INVALID: 'A subtitle file could not be read or its language is not a BCP 47 tag (en, fr, pt-BR); fix or remove the file named in the message.',
} as Partial<Record<string, string>>;

export function errorHint(code: ErrorCode): string {
  return HINTS[code] ?? `${ERROR_CODE_INFO[code]?.title ?? code}.`;
}

export function errorTitle(code: ErrorCode): string {
  return ERROR_CODE_INFO[code].title;
}

/** Anything thrown by the services layer or a component, as a UiError (unknown shapes become INTERNAL). */
export function toUiError(err: unknown): UiError {
  if (typeof err === 'object' && err !== null) {
    const e = err as { code?: unknown; message?: unknown };
    if (isErrorCode(e.code)) return { code: e.code, message: typeof e.message === 'string' ? e.message : String(e.message) };
    if (typeof e.message === 'string') return { code: 'INTERNAL', message: e.message };
  }
  return { code: 'INTERNAL', message: String(err) };
}
