/**
 * Loudness (EBU R128): the measurement every job makes of each audio track and the two-pass normalisation a
 * ladder can ask for (pure: filter strings and parsers of ffmpeg's output).
 *
 * Measurement is ffmpeg's ebur128 filter with true peak (4x oversampling) on the stereo mix the outputs carry
 * (the same `aformat` downmix the encode uses), in a separate audio-only decode before the encode: the measured
 * values must be known before the encode starts when the ladder normalises, and an audio decode costs a few per
 * cent of a video encode (bench/loudness.bench.ts). Normalisation is loudnorm's two-pass method: the first pass
 * (in that same decode) prints input_i/tp/lra/thresh, the encode applies them with `linear=true`, which is one
 * gain for the whole programme when the true-peak ceiling allows it (loudnorm falls back to its dynamic mode
 * otherwise). The AAC encode then adds a little to the true peak, so loudnorm aims 0.5 dB below the ceiling.
 */

export const LOUDNESS_PRESETS = {
  broadcast: { integratedLufs: -23, truePeakDbtp: -1 },
  streaming: { integratedLufs: -16, truePeakDbtp: -1 },
} as const;

export type LoudnessPreset = keyof typeof LOUDNESS_PRESETS;
export type LoudnessSetting = LoudnessPreset | 'off';
export const LOUDNESS_SETTINGS: readonly LoudnessSetting[] = ['off', 'broadcast', 'streaming'];

/** How far from the target an output may measure, in LU, and the margin loudnorm keeps below the ceiling for AAC. */
export const LOUDNESS_TOLERANCE_LU = 1;
export const AAC_PEAK_HEADROOM_DB = 0.5;
/** loudnorm's upper bound for the loudness range target in ffmpeg 5.1; with it, linear mode is never refused for LRA. */
const LOUDNORM_MAX_LRA = 20;

export interface LoudnessMeasure {
  /** Integrated loudness, LUFS (null for silence: R128 gating leaves nothing to integrate). */
  readonly integratedLufs: number | null;
  /** Maximum true peak over the channels, dBTP (null for digital silence). */
  readonly truePeakDbtp: number | null;
  /** Loudness range, LU. */
  readonly lraLu: number;
}

/** loudnorm's first-pass figures, fed to the second pass. */
export interface LoudnormFirstPass {
  readonly inputI: number;
  readonly inputTp: number;
  readonly inputLra: number;
  readonly inputThresh: number;
  readonly targetOffset: number;
}

export interface LoudnessTarget {
  readonly preset: LoudnessPreset;
  readonly integratedLufs: number;
  readonly truePeakDbtp: number;
}

export interface TrackLoudness {
  /** The source track (its stereo mix), as measured before encoding. */
  readonly source: LoudnessMeasure;
  /** Normalisation asked for, null when the ladder's loudness is off. */
  readonly target: LoudnessTarget | null;
  /** The encoded AAC track measured after encoding (only when normalising). */
  readonly output: LoudnessMeasure | null;
  /** What loudnorm did: one gain (linear) or its dynamic mode (the ceiling did not allow one gain); null when off. */
  readonly normalization: 'linear' | 'dynamic' | null;
}

export function loudnessTarget(setting: LoudnessSetting | undefined | null): LoudnessTarget | null {
  if (!setting || setting === 'off') return null;
  return { preset: setting, ...LOUDNESS_PRESETS[setting] };
}

/** The downmix the encode applies before anything else, so measurement and normalisation see what is delivered. */
export const STEREO_MIX = 'aformat=channel_layouts=stereo';

/** First-pass audio filter: the R128 measurement, plus loudnorm's own first pass when normalising. */
export function measureFilter(target: LoudnessTarget | null): string {
  const parts = [STEREO_MIX, 'ebur128=peak=true:framelog=verbose'];
  if (target) parts.push(`${loudnormBase(target)}:print_format=json`);
  return parts.join(',');
}

function loudnormBase(t: LoudnessTarget): string {
  return `loudnorm=I=${t.integratedLufs}:TP=${t.truePeakDbtp - AAC_PEAK_HEADROOM_DB}:LRA=${LOUDNORM_MAX_LRA}`;
}

/** Second-pass filter for the encode: the measured values applied with linear gain. */
export function normalizeFilter(target: LoudnessTarget, first: LoudnormFirstPass): string {
  const f = (n: number) => n.toFixed(2);
  return [
    STEREO_MIX,
    `${loudnormBase(target)}:measured_I=${f(first.inputI)}:measured_TP=${f(first.inputTp)}:measured_LRA=${f(first.inputLra)}` +
      `:measured_thresh=${f(first.inputThresh)}:offset=${f(first.targetOffset)}:linear=true`,
  ].join(',');
}

function numberAfter(text: string, label: RegExp): number | null {
  const m = label.exec(text);
  if (!m) return null;
  const v = m[1]!;
  if (/^-inf$/i.test(v)) return -Infinity;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/** The last `Summary:` block ebur128 logs at info level. Null when the text holds none. */
export function parseEbur128Summary(stderr: string): LoudnessMeasure | null {
  const at = stderr.lastIndexOf('Summary:');
  if (at < 0) return null;
  const s = stderr.slice(at);
  const i = numberAfter(s, /\bI:\s+(-?[\d.]+|-inf)\s+LUFS/);
  const lra = numberAfter(s, /\bLRA:\s+(-?[\d.]+)\s+LU\b/);
  const peak = numberAfter(s, /\bPeak:\s+(-?[\d.]+|-inf)\s+dBFS/);
  if (i === null || lra === null) return null;
  // ebur128 prints -70 LUFS (its absolute gate) or -inf for programmes with nothing above the gate.
  return { integratedLufs: i <= -70 ? null : i, truePeakDbtp: peak === null || peak === -Infinity ? null : peak, lraLu: lra };
}

/** loudnorm's `print_format=json` block (the last one in the text). */
export function parseLoudnormJson(stderr: string): (LoudnormFirstPass & { normalizationType: string | null }) | null {
  const at = stderr.lastIndexOf('"input_i"');
  if (at < 0) return null;
  const start = stderr.lastIndexOf('{', at);
  const end = stderr.indexOf('}', at);
  if (start < 0 || end < 0) return null;
  let obj: Record<string, unknown>;
  try {
    obj = JSON.parse(stderr.slice(start, end + 1)) as Record<string, unknown>;
  } catch {
    return null;
  }
  const n = (k: string) => Number(obj[k]);
  const vals = { inputI: n('input_i'), inputTp: n('input_tp'), inputLra: n('input_lra'), inputThresh: n('input_thresh'), targetOffset: n('target_offset') };
  if (!Object.values(vals).every(Number.isFinite)) return null;
  return { ...vals, normalizationType: typeof obj.normalization_type === 'string' ? obj.normalization_type : null };
}

/**
 * Whether loudnorm can use one gain: it refuses linear mode when that gain would push the true peak over its
 * ceiling. Mirrors af_loudnorm.c's test so the report can say which mode ran.
 */
export function expectedNormalization(target: LoudnessTarget, first: LoudnormFirstPass): 'linear' | 'dynamic' {
  const offset = target.integratedLufs - first.inputI;
  const ceiling = target.truePeakDbtp - AAC_PEAK_HEADROOM_DB;
  return first.inputTp + offset <= ceiling && first.inputLra <= LOUDNORM_MAX_LRA ? 'linear' : 'dynamic';
}

/** Why an output misses its target (more than 1 LU off, or over the true-peak ceiling); null when it meets it. */
export function loudnessMiss(target: LoudnessTarget, output: LoudnessMeasure): string | null {
  if (output.integratedLufs === null) return `the output is silent, target ${target.integratedLufs} LUFS`;
  const off = output.integratedLufs - target.integratedLufs;
  if (Math.abs(off) > LOUDNESS_TOLERANCE_LU) {
    return `the output measures ${output.integratedLufs.toFixed(1)} LUFS, ${Math.abs(off).toFixed(1)} LU from the ${target.integratedLufs} LUFS target (tolerance ${LOUDNESS_TOLERANCE_LU} LU)`;
  }
  if (output.truePeakDbtp !== null && output.truePeakDbtp > target.truePeakDbtp) {
    return `the output's true peak is ${output.truePeakDbtp.toFixed(1)} dBTP, above the ${target.truePeakDbtp} dBTP ceiling`;
  }
  return null;
}
