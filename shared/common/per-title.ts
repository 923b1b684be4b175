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
  /** Bits per second the encode spent. */
  readonly bitrate: number;
  readonly quality: number;
  /** The rate the encoder was asked for (a trial on easy content spends less than it is given); absent: `bitrate`. */
  readonly target?: number;
}

/** A rung chosen from the trials: `bitrate` is its target rate, `quality` what the trials predict for it. */
export interface ChosenPoint extends RatePoint {
  readonly why: string;
}

export interface RungChoiceOptions {
  readonly metric: QualityMetric;
  /** The base ladder's rungs fitted to this source (size and target rate), top first: the quality to match per size. */
  readonly base: readonly { readonly width: number; readonly height: number; readonly bitrate: number }[];
  /** Quality no viewer can tell from the source: no rung need go past it (default by metric). */
  readonly ceiling?: number;
  /** How far below the base rung's trial quality a rung may land: the noise of the measurement (default by metric). */
  readonly tolerance?: number;
}

/** SSIM (0..1) in dB; a perfect match is capped at 60 dB. */
export function ssimToDb(ssim: number): number {
  return Math.min(60, -10 * Math.log10(Math.max(1e-6, 1 - ssim)));
}

/**
 * Defaults per metric: the ceiling past which viewers see no difference (VMAF 95; SSIM 0.996, 24 dB), where a rung
 * stops even if the metric could still climb (clean synthetic pictures head towards lossless), and the tolerance
 * of a matched rung: what repeated trials of one picture scatter by (bench/README.md "per-title").
 */
export const METRIC_DEFAULTS: Readonly<Record<QualityMetric, { ceiling: number; tolerance: number }>> = {
  'ssim-db': { ceiling: 24, tolerance: 0.1 },
  vmaf: { ceiling: 95, tolerance: 0.5 },
};

/** A rung spends at least this many times the rate of the rung below it (players order variants by bandwidth). */
export const MIN_STEP = 1.15;

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

/** One size's trials as (target rate, spent rate, quality), by ascending target. */
export type Trial = { target: number; spent: number; quality: number };

function trialsOf(points: readonly RatePoint[], width: number, height: number): Trial[] {
  return points
    .filter((p) => p.width === width && p.height === height && p.bitrate > 0 && Number.isFinite(p.quality))
    .map((p) => ({ target: p.target ?? p.bitrate, spent: p.bitrate, quality: p.quality }))
    .sort((a, b) => a.target - b.target);
}

/** Linear in log2 target rate between two trials. */
function between(a: Trial, b: Trial, target: number): { spent: number; quality: number } {
  const f = b.target === a.target ? 1 : (lg(target) - lg(a.target)) / (lg(b.target) - lg(a.target));
  return { spent: a.spent * (b.spent / a.spent) ** f, quality: a.quality + f * (b.quality - a.quality) };
}

/** A size's trial quality at a target rate: interpolated between trials, flat outside them (never extrapolated). */
export function trialQualityAt(trials: readonly Trial[], target: number): number {
  if (trials.length === 0) throw new Error('trialQualityAt: no trial');
  if (target <= trials[0]!.target) return trials[0]!.quality;
  const i = trials.findIndex((t) => t.target >= target);
  return i < 0 ? trials.at(-1)!.quality : between(trials[i - 1]!, trials[i]!, target).quality;
}

/**
 * The lowest target rate whose trial quality reaches `goal`, found on the straight lines between trials in log
 * rate: rate-quality curves are concave, so a chord lies under the curve and the rate found is, if anything, high
 * (safe for quality). Never below the lowest trial (no extrapolation) nor above `cap`.
 */
export function lowestRateFor(trials: readonly Trial[], goal: number, cap: number): number {
  const i = trials.findIndex((t) => t.quality >= goal);
  if (i < 0) return cap;
  if (i === 0) return Math.min(cap, trials[0]!.target);
  const a = trials[i - 1]!;
  const b = trials[i]!;
  const f = (goal - a.quality) / (b.quality - a.quality);
  return Math.min(cap, a.target * (b.target / a.target) ** f);
}

/**
 * Rungs, top first, one per base rung that earns its place: each size's target rate is the lowest one at which its
 * trials reach what the base rung of that size reaches in the same trials (or the transparency ceiling, when
 * that is lower), within the metric's tolerance; never above the base rung's rate, so quality per matched rung is
 * never worse and easy content spends less. A rung is dropped when the rung below it (as chosen) already reaches
 * the quality it has to deliver; the smallest size always stays (the rung for poor networks). Each rung spends at
 * least MIN_STEP times the rung below: a rung that would not, yet gives more quality, replaces the rung below (the
 * hull says the larger size is better at that rate), except the floor, above which it is raised instead.
 */
export function chooseRungs(points: readonly RatePoint[], options: RungChoiceOptions): ChosenPoint[] {
  const defaults = METRIC_DEFAULTS[options.metric];
  const ceiling = options.ceiling ?? defaults.ceiling;
  const tolerance = options.tolerance ?? defaults.tolerance;
  const candidates = options.base.flatMap((b) => {
    const trials = trialsOf(points, b.width, b.height);
    if (trials.length === 0) return [];
    const reached = trialQualityAt(trials, b.bitrate);
    const goal = Math.min(reached, ceiling) - tolerance;
    // Rounded up: a rate a bit short of the goal is a rung a bit worse than the base one.
    const target = Math.ceil(lowestRateFor(trials, goal, b.bitrate));
    const quality = round2(trialQualityAt(trials, target));
    const why =
      reached > ceiling
        ? `reaches transparency (${ceiling}) at ${kb(target)} of the base rung's ${kb(b.bitrate)}`
        : `matches the base rung's ${round2(reached)} (within ${tolerance}) at ${kb(target)} of its ${kb(b.bitrate)}`;
    return [{ width: b.width, height: b.height, bitrate: target, quality, goal, why }];
  });
  // Bottom up: the smallest size stays; a rung whose goal the kept rung below already reaches is dropped.
  const kept: (ChosenPoint & { goal: number })[] = [];
  for (const c of [...candidates].reverse()) {
    for (;;) {
      const below = kept[0];
      if (below && below.quality >= c.goal) break;
      if (!below || c.bitrate >= below.bitrate * MIN_STEP) {
        kept.unshift(c);
        break;
      }
      // This rung costs about what the one below does and gives more: the one below is of no use (unless it is the floor).
      if (kept.length > 1 && c.quality > below.quality) {
        kept.shift();
        continue;
      }
      kept.unshift({ ...c, bitrate: Math.ceil(below.bitrate * MIN_STEP), why: `${c.why}; raised to ${MIN_STEP}x the rung below` });
      break;
    }
  }
  if (kept.length > 0) kept[kept.length - 1] = { ...kept.at(-1)!, why: `${kept.at(-1)!.why}; the rung for poor networks` };
  return kept.map(({ goal: _goal, ...c }) => c);
}

const kb = (b: number) => `${Math.round(b / 1000)} kb/s`;

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
 * Windows to sample: 3 spread evenly over the source (4 from 2 minutes on), centred in equal slices so the opening
 * titles and end credits weigh no more than the rest, together about `share` of the duration, each 0.5-2 s: the
 * trials cost about twice the sample's share of the encode, so the analysis stays under 15 % of it from about a
 * minute of source on (bench/README.md); a shorter source still gets windows long enough to judge (0.5 s each).
 */
export function planWindows(durationSec: number, share = 0.025): { startSec: number; durationSec: number }[] {
  if (!(durationSec > 0)) return [];
  const count = durationSec < 120 ? 3 : 4;
  const length = Math.min(2, Math.max(0.5, (durationSec * share) / count), durationSec / count);
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
