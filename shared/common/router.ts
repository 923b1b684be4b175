import { tierReadiness, tierSpeed, type TiercastConfig } from './config-schema.ts';
import { CODEC_INFO, type VideoCodec } from './codecs.ts';
import { estimateCost, pricesFor, type CostBreakdown, type StorageUse } from './cost.ts';
import { ERROR_CODE_INFO, TiercastError, type ErrorCode } from './errors.ts';
import { TIERS, type JobSpec, type Tier } from './job.ts';
import type { FittedLadder, Ladder } from './ladder-schema.ts';
import { choosePreset } from './ladders.ts';

/**
 * The tier router: pure, deterministic given `random` (or the job id), and every decision says why.
 *
 * Size picks the first candidate (Lambda under 50 MB, the enhanced function under 150 MB, Fargate above), but size
 * alone is a poor signal: a 40 MB ten-minute screen recording at 1080p needs far more encoding than a 40 MB 20-second
 * phone clip. So the router predicts the run time on every tier from the source duration, the output pixels of the
 * fitted ladder, the x264 preset and the tier's measured speed, plus start-up and transfer, and predicts disk
 * (input + outputs + work) and memory, then skips any tier whose time, disk or memory limit the job would exceed.
 */

export interface RouteMedia {
  readonly durationSec: number;
  readonly width: number;
  readonly height: number;
  readonly fps: number;
}

export interface RouteInput {
  readonly sizeBytes: number;
  readonly media: RouteMedia | null;
  readonly ladder: Ladder | FittedLadder;
  readonly requestedTier?: 'auto' | Tier;
  readonly previousFailure?: { readonly tier: Tier; readonly code: ErrorCode };
  /** 0..1; decides the Spot share. Without it `spotKey` (else the job id) is hashed, so the same input always gets the same answer. */
  readonly random?: () => number;
  readonly jobId?: string;
  /**
   * What the Spot draw hashes: spotKeyFor(name, size) of the input. `tiercast route` (no job yet) and `dispatch` /
   * re-dispatch (a job id) both pass it, so one file gets one Spot decision whichever command asks.
   */
  readonly spotKey?: string;
  /** Output formats written (hls, dash); default 2. */
  readonly formatCount?: number;
}

export type RouterConfig = Pick<TiercastConfig, 'tiers' | 'router' | 'prices' | 'aws' | 'store' | 'queue'>;

/** What the job needs, independent of tier. */
export interface Workload {
  readonly durationSec: number;
  readonly sourceMpixPerSec: number;
  /** Output megapixels to encode over the whole job (all rungs, all frames). */
  readonly outputMpix: number;
  readonly sourceMpix: number;
  readonly preset: string;
  /** x264 speed of the preset relative to `medium`. */
  readonly presetSpeed: number;
  /**
   * Speed of the ladder's encoders relative to x264, weighted by the pixels each encodes (1 for an H.264 ladder;
   * CODEC_INFO.speed per family, measured by bench/codecs.bench.ts).
   */
  readonly codecSpeed: number;
  readonly outputBytes: number;
  readonly diskBytes: number;
  readonly memoryMb: number;
  readonly storage: StorageUse;
  /** Guesses the router had to make (no probe, unfitted ladder). */
  readonly assumptions: readonly string[];
}

export interface TierPlan {
  readonly tier: Tier;
  readonly enabled: boolean;
  /** null when the job fits this tier; otherwise why not. */
  readonly blocked: string | null;
  readonly seconds: number;
  readonly costUsd: number;
  readonly cost: CostBreakdown;
  readonly timeLimitSec: number | null;
  readonly diskLimitBytes: number | null;
  readonly memoryLimitMb: number | null;
}

export interface Route {
  readonly tier: Tier;
  readonly reason: string;
  readonly estimate: { readonly seconds: number; readonly costUsd: number; readonly priceDate: string; readonly cost: CostBreakdown };
  readonly alternatives: readonly TierPlan[];
  readonly workload: Workload;
}

/**
 * x264 speed by preset relative to `medium`. medium and veryfast measured on this build machine (libx264, Debian
 * ffmpeg 5.1, one thread, a 1080p30 broadcast clip): 21.6 and 47 Mpix/s (2.18x). The others follow x264's usual
 * preset spacing; a measurement of faster and slow here ran while the shared host was loaded and is not used.
 */
export const PRESET_SPEED: Readonly<Record<string, number>> = {
  ultrafast: 6,
  superfast: 4,
  veryfast: 2.18,
  faster: 1.6,
  fast: 1.3,
  medium: 1,
  slow: 0.65,
  slower: 0.3,
  veryslow: 0.15,
};

/**
 * Frame-sized buffers (w x h x 1.5 bytes) one x264 encoder holds, by preset: look-ahead, references with their
 * half-pel planes, frame threads. Calibrated from max RSS on this machine with -threads 2: 4K veryfast 813 MB (~62
 * frames), 1080p veryfast 264 MB (~74), 1080p medium 345 MB (~100), ffmpeg's own ~40 MB taken off.
 */
const FRAMES_IN_FLIGHT: Readonly<Record<string, number>> = {
  ultrafast: 30, superfast: 45, veryfast: 65, faster: 80, fast: 90, medium: 100, slow: 110, slower: 120, veryslow: 130,
};

const MIB = 1024 * 1024;
const WORK_BYTES = 64 * MIB;

function isFitted(ladder: Ladder | FittedLadder): ladder is FittedLadder {
  const first = ladder.rungs[0] as { width?: number } | undefined;
  return typeof first?.width === 'number';
}

export function predictWorkload(input: RouteInput, config: RouterConfig): Workload {
  const assumptions: string[] = [];
  let media = input.media;
  if (!media || !(media.durationSec > 0) || !(media.width > 0) || !(media.height > 0)) {
    const durationSec = Math.max(1, (input.sizeBytes * 8) / config.router.assumedBitrate);
    assumptions.push(
      `no usable probe: assumed 1920x1080 at 30 fps and ${(config.router.assumedBitrate / 1e6).toFixed(0)} Mb/s, so about ${Math.round(durationSec)} s`,
    );
    media = { durationSec, width: 1920, height: 1080, fps: 30 };
  }
  const fps = media.fps > 0 ? media.fps : 30;
  const duration = media.durationSec;

  let rungs: { w: number; h: number; fps: number; bitrate: number; codec: VideoCodec }[];
  let preset: string;
  let audioBitrate: number;
  let segmentSeconds: number;
  if (isFitted(input.ladder)) {
    rungs = input.ladder.rungs.map((r) => ({ w: r.width, h: r.height, fps: r.fps, bitrate: r.videoBitrate, codec: r.codec ?? 'h264' }));
    preset = input.ladder.preset;
    audioBitrate = input.ladder.audio?.bitrate ?? 0;
    segmentSeconds = input.ladder.segmentSeconds;
  } else {
    // Same box rule as fitLadder, without the bitrate refinements: enough to size the work.
    const srcShort = Math.min(media.width, media.height);
    const srcLong = Math.max(media.width, media.height);
    const seen = new Set<string>();
    rungs = [];
    for (const r of input.ladder.rungs) {
      const scale = Math.min(1, r.shortEdge / srcShort, ((r.shortEdge * 16) / 9) / srcLong);
      const w = Math.round(media.width * scale);
      const h = Math.round(media.height * scale);
      if (seen.has(`${r.codec}:${w}x${h}`)) continue;
      seen.add(`${r.codec}:${w}x${h}`);
      rungs.push({ w, h, fps: Math.min(fps, r.maxFps ?? 60), bitrate: r.videoBitrate, codec: r.codec });
    }
    preset = input.ladder.preset ?? choosePreset(duration).preset;
    audioBitrate = input.ladder.audio.bitrate;
    segmentSeconds = input.ladder.segmentSeconds;
    assumptions.push(`ladder ${input.ladder.name} not fitted to the source: rung sizes approximated`);
  }

  const outputMpix = rungs.reduce((sum, r) => sum + (r.w * r.h * r.fps * duration) / 1e6, 0);
  const sourceMpix = (media.width * media.height * fps * duration) / 1e6;
  const presetSpeed = PRESET_SPEED[preset] ?? 1;
  const codecSpeed = ladderCodecSpeed(rungs.map((r) => ({ mpix: r.w * r.h * r.fps, codec: r.codec })));
  const formatCount = input.formatCount ?? 2;
  const outputBytes = Math.round(((rungs.reduce((s, r) => s + r.bitrate, 0) + audioBitrate) * duration) / 8);
  // Input downloaded whole, segments of all rungs, plus scratch (logs, thumbnails, temp names before publish).
  const diskBytes = input.sizeBytes + outputBytes + WORK_BYTES;
  const inFlight = FRAMES_IN_FLIGHT[preset] ?? 100;
  const frameBytes = (w: number, h: number) => w * h * 1.5;
  // 250 MB for the runtime (Node handler, ffmpeg, filter graph) and ~24 decoded source frames queued to the scalers.
  const memoryMb = Math.round(
    (250 * MIB + frameBytes(media.width, media.height) * 24 + rungs.reduce((s, r) => s + frameBytes(r.w, r.h) * inFlight, 0)) / MIB,
  );
  const segments = Math.ceil(duration / segmentSeconds);
  const storage: StorageUse = {
    inputBytes: input.sizeBytes,
    outputBytes,
    // One PUT per segment per rung per format, playlists/manifests/poster/report, and the input upload's parts.
    putRequests: segments * (rungs.length + (audioBitrate > 0 ? 1 : 0)) * formatCount + 12 + Math.ceil(input.sizeBytes / (16 * MIB)) + 2,
    getRequests: Math.ceil(input.sizeBytes / (16 * MIB)) + 10,
  };
  return {
    durationSec: duration,
    sourceMpixPerSec: (media.width * media.height * fps) / 1e6,
    outputMpix,
    sourceMpix,
    preset,
    presetSpeed,
    codecSpeed,
    outputBytes,
    diskBytes,
    memoryMb,
    storage,
    assumptions,
  };
}

/** x264-relative speed of a mix of encoders: total pixels over the x264-equivalent time they take. */
export function ladderCodecSpeed(rungs: readonly { readonly mpix: number; readonly codec: VideoCodec }[]): number {
  const total = rungs.reduce((s, r) => s + r.mpix, 0);
  const time = rungs.reduce((s, r) => s + r.mpix / CODEC_INFO[r.codec].speed, 0);
  return total > 0 && time > 0 ? total / time : 1;
}

/** Predicted seconds on a tier: start-up + download + decode + encode (+5% packaging/verify) + upload. */
export function predictSeconds(tier: Tier, work: Workload, sizeBytes: number, config: RouterConfig): { total: number; run: number } {
  const speed = tierSpeed(config, tier);
  const localOnly = tier === 'local' && config.store.kind === 'local';
  const transfer = localOnly ? 0 : (sizeBytes + work.outputBytes) / (speed.transferMBps * 1e6);
  const decode = work.sourceMpix / config.router.decodeMpixPerSec;
  const encode = work.outputMpix / (speed.encodeMpixPerSec * work.presetSpeed * (work.codecSpeed ?? 1));
  const run = transfer + decode + encode * 1.05 + 2;
  return { total: speed.startupSec + run, run };
}

function limits(tier: Tier, config: RouterConfig): { time: number | null; disk: number | null; memory: number | null } {
  const { lambda, fargate, ec2 } = config.tiers;
  switch (tier) {
    case 'lambda':
      return { time: lambda.timeoutSec, disk: lambda.ephemeralMb * MIB, memory: lambda.memoryMb };
    case 'lambda-enhanced':
      return { time: lambda.enhancedTimeoutSec, disk: lambda.ephemeralMb * MIB, memory: lambda.enhancedMemoryMb };
    case 'fargate':
    case 'fargate-spot':
      return { time: null, disk: fargate.ephemeralGb * 1024 * MIB, memory: fargate.memoryGb * 1024 };
    case 'ec2':
      return { time: null, disk: ec2.diskGbPerJob * 1024 * MIB, memory: null };
    default:
      return { time: null, disk: null, memory: null };
  }
}

const mb = (bytes: number) => `${Math.round(bytes / MIB)} MB`;
const sec = (s: number) => (s < 120 ? `${s.toFixed(0)} s` : `${(s / 60).toFixed(1)} min`);

export function planTier(tier: Tier, work: Workload, sizeBytes: number, config: RouterConfig, enabled: boolean): TierPlan {
  const { total, run } = predictSeconds(tier, work, sizeBytes, config);
  const lim = limits(tier, config);
  // EC2 hosts wait for work anyway (utilisation covers idle time); Lambda INIT and Fargate start-up are billed.
  const cost = estimateCost(tier, tier === 'ec2' ? run : total, config, work.storage);
  const over: string[] = [];
  const { timeSafetyFactor, diskSafetyFactor } = config.router;
  if (lim.time !== null && run > lim.time * timeSafetyFactor) {
    over.push(`predicted ${sec(run)} exceeds ${Math.round(timeSafetyFactor * 100)}% of its ${lim.time} s limit`);
  }
  if (lim.disk !== null && work.diskBytes > lim.disk * diskSafetyFactor) {
    over.push(`needs ~${mb(work.diskBytes)} of disk (input + outputs + work), over ${Math.round(diskSafetyFactor * 100)}% of its ${mb(lim.disk)}`);
  }
  if (lim.memory !== null && work.memoryMb > lim.memory * 0.9) {
    over.push(`needs ~${work.memoryMb} MB of memory, over 90% of its ${lim.memory} MB`);
  }
  const blocked = over.length ? over.join(' and ') : null;
  return {
    tier,
    enabled,
    blocked,
    seconds: round1(total),
    costUsd: cost.totalUsd,
    cost,
    timeLimitSec: lim.time,
    diskLimitBytes: lim.disk,
    memoryLimitMb: lim.memory,
  };
}

const round1 = (n: number) => Math.round(n * 10) / 10;

/** FNV-1a of the job id with a final mix, as a number in [0, 1). */
export function hashUnit(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // murmur3's finaliser: FNV alone leaves ids that differ only in the last character close together.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 2 ** 32;
}

/**
 * The one key the Spot draw hashes for an input: its display name (base name, no folders) and size. Computed here so
 * the route and dispatch commands and the ledger's re-dispatch cannot disagree about the same file.
 */
export function spotKeyFor(input: { readonly name: string; readonly sizeBytes: number }): string {
  const base = input.name.split(/[\\/]/).at(-1) ?? input.name;
  return `${base}:${input.sizeBytes}`;
}

/** Fargate flavour for a job: Spot policy (size cut-off, configured share) with the reason. */
export function chooseFargate(input: RouteInput, config: RouterConfig, enabled: ReadonlySet<Tier>): { tier: 'fargate' | 'fargate-spot'; why: string } {
  const f = config.tiers.fargate;
  if (!enabled.has('fargate-spot')) return { tier: 'fargate', why: 'Fargate Spot is not enabled' };
  if (!enabled.has('fargate')) return { tier: 'fargate-spot', why: 'only Fargate Spot is enabled' };
  if (input.sizeBytes >= f.onDemandAboveBytes) {
    return { tier: 'fargate', why: `on-demand: inputs of ${mb(f.onDemandAboveBytes)} or more never go to Spot (an interruption would waste too much work)` };
  }
  const key = input.spotKey ?? input.jobId;
  const draw = input.random ? input.random() : key ? hashUnit(key) : hashUnit(`${input.sizeBytes}:${input.media?.durationSec ?? ''}`);
  const pct = Math.round(f.spotShare * 100);
  return draw < f.spotShare
    ? { tier: 'fargate-spot', why: `Spot: in the ${pct}% share sent to Spot (draw ${draw.toFixed(2)})` }
    : { tier: 'fargate', why: `on-demand: outside the ${pct}% Spot share (draw ${draw.toFixed(2)})` };
}

/** Tiers above a failed one, in escalation order: lambda -> lambda-enhanced -> Fargate (Spot policy) -> EC2 / Fargate on-demand. */
function escalationChain(failed: Tier, fargate: Tier[]): Tier[] {
  switch (failed) {
    case 'lambda':
      return ['lambda-enhanced', ...fargate, 'ec2'];
    case 'lambda-enhanced':
      return [...fargate, 'ec2'];
    case 'fargate-spot':
      return ['ec2', 'fargate'];
    case 'fargate':
      return ['ec2'];
    default:
      return [];
  }
}

export function routeJob(input: RouteInput, config: RouterConfig): Route {
  if (!(input.sizeBytes >= 0)) throw new TiercastError('INVALID_JOB', `sizeBytes must be a non-negative number, got ${input.sizeBytes}`);
  const enabled = new Set<Tier>(config.tiers.enabled);
  const work = predictWorkload(input, config);
  const plans = new Map<Tier, TierPlan>(TIERS.map((t) => [t, planTier(t, work, input.sizeBytes, config, enabled.has(t))]));
  const alternatives = TIERS.map((t) => plans.get(t)!);
  const ready = tierReadiness(config);
  const size = mb(input.sizeBytes);
  const fargatePick = chooseFargate(input, config, enabled);
  const fargateOrder: Tier[] = fargatePick.tier === 'fargate-spot' ? ['fargate-spot', 'fargate'] : ['fargate', 'fargate-spot'];
  const predicted = (t: Tier) => plans.get(t)!;

  const done = (tier: Tier, why: string): Route => {
    const plan = predicted(tier);
    const assumptions = work.assumptions.length ? ` (${work.assumptions.join('; ')})` : '';
    const priceNote = plan.cost.notes.length ? ` [${plan.cost.notes.join('; ')}]` : '';
    return {
      tier,
      reason: `${why}; predicted ${sec(plan.seconds)}${assumptions}${priceNote}`,
      estimate: { seconds: plan.seconds, costUsd: plan.costUsd, priceDate: plan.cost.priceDate, cost: plan.cost },
      alternatives,
      workload: work,
    };
  };

  // An operator's explicit choice is honoured unless the tier is off or the job cannot fit it.
  const requested = input.requestedTier ?? 'auto';
  if (requested !== 'auto' && !input.previousFailure) {
    if (!enabled.has(requested)) {
      throw new TiercastError('CONFIG_INVALID', `tier ${requested} was requested but is not enabled: ${ready[requested] ?? 'not in tiers.enabled'}`, {
        details: { tier: requested },
      });
    }
    const plan = predicted(requested);
    if (plan.blocked) {
      throw new TiercastError('TIER_LIMIT_EXCEEDED', `tier ${requested} was requested but this job would not fit: ${plan.blocked}`, {
        details: { tier: requested },
      });
    }
    return done(requested, `${requested}: requested`);
  }

  const pickFrom = (candidates: Tier[], lead: string): Route | null => {
    const skipped: string[] = [];
    for (const t of candidates) {
      if (!enabled.has(t)) continue;
      const plan = predicted(t);
      if (plan.blocked) {
        skipped.push(`not ${t}: ${plan.blocked}`);
        continue;
      }
      const fargateWhy = t === 'fargate' || t === 'fargate-spot' ? (t === fargatePick.tier ? `; ${fargatePick.why}` : `; ${fargatePick.tier} could not take it`) : '';
      return done(t, [`${t}: ${lead}`, ...skipped].join('; ') + fargateWhy);
    }
    return null;
  };

  if (input.previousFailure) {
    const { tier: failed, code } = input.previousFailure;
    if (ERROR_CODE_INFO[code].escalate) {
      const chain = escalationChain(failed, fargateOrder);
      const route = pickFrom(chain, `one tier up after ${code} on ${failed}`);
      if (route) return route;
      throw new TiercastError('TIER_LIMIT_EXCEEDED', `the job failed with ${code} on ${failed} and no enabled tier above it can take it (${chain.join(', ') || 'none above'})`, {
        details: { tier: failed, code },
      });
    }
    if (failed === 'fargate-spot' && (code === 'INTERRUPTED' || code === 'CAPACITY_UNAVAILABLE') && enabled.has('fargate') && !predicted('fargate').blocked) {
      return done('fargate', `fargate: on-demand after ${code} on Fargate Spot`);
    }
  }

  const cloud = TIERS.filter((t) => t !== 'local' && enabled.has(t));
  if (cloud.length === 0) {
    if (!enabled.has('local')) throw new TiercastError('CONFIG_INVALID', 'no tier is enabled');
    const why = ready.lambda ?? ready.fargate ?? 'no AWS tier is enabled';
    return done('local', `local: no AWS tiers configured, running on this machine (${why})`);
  }

  const lambdaMax = config.tiers.lambda.maxBytes;
  const enhancedMax = config.tiers.lambda.enhancedMaxBytes;
  let order: Tier[];
  let lead: string;
  if (input.sizeBytes < lambdaMax) {
    order = ['lambda', 'lambda-enhanced', ...fargateOrder, 'ec2'];
    lead = `${size} is under ${mb(lambdaMax)}`;
  } else if (input.sizeBytes < enhancedMax) {
    order = ['lambda-enhanced', ...fargateOrder, 'ec2'];
    lead = `${size} is ${mb(lambdaMax)}-${mb(enhancedMax)}`;
  } else {
    order = [...fargateOrder, 'ec2'];
    lead = `${size} is over ${mb(enhancedMax)}`;
  }
  if (input.previousFailure) lead += ` (retry after ${input.previousFailure.code} on ${input.previousFailure.tier})`;
  const route = pickFrom(order, lead);
  if (route) return route;
  if (enabled.has('local') && !predicted('local').blocked) {
    const cloudWhy = order.filter((t) => enabled.has(t)).map((t) => `${t}: ${predicted(t).blocked}`).join('; ');
    return done('local', `local: no enabled cloud tier can take it (${cloudWhy || 'none enabled for this size'})`);
  }
  const why = order.map((t) => `${t}: ${enabled.has(t) ? predicted(t).blocked : 'not enabled'}`).join('; ');
  throw new TiercastError('TIER_LIMIT_EXCEEDED', `no enabled tier can run this job (${why})`, { details: { sizeBytes: input.sizeBytes } });
}

/** Monthly figure for a mix of jobs: used by the workload test and by `tiercast route --month`. */
export function monthlyCost(
  mix: readonly { readonly count: number; readonly input: RouteInput }[],
  config: RouterConfig,
): { totalUsd: number; computeUsd: number; byTier: Partial<Record<Tier, { jobs: number; usd: number }>>; priceDate: string } {
  const byTier: Partial<Record<Tier, { jobs: number; usd: number }>> = {};
  let totalUsd = 0;
  let computeUsd = 0;
  for (const { count, input } of mix) {
    // Spot share over many jobs: the expected mix rather than one draw.
    const routes = count > 0 ? Array.from({ length: count }, (_, i) => routeJob({ ...input, jobId: `${input.jobId ?? 'job'}-${i}` }, config)) : [];
    for (const r of routes) {
      const slot = (byTier[r.tier] ??= { jobs: 0, usd: 0 });
      slot.jobs += 1;
      slot.usd += r.estimate.costUsd;
      totalUsd += r.estimate.costUsd;
      computeUsd += r.estimate.cost.computeUsd;
    }
  }
  return { totalUsd, computeUsd, byTier, priceDate: pricesFor(config).table.date };
}

/** Routes a job spec as stored in the ledger (the fitted ladder, when the caller has it, sharpens the prediction). */
export function routeSpec(
  spec: JobSpec,
  config: RouterConfig,
  options: { fitted?: FittedLadder; previousFailure?: RouteInput['previousFailure']; random?: () => number } = {},
): Route {
  return routeJob(
    {
      sizeBytes: spec.input.sizeBytes,
      media: spec.media,
      ladder: options.fitted ?? spec.ladder,
      requestedTier: spec.requestedTier,
      jobId: spec.id,
      spotKey: spotKeyFor(spec.input),
      formatCount: spec.formats.length,
      ...(options.previousFailure ? { previousFailure: options.previousFailure } : {}),
      ...(options.random ? { random: options.random } : {}),
    },
    config,
  );
}
