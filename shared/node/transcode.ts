import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { levelFromCodecs, requireEncoders } from '../common/codecs.ts';
import { TiercastError, toTiercastError } from '../common/errors.ts';
import {
  type AudioOutput,
  audioStreamsFor,
  buildLadderCommand,
  hlsMasterPlaylist,
  MASTER_NAME,
  thumbnailsVtt,
  vodMediaPlaylist,
  type LadderCommand,
  type PackageFormat,
} from '../common/ffmpeg-args.ts';
import type { Ladder } from '../common/ladder-schema.ts';
import { fitLadder } from '../common/ladders.ts';
import { inputGuardArgs } from '../common/input-formats.ts';
import { loudnessTarget, type LoudnessMeasure, type LoudnessSetting } from '../common/loudness.ts';
import { countVttCues, planSubtitles, type SidecarSubtitle, type SubtitlePlan, type SubtitleTrack } from '../common/subtitles.ts';
import type { MediaInfo } from '../common/media.ts';
import type { PerTitleAnalysis } from '../common/per-title.ts';
import { TRANSCODE_REPORT_SCHEMA_VERSION, type AudioReport, type SubtitleReport, type TranscodeReport } from '../common/transcode-report.ts';
import { resolveFfmpeg, type FfmpegInstall } from './ffmpeg-locate.ts';
import { runFfmpeg } from './ffmpeg-runner.ts';
import { planLoudness, trackLoudness, verifyLoudness, type LoudnessPlan } from './loudness.ts';
import { probeFile } from './probe.ts';
import { checkSidecarLanguages, extractSubtitles, findSidecars, packageSubtitles } from './subtitles.ts';
import { durationTolerance, OutputVerifyError, verifyOutputs, type VerifyResult } from './verify.ts';

/**
 * How long the encode may go without its progress advancing before it is called stalled. Generous: a slow preset
 * on a 4K source fills its lookahead in seconds, not minutes.
 */
export const DEFAULT_STALL_TIMEOUT_MS = 300_000;

export type { TranscodeReport } from '../common/transcode-report.ts';

export type TranscodeStage = 'analyzing' | 'encoding' | 'packaging' | 'finalizing';

export interface TranscodeProgress {
  readonly stage: TranscodeStage;
  /** 0..100 over the whole job (analyzing 0-5, encoding 5-90, packaging 90-98, finalizing 98-100). */
  readonly percent: number;
  readonly speed?: number;
  readonly fps?: number;
}

export interface TranscodeOptions {
  readonly input: string;
  /** Final folder. Must not exist, or is replaced as a whole once the new output is verified. */
  readonly outDir: string;
  readonly ladder: Ladder;
  readonly formats?: readonly PackageFormat[];
  /** x264 preset override; null/undefined chooses by duration (or the ladder's own preset). */
  readonly preset?: string | null;
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
  /** ffmpeg is stopped with TIMEOUT when its progress does not advance for this long. Default 300 s; 0 turns it off. */
  readonly stallTimeoutMs?: number;
  readonly onProgress?: (progress: TranscodeProgress) => void;
  /** Parent of the temporary work folder; default: beside outDir (same filesystem, so publishing is a rename). */
  readonly workDir?: string;
  readonly log?: Logger;
  /** Poster and thumbnail sprite (default on). */
  readonly thumbnails?: boolean;
  /** The per-title analysis that made `ladder` (`--ladder auto`), carried into report.json. */
  readonly perTitle?: PerTitleAnalysis | null;
  /** Subtitle files to add (`--subtitles FILE[:lang]`), besides those found next to the input. */
  readonly subtitles?: readonly SidecarSubtitle[];
  /** Look for `<stem>[.<lang>].srt|vtt` next to the input (default on). */
  readonly findSidecars?: boolean;
  /** Loudness normalisation; undefined follows the ladder's `loudness`. */
  readonly loudness?: LoudnessSetting;
}

export const REPORT_NAME = 'report.json';

const STAGE_RANGE: Record<TranscodeStage, [number, number]> = {
  analyzing: [0, 5],
  encoding: [5, 90],
  packaging: [90, 98],
  finalizing: [98, 100],
};

/**
 * The transcode core every tier calls (CLI, agent, Lambda, Fargate, console): probe, fit, one ffmpeg process,
 * verify, write playlists and report.json, then publish outDir by rename. On any failure the work folder is
 * removed and outDir is left as it was.
 */
export async function transcodeFile(options: TranscodeOptions): Promise<TranscodeReport> {
  const started = performance.now();
  const formats: readonly PackageFormat[] = options.formats && options.formats.length ? [...new Set(options.formats)] : ['hls', 'dash'];
  const outDir = path.resolve(options.outDir);
  const log = options.log;
  const report = (stage: TranscodeStage, fraction: number, extra: { speed?: number; fps?: number } = {}) => {
    const [a, b] = STAGE_RANGE[stage];
    const percent = Math.round((a + (b - a) * Math.min(1, Math.max(0, fraction))) * 10) / 10;
    try {
      options.onProgress?.({ stage, percent, ...extra });
    } catch {
      // Progress listeners never break the job.
    }
  };
  const checkAbort = () => {
    if (options.signal?.aborted) throw new TiercastError('CANCELLED', 'transcode cancelled', { cause: options.signal.reason });
  };
  const deadline = options.timeoutMs && options.timeoutMs > 0 ? Date.now() + options.timeoutMs : null;
  const remainingMs = () => {
    if (deadline === null) return undefined;
    const left = deadline - Date.now();
    if (left <= 0) throw new TiercastError('TIMEOUT', `transcode did not finish within ${Math.round(options.timeoutMs! / 1000)} s`);
    return left;
  };

  // Analyzing: ffmpeg, the source (probeFile decodes a short sample, so a corrupt file fails here as
  // DECODE_FAILED rather than as a confusing encode error), the fitted ladder.
  report('analyzing', 0);
  const install = await resolveFfmpeg();
  checkAbort();
  const media = await probeFile(options.input, { signal: options.signal });
  const video = media.video!;
  const fitted = fitLadder(media, options.ladder, { preset: options.preset ?? options.ladder.preset ?? null });
  if (fitted.rungs.length === 0) throw new TiercastError('UNSUPPORTED_INPUT', `${path.basename(options.input)}: no rung of ladder ${options.ladder.name} fits this source`);
  // Subtitles and loudness: a bad sidecar fails here, before any encoding; the loudness decode gives the report
  // its R128 figures and, when normalising, loudnorm's first pass.
  const sidecars = await gatherSidecars(options);
  checkSidecarLanguages(sidecars);
  const subtitlePlan = planSubtitles(media.subtitles ?? [], sidecars);
  checkAbort();
  const loudness = fitted.audio
    ? await planLoudness(install.ffmpeg, options.input, audioStreamsFor(media).map((a) => a.index), loudnessTarget(options.loudness ?? options.ladder.loudness), options.signal)
    : await planLoudness(install.ffmpeg, options.input, [], null);
  // Before any work: a codec this build cannot encode fails this job alone, naming the encoder.
  requireEncoders(fitted.rungs.map((r) => r.codec ?? 'h264'), install.encoders);
  const analyzingSec = (performance.now() - started) / 1000;
  report('analyzing', 1);
  checkAbort();

  const workParent = path.resolve(options.workDir ?? path.dirname(outDir));
  await mkdir(workParent, { recursive: true });
  await mkdir(path.dirname(outDir), { recursive: true });
  const work = await mkdtemp(path.join(workParent, '.tiercast-work-'));
  log?.debug({ work, outDir }, 'transcode work folder');
  try {
    const subs = await extractSubtitles(install.ffmpeg, path.resolve(options.input), subtitlePlan.tracks, work, options.signal);
    const cmd = buildLadderCommand({
      audioFilters: loudness.filters,
      source: path.resolve(options.input),
      media,
      ladder: fitted,
      outDir: work,
      formats,
      caps: install,
      poster: options.thumbnails !== false,
      thumbnails: options.thumbnails !== false,
    });
    const expectedSec = video.durationSec ?? media.durationSec;

    // Encoding and packaging in one process.
    const encodeStarted = performance.now();
    let lastSpeed: number | null = null;
    report('encoding', 0);
    await runFfmpeg(cmd.args, {
      bin: install.ffmpeg,
      signal: options.signal,
      timeoutMs: remainingMs(),
      stallTimeoutMs: options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS,
      durationSec: expectedSec,
      onProgress: (p) => {
        if (p.speed !== null) lastSpeed = p.speed;
        report('encoding', (p.percent ?? 0) / 100, { ...(p.speed !== null ? { speed: p.speed } : {}), ...(p.fps !== null ? { fps: p.fps } : {}) });
      },
    });
    const encodingSec = (performance.now() - encodeStarted) / 1000;
    checkAbort();

    // Packaging: verify what ffmpeg wrote, then the playlists Tiercast owns.
    const packagingStarted = performance.now();
    report('packaging', 0);
    const verified = await verifyOutputs({ dir: work, outputs: cmd.outputs, expectedDurationSec: expectedSec, ffprobe: install.ffprobe, signal: options.signal });
    await checkDuration(verified, expectedSec, media, options.input, install, options.signal);
    const outputLoudness = await checkOutputLoudness(install, loudness, cmd, verified, work, options.signal);
    const warnings = [...media.warnings, ...cmd.warnings, ...subtitlePlan.warnings, ...subs.warnings, ...loudness.warnings];
    for (const audioTrack of verified.tracks.filter((t) => t.kind === 'audio')) {
      if (Math.abs(audioTrack.durationSec - verified.decodedDurationSec) > verified.toleranceSec) {
        warnings.push(`audio ${audioTrack.playlist} lasts ${audioTrack.durationSec.toFixed(2)} s, video ${verified.decodedDurationSec.toFixed(2)} s`);
      }
    }
    await writePackaging(work, cmd, verified, formats);
    await packageSubtitles(work, subs.tracks, verified.decodedDurationSec, { hlsMaster: formats.includes('hls') ? MASTER_NAME : null, dashManifest: formats.includes('dash') ? cmd.outputs.manifest : null }, media.closedCaptions === true);
    const subtitleReports = await subtitleReport(work, subs.tracks, subtitlePlan, formats);
    const posterOk = cmd.outputs.poster ? await exists(path.join(work, cmd.outputs.poster.file)) : false;
    const spriteOk = cmd.outputs.thumbnails ? await exists(path.join(work, cmd.outputs.thumbnails.file)) : false;
    if (cmd.outputs.poster && !posterOk) warnings.push('no poster frame was written');
    if (cmd.outputs.thumbnails && !spriteOk) warnings.push('no thumbnail sprite was written');
    if (spriteOk && cmd.outputs.thumbnails) {
      await writeFile(path.join(work, cmd.outputs.thumbnails.vttFile), thumbnailsVtt(cmd.outputs.thumbnails, verified.decodedDurationSec));
    }
    const packagingSec = (performance.now() - packagingStarted) / 1000;
    report('packaging', 1);
    checkAbort();

    // Finalizing: report.json, then publish by rename.
    const finalizingStarted = performance.now();
    report('finalizing', 0);
    const result = buildReport({
      input: options.input,
      media,
      cmd,
      fitted,
      formats,
      verified,
      expectedSec,
      warnings,
      install,
      work,
      files: {
        hlsMaster: formats.includes('hls') ? MASTER_NAME : null,
        dashManifest: formats.includes('dash') ? cmd.outputs.manifest : null,
        poster: posterOk ? cmd.outputs.poster!.file : null,
        sprite: spriteOk ? cmd.outputs.thumbnails!.file : null,
        thumbnailsVtt: spriteOk ? cmd.outputs.thumbnails!.vttFile : null,
      },
      speed: lastSpeed,
      stages: { analyzingSec, encodingSec, packagingSec, finalizingSec: 0, totalSec: 0 },
      loudness,
      outputLoudness,
      subtitles: subtitleReports,
    });
    const finalizingSec = (performance.now() - finalizingStarted) / 1000;
    const totalSec = (performance.now() - started) / 1000;
    const final: TranscodeReport = { ...result, ...(options.perTitle ? { perTitle: options.perTitle } : {}), stages: { analyzingSec: r3(analyzingSec), encodingSec: r3(encodingSec), packagingSec: r3(packagingSec), finalizingSec: r3(finalizingSec), totalSec: r3(totalSec) } };
    await writeFile(path.join(work, REPORT_NAME), JSON.stringify(final, null, 2) + '\n');
    checkAbort();
    await publish(work, outDir);
    report('finalizing', 1);
    log?.info({ outDir, renditions: final.renditions.length, encodingSec: final.stages.encodingSec }, 'transcode published');
    return final;
  } catch (err) {
    await rm(work, { recursive: true, force: true }).catch(() => undefined);
    if (options.signal?.aborted && !(err instanceof TiercastError && err.code === 'CANCELLED')) {
      throw new TiercastError('CANCELLED', 'transcode cancelled', { cause: err });
    }
    throw toTiercastError(err, 'ENCODE_FAILED');
  }
}

function r3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/** Each normalised AAC track measured from its segments (OUTPUT_VERIFY_FAILED when it misses the target). */
async function checkOutputLoudness(install: FfmpegInstall, plan: LoudnessPlan, cmd: LadderCommand, verified: VerifyResult, work: string, signal?: AbortSignal): Promise<Map<number, LoudnessMeasure>> {
  if (!plan.target) return new Map();
  const tracks = [...(cmd.outputs.audio ? [cmd.outputs.audio] : []), ...cmd.outputs.alternateAudio].filter((a) => plan.filters.has(a.sourceIndex));
  const playlists = tracks.map((a) => ({ sourceIndex: a.sourceIndex, file: path.join(work, trackOf(verified, 'audio', a.representationId).playlist) }));
  return verifyLoudness(install.ffmpeg, plan.target, playlists, signal);
}

/** Sidecars given explicitly, then those found next to the input (each file once). */
async function gatherSidecars(options: TranscodeOptions): Promise<SidecarSubtitle[]> {
  const found = options.findSidecars === false ? [] : await findSidecars(options.input);
  const all = [...(options.subtitles ?? []).map((s) => ({ ...s, path: path.resolve(s.path) })), ...found];
  return all.filter((s, i) => all.findIndex((x) => x.path === s.path) === i);
}

async function subtitleReport(work: string, tracks: readonly SubtitleTrack[], plan: SubtitlePlan, formats: readonly PackageFormat[]): Promise<NonNullable<TranscodeReport['subtitles']>> {
  const reports: SubtitleReport[] = [];
  for (const t of tracks) {
    reports.push({
      language: t.language,
      name: t.name,
      source: t.source.kind === 'stream' ? `stream ${t.source.index} (${t.source.codec})` : path.basename(t.source.path),
      default: t.default,
      forced: t.forced,
      file: t.file,
      playlist: formats.includes('hls') ? t.playlist : null,
      cues: countVttCues(await readFile(path.join(work, t.file), 'utf8')),
    });
  }
  return { tracks: reports, leftOut: plan.leftOut };
}

async function exists(file: string): Promise<boolean> {
  try {
    return (await stat(file)).size > 0;
  } catch {
    return false;
  }
}

/**
 * The output must last as long as the source says. When it is short, a packet scan of the source (no decoding)
 * decides whose fault it is: a source whose packets stop early is truncated (INPUT_TRUNCATED); a source that is
 * whole means the encode lost frames (OUTPUT_VERIFY_FAILED).
 */
async function checkDuration(verified: VerifyResult, expectedSec: number, media: MediaInfo, input: string, install: FfmpegInstall, signal?: AbortSignal): Promise<void> {
  const got = verified.decodedDurationSec;
  if (got >= expectedSec - verified.toleranceSec) return;
  const name = path.basename(input);
  const readable = await sourcePacketSpan(install.ffprobe, input, media.video!.index, signal, media.container).catch(() => null);
  if (readable !== null && readable < expectedSec - durationTolerance(expectedSec)) {
    throw new TiercastError(
      'INPUT_TRUNCATED',
      `${name}: the file holds ${readable.toFixed(2)} s of video but its header declares ${expectedSec.toFixed(2)} s (incomplete upload or copy?)`,
      { details: { expectedSec, readableSec: readable, outputSec: got } },
    );
  }
  throw new OutputVerifyError(`output lasts ${got.toFixed(2)} s but the source lasts ${expectedSec.toFixed(2)} s (tolerance ${verified.toleranceSec.toFixed(2)} s)`, {
    expectedSec,
    outputSec: got,
  });
}

/** Seconds from the first to the end of the last video packet, read without decoding. */
export function sourcePacketSpan(ffprobe: string, input: string, streamIndex: number, signal?: AbortSignal, container?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile(
      ffprobe,
      [
        '-v', 'error', '-select_streams', String(streamIndex), '-show_entries', 'packet=pts_time,dts_time,duration_time', '-of', 'csv=p=0',
        ...inputGuardArgs(container), `file:${path.resolve(input)}`,
      ],
      { maxBuffer: 256 * 1024 * 1024, signal, windowsHide: true },
      (err, stdout) => {
        if (err) return reject(err);
        let min = Infinity;
        let max = -Infinity;
        for (const line of stdout.split('\n')) {
          const [pts, dts, dur] = line.split(',');
          const t = Number(pts !== undefined && pts !== '' && pts !== 'N/A' ? pts : dts);
          if (!Number.isFinite(t)) continue;
          const d = Number(dur);
          min = Math.min(min, t);
          max = Math.max(max, t + (Number.isFinite(d) ? d : 0));
        }
        resolve(Number.isFinite(min) ? max - min : 0);
      },
    );
  });
}

/** The verified track of one output (verifyOutputs checked there is one per rendition and audio track). */
function trackOf(verified: VerifyResult, kind: 'video' | 'audio', representationId: number): VerifyResult['tracks'][number] {
  return verified.tracks.find((x) => x.kind === kind && x.representationId === representationId)!;
}

async function writePackaging(work: string, cmd: LadderCommand, verified: VerifyResult, formats: readonly PackageFormat[]): Promise<void> {
  const o = cmd.outputs;
  if (formats.includes('hls')) {
    for (const t of verified.tracks) {
      const file = path.join(work, t.playlist);
      await writeFile(file, vodMediaPlaylist(await readFile(file, 'utf8')));
    }
    const masterAudio = (out: AudioOutput) => {
      const t = trackOf(verified, 'audio', out.representationId);
      return { playlist: t.playlist, codecs: t.codecs, bitratePeak: t.bitratePeak, bitrateAvg: t.bitrateAvg, channels: 2, name: out.name, language: out.language };
    };
    const master = hlsMasterPlaylist({
      renditions: o.renditions.map((r) => {
        const t = trackOf(verified, 'video', r.representationId);
        return { playlist: r.playlist, width: r.width, height: r.height, fps: r.fps, codecs: t.codecs, bitratePeak: t.bitratePeak, bitrateAvg: t.bitrateAvg };
      }),
      audio: o.audio ? masterAudio(o.audio) : null,
      alternateAudio: o.alternateAudio.map(masterAudio),
    });
    await writeFile(path.join(work, MASTER_NAME), master);
  } else {
    for (const name of await readdir(work)) if (name.endsWith('.m3u8')) await unlink(path.join(work, name));
  }
  if (!formats.includes('dash')) await unlink(path.join(work, o.manifest));
  else {
    const mpdFile = path.join(work, o.manifest);
    const codecs = new Map(verified.tracks.filter((t) => t.kind === 'video').map((t) => [String(t.representationId), t.codecs]));
    await writeFile(mpdFile, mpdWithCodecs(await readFile(mpdFile, 'utf8'), codecs));
  }
}

/**
 * ffmpeg 5.1's dash muxer writes HEVC representations as plain `codecs="hvc1"`; every video representation gets
 * the exact string verification read back (avc1.PPCCLL, hvc1.P.C.Ln.B, av01.P.LLT.DD).
 */
export function mpdWithCodecs(xml: string, codecs: ReadonlyMap<string, string>): string {
  return xml.replace(/<Representation\b[^>]*>/g, (tag) => {
    const id = /\bid="([^"]*)"/.exec(tag)?.[1];
    const value = id === undefined ? undefined : codecs.get(id);
    return value === undefined ? tag : tag.replace(/\bcodecs="[^"]*"/, `codecs="${value}"`);
  });
}

/** Rename the verified work folder into place; an existing outDir is moved aside first and removed after. */
async function publish(work: string, outDir: string): Promise<void> {
  let aside: string | null = null;
  try {
    await stat(outDir);
    aside = `${outDir}.tiercast-old-${process.pid}-${Date.now()}`;
    await rename(outDir, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new TiercastError('INTERNAL', `cannot replace ${outDir}: ${(err as Error).message}`, { cause: err });
  }
  try {
    await rename(work, outDir);
  } catch (err) {
    if (aside) await rename(aside, outDir).catch(() => undefined);
    throw new TiercastError('INTERNAL', `cannot publish ${outDir}: ${(err as Error).message}`, { cause: err });
  }
  if (aside) await rm(aside, { recursive: true, force: true });
}

function buildReport(a: {
  input: string;
  media: MediaInfo;
  cmd: LadderCommand;
  fitted: ReturnType<typeof fitLadder>;
  formats: readonly PackageFormat[];
  verified: VerifyResult;
  expectedSec: number;
  warnings: string[];
  install: FfmpegInstall;
  work: string;
  files: TranscodeReport['files'];
  speed: number | null;
  stages: TranscodeReport['stages'];
  loudness: LoudnessPlan;
  outputLoudness: ReadonlyMap<number, LoudnessMeasure>;
  subtitles: NonNullable<TranscodeReport['subtitles']>;
}): TranscodeReport {
  const v = a.media.video!;
  const au = a.media.audio[0] ?? null;
  const o = a.cmd.outputs;
  const audioReport = (out: AudioOutput): AudioReport => {
    const t = trackOf(a.verified, 'audio', out.representationId);
    return {
      language: out.language,
      name: out.name,
      codecs: t.codecs,
      channels: 2,
      sampleRate: out.sampleRate,
      targetBitrate: out.bitrate,
      bitrateAvg: t.bitrateAvg,
      bitratePeak: t.bitratePeak,
      sizeBytes: t.sizeBytes,
      durationSec: r3(t.durationSec),
      segments: t.segments.length,
      playlist: t.playlist,
      representationId: t.representationId,
      loudness: trackLoudness(a.loudness, out.sourceIndex, a.outputLoudness.get(out.sourceIndex) ?? null),
    };
  };
  return {
    schemaVersion: TRANSCODE_REPORT_SCHEMA_VERSION,
    createdAt: new Date().toISOString(),
    input: {
      name: path.basename(a.input),
      sizeBytes: a.media.sizeBytes,
      container: a.media.container,
      durationSec: a.media.durationSec,
      video: {
        codec: v.codec,
        width: v.width,
        height: v.height,
        displayWidth: v.displayWidth,
        displayHeight: v.displayHeight,
        rotation: v.rotation,
        fps: r3(v.fps),
        variableFrameRate: v.variableFrameRate,
        pixelFormat: v.pixelFormat,
        bitDepth: v.bitDepth,
        colorTransfer: v.colorTransfer,
        interlaced: v.interlaced,
      },
      audio: au ? { codec: au.codec, channels: au.channels, channelLayout: au.channelLayout } : null,
    },
    ladder: { name: a.fitted.ladder, preset: a.fitted.preset, presetReason: a.fitted.presetReason, segmentSeconds: a.fitted.segmentSeconds, dropped: a.fitted.dropped },
    formats: [...a.formats],
    files: a.files,
    renditions: o.renditions.map((r) => {
      const t = trackOf(a.verified, 'video', r.representationId);
      return {
        name: r.name,
        width: r.width,
        height: r.height,
        fps: r3(r.fps.num / r.fps.den),
        codec: r.codec,
        codecs: t.codecs,
        profile: t.profile ?? r.profile,
        // HEVC and AV1 levels are the encoder's choice: report what it wrote.
        level: r.codec === 'h264' ? r.level : (levelFromCodecs(t.codecs) ?? r.level),
        targetBitrate: r.videoBitrate,
        maxrate: r.maxrate,
        bitrateAvg: t.bitrateAvg,
        bitratePeak: t.bitratePeak,
        sizeBytes: t.sizeBytes,
        durationSec: r3(t.durationSec),
        segments: t.segments.length,
        playlist: r.playlist,
        representationId: r.representationId,
      };
    }),
    audio: o.audio ? audioReport(o.audio) : null,
    alternateAudio: o.alternateAudio.map(audioReport),
    subtitles: a.subtitles,
    loudnessSec: r3(a.loudness.seconds),
    verification: {
      expectedDurationSec: r3(a.expectedSec),
      decodedDurationSec: r3(a.verified.decodedDurationSec),
      toleranceSec: r3(a.verified.toleranceSec),
      keyframesAligned: a.verified.keyframesAligned,
      maxSegmentSec: r3(a.verified.maxSegmentSec),
    },
    stages: a.stages,
    speed: a.speed,
    sourceFixes: a.cmd.sourceFixes,
    warnings: a.warnings,
    ffmpeg: { version: a.install.version, tonemapMethod: a.install.tonemapMethod },
    command: a.cmd.args.map((x) => x.split(a.work).join('<out>')),
  };
}
