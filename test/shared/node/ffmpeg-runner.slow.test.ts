import { execFileSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { FfmpegProgress } from '../../../shared/common/ffmpeg-progress.ts';
import { classifyFfmpegFailure, decodeErrorLine, FfmpegProcessError, lastErrorLine, runFfmpeg } from '../../../shared/node/ffmpeg-runner.ts';
import { fixtureClip } from '../../helpers/media.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-runner-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A lavfi encode that takes a while on purpose (for cancel and timeout), writing nowhere. */
const slowArgs = ['-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25:duration=30', '-f', 'null', '-'];

describe('runFfmpeg', () => {
  it('runs an argument array and reports typed progress ending at 100%', async () => {
    const events: FfmpegProgress[] = [];
    const out = path.join(dir, 'ok.mp4');
    const r = await runFfmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=25:duration=2', '-c:v', 'libx264', '-preset', 'ultrafast', '-y', `file:${out}`], {
      durationSec: 2,
      onProgress: (p) => events.push(p),
    });
    expect(r.durationMs).toBeGreaterThan(0);
    const last = events.at(-1)!;
    expect(last.done).toBe(true);
    expect(last.percent).toBe(100);
    expect(last.frame).toBe(50);
    expect(last.outTimeSec).toBeGreaterThan(1.9);
  });

  it('cancels with an AbortSignal: CANCELLED with the facts', async () => {
    const controller = new AbortController();
    const promise = runFfmpeg(slowArgs, { signal: controller.signal, onProgress: () => controller.abort() });
    const err = (await promise.catch((e: unknown) => e)) as FfmpegProcessError;
    expect(err).toBeInstanceOf(FfmpegProcessError);
    expect(err.code).toBe('CANCELLED');
    expect(err.cancelled).toBe(true);
    expect(err.timedOut).toBe(false);
    expect(err.command).toContain('testsrc2=size=320x240:rate=25:duration=30');
    expect(err.command.slice(1, 8)).toEqual(['-nostdin', '-hide_banner', '-nostats', '-loglevel', 'warning', '-progress', 'pipe:1']);
  });

  it('an already aborted signal never starts ffmpeg', async () => {
    const err = (await runFfmpeg(slowArgs, { signal: AbortSignal.abort() }).catch((e: unknown) => e)) as FfmpegProcessError;
    expect(err.code).toBe('CANCELLED');
    expect(err.durationMs).toBe(0);
  });

  it('times out: TIMEOUT, timedOut set, killed by a signal or exited', async () => {
    const err = (await runFfmpeg(slowArgs, { timeoutMs: 400 }).catch((e: unknown) => e)) as FfmpegProcessError;
    expect(err.code).toBe('TIMEOUT');
    expect(err.timedOut).toBe(true);
    expect(err.stalled).toBe(false);
    expect(err.retryable).toBe(true);
  });

  it('stops a stalled ffmpeg (input stops arriving mid-stream): TIMEOUT saying where it stuck; slow but moving runs live', async () => {
    // Real time at 25 fps for 1.5 s: progress keeps moving, so a 700 ms stall limit never fires.
    await runFfmpeg(['-re', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=25:duration=1.5', '-f', 'null', '-'], { stallTimeoutMs: 700 });

    const ts = path.join(dir, 'stall-src.ts');
    execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=25:duration=4', '-c:v', 'libx264', '-preset', 'ultrafast', '-f', 'mpegts', '-y', ts]);
    const fifo = path.join(dir, 'stall.fifo');
    execFileSync('mkfifo', [fifo]);
    const running = runFfmpeg(['-f', 'mpegts', '-i', `file:${fifo}`, '-f', 'null', '-'], { stallTimeoutMs: 1000, killGraceMs: 300 });
    // A writer that sends the first half of the stream and then holds the pipe open without writing (a hung mount).
    const writer = createWriteStream(fifo);
    const bytes = readFileSync(ts);
    writer.write(bytes.subarray(0, Math.floor(bytes.length / 2)));
    const err = (await running.catch((e: unknown) => e)) as FfmpegProcessError;
    writer.destroy();
    expect(err).toBeInstanceOf(FfmpegProcessError);
    expect(err.code).toBe('TIMEOUT');
    expect(err.timedOut).toBe(true);
    expect(err.stalled).toBe(true);
    expect(err.details).toMatchObject({ stalled: true });
    expect(err.message).toMatch(/^ffmpeg stalled: no progress for 1 s \((stuck at [\d.]+ s of output|before any output)\)$/);
  });

  it('a corrupt input fails as DECODE_FAILED with the decoder complaint in the message and stderr tail', async () => {
    const err = (await runFfmpeg(['-i', `file:${fixtureClip('corruptVp9')}`, '-f', 'null', '-'], {}).catch((e: unknown) => e)) as FfmpegProcessError;
    expect(err).toBeInstanceOf(FfmpegProcessError);
    expect(err.code).toBe('DECODE_FAILED');
    expect(err.exitCode).toBe(1);
    expect(err.stderrTail).toMatch(/Invalid (sync code|frame marker)/);
    expect(err.message).toMatch(/^the input could not be decoded \(ffmpeg: Invalid (sync code|frame marker)\)$/);
  });

  it('a bad option is ENCODE_FAILED; a missing binary is FFMPEG_MISSING', async () => {
    const bad = (await runFfmpeg(['-f', 'lavfi', '-i', 'testsrc2=duration=1', '-c:v', 'no-such-encoder', '-f', 'null', '-'], {}).catch((e: unknown) => e)) as FfmpegProcessError;
    expect(bad.code).toBe('ENCODE_FAILED');
    expect(bad.exitCode).not.toBe(0);
    expect(bad.message).toMatch(/no-such-encoder/);
    const missing = (await runFfmpeg(['-version'], { bin: path.join(dir, 'no-ffmpeg-here') }).catch((e: unknown) => e)) as FfmpegProcessError;
    expect(missing.code).toBe('FFMPEG_MISSING');
  });
});

describe('classifyFfmpegFailure', () => {
  it.each([
    ['[vp9 @ 0x1] Invalid sync code\nError while decoding stream #0:0: Invalid data found when processing input', 'DECODE_FAILED'],
    ['[mov,mp4] moov atom not found\nx.mp4: Invalid data found when processing input', 'DECODE_FAILED'],
    ['Could not find codec parameters for stream 0', 'DECODE_FAILED'],
    ['Unknown encoder \'foo\'', 'ENCODE_FAILED'],
    ['[libx264 @ 0x1] malloc failed: Cannot allocate memory', 'OUT_OF_MEMORY'],
  ])('%j -> %s', (stderr, code) => {
    expect(classifyFfmpegFailure(stderr)).toBe(code);
  });

  it('decodeErrorLine names the decoder complaint without its prefix', () => {
    expect(decodeErrorLine('[vp9 @ 0x55] Invalid sync code\nError while decoding stream #0:0: Invalid data found when processing input\nError marking filters as finished\n')).toBe('Invalid sync code');
  });

  it('lastErrorLine skips noise and prefers an error line', () => {
    expect(lastErrorLine('[swscaler] deprecated pixel format used\nReal error: Invalid argument\n    Last message repeated 1 times\n')).toBe('Real error: Invalid argument');
  });
});
