import { execFile } from 'node:child_process';
import path from 'node:path';
import { TiercastError } from '../common/errors.ts';
import { fileUrl } from '../common/ffmpeg-args.ts';
import {
  expectedNormalization,
  loudnessMiss,
  measureFilter,
  normalizeFilter,
  parseEbur128Summary,
  parseLoudnormJson,
  type LoudnessMeasure,
  type LoudnessTarget,
  type LoudnormFirstPass,
  type TrackLoudness,
} from '../common/loudness.ts';
import { OutputVerifyError } from './verify.ts';

export interface MeasuredTrack {
  readonly measure: LoudnessMeasure;
  /** loudnorm's first pass, when a target was given. */
  readonly firstPass: LoudnormFirstPass | null;
  readonly seconds: number;
}

/**
 * One audio-only decode of `input`'s stream `streamIndex` (or its first audio stream) through ebur128 (true peak)
 * and, with a target, loudnorm's first pass. ebur128 and loudnorm print their results at info level, so this
 * process runs at `-loglevel info` with ebur128's per-frame lines pushed down to verbose.
 */
export function measureLoudness(
  ffmpeg: string,
  input: string,
  options: { streamIndex?: number; target?: LoudnessTarget | null; signal?: AbortSignal } = {},
): Promise<MeasuredTrack> {
  const started = performance.now();
  const map = options.streamIndex === undefined ? '0:a:0' : `0:${options.streamIndex}`;
  const args = ['-nostdin', '-hide_banner', '-nostats', '-loglevel', 'info', '-i', fileUrl(input), '-map', map, '-vn', '-sn', '-dn', '-filter:a', measureFilter(options.target ?? null), '-f', 'null', '-'];
  return new Promise((resolve, reject) => {
    execFile(ffmpeg, args, { maxBuffer: 16 * 1024 * 1024, windowsHide: true, ...(options.signal ? { signal: options.signal } : {}) }, (err, _stdout, stderr) => {
      if (options.signal?.aborted) return reject(new TiercastError('CANCELLED', 'loudness measurement cancelled', { cause: options.signal.reason }));
      const measure = parseEbur128Summary(stderr);
      // Silence (or under 0.4 s of sound) has no integrated loudness: there is nothing to normalise.
      const audible = measure !== null && measure.integratedLufs !== null;
      const firstPass = options.target && audible ? parseLoudnormJson(stderr) : null;
      if (err || !measure || (options.target && audible && !firstPass)) {
        const last = stderr.split('\n').map((l) => l.trim()).filter(Boolean).at(-1) ?? 'no output';
        return reject(new TiercastError('ENCODE_FAILED', `loudness measurement of audio stream ${map} failed: ${last}`, { cause: err ?? undefined }));
      }
      resolve({ measure, firstPass, seconds: (performance.now() - started) / 1000 });
    });
  });
}

export interface LoudnessPlan {
  readonly target: LoudnessTarget | null;
  /** Per source audio stream index: what the source measured, and loudnorm's first pass when normalising. */
  readonly tracks: ReadonlyMap<number, MeasuredTrack>;
  /** The encode's audio filter per source stream index (empty when not normalising). */
  readonly filters: ReadonlyMap<number, string>;
  /** Wall seconds the measurement decodes took. */
  readonly seconds: number;
  /** Tracks left as they are although a target was asked for (silent or too short to measure). */
  readonly warnings: readonly string[];
}

/** Measures every audio stream the job carries (one decode each) and, with a target, the second-pass filters. */
export async function planLoudness(ffmpeg: string, input: string, streamIndexes: readonly number[], target: LoudnessTarget | null, signal?: AbortSignal): Promise<LoudnessPlan> {
  const tracks = new Map<number, MeasuredTrack>();
  const filters = new Map<number, string>();
  const warnings: string[] = [];
  let seconds = 0;
  for (const index of streamIndexes) {
    const m = await measureLoudness(ffmpeg, input, { streamIndex: index, target, signal });
    tracks.set(index, m);
    seconds += m.seconds;
    if (target && m.firstPass) filters.set(index, normalizeFilter(target, m.firstPass));
    else if (target) warnings.push(`audio stream ${index} is silent or too short to measure (R128 integrates 0.4 s blocks): not normalised`);
  }
  return { target, tracks, filters, seconds, warnings };
}

/**
 * Measures each normalised output track (its HLS playlist, init and segments as written) and fails the job with
 * OUTPUT_VERIFY_FAILED when one is more than 1 LU from the target or above the true-peak ceiling.
 */
export async function verifyLoudness(ffmpeg: string, target: LoudnessTarget, playlists: readonly { readonly sourceIndex: number; readonly file: string }[], signal?: AbortSignal): Promise<Map<number, LoudnessMeasure>> {
  const out = new Map<number, LoudnessMeasure>();
  for (const p of playlists) {
    const { measure } = await measureLoudness(ffmpeg, p.file, { signal });
    const miss = loudnessMiss(target, measure);
    if (miss) throw new OutputVerifyError(`audio ${path.basename(p.file)}: ${miss}`, { target, measured: measure });
    out.set(p.sourceIndex, measure);
  }
  return out;
}

/** The report's view of one track. */
export function trackLoudness(plan: LoudnessPlan, sourceIndex: number, output: LoudnessMeasure | null): TrackLoudness | null {
  const m = plan.tracks.get(sourceIndex);
  if (!m) return null;
  return {
    source: m.measure,
    target: plan.target,
    output,
    normalization: plan.target && m.firstPass ? expectedNormalization(plan.target, m.firstPass) : null,
  };
}
