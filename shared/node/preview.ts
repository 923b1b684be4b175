import { mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { requireEncoders } from '../common/codecs.ts';
import { TiercastError, toTiercastError } from '../common/errors.ts';
import { buildLadderCommand, type FfmpegCaps, fileUrl, rationalToString, sourceFilters } from '../common/ffmpeg-args.ts';
import { inputGuardArgs } from '../common/input-formats.ts';
import type { FittedLadder, Ladder } from '../common/ladder-schema.ts';
import type { Rational, VideoStreamInfo } from '../common/media.ts';
import { fitLadder } from '../common/ladders.ts';
import type { PreviewResult, PreviewRungResult } from '../common/transcode-report.ts';
import { resolveFfmpeg } from './ffmpeg-locate.ts';
import { runFfmpeg } from './ffmpeg-runner.ts';
import { probeFile } from './probe.ts';
import { parseM3u8 } from './verify.ts';

export type { PreviewResult, PreviewRungResult } from '../common/transcode-report.ts';

export interface PreviewOptions {
  readonly input: string;
  readonly ladder: Ladder;
  readonly startSec: number;
  /** Window length; clamped to what the source has after startSec. Default 4 s. */
  readonly durationSec?: number;
  /** Folder for the window encodes, scores and frames (created; the caller removes it). */
  readonly outDir: string;
  readonly preset?: string | null;
  readonly signal?: AbortSignal;
  /** Per rung: encoding (with ffmpeg's own progress) then measuring; `progress` is 0..1 over the whole run. */
  readonly onProgress?: (p: { readonly phase: 'encoding' | 'measuring'; readonly progress: number; readonly rung: string }) => void;
}

/** Share of a rung's time spent encoding; the rest is scoring (SSIM/PSNR/VMAF and frames). */
const ENCODE_SHARE = 0.6;

/**
 * A ladder preview for the console: each rung (of every codec family the ladder carries) encodes the same short window with the very command builder the
 * transcode uses (one process per rung, so each rung's speed is its own), then is scored against the source
 * window with the same source fixes (deinterlace, tone-map, CFR) at the top rung's size: SSIM and PSNR always,
 * VMAF when the build has libvmaf. Returns a frame of each rung and of the source for side-by-side viewing.
 */
export async function previewLadder(options: PreviewOptions): Promise<PreviewResult> {
  try {
    return await preview(options);
  } catch (err) {
    if (options.signal?.aborted) throw new TiercastError('CANCELLED', 'preview cancelled', { cause: err });
    throw toTiercastError(err, 'ENCODE_FAILED');
  }
}

async function preview(options: PreviewOptions): Promise<PreviewResult> {
  const install = await resolveFfmpeg();
  const media = await probeFile(options.input, { signal: options.signal });
  const video = media.video!;
  const fitted = fitLadder(media, options.ladder, { preset: options.preset ?? options.ladder.preset ?? null });
  requireEncoders(fitted.rungs.map((r) => r.codec ?? 'h264'), install.encoders);
  const total = video.durationSec ?? media.durationSec;
  const startSec = Math.max(0, Math.min(options.startSec, Math.max(0, total - 0.1)));
  const durationSec = Math.max(0.04, Math.min(options.durationSec ?? 4, total - startSec));
  const outDir = path.resolve(options.outDir);
  await mkdir(outDir, { recursive: true });
  const top = fitted.rungs[0]!;
  const refW = top.width;
  const refH = top.height;
  const mid = Math.round((durationSec / 2) * 1000) / 1000;
  const warnings = [...media.warnings];
  const sourceFrameJpeg = path.join(outDir, 'source.jpg');
  const rungs: PreviewRungResult[] = [];

  for (const [i, rung] of fitted.rungs.entries()) {
    options.signal?.throwIfAborted();
    const dir = path.join(outDir, `rung-${i}-${rung.name}`);
    await mkdir(dir, { recursive: true });
    // The same builder as the transcode, on a one-rung ladder without audio, poster or sprite.
    const single: FittedLadder = { ...fitted, rungs: [rung], audio: null, dropped: [] };
    const cmd = buildLadderCommand({
      source: path.resolve(options.input),
      media,
      ladder: single,
      outDir: dir,
      formats: ['hls'],
      caps: install,
      poster: false,
      thumbnails: false,
      window: { startSec, durationSec },
    });
    if (i === 0) warnings.push(...cmd.warnings);
    const count = fitted.rungs.length;
    const report = (phase: 'encoding' | 'measuring', fraction: number) =>
      options.onProgress?.({ phase, progress: Math.min(1, (i + Math.max(0, Math.min(1, fraction))) / count), rung: rung.name });
    report('encoding', 0);
    const encode = await runFfmpeg(cmd.args, {
      bin: install.ffmpeg,
      signal: options.signal,
      durationSec,
      onProgress: (p) => {
        if (p.percent !== null) report('encoding', (p.percent / 100) * ENCODE_SHARE);
      },
    });
    report('measuring', ENCODE_SHARE);
    const encodeSeconds = encode.durationMs / 1000;
    const r = cmd.outputs.renditions[0]!;

    const playlist = parseM3u8(await readFile(path.join(dir, r.playlist), 'utf8'));
    let bytes = 0;
    let seconds = 0;
    for (const s of playlist.segments) {
      bytes += (await stat(path.join(dir, s.uri))).size;
      seconds += s.duration;
    }

    // Scoring: the rung upscaled to the reference size versus the source window with the same fixes.
    const rate = r.fps;
    const { refChain, distChain } = scoringChains(video, install, rate, refW, refH);
    const vmaf = install.hasLibvmaf;
    const n = vmaf ? 4 : 3;
    const dl = Array.from({ length: n }, (_, k) => `[d${k}]`).join('');
    const rl = Array.from({ length: n }, (_, k) => `[r${k}]`).join('');
    const graph = [
      `[0:v:0]${distChain},split=${n}${dl}`,
      `[1:${video.index}]${refChain},split=${n}${rl}`,
      // Stats files are relative to the working folder: no escaping of user paths inside the filter graph.
      `[d0][r0]ssim=stats_file=ssim.log[ssimout]`,
      `[d1][r1]psnr=stats_file=psnr.log[psnrout]`,
      `[d2]trim=start=${mid},setpts=PTS-STARTPTS[frame]`,
      ...(vmaf ? ['[d3][r3]libvmaf=log_fmt=json:log_path=vmaf.json[vmafout]'] : []),
    ];
    const extraRef = i === 0;
    // r2 is the reference frame for rung 0 only; other rungs discard it through a null sink.
    graph.push(extraRef ? `[r2]trim=start=${mid},setpts=PTS-STARTPTS[srcframe]` : '[r2]nullsink');
    const args = [
      '-i', fileUrl(path.join(dir, r.playlist)),
      '-ss', String(startSec), '-t', String(durationSec), ...inputGuardArgs(media.container), '-i', fileUrl(path.resolve(options.input)),
      '-filter_complex', graph.join(';'),
      '-map', '[ssimout]', '-f', 'null', '-',
      '-map', '[psnrout]', '-f', 'null', '-',
      ...(vmaf ? ['-map', '[vmafout]', '-f', 'null', '-'] : []),
      '-map', '[frame]', '-frames:v', '1', '-update', '1', '-q:v', '3', '-y', fileUrl(path.join(dir, 'frame.jpg')),
      ...(extraRef ? ['-map', '[srcframe]', '-frames:v', '1', '-update', '1', '-q:v', '3', '-y', fileUrl(sourceFrameJpeg)] : []),
    ];
    await runFfmpeg(args, { bin: install.ffmpeg, signal: options.signal, cwd: dir });
    const ssim = meanStat(await readFile(path.join(dir, 'ssim.log'), 'utf8'), /All:([\d.]+)/);
    const psnr = meanStat(await readFile(path.join(dir, 'psnr.log'), 'utf8'), /psnr_avg:([\d.]+|inf)/);
    const vmafScore = vmaf ? await readVmaf(path.join(dir, 'vmaf.json')) : null;
    rungs.push({
      name: rung.name,
      codec: rung.codec ?? 'h264',
      width: r.width,
      height: r.height,
      fps: Math.round((rate.num / rate.den) * 1000) / 1000,
      targetBitrate: rung.videoBitrate,
      bitrateMeasured: seconds > 0 ? Math.round((bytes * 8) / seconds) : 0,
      sizeBytes: bytes,
      encodeSeconds: Math.round(encodeSeconds * 1000) / 1000,
      encodeSpeed: Math.round((durationSec / encodeSeconds) * 100) / 100,
      ssim: Math.round(ssim * 10000) / 10000,
      psnr: Math.round(psnr * 100) / 100,
      vmaf: vmafScore,
      frameJpeg: path.join(dir, 'frame.jpg'),
      sourceFrameJpeg,
    });
  }
  return { input: options.input, startSec, durationSec, referenceWidth: refW, referenceHeight: refH, preset: fitted.preset, rungs, warnings };
}

/**
 * The two filter chains every quality score uses (previews and per-title trials): the source window with the
 * transcode's own fixes (deinterlace, tone-map, CFR) and an encoded rung, both at the rung's rate and scaled to
 * the reference size, so scores compare like with like.
 */
export function scoringChains(
  video: VideoStreamInfo,
  caps: FfmpegCaps,
  rate: Rational,
  refW: number,
  refH: number,
  options: { frameStep?: number } = {},
): { refChain: string; distChain: string } {
  const fixes = sourceFilters(video, caps, video.variableFrameRate ? rate : null).filters;
  // Scoring every Nth frame (after the rate is fixed, before the scaling) keeps both sides on the same frames.
  const step = (options.frameStep ?? 1) > 1 ? [`framestep=${options.frameStep}`] : [];
  return {
    refChain: [...fixes, `fps=${rationalToString(rate)}`, ...step, `scale=w=${refW}:h=${refH}:flags=lanczos`, 'setsar=1', 'format=yuv420p'].join(','),
    distChain: [`fps=${rationalToString(rate)}`, ...step, `scale=w=${refW}:h=${refH}:flags=bicubic`, 'setsar=1', 'format=yuv420p'].join(','),
  };
}

/** Mean of one per-frame value in an ssim/psnr stats file; identical frames (PSNR inf) count as 100 dB. */
export function meanStat(text: string, pattern: RegExp): number {
  const values: number[] = [];
  for (const line of text.split('\n')) {
    const m = pattern.exec(line);
    if (m) values.push(m[1] === 'inf' ? 100 : Number(m[1]));
  }
  if (values.length === 0) throw new TiercastError('ENCODE_FAILED', 'quality scoring produced no frames');
  return values.reduce((a, b) => a + b, 0) / values.length;
}

export async function readVmaf(file: string): Promise<number | null> {
  try {
    const json = JSON.parse(await readFile(file, 'utf8')) as { pooled_metrics?: { vmaf?: { mean?: number } } };
    const v = json.pooled_metrics?.vmaf?.mean;
    return typeof v === 'number' ? Math.round(v * 100) / 100 : null;
  } catch {
    return null;
  }
}
