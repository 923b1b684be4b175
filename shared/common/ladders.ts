import { CODEC_INFO, type VideoCodec } from './codecs.ts';
import { TiercastError } from './errors.ts';
import { LadderSchema, type FittedLadder, type FittedRung, type Ladder, type LadderInput, type Rung } from './ladder-schema.ts';
import type { MediaInfo } from './media.ts';

/**
 * Named ladders (data, validated by LadderSchema at load) and the fitting of a ladder to one source.
 *
 * A rung is a 16:9 box named by its short edge (1080p = 1920x1080, or 1080x1920 for portrait sources). The
 * source is fitted inside the box keeping its display aspect ratio, so a 2.39:1 film gets 1920x804 for 1080p
 * rather than losing the rung, and a 4:3 source gets 1440x1080.
 */

const kbps = (k: number) => k * 1000;

/** A rung with capped VBR limits: maxrate `peak` x, bufsize `buffer` x the average. */
function rung(name: string, shortEdge: number, bitrateKbps: number, opts: { peak?: number; buffer?: number; profile?: Rung['profile']; maxFps?: number | null } = {}): LadderInput['rungs'][number] {
  const videoBitrate = kbps(bitrateKbps);
  return {
    name,
    shortEdge,
    videoBitrate,
    maxrate: Math.round(videoBitrate * (opts.peak ?? 1.1)),
    bufsize: Math.round(videoBitrate * (opts.buffer ?? 1.5)),
    profile: opts.profile ?? 'high',
    maxFps: opts.maxFps ?? null,
  };
}

const LADDER_INPUTS: readonly LadderInput[] = [
  {
    name: 'default',
    description: 'Apple HLS authoring spec style H.264 ladder, 1080p down to 234p, no 4K; the two smallest rungs at most 30 fps',
    segmentSeconds: 4,
    audio: { bitrate: 128_000, channels: 2, sampleRate: 48_000 },
    rungs: [
      rung('1080p', 1080, 6000),
      rung('720p', 720, 3000),
      rung('540p', 540, 2000),
      rung('432p', 432, 1100),
      rung('360p', 360, 730, { profile: 'main', maxFps: 30 }),
      rung('234p', 234, 365, { profile: 'main', maxFps: 30 }),
    ],
  },
  {
    name: 'reference',
    description: 'The reference architecture ladder: 2160p 20 Mb/s, 1080p 8, 720p 5, 480p 2.5, 360p 1 (maxrate 1.07x, bufsize 1.5x)',
    segmentSeconds: 4,
    audio: { bitrate: 128_000, channels: 2, sampleRate: 48_000 },
    rungs: [
      rung('2160p', 2160, 20_000, { peak: 1.07 }),
      rung('1080p', 1080, 8000, { peak: 1.07 }),
      rung('720p', 720, 5000, { peak: 1.07 }),
      rung('480p', 480, 2500, { peak: 1.07 }),
      rung('360p', 360, 1000, { peak: 1.07, profile: 'main' }),
    ],
  },
  {
    name: 'mobile',
    description: 'Cellular-friendly ladder: 720p down to 240p, at most 30 fps, small buffers for fast starts',
    segmentSeconds: 4,
    audio: { bitrate: 96_000, channels: 2, sampleRate: 48_000 },
    rungs: [
      rung('720p', 720, 2500, { buffer: 1.2, maxFps: 30 }),
      rung('480p', 480, 1200, { buffer: 1.2, profile: 'main', maxFps: 30 }),
      rung('360p', 360, 700, { buffer: 1.2, profile: 'main', maxFps: 30 }),
      rung('240p', 240, 300, { buffer: 1.2, profile: 'main', maxFps: 30 }),
    ],
  },
];

export const DEFAULT_LADDER_NAME = 'default';

/** The built-in ladders, validated once when this module loads (a broken built-in fails every test at once). */
export const LADDERS: Readonly<Record<string, Ladder>> = Object.freeze(
  Object.fromEntries(LADDER_INPUTS.map((input) => [input.name, parseLadder(input)])),
);

export function getLadder(name: string): Ladder {
  const ladder = Object.hasOwn(LADDERS, name) ? LADDERS[name] : undefined;
  if (!ladder) {
    throw new TiercastError('CONFIG_INVALID', `unknown ladder "${name}"; known ladders: ${Object.keys(LADDERS).join(', ')}`, {
      details: { ladder: name, known: Object.keys(LADDERS) },
    });
  }
  return ladder;
}

/** Validates a ladder document; the error names each bad field (`rungs.1.maxrate: ...`). */
export function parseLadder(json: unknown, source = 'ladder'): Ladder {
  const result = LadderSchema.safeParse(json);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
    throw new TiercastError('CONFIG_INVALID', `${source} is invalid: ${problems.join('; ')}`, { details: { problems } });
  }
  const names = new Set<string>();
  // A size may appear once per codec family (AV1 720p beside its H.264 fallback).
  const sizes = new Set<string>();
  for (const [i, r] of result.data.rungs.entries()) {
    if (names.has(r.name)) throw new TiercastError('CONFIG_INVALID', `${source} is invalid: rungs.${i}.name: "${r.name}" is used twice`);
    const size = `${r.codec}:${r.shortEdge}`;
    if (sizes.has(size)) {
      const family = r.codec === 'h264' ? '' : ` for ${r.codec}`;
      throw new TiercastError('CONFIG_INVALID', `${source} is invalid: rungs.${i}.shortEdge: ${r.shortEdge} is used twice${family}`);
    }
    names.add(r.name);
    sizes.add(size);
  }
  return { ...result.data, rungs: [...result.data.rungs].sort((a, b) => b.shortEdge - a.shortEdge) };
}

export type Preset = NonNullable<Ladder['preset']>;

/**
 * x264 preset by source duration (the reference architecture's rule): short clips are encoded for turnaround,
 * long videos, watched longer and delivered more, are worth more CPU per byte saved.
 */
export const PRESET_TABLE: readonly { readonly belowSec: number; readonly preset: Preset }[] = [
  { belowSec: 120, preset: 'veryfast' },
  { belowSec: 600, preset: 'faster' },
  { belowSec: 1800, preset: 'medium' },
  { belowSec: Number.POSITIVE_INFINITY, preset: 'slow' },
];

export function choosePreset(durationSec: number): { preset: Preset; reason: string } {
  const row = PRESET_TABLE.find((r) => durationSec < r.belowSec) ?? PRESET_TABLE[PRESET_TABLE.length - 1]!;
  const reason = Number.isFinite(row.belowSec)
    ? `source is ${formatSeconds(durationSec)}, under ${formatSeconds(row.belowSec)}`
    : `source is ${formatSeconds(durationSec)}, 30 min or longer`;
  return { preset: row.preset, reason };
}

function formatSeconds(s: number): string {
  return s < 120 ? `${Math.round(s * 10) / 10} s` : `${Math.round((s / 60) * 10) / 10} min`;
}

/** Never above this frame rate, whatever the source (CFR output). */
export const MAX_OUTPUT_FPS = 60;
/** Ladder bitrates are written for 24-30 fps; outside that band they scale with (fps / band edge)^this. */
const FPS_BITRATE_EXPONENT = 0.6;
/** Bits grow less than linearly with pixels (larger pictures compress better per pixel). */
const AREA_BITRATE_EXPONENT = 0.75;
/** A capped rung whose bitrate is within this fraction of the rung above adds no useful step. */
const MIN_STEP_RATIO = 0.75;
/** Never cap a rung below this, however starved the source (tiny files measure oddly). */
const MIN_CAP_BITRATE = 64_000;
/**
 * How many H.264 bits one bit of the source's codec is worth at like quality (rough industry rules of thumb:
 * HEVC and VP9 save 35-50 %, AV1 about half, MPEG-2 needs nearly twice H.264's bits). The bitrate cap is the
 * source's bitrate times this: an AV1 source at 0.85 Mb/s holds detail an H.264 rung needs about 1.7 Mb/s for.
 * Intra-only and mezzanine codecs (ProRes, DNxHD, MJPEG, raw...) spend bits so freely that they set no cap.
 */
export const H264_BITS_PER_SOURCE_BIT: Readonly<Record<string, number>> = {
  h264: 1,
  hevc: 1.6,
  vp9: 1.5,
  av1: 2,
  vvc: 2.2,
  vp8: 1,
  mpeg4: 0.8,
  msmpeg4v3: 0.75,
  mpeg2video: 0.6,
  mpeg1video: 0.5,
  h263: 0.6,
  wmv3: 0.85,
  vc1: 0.85,
  theora: 0.8,
};
const UNCAPPED_SOURCE_CODECS = new Set([
  'prores', 'dnxhd', 'mjpeg', 'rawvideo', 'ffv1', 'huffyuv', 'cfhd', 'jpeg2000', 'png', 'qtrle', 'v210', 'utvideo', 'dvvideo', 'hap',
]);
/** A box within this fraction of the source's size is encoded at the source's size, not shrunk by a few pixels. */
const SNAP_TO_SOURCE = 0.95;
/** When the ladder's largest fitting rung is this much smaller than the source, the next rung up is kept at source size. */
const SOURCE_RUNG_GAP = 1.15;
const COMMON_RATES = [24, 25, 30, 48, 50, 60];

const even = (n: number) => Math.max(2, 2 * Math.floor(n / 2));
const evenRound = (n: number) => Math.max(2, 2 * Math.round(n / 2));

/** Output rate for one rung: CFR, at most the rung's cap, a whole divisor of the source's rate when capped. */
function outputFps(sourceFps: number, vfr: boolean, cap: number): { fps: number; note: string | null } {
  let fps = sourceFps;
  let note: string | null = null;
  if (vfr) {
    // Phones record VFR around a nominal rate; 27.6 fps on average was shot as 30.
    fps = COMMON_RATES.find((r) => r >= sourceFps * 0.95) ?? MAX_OUTPUT_FPS;
    note = `variable frame rate source (avg ${sourceFps.toFixed(2)} fps) encoded at constant ${fps} fps`;
  }
  if (fps > cap + 0.01) {
    const n = Math.ceil(fps / cap - 0.001);
    const capped = fps / n;
    note = `${round3(fps)} fps ${n === 1 ? 'capped' : `halved${n > 2 ? ` (/${n})` : ''}`} to ${round3(capped)} fps`;
    fps = n === 1 ? cap : capped;
  }
  return { fps: round3(fps), note };
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;

function fpsFactor(fps: number): number {
  if (fps > 30) return (fps / 30) ** FPS_BITRATE_EXPONENT;
  // 23.976 is film rate, inside the band.
  if (fps < 23.9) return Math.max(0.5, (fps / 24) ** FPS_BITRATE_EXPONENT);
  return 1;
}

const mbps = (b: number) => `${(b / 1_000_000).toFixed(2)} Mb/s`;

interface Candidate {
  rung: Rung;
  width: number;
  height: number;
  /** The box is larger than the source in some dimension (fitting it would upscale). */
  exceeds: boolean;
}

/**
 * Fits a ladder to a source. Rules, in order:
 * - never upscale: a rung whose box is larger than the source is dropped, except (a) when no rung fits, the
 *   smallest is kept at the source's size, and (b) when the largest fitting rung is well below the source
 *   (>= 1.15x: PAL 576 lines over a 480p rung), the next rung up is kept at the source's size so the best rendition is not needlessly small;
 * - display aspect ratio kept, even dimensions, portrait sources get portrait rungs (rotation and SAR applied);
 * - bitrates scale with picture area (vs the 16:9 box) and frame rate (above 30 or below 24 fps);
 * - no rung above the source's own video bitrate, counted in H.264 bits (H264_BITS_PER_SOURCE_BIT: an AV1 or HEVC
 *   source is worth more, MPEG-2 less; intra/mezzanine codecs set no cap): each is capped there (the encoder cannot
 *   add detail the source lacks), and a capped rung that is then within 25% of the rung above is dropped, since it offers players no
 *   real bandwidth step;
 * - duplicates (same output size) dropped; fps kept up to the rung's cap (60 at most), CFR;
 * - audio null when the source has none.
 */
export function fitLadder(media: MediaInfo, ladder: Ladder, options: { preset?: string | null } = {}): FittedLadder {
  const families = codecFamilies(ladder);
  if (families.length > 1) return fitFamilies(media, ladder, families, options);
  const video = media.video;
  if (!video) throw new TiercastError('NO_VIDEO_STREAM', 'the source has no video stream to fit a ladder to');
  const srcW = video.displayWidth;
  const srcH = video.displayHeight;
  const srcShort = Math.min(srcW, srcH);
  const srcLong = Math.max(srcW, srcH);
  const rungs = [...ladder.rungs].sort((a, b) => b.shortEdge - a.shortEdge);
  const dropped: { name: string; reason: string }[] = [];

  const candidates: Candidate[] = rungs.map((r) => {
    const boxShort = r.shortEdge;
    const boxLong = evenRound((r.shortEdge * 16) / 9);
    const scale = Math.min(boxShort / srcShort, boxLong / srcLong);
    if (scale >= 1) return { rung: r, width: even(srcW), height: even(srcH), exceeds: scale > 1.0001 };
    let width = evenRound(srcW * scale);
    let height = evenRound(srcH * scale);
    if (width >= srcW * SNAP_TO_SOURCE && height >= srcH * SNAP_TO_SOURCE) [width, height] = [even(srcW), even(srcH)];
    return { rung: r, width: Math.min(width, even(srcW)), height: Math.min(height, even(srcH)), exceeds: false };
  });

  const fitting = candidates.filter((c) => !c.exceeds);
  const above = candidates.filter((c) => c.exceeds);
  const keepAtSource = new Set<Candidate>();
  const nearestAbove = above.at(-1);
  if (nearestAbove) {
    const largestFit = fitting[0];
    const largestShort = largestFit ? Math.min(largestFit.width, largestFit.height) : 0;
    if (!largestFit || srcShort >= largestShort * SOURCE_RUNG_GAP) keepAtSource.add(nearestAbove);
  }
  for (const c of above) {
    if (!keepAtSource.has(c)) dropped.push({ name: c.rung.name, reason: `would upscale: the source is ${srcW}x${srcH}` });
  }

  const sourceBitrate = video.bitrate ?? (media.audio.length === 0 ? media.bitrate : null);
  const codec = video.codec.toLowerCase();
  const worth = UNCAPPED_SOURCE_CODECS.has(codec) ? null : (H264_BITS_PER_SOURCE_BIT[codec] ?? 1);
  const h264Cap = worth !== null && sourceBitrate !== null && sourceBitrate > 0 ? Math.max(MIN_CAP_BITRATE, Math.round(sourceBitrate * worth)) : null;
  const family = ladder.rungs[0]?.codec ?? 'h264';
  // The cap is counted in H.264 bits; a more efficient codec reaches that quality with fewer.
  const familyCap = (c: number) => Math.max(MIN_CAP_BITRATE, Math.round(c * CODEC_INFO[family].bitsVsH264));
  const cap = h264Cap === null ? null : familyCap(h264Cap);
  const capWhy =
    worth === null || worth === 1 || sourceBitrate === null
      ? `the source's own ${mbps(cap ?? 0)}`
      : `${mbps(cap ?? 0)}, the source's ${mbps(sourceBitrate)} of ${codec} in H.264 terms (x${worth})`;

  const fitted: FittedRung[] = [];
  const seen = new Map<string, string>();
  let previousBitrate: number | null = null;
  for (const c of candidates) {
    if (c.exceeds && !keepAtSource.has(c)) continue;
    const r = c.rung;
    const notes: string[] = [];
    const key = `${c.width}x${c.height}`;
    const same = seen.get(key);
    if (same) {
      dropped.push({ name: r.name, reason: `same output size (${key}) as ${same}` });
      continue;
    }
    if (c.exceeds) notes.push(`kept at the source's own size ${key} (no upscaling)`);

    const { fps, note: fpsNote } = outputFps(video.fps, video.variableFrameRate, Math.min(r.maxFps ?? MAX_OUTPUT_FPS, MAX_OUTPUT_FPS));
    if (fpsNote) notes.push(fpsNote);

    const boxPixels = r.shortEdge * evenRound((r.shortEdge * 16) / 9);
    const area = Math.min(1, (c.width * c.height) / boxPixels) ** AREA_BITRATE_EXPONENT;
    const motion = fpsFactor(fps);
    let factor = area * motion;
    if (area < 0.98) notes.push(`bitrate x${area.toFixed(2)} for ${key}, smaller than the ${r.name} box`);
    if (motion !== 1) notes.push(`bitrate x${motion.toFixed(2)} for ${fps} fps`);
    let videoBitrate = Math.round(r.videoBitrate * factor);
    let capped = false;
    if (cap !== null && videoBitrate > cap) {
      notes.push(`capped at ${capWhy} (more bits cannot add detail the source lacks)`);
      factor *= cap / videoBitrate;
      videoBitrate = Math.round(cap);
      capped = true;
    }
    if (capped && previousBitrate !== null && videoBitrate > previousBitrate * MIN_STEP_RATIO) {
      dropped.push({ name: r.name, reason: `capped to ${capWhy}, no real step below the rung above (${mbps(previousBitrate)})` });
      continue;
    }
    videoBitrate = Math.max(50_000, videoBitrate);
    seen.set(key, r.name);
    previousBitrate = videoBitrate;
    fitted.push({
      name: r.name,
      width: c.width,
      height: c.height,
      videoBitrate,
      maxrate: Math.max(videoBitrate, Math.round(r.maxrate * factor)),
      bufsize: Math.max(videoBitrate, Math.round(r.bufsize * factor)),
      profile: r.profile,
      fps,
      ...(r.codec === 'h264' ? {} : { codec: r.codec }),
      notes,
    });
  }
  if (fitted.length === 0) throw new TiercastError('INTERNAL', `ladder ${ladder.name} fitted no rung to ${srcW}x${srcH}`);

  const override = options.preset ?? ladder.preset ?? null;
  const chosen = choosePreset(media.durationSec);
  const preset = override ?? chosen.preset;
  const presetReason = options.preset ? 'set for this job' : ladder.preset ? `set by ladder ${ladder.name}` : chosen.reason;

  return {
    ladder: ladder.name,
    segmentSeconds: ladder.segmentSeconds,
    preset,
    presetReason,
    audio: media.audio.length > 0 ? { bitrate: ladder.audio.bitrate, channels: 2, sampleRate: ladder.audio.sampleRate } : null,
    rungs: fitted,
    dropped,
  };
}

/** The codec families of a ladder, in the order its rungs first name them. */
export function codecFamilies(ladder: Ladder): VideoCodec[] {
  return [...new Set(ladder.rungs.map((r) => r.codec ?? 'h264'))];
}

/** Each family is fitted on its own (caps, steps and duplicates are per family), then listed family by family. */
function fitFamilies(media: MediaInfo, ladder: Ladder, families: readonly VideoCodec[], options: { preset?: string | null }): FittedLadder {
  const parts = families.map((codec) => fitLadder(media, { ...ladder, rungs: ladder.rungs.filter((r) => r.codec === codec) }, options));
  return { ...parts[0]!, rungs: parts.flatMap((p) => p.rungs), dropped: parts.flatMap((p) => p.dropped) };
}
