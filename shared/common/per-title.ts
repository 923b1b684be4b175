/**
 * Per-title ladders, the pure part: the rate-quality convex hull of trial encodes and the choice of rungs on it
 * (README "Per-title ladders"). The trial encodes themselves live in shared/node/per-title.ts.
 *
 * Quality is VMAF (0-100) when the ffmpeg build has libvmaf, otherwise SSIM in dB (-10 log10(1 - SSIM)), which,
 * unlike SSIM itself, keeps growing roughly linearly with log bitrate instead of crowding just under 1.
 */

import { type FfmpegCaps, fileUrl, fpsToRational, rationalToString, sourceFilters, sourceRate } from './ffmpeg-args.ts';
import type { FittedLadder, Ladder } from './ladder-schema.ts';
import type { MediaInfo } from './media.ts';
import { parseLadder } from './ladders.ts';

export type QualityMetric = 'vmaf' | 'ssim-db';

/** One trial encode (or a point derived from them): picture size, measured bits per second, quality. */
export interface RatePoint {
  readonly width: number;
  readonly height: number;
  readonly bitrate: number;
  readonly quality: number;
}

/** A rung chosen on the hull; `quality` is what the trials predict for it. */
export interface ChosenPoint extends RatePoint {
  readonly why: string;
}

export interface RungChoiceOptions {
  readonly metric: QualityMetric;
  /** No rung above this (the base ladder's top rung for this source: never spend more than it would). */
  readonly maxBitrate: number;
  /** The lowest rung sits at this bitrate (a rung for poor networks). */
  readonly floorBitrate: number;
  /** Quality gain per doubling of bitrate under which quality counts as saturated (default by metric). */
  readonly saturationPerDoubling?: number;
  /** Quality no viewer can tell from the source: the top rung need not go past it (default by metric). */
  readonly ceiling?: number;
  /** A rung must beat the rung below it by at least this much (default by metric). */
  readonly minQualityGain?: number;
  /** Bitrate ratio between neighbouring rungs: aimed at, and the bounds kept where the span allows. */
  readonly stepTarget?: number;
  readonly maxRungs?: number;
}

/** SSIM (0..1) in dB; a perfect match is capped at 60 dB. */
export function ssimToDb(ssim: number): number {
  return Math.min(60, -10 * Math.log10(Math.max(1e-6, 1 - ssim)));
}

/**
 * Defaults per metric: gains of about a just-noticeable difference (roughly 1 VMAF point is 0.25 dB of SSIM at
 * high quality), and the ceiling past which viewers see no difference (VMAF 95; SSIM 0.996, 24 dB), where a top
 * rung stops even if the metric could still climb (clean synthetic pictures head towards lossless).
 */
export const METRIC_DEFAULTS: Readonly<Record<QualityMetric, { saturationPerDoubling: number; minQualityGain: number; ceiling: number }>> = {
  'ssim-db': { saturationPerDoubling: 0.6, minQualityGain: 0.25, ceiling: 24 },
  vmaf: { saturationPerDoubling: 2, minQualityGain: 1, ceiling: 95 },
};

export const STEP_MIN = 1.5;
export const STEP_MAX = 2;
const STEP_TARGET = 1.75;

const lg = (x: number) => Math.log2(x);

/**
 * The upper convex hull of the points in (log2 bitrate, quality), from the cheapest point up to the best one:
 * ascending bitrate, strictly ascending quality, and each segment no steeper than the one before (concave).
 * A point under the hull is an encode some mix of its neighbours beats, at any resolution.
 */
export function convexHull(points: readonly RatePoint[]): RatePoint[] {
  const valid = points.filter((p) => p.bitrate > 0 && Number.isFinite(p.quality));
  const sorted = [...valid].sort((a, b) => a.bitrate - b.bitrate || b.quality - a.quality);
  const hull: RatePoint[] = [];
  for (const p of sorted) {
    if (hull.length > 0 && p.bitrate === hull.at(-1)!.bitrate) continue;
    while (hull.length >= 2 && !turnsRight(hull.at(-2)!, hull.at(-1)!, p)) hull.pop();
    hull.push(p);
  }
  // The upper hull ends at the rightmost point; past the best quality it only descends.
  const best = hull.reduce((b, p, i) => (p.quality > hull[b]!.quality ? i : b), 0);
  return hull.slice(0, best + 1);
}

/** True when a -> b -> c bends downward (clockwise), so b stays on the upper hull. */
function turnsRight(a: RatePoint, b: RatePoint, c: RatePoint): boolean {
  const cross = (lg(b.bitrate) - lg(a.bitrate)) * (c.quality - a.quality) - (b.quality - a.quality) * (lg(c.bitrate) - lg(a.bitrate));
  return cross < 0;
}

/** Quality per doubling of bitrate along a hull segment. */
function slope(a: RatePoint, b: RatePoint): number {
  return (b.quality - a.quality) / (lg(b.bitrate) - lg(a.bitrate));
}

/** The hull's quality at a bitrate: linear in log2 bitrate between vertices, the end segments extended outside. */
export function hullQualityAt(hull: readonly RatePoint[], bitrate: number): number {
  if (hull.length === 0) throw new Error('hullQualityAt: empty hull');
  if (hull.length === 1) return hull[0]!.quality;
  let i = hull.findIndex((p) => p.bitrate >= bitrate);
  if (i <= 0) i = i === 0 ? 1 : hull.length - 1;
  const a = hull[i - 1]!;
  const b = hull[i]!;
  const q = a.quality + slope(a, b) * (lg(bitrate) - lg(a.bitrate));
  // Above the last vertex quality does not keep climbing.
  return bitrate > hull.at(-1)!.bitrate ? hull.at(-1)!.quality : q;
}

/**
 * The top of the useful range: the first hull vertex after which a doubling of bitrate gains less than the
 * saturation threshold (the hull is concave, so it only flattens from there), at most `maxBitrate`.
 */
export function saturationBitrate(hull: readonly RatePoint[], saturationPerDoubling: number, maxBitrate: number, ceiling = Infinity): { bitrate: number; why: string } {
  const reach = hull.findIndex((p) => p.quality >= ceiling);
  if (reach >= 0) {
    const a = hull[reach - 1];
    const b = hull[reach]!;
    // The rate where the hull crosses the ceiling (interpolated in log rate).
    const at = a ? a.bitrate * 2 ** ((ceiling - a.quality) / slope(a, b)) : b.bitrate;
    const capped = Math.min(at, maxBitrate);
    const gains = hull.slice(0, reach + 1).every((p, i, l) => i === 0 || slope(l[i - 1]!, p) >= saturationPerDoubling);
    if (gains && capped < maxBitrate) return { bitrate: Math.round(capped), why: `reaches ${ceiling} (transparent) at ${kb(capped)}` };
  }
  for (let i = 0; i + 1 < hull.length; i++) {
    const s = slope(hull[i]!, hull[i + 1]!);
    if (s < saturationPerDoubling) {
      const b = Math.min(hull[i]!.bitrate, maxBitrate);
      return { bitrate: b, why: `quality saturates: +${s.toFixed(2)} per doubling above ${kb(hull[i]!.bitrate)}` };
    }
  }
  const last = hull.at(-1)!.bitrate;
  return last >= maxBitrate
    ? { bitrate: maxBitrate, why: `capped at the base ladder's top rate ${kb(maxBitrate)}` }
    : { bitrate: last, why: `best trial (${kb(last)}); quality still climbing there` };
}

const kb = (b: number) => `${Math.round(b / 1000)} kb/s`;

/** Number of equal geometric steps between two rates whose ratio is nearest the target (ties to the 1.5-2x band). */
export function geometricSteps(top: number, floor: number, target = STEP_TARGET): number {
  const span = Math.log(top / floor);
  if (span < Math.log(STEP_MIN)) return 0;
  const candidates = [Math.floor(span / Math.log(target)), Math.ceil(span / Math.log(target))].filter((n) => n >= 1);
  const score = (n: number) => {
    const r = Math.exp(span / n);
    const inBand = r >= STEP_MIN - 1e-9 && r <= STEP_MAX + 1e-9 ? 0 : 1;
    return inBand * 10 + Math.abs(Math.log(r / target));
  };
  return candidates.sort((a, b) => score(a) - score(b))[0] ?? 1;
}

/**
 * The picture size for a rung at a bitrate: among trial sizes smaller than `belowArea` (and at least `aboveArea`), the one whose own
 * rate-quality curve is best there (inside the rates it was tried at), else the size whose extended curve is best
 * there (static pictures cannot spend the rates they are given, so their trials cover narrow ranges). Null when
 * no trial size is small enough.
 */
export function sizeAt(points: readonly RatePoint[], bitrate: number, belowArea = Infinity, aboveArea = 0): { width: number; height: number; quality: number } | null {
  const curves = new Map<string, RatePoint[]>();
  for (const p of points) {
    if (p.width * p.height >= belowArea || p.width * p.height < aboveArea) continue;
    const key = `${p.width}x${p.height}`;
    curves.set(key, [...(curves.get(key) ?? []), p]);
  }
  if (curves.size === 0) return null;
  let best: { width: number; height: number; quality: number; inside: boolean } | null = null;
  for (const list of curves.values()) {
    const curve = convexHull(list);
    if (curve.length === 0) continue;
    const inside = bitrate >= curve[0]!.bitrate && bitrate <= curve.at(-1)!.bitrate;
    // Outside its trials a curve is extended (flat above its best point, its first slope below): a size tried
    // inside the rate wins over one extended to it.
    const q = hullQualityAt(curve, bitrate);
    const better = !best || (inside && !best.inside) || (inside === best.inside && q > best.quality);
    if (better) best = { width: curve[0]!.width, height: curve[0]!.height, quality: q, inside };
  }
  return best ? { width: best.width, height: best.height, quality: best.quality } : null;
}

/**
 * Rungs on the hull, top first: the top where quality saturates (at most maxBitrate), the bottom at the floor
 * rate, geometric steps of about 1.5-2x between them, each rung smaller than the one above, and no rung kept
 * whose predicted quality the rung below already reaches (within minQualityGain). The floor rung always stays.
 */
export function chooseRungs(points: readonly RatePoint[], options: RungChoiceOptions): ChosenPoint[] {
  const hull = convexHull(points);
  if (hull.length === 0) return [];
  const defaults = METRIC_DEFAULTS[options.metric];
  const saturation = options.saturationPerDoubling ?? defaults.saturationPerDoubling;
  const minGain = options.minQualityGain ?? defaults.minQualityGain;
  const maxRungs = options.maxRungs ?? 8;
  const floor = Math.min(options.floorBitrate, options.maxBitrate);
  const top = saturationBitrate(hull, saturation, options.maxBitrate, options.ceiling ?? defaults.ceiling);
  const topRate = Math.max(top.bitrate, floor);

  const sizes = new Set(points.map((p) => p.width * p.height)).size;
  const steps = Math.min(maxRungs - 1, sizes - 1, geometricSteps(topRate, floor, options.stepTarget));
  const rates = steps === 0 ? [topRate] : Array.from({ length: steps + 1 }, (_, i) => topRate * (floor / topRate) ** (i / steps));
  const chosen: ChosenPoint[] = [];
  // Areas largest first: rung i may not take a size that leaves too few smaller ones for the rungs below it.
  const areas = [...new Set(points.map((p) => p.width * p.height))].sort((a, b) => b - a);
  let belowArea = Infinity;
  for (const [i, rate] of rates.entries()) {
    const size = sizeAt(points, rate, belowArea, areas[areas.length - rates.length + i] ?? 0);
    if (!size) break;
    belowArea = size.width * size.height;
    const why = i === 0 ? top.why : i === rates.length - 1 ? 'floor rung for poor networks' : `${(rates[i - 1]! / rate).toFixed(2)}x below the rung above`;
    chosen.push({ width: size.width, height: size.height, bitrate: Math.round(rate), quality: round2(size.quality), why });
  }
  // Sizes ran out before the floor: the smallest rung moves down to the floor rate.
  const last = chosen.at(-1)!;
  if (steps > 0 && last.bitrate > floor * 1.01) {
    const size = sizeAt(points, floor, last.width * last.height + 1)!;
    chosen[chosen.length - 1] = { ...last, bitrate: Math.round(floor), quality: round2(size.quality), why: 'floor rung for poor networks' };
  }
  // Bottom up: drop a rung that does not beat the (kept) rung below by minGain; the lowest stays.
  const kept: ChosenPoint[] = [chosen.at(-1)!];
  for (let i = chosen.length - 2; i >= 0; i--) {
    const c = chosen[i]!;
    if (c.quality - kept[0]!.quality >= minGain) kept.unshift(c);
  }
  return kept;
}

const round2 = (n: number) => Math.round(n * 100) / 100;
/** What the analysis found, for report.json and the console's chart. */
export interface PerTitleAnalysis {
  readonly metric: QualityMetric;
  /** The sampled windows of the source, seconds. */
  readonly windows: readonly { readonly startSec: number; readonly durationSec: number }[];
  readonly trialPreset: string;
  /** Every trial (bits and quality pooled over the windows), the hull, and the rungs chosen on it (top first). */
  readonly points: readonly RatePoint[];
  readonly hull: readonly RatePoint[];
  readonly chosen: readonly ChosenPoint[];
  /** CPU seconds of the analysis's ffmpeg processes (user + system); null where the platform cannot say. */
  readonly cpuSec: number | null;
  readonly elapsedSec: number;
}

export const AUTO_LADDER_NAME = 'auto';

/**
 * Windows to sample: 3 to 5 spread evenly over the source (centred in equal slices, so the opening titles and end
 * credits weigh no more than the rest), together about `share` of the duration, each 0.4-2 s. A long source gets
 * 5 windows of 2 s; a short one gets shorter windows so the analysis stays a small part of the encode.
 */
export function planWindows(durationSec: number, share = 0.05): { startSec: number; durationSec: number }[] {
  if (!(durationSec > 0)) return [];
  const count = durationSec < 30 ? 3 : durationSec < 120 ? 4 : 5;
  const length = Math.min(2, Math.max(0.4, (durationSec * share) / count), durationSec / count);
  return Array.from({ length: count }, (_, i) => {
    const centre = ((i + 0.5) / count) * durationSec;
    const startSec = Math.max(0, Math.min(durationSec - length, centre - length / 2));
    return { startSec: round3(startSec), durationSec: round3(length) };
  });
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;

/**
 * The resolved ladder for a job: one rung per chosen point, named, sized and shaped (profile, frame-rate cap,
 * maxrate and bufsize ratios) like the base ladder's rung of that size, with the bitrate written in the base
 * ladder's terms so that fitting it to the same source gives back the chosen rate (fitLadder scales rates by
 * picture area and frame rate). Validated like any ladder file.
 */
export function autoLadder(base: Ladder, fitted: FittedLadder, chosen: readonly ChosenPoint[]): Ladder {
  const rungs = chosen.map((c) => {
    const f = fitted.rungs.find((r) => r.width === c.width && r.height === c.height);
    const b = f ? base.rungs.find((r) => r.name === f.name) : undefined;
    if (!f || !b) throw new Error(`autoLadder: no base rung is ${c.width}x${c.height}`);
    const videoBitrate = Math.max(50_000, Math.round((c.bitrate * b.videoBitrate) / f.videoBitrate));
    return {
      name: b.name,
      shortEdge: b.shortEdge,
      videoBitrate,
      maxrate: Math.round(videoBitrate * (b.maxrate / b.videoBitrate)),
      bufsize: Math.round(videoBitrate * (b.bufsize / b.videoBitrate)),
      profile: b.profile,
      maxFps: b.maxFps,
    };
  });
  const summary = chosen.map((c) => `${c.height}p ${Math.round(c.bitrate / 1000)}k`).join(', ');
  return parseLadder(
    {
      name: AUTO_LADDER_NAME,
      description: `per-title ladder from ${base.name}: ${summary}`.slice(0, 500),
      segmentSeconds: base.segmentSeconds,
      audio: base.audio,
      preset: base.preset,
      rungs,
    },
    'automatic ladder',
  );
}

/**
 * One ffmpeg command that cuts the windows out of the source and joins them into a lossless sample at the top
 * rung's size and rate, with the transcode's own source fixes (deinterlace, tone-map, CFR): the trials and their
 * scores then read a few seconds of clean 8-bit video instead of seeking and decoding the source again each.
 */
export function buildSampleCommand(a: {
  source: string;
  media: MediaInfo;
  caps: FfmpegCaps;
  windows: readonly { readonly startSec: number; readonly durationSec: number }[];
  width: number;
  height: number;
  fps: number;
  output: string;
}): string[] {
  const video = a.media.video;
  if (!video) throw new Error('buildSampleCommand: the source has no video stream');
  const rate = video.variableFrameRate || a.fps < video.fps - 0.01 ? fpsToRational(a.fps) : sourceRate(video);
  const fixes = sourceFilters(video, a.caps, video.variableFrameRate ? rate : null).filters;
  const args: string[] = ['-autorotate', '1'];
  const chains: string[] = [];
  a.windows.forEach((w, k) => {
    args.push('-ss', String(w.startSec), '-t', String(w.durationSec), '-i', fileUrl(a.source));
    chains.push(`[${k}:${video.index}]${[...fixes, `fps=${rationalToString(rate)}`, `scale=w=${a.width}:h=${a.height}:flags=lanczos`, 'setsar=1', 'format=yuv420p'].join(',')}[w${k}]`);
  });
  const labels = a.windows.map((_, k) => `[w${k}]`).join('');
  chains.push(a.windows.length > 1 ? `${labels}concat=n=${a.windows.length}:v=1:a=0[sample]` : `${labels}null[sample]`);
  args.push('-filter_complex', chains.join(';'), '-map', '[sample]', '-an', '-sn', '-dn', '-map_metadata', '-1');
  args.push('-c:v', 'libx264', '-preset', 'ultrafast', '-qp', '0', '-threads', '1', '-y', fileUrl(a.output));
  return args;
}
