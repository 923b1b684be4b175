import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TiercastError, toTiercastError } from '../common/errors.ts';
import { buildLadderCommand, fileUrl, type RenditionOutput } from '../common/ffmpeg-args.ts';
import type { FittedLadder, FittedRung, Ladder } from '../common/ladder-schema.ts';
import { fitLadder, getLadder, DEFAULT_LADDER_NAME } from '../common/ladders.ts';
import type { MediaInfo } from '../common/media.ts';
import {
  autoLadder,
  chooseRungs,
  convexHull,
  buildSampleCommand,
  planWindows,
  ssimToDb,
  type PerTitleAnalysis,
  type QualityMetric,
  type RatePoint,
} from '../common/per-title.ts';
import { childCpuSeconds } from './child-cpu.ts';
import { resolveFfmpeg, type FfmpegInstall } from './ffmpeg-locate.ts';
import { runFfmpeg } from './ffmpeg-runner.ts';
import { meanStat, readVmaf, scoringChains } from './preview.ts';
import { probeFile } from './probe.ts';
import { parseM3u8 } from './verify.ts';

/**
 * Per-title analysis (README "Per-title ladders"): a few short windows of the source are joined into one lossless
 * sample, encoded at every base size and two rates with the transcode's own command builder (one ffmpeg process:
 * the sample is decoded once and split to every trial, as in the transcode), scored against the sample like the
 * preview (one more process), and each size's rung is chosen from its trials (shared/common/per-title.ts).
 */

/** Trials compare rates at one size with each other, not with shipped encodes: a fast preset does. */
export const TRIAL_PRESET = 'superfast';
/**
 * Trial rates per size, as fractions of the base ladder's rate for that size: the base rung itself (the quality to
 * match) and one low rate; the rate a rung needs is found between them in log rate (shared/common/per-title.ts).
 */
export const TRIAL_RATES: readonly number[] = [0.3, 1];
/** Trials are scored on every 2nd frame (both sides the same frames): half the scaling and SSIM work. */
export const SCORE_FRAME_STEP = 2;
/** Scores are computed at the top rung's size, but at most this short edge (SSIM at 1080p costs more than the trials). */
const MAX_SCORE_SHORT_EDGE = 720;

export interface PerTitleOptions {
  readonly input: string;
  /** The ladder the rungs are taken from (sizes, profiles, rate caps). Default: the built-in default ladder. */
  readonly base?: Ladder;
  readonly media?: MediaInfo;
  /** Parent folder for the trial encodes (a temporary folder inside it is removed afterwards). Default: the OS temp. */
  readonly workDir?: string;
  readonly signal?: AbortSignal;
  readonly onProgress?: (fraction: number) => void;
}

export interface PerTitleResult {
  /** The resolved ladder (named "auto"): what a job spec carries. */
  readonly ladder: Ladder;
  readonly analysis: PerTitleAnalysis;
}

export async function analyzePerTitle(options: PerTitleOptions): Promise<PerTitleResult> {
  const parent = path.resolve(options.workDir ?? os.tmpdir());
  await mkdir(parent, { recursive: true });
  const work = await mkdtemp(path.join(parent, '.tiercast-per-title-'));
  try {
    return await analyze(options, work);
  } catch (err) {
    if (options.signal?.aborted) throw new TiercastError('CANCELLED', 'per-title analysis cancelled', { cause: err });
    throw toTiercastError(err, 'ENCODE_FAILED');
  } finally {
    await rm(work, { recursive: true, force: true }).catch(() => undefined);
  }
}

async function analyze(options: PerTitleOptions, work: string): Promise<PerTitleResult> {
  const started = performance.now();
  const install = await resolveFfmpeg();
  const media = options.media ?? (await probeFile(options.input, { signal: options.signal }));
  // The analysis proper starts here: the probe is the transcode's own first step either way.
  const cpu0 = await childCpuSeconds();
  const base = options.base ?? getLadder(DEFAULT_LADDER_NAME);
  const fitted = fitLadder(media, base);
  const video = media.video!;
  const windows = planWindows(video.durationSec ?? media.durationSec);
  if (windows.length === 0) throw new TiercastError('UNSUPPORTED_INPUT', `${path.basename(options.input)}: no duration to sample`);
  const trials = trialRungs(fitted);
  const metric: QualityMetric = install.hasLibvmaf ? 'vmaf' : 'ssim-db';
  const top = fitted.rungs[0]!;
  const scale = Math.min(1, MAX_SCORE_SHORT_EDGE / Math.min(top.width, top.height));
  const ref = { width: 2 * Math.round((top.width * scale) / 2), height: 2 * Math.round((top.height * scale) / 2) };

  // 1. The sample: the windows joined, fixed and scaled to the top rung once (lossless).
  const sampleFile = path.join(work, 'sample.mkv');
  const sampleArgs = buildSampleCommand({ source: path.resolve(options.input), media, caps: install, windows, width: top.width, height: top.height, fps: top.fps, output: sampleFile });
  await runFfmpeg(sampleArgs, { bin: install.ffmpeg, signal: options.signal });
  options.onProgress?.(0.2);
  const sample = await probeFile(sampleFile, { signal: options.signal });
  const sampleSec = sample.video!.durationSec ?? sample.durationSec;

  // 2. Every trial in one process, with the transcode's command builder (one encoder thread each: CPU, not wall time, is the budget).
  const trialLadder: FittedLadder = { ...fitted, preset: TRIAL_PRESET, rungs: trials, audio: null, dropped: [] };
  const cmd = buildLadderCommand({ source: sampleFile, media: sample, ladder: trialLadder, outDir: work, formats: ['hls'], caps: install, poster: false, thumbnails: false, threads: 1 });
  await runFfmpeg(cmd.args, {
    bin: install.ffmpeg,
    signal: options.signal,
    durationSec: sampleSec,
    onProgress: (p) => options.onProgress?.(0.2 + 0.5 * ((p.percent ?? 0) / 100)),
  });
  options.onProgress?.(0.7);

  // 3. Scores against the sample, in one process.
  const scores = await scoreTrials({ dir: work, sample: sampleFile, media: sample, install, renditions: cmd.outputs.renditions, ref, metric, signal: options.signal });
  options.onProgress?.(1);
  const points: RatePoint[] = [];
  for (const [i, r] of cmd.outputs.renditions.entries()) {
    const size = await renditionSize(work, r);
    points.push({ width: r.width, height: r.height, target: trials[i]!.videoBitrate, bitrate: Math.round((size.bytes * 8) / size.seconds), quality: round2(metric === 'vmaf' ? scores[i]! : ssimToDb(scores[i]!)) });
  }
  const chosen = chooseRungs(points, { metric, base: fitted.rungs.map((r) => ({ width: r.width, height: r.height, bitrate: r.videoBitrate })) });
  const ladder = autoLadder(base, fitted, chosen);
  const cpu1 = await childCpuSeconds();
  return {
    ladder,
    analysis: {
      metric,
      windows,
      trialPreset: TRIAL_PRESET,
      points,
      hull: convexHull(points),
      chosen,
      cpuSec: cpu0 !== null && cpu1 !== null ? round2(cpu1 - cpu0) : null,
      elapsedSec: round2((performance.now() - started) / 1000),
    },
  };
}

/** Every size of the base ladder fitted to this source, each at TRIAL_RATES of its rate. */
function trialRungs(fitted: FittedLadder): FittedRung[] {
  return fitted.rungs.flatMap((r) =>
    TRIAL_RATES.map((f, k) => {
      const videoBitrate = Math.max(50_000, Math.round(r.videoBitrate * f));
      const ratio = videoBitrate / r.videoBitrate;
      return { ...r, name: `${r.name}-t${k}`, videoBitrate, maxrate: Math.round(r.maxrate * ratio), bufsize: Math.round(r.bufsize * ratio), notes: [] };
    }),
  );
}

async function renditionSize(dir: string, r: RenditionOutput): Promise<{ bytes: number; seconds: number }> {
  const playlist = parseM3u8(await readFile(path.join(dir, r.playlist), 'utf8'));
  let bytes = (await stat(path.join(dir, r.initSegment))).size;
  let seconds = 0;
  for (const s of playlist.segments) {
    bytes += (await stat(path.join(dir, s.uri))).size;
    seconds += s.duration;
  }
  if (seconds <= 0) throw new TiercastError('ENCODE_FAILED', `trial ${r.name} produced no segment`);
  return { bytes, seconds };
}

/** Mean SSIM (0..1) or VMAF of every trial against the sample, in one ffmpeg process that decodes the sample once. */
async function scoreTrials(a: {
  dir: string;
  sample: string;
  media: MediaInfo;
  install: FfmpegInstall;
  renditions: readonly RenditionOutput[];
  ref: { width: number; height: number };
  metric: QualityMetric;
  signal?: AbortSignal;
}): Promise<number[]> {
  const video = a.media.video!;
  const n = a.renditions.length;
  const { refChain, distChain } = scoringChains(video, a.install, a.renditions[0]!.fps, a.ref.width, a.ref.height, { frameStep: SCORE_FRAME_STEP });
  const refLabels = Array.from({ length: n }, (_, i) => `[r${i}]`).join('');
  const graph = [`[${n}:${video.index}]${refChain},split=${n}${refLabels}`];
  const args: string[] = [];
  for (const [i, r] of a.renditions.entries()) {
    args.push('-threads', '1', '-i', fileUrl(path.join(a.dir, r.playlist)));
    // Log files are relative to the working folder: no escaping of paths inside the filter graph.
    const meter = a.metric === 'vmaf' ? `libvmaf=log_fmt=json:log_path=vmaf-${i}.json` : `ssim=stats_file=ssim-${i}.log`;
    graph.push(`[${i}:v:0]${distChain}[d${i}]`, `[d${i}][r${i}]${meter}[o${i}]`);
  }
  // One thread per decoder and for the graph: the budget is CPU, and nine decoders' thread pools cost more than they save.
  args.push('-threads', '1', '-i', fileUrl(a.sample), '-filter_complex_threads', '1', '-filter_complex', graph.join(';'));
  for (let i = 0; i < n; i++) args.push('-map', `[o${i}]`, '-f', 'null', '-');
  await runFfmpeg(args, { bin: a.install.ffmpeg, signal: a.signal, cwd: a.dir });
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    if (a.metric === 'vmaf') {
      const v = await readVmaf(path.join(a.dir, `vmaf-${i}.json`));
      if (v === null) throw new TiercastError('ENCODE_FAILED', `VMAF of trial ${a.renditions[i]!.name} could not be read`);
      out.push(v);
    } else {
      out.push(meanStat(await readFile(path.join(a.dir, `ssim-${i}.log`), 'utf8'), /All:([\d.]+)/));
    }
  }
  return out;
}

const round2 = (n: number) => Math.round(n * 100) / 100;
