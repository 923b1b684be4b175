import { spawn } from 'node:child_process';
import { TiercastError, type ErrorCode } from '../common/errors.ts';
import { FfmpegProgressParser, type FfmpegProgress } from '../common/ffmpeg-progress.ts';

/** Everything known about an ffmpeg run that did not succeed (execa-style: the facts, not just a message). */
export class FfmpegProcessError extends TiercastError {
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly timedOut: boolean;
  readonly cancelled: boolean;
  /** The stall watchdog stopped it (no progress for stallTimeoutMs), as opposed to the overall timeout. */
  readonly stalled: boolean;
  readonly stderrTail: string;
  readonly command: readonly string[];
  readonly durationMs: number;

  constructor(
    code: ErrorCode,
    message: string,
    facts: {
      exitCode: number | null;
      signal: string | null;
      timedOut: boolean;
      cancelled: boolean;
      stalled?: boolean;
      stderrTail: string;
      command: readonly string[];
      durationMs: number;
      cause?: unknown;
    },
  ) {
    super(code, message, {
      cause: facts.cause,
      details: {
        exitCode: facts.exitCode,
        signal: facts.signal,
        timedOut: facts.timedOut,
        cancelled: facts.cancelled,
        stalled: facts.stalled === true,
        stderrTail: facts.stderrTail,
        durationMs: facts.durationMs,
      },
    });
    this.name = 'FfmpegProcessError';
    this.exitCode = facts.exitCode;
    this.signal = facts.signal;
    this.timedOut = facts.timedOut;
    this.cancelled = facts.cancelled;
    this.stalled = facts.stalled === true;
    this.stderrTail = facts.stderrTail;
    this.command = facts.command;
    this.durationMs = facts.durationMs;
  }
}

/** Whether an error (as thrown, or after toTiercastError) is the stall watchdog's TIMEOUT, not an out-of-time one. */
export function isStalled(err: unknown): boolean {
  return err instanceof TiercastError && err.code === 'TIMEOUT' && (err.details as { stalled?: unknown }).stalled === true;
}

export interface RunFfmpegOptions {
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
  /** Expected output duration, for progress percent. */
  readonly durationSec?: number;
  readonly onProgress?: (progress: FfmpegProgress) => void;
  /** ffmpeg binary (default: `ffmpeg` on PATH; callers pass resolveFfmpeg().ffmpeg). */
  readonly bin?: string;
  readonly cwd?: string;
  /** Grace between SIGTERM and SIGKILL. */
  readonly killGraceMs?: number;
  /**
   * Stops ffmpeg (TIMEOUT, "stalled") when its progress (frames, output time, bytes) has not advanced for this
   * long: a hung read or a decoder stuck in a loop must not hold a worker and its queue lease for ever.
   */
  readonly stallTimeoutMs?: number;
}

export interface RunFfmpegResult {
  readonly stderrTail: string;
  readonly durationMs: number;
}

const STDERR_TAIL_BYTES = 8 * 1024;

/** Runner flags in front of every command: no stdin, machine-readable progress on stdout, quiet stderr. */
export const RUNNER_PREFIX: readonly string[] = ['-nostdin', '-hide_banner', '-nostats', '-loglevel', 'warning', '-progress', 'pipe:1'];

const DECODE_PATTERNS = [
  /Invalid data found when processing input/i,
  /Invalid sync code/i,
  /could not find codec parameters/i,
  /Error while decoding stream/i,
  /no frame!/i,
  /Decoding error/i,
  /corrupt(ed)? (input|frame|packet)/i,
  /moov atom not found/i,
];

/** Which stable code an ffmpeg failure gets, from its stderr. Decoder complaints mean the input is at fault. */
export function classifyFfmpegFailure(stderr: string): ErrorCode {
  if (/Cannot allocate memory|Out of memory/i.test(stderr)) return 'OUT_OF_MEMORY';
  if (DECODE_PATTERNS.some((p) => p.test(stderr))) return 'DECODE_FAILED';
  return 'ENCODE_FAILED';
}

/** The last meaningful stderr line, for a one-line error message. */
export function lastErrorLine(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^Last message repeated/.test(l) && !/deprecated pixel format/.test(l));
  const errorish = [...lines].reverse().find((l) => /error|invalid|fail|could not|cannot|unable/i.test(l));
  return (errorish ?? lines.at(-1) ?? '').slice(0, 300);
}

/** The decoder's own complaint (`Invalid sync code`), without the `[vp9 @ 0x...]` prefix. */
export function decodeErrorLine(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const hit = [...lines].reverse().find((l) => /^\[[^\]]+\]/.test(l) && DECODE_PATTERNS.some((p) => p.test(l)))
    ?? [...lines].reverse().find((l) => DECODE_PATTERNS.some((p) => p.test(l)));
  return (hit ?? '').replace(/^\[[^\]]+\]\s*/, '').slice(0, 300);
}

export function runFfmpeg(args: readonly string[], options: RunFfmpegOptions = {}): Promise<RunFfmpegResult> {
  const bin = options.bin ?? 'ffmpeg';
  const command = [bin, ...RUNNER_PREFIX, ...args];
  const started = Date.now();
  const grace = options.killGraceMs ?? 3000;

  return new Promise<RunFfmpegResult>((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(
        new FfmpegProcessError('CANCELLED', 'ffmpeg cancelled before it started', {
          exitCode: null, signal: null, timedOut: false, cancelled: true, stderrTail: '', command, durationMs: 0, cause: options.signal.reason,
        }),
      );
      return;
    }
    const child = spawn(bin, command.slice(1), { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    let stderr = '';
    let timedOut = false;
    let stalled = false;
    let cancelled = false;
    let lastAdvance = Date.now();
    let lastMark = '';
    let killTimer: NodeJS.Timeout | null = null;
    let settled = false;
    const parser = new FfmpegProgressParser(options.durationSec ?? null);

    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      for (const p of parser.push(chunk)) {
        const mark = `${p.frame}|${p.outTimeSec}|${p.totalSizeBytes}`;
        if (mark !== lastMark) {
          lastMark = mark;
          lastAdvance = Date.now();
        }
        try {
          options.onProgress?.(p);
        } catch {
          // A progress listener's bug must not kill the encode.
        }
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
      if (stderr.length > STDERR_TAIL_BYTES * 2) stderr = stderr.slice(-STDERR_TAIL_BYTES);
    });

    const terminate = () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }, grace);
      killTimer.unref?.();
    };
    const onAbort = () => {
      cancelled = true;
      terminate();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const timeout =
      options.timeoutMs && options.timeoutMs > 0
        ? setTimeout(() => {
            timedOut = true;
            terminate();
          }, options.timeoutMs)
        : null;

    const stallMs = options.stallTimeoutMs && options.stallTimeoutMs > 0 ? options.stallTimeoutMs : null;
    const watchdog = stallMs
      ? setInterval(() => {
          if (!stalled && Date.now() - lastAdvance >= stallMs) {
            stalled = true;
            timedOut = true;
            terminate();
          }
        }, Math.max(50, Math.min(5000, Math.floor(stallMs / 4))))
      : null;
    watchdog?.unref?.();

    const cleanup = () => {
      options.signal?.removeEventListener('abort', onAbort);
      if (watchdog) clearInterval(watchdog);
      if (timeout) clearTimeout(timeout);
      if (killTimer) clearTimeout(killTimer);
    };

    child.on('error', (err: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      cleanup();
      const missing = err.code === 'ENOENT' || err.code === 'EACCES';
      reject(
        new FfmpegProcessError(missing ? 'FFMPEG_MISSING' : 'ENCODE_FAILED', `${bin} could not be started (${err.message})`, {
          exitCode: null, signal: null, timedOut: false, cancelled: false, stderrTail: '', command, durationMs: Date.now() - started, cause: err,
        }),
      );
    });

    child.on('close', (exitCode, signal) => {
      if (settled) return;
      settled = true;
      cleanup();
      const durationMs = Date.now() - started;
      const tail = stderr.slice(-STDERR_TAIL_BYTES);
      if (exitCode === 0 && !cancelled && !timedOut) {
        resolve({ stderrTail: tail, durationMs });
        return;
      }
      const facts = { exitCode, signal, timedOut, cancelled, stderrTail: tail, command, durationMs };
      if (cancelled) {
        reject(new FfmpegProcessError('CANCELLED', 'ffmpeg was cancelled', { ...facts, cause: options.signal?.reason }));
      } else if (timedOut) {
        const at = lastMark.split('|')[1];
        const message = stalled
          ? `ffmpeg stalled: no progress for ${Math.round((stallMs ?? 0) / 1000)} s (${at && at !== 'null' ? `stuck at ${at} s of output` : 'before any output'})`
          : `ffmpeg did not finish within ${Math.round((options.timeoutMs ?? 0) / 1000)} s`;
        reject(new FfmpegProcessError('TIMEOUT', message, { ...facts, stalled }));
      } else {
        const code = classifyFfmpegFailure(tail);
        const why = (code === 'DECODE_FAILED' ? decodeErrorLine(tail) : lastErrorLine(tail)) || (signal ? `killed by ${signal}` : `exit code ${exitCode}`);
        const what = code === 'DECODE_FAILED' ? 'the input could not be decoded' : code === 'OUT_OF_MEMORY' ? 'ffmpeg ran out of memory' : 'ffmpeg failed';
        reject(new FfmpegProcessError(code, `${what} (ffmpeg: ${why})`, facts));
      }
    });
  });
}
