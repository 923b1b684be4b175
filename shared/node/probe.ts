import { execFile } from 'node:child_process';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { TiercastError } from '../common/errors.ts';
import { inputGuardArgs, refusedDemuxerIn, refusedInputReason } from '../common/input-formats.ts';
import type { MediaInfo } from '../common/media.ts';
import { applyFrameSample, frameSampleArgs, parseFrameSample, parseProbe, PROBE_ARGS, samplePacketsFor } from '../common/probe-parse.ts';
import { resolveFfmpeg } from './ffmpeg-locate.ts';

const PROBE_TIMEOUT_MS = 60_000;

interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number | null;
}

function runProbe(ffprobe: string, args: readonly string[], signal?: AbortSignal): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      ffprobe,
      [...args],
      { maxBuffer: 64 * 1024 * 1024, timeout: PROBE_TIMEOUT_MS, windowsHide: true, ...(signal ? { signal } : {}) },
      (err, stdout, stderr) => {
        if (signal?.aborted) {
          reject(new TiercastError('CANCELLED', 'probe cancelled', { cause: signal.reason }));
          return;
        }
        if (err && (err as { killed?: boolean }).killed && (err as { signal?: string }).signal === 'SIGTERM') {
          reject(new TiercastError('TIMEOUT', `ffprobe did not finish within ${PROBE_TIMEOUT_MS / 1000} s`, { cause: err }));
          return;
        }
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : null) : 0;
        if (err && code === null) {
          reject(new TiercastError('FFMPEG_MISSING', `ffprobe could not be started (${err.message})`, { cause: err }));
          return;
        }
        resolve({ stdout, stderr, exitCode: code });
      },
    );
  });
}

/** Last meaningful stderr line, without the `[demuxer @ 0x...]` prefix or the file path ffprobe repeats. */
function stderrReason(stderr: string, file: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.replace(/^\[[^\]]*\]\s*/, '').replace(`${file}: `, '').trim())
    .filter(Boolean);
  return lines.at(-1) ?? 'no reason given';
}

/**
 * True when the file opens with an ISO-BMFF box (ftyp, or an mdat/free/wide written before it): an MP4/MOV whose
 * header is there, so a missing moov means the writer never finished, not that this is some other kind of file.
 */
async function startsWithIsoBox(file: string): Promise<boolean> {
  const fh = await open(file, 'r').catch(() => null);
  if (!fh) return false;
  try {
    const head = Buffer.alloc(8);
    const { bytesRead } = await fh.read(head, 0, 8, 0);
    return bytesRead === 8 && ['ftyp', 'mdat', 'free', 'wide', 'skip'].includes(head.toString('latin1', 4, 8));
  } finally {
    await fh.close();
  }
}

/**
 * Describes a media file: ffprobe's format/stream description, then a short decode of the main video stream's
 * first packets (24-60 by picture size: VFR, interlacing and decodability seen in real frames, not only in headers). Errors:
 * INPUT_NOT_FOUND, INPUT_EMPTY, INPUT_TRUNCATED (an MP4/MOV cut off before its index), NOT_MEDIA (ffprobe cannot read
 * it), NO_VIDEO_STREAM (audio-only, cover or still
 * image), DECODE_FAILED (a video stream exists but not one frame of it decodes), UNSUPPORTED_INPUT (a playlist, list or
 * image sequence: only media demuxers may open it, see shared/common/input-formats.ts), FFMPEG_MISSING, CANCELLED, TIMEOUT.
 */
export async function probeFile(file: string, options: { signal?: AbortSignal } = {}): Promise<MediaInfo> {
  const name = path.basename(file);
  let size: number;
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new TiercastError('INPUT_NOT_FOUND', `${name}: not a regular file`, { details: { file } });
    size = st.size;
  } catch (err) {
    if (err instanceof TiercastError) throw err;
    throw new TiercastError('INPUT_NOT_FOUND', `${name}: no such file`, { cause: err, details: { file } });
  }
  if (size === 0) throw new TiercastError('INPUT_EMPTY', `${name}: the file is empty (0 bytes)`, { details: { file } });

  const { ffprobe } = await resolveFfmpeg();
  // `file:` keeps names like `-x.mp4` or `http:foo` from being read as options or protocols.
  const target = `file:${path.resolve(file)}`;
  const described = await runProbe(ffprobe, [...PROBE_ARGS, ...inputGuardArgs(), target], options.signal);
  let json: unknown;
  try {
    json = JSON.parse(described.stdout);
  } catch {
    json = null;
  }
  if (described.exitCode !== 0 || json === null || typeof json !== 'object' || !('format' in json)) {
    const refused = refusedDemuxerIn(described.stderr);
    if (refused.refused) {
      throw new TiercastError('UNSUPPORTED_INPUT', `${name}: ${refusedInputReason(refused.demuxer)}`, { details: { file, demuxer: refused.demuxer } });
    }
    if (/moov atom not found/i.test(described.stderr) && (await startsWithIsoBox(file))) {
      throw new TiercastError(
        'INPUT_TRUNCATED',
        `${name}: an MP4/MOV without its index (moov): the file was cut off before it was finished (an interrupted recording, export or copy); export or copy it again`,
        { details: { file, exitCode: described.exitCode } },
      );
    }
    throw new TiercastError('NOT_MEDIA', `${name}: ffprobe cannot read it as media (${stderrReason(described.stderr, target)})`, {
      details: { file, exitCode: described.exitCode },
    });
  }

  let info = parseProbe(json, size);
  if (!info.video) {
    const what = info.warnings[0] ?? 'no video stream';
    const audio = info.audio.length > 0 ? `${info.audio.length} audio stream(s) only` : what;
    throw new TiercastError('NO_VIDEO_STREAM', `${name}: nothing to transcode: ${info.videoStreamCount > 0 ? what : audio}`, {
      details: { file, container: info.container, audioStreams: info.audio.length },
    });
  }

  const limit = samplePacketsFor(info.video.width, info.video.height);
  const sampled = await runProbe(ffprobe, [...frameSampleArgs(info.video.index, limit), ...inputGuardArgs(info.container), target], options.signal);
  let sampleJson: unknown = null;
  try {
    sampleJson = JSON.parse(sampled.stdout);
  } catch {
    // Treated as an empty sample below.
  }
  const sample = parseFrameSample(sampleJson, limit, sampled.stderr);
  if (sample.packets > 0 && sample.decodedFrames === 0) {
    const why = sample.decoderErrors[0] ?? stderrReason(sampled.stderr, target);
    throw new TiercastError('DECODE_FAILED', `${name}: no video frame could be decoded (ffprobe: ${why})`, {
      details: { file, packets: sample.packets, decoderErrors: sample.decoderErrors },
    });
  }
  info = applyFrameSample(info, sample);
  return info;
}
