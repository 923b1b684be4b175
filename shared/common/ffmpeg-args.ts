import { inputGuardArgs } from './input-formats.ts';
import { rungEncoderArgs, type VideoCodec } from './codecs.ts';
import type { FittedLadder, FittedRung } from './ladder-schema.ts';
import type { MediaInfo, Rational, VideoStreamInfo } from './media.ts';

/**
 * The one ffmpeg command of a transcode job (pure: an argument array, never a shell string).
 *
 * Shape: decode the main video stream once -> source fixes once (deinterlace, HDR tone-map, range, 8-bit, CFR)
 * -> split -> per rung: frame-rate cap, scale, aspect -> libx264 capped VBR with a closed GOP and a keyframe at
 * every segment boundary -> the dash muxer, which writes CMAF fMP4 segments once and both the MPD and the HLS
 * media playlists over them (`-hls_playlist 1`). Two cheap side branches of the same split write the poster and
 * the thumbnail sprite: they see every decoded frame already, so a second process would decode the source twice.
 */

export type TonemapMethod = 'zscale' | 'libplacebo' | 'none';
export type PackageFormat = 'hls' | 'dash';

export interface FfmpegCaps {
  readonly canTonemap: boolean;
  readonly tonemapMethod: TonemapMethod;
}

export interface ThumbnailPlan {
  /** Seconds between thumbnails. */
  readonly intervalSec: number;
  readonly tileWidth: number;
  readonly tileHeight: number;
  readonly columns: number;
  readonly rows: number;
  /** Cues written to thumbnails.vtt (the sprite may hold one spare tile). */
  readonly count: number;
  readonly file: string;
  readonly vttFile: string;
}

export interface RenditionOutput {
  readonly name: string;
  /** DASH Representation id and the N of media_N.m3u8. */
  readonly representationId: number;
  readonly width: number;
  readonly height: number;
  readonly fps: Rational;
  readonly codec: VideoCodec;
  /** H.264 only; HEVC and AV1 rungs use their encoder's main profile. */
  readonly profile: FittedRung['profile'];
  /** H.264: the level h264Level chose; HEVC and AV1: `auto` (the encoder picks it; the report shows what it wrote). */
  readonly level: string;
  readonly videoBitrate: number;
  readonly maxrate: number;
  readonly bufsize: number;
  readonly playlist: string;
  readonly initSegment: string;
  /** Segment file name pattern with {n} for the 1-based number. */
  readonly segmentPattern: string;
}

export interface AudioOutput {
  /** Source stream index it is made from. */
  readonly sourceIndex: number;
  /** ISO 639 code from the source's tag, null when untagged. */
  readonly language: string | null;
  /** Name players show (unique among the tracks): the language, else "Audio". */
  readonly name: string;
  readonly representationId: number;
  readonly bitrate: number;
  readonly channels: 2;
  readonly sampleRate: number;
  readonly playlist: string;
  readonly initSegment: string;
  readonly segmentPattern: string;
}

export interface LadderOutputs {
  /** File names relative to outDir. */
  readonly manifest: string;
  readonly hlsMaster: string;
  readonly renditions: readonly RenditionOutput[];
  /** The main audio track (the source's default one), null for a video-only ladder. */
  readonly audio: AudioOutput | null;
  /** Other languages of the source, each its own HLS rendition and DASH adaptation set (none without `audio`). */
  readonly alternateAudio: readonly AudioOutput[];
  readonly poster: { readonly file: string; readonly width: number; readonly height: number; readonly atSec: number } | null;
  readonly thumbnails: ThumbnailPlan | null;
  readonly segmentSeconds: number;
}

export interface LadderCommandInput {
  readonly source: string;
  readonly media: MediaInfo;
  readonly ladder: FittedLadder;
  /** Absolute folder the outputs go to (the job's work folder). */
  readonly outDir: string;
  readonly formats: readonly PackageFormat[];
  readonly caps: FfmpegCaps;
  readonly threads?: number;
  /** Poster and sprite branches; default on. */
  readonly poster?: boolean;
  readonly thumbnails?: boolean | { readonly intervalSec?: number; readonly tileWidth?: number };
  /** Audio filter per source audio stream index (loudness normalisation, shared/common/loudness.ts). */
  readonly audioFilters?: ReadonlyMap<number, string>;
  /** Encode only this window of the source (previews). */
  readonly window?: { readonly startSec: number; readonly durationSec: number };
}

export interface LadderCommand {
  readonly args: readonly string[];
  readonly outputs: LadderOutputs;
  readonly filterGraph: string;
  /** What the output will not do as well as asked (e.g. HDR converted without tone-mapping). */
  readonly warnings: readonly string[];
  /** Source fixes the filter graph applies (deinterlace, tone-map, CFR, ...), for the report. */
  readonly sourceFixes: readonly string[];
}

export const MANIFEST_NAME = 'manifest.mpd';
export const MASTER_NAME = 'master.m3u8';
export const POSTER_NAME = 'poster.jpg';
export const SPRITE_NAME = 'sprite.jpg';
export const THUMBNAILS_VTT_NAME = 'thumbnails.vtt';

const INIT_SEG_TEMPLATE = 'init-$RepresentationID$.$ext$';
const MEDIA_SEG_TEMPLATE = 'seg-$RepresentationID$-$Number%05d$.$ext$';

/** `file:` keeps a name such as `a:b.mp4` or `concat:x` from being read as an ffmpeg protocol. */
export function fileUrl(p: string): string {
  return `file:${p}`;
}

export function joinPath(dir: string, name: string): string {
  return dir.endsWith('/') || dir.endsWith('\\') ? dir + name : `${dir}/${name}`;
}

/** 29.97 -> 30000/1001, 25 -> 25/1, 23.976 -> 24000/1001; other rates to 1/1000 precision. */
export function fpsToRational(fps: number): Rational {
  if (!Number.isFinite(fps) || fps <= 0) return { num: 25, den: 1 };
  const rounded = Math.round(fps);
  if (Math.abs(fps - rounded) < 0.0005) return { num: rounded, den: 1 };
  const ntsc = Math.round((fps * 1001) / 1000);
  if (Math.abs(fps - (ntsc * 1000) / 1001) < 0.0005) return { num: ntsc * 1000, den: 1001 };
  const num = Math.round(fps * 1000);
  const g = gcd(num, 1000);
  return { num: num / g, den: 1000 / g };
}

export function rationalToString(r: Rational): string {
  return `${r.num}/${r.den}`;
}

export function rationalValue(r: Rational): number {
  return r.num / r.den;
}

function gcd(a: number, b: number): number {
  a = Math.abs(a);
  b = Math.abs(b);
  while (b) [a, b] = [b, a % b];
  return a || 1;
}

interface LevelLimit {
  readonly level: string;
  readonly idc: number;
  /** Macroblocks per second, frame size in macroblocks, max bitrate and CPB in kbit/s (Baseline/Main; High x1.25). */
  readonly mbps: number;
  readonly fs: number;
  readonly br: number;
  readonly cpb: number;
}

// ITU-T H.264 Table A-1.
const H264_LEVELS: readonly LevelLimit[] = [
  { level: '1', idc: 10, mbps: 1485, fs: 99, br: 64, cpb: 175 },
  { level: '1.1', idc: 11, mbps: 3000, fs: 396, br: 192, cpb: 500 },
  { level: '1.2', idc: 12, mbps: 6000, fs: 396, br: 384, cpb: 1000 },
  { level: '1.3', idc: 13, mbps: 11880, fs: 396, br: 768, cpb: 2000 },
  { level: '2', idc: 20, mbps: 11880, fs: 396, br: 2000, cpb: 2000 },
  { level: '2.1', idc: 21, mbps: 19800, fs: 792, br: 4000, cpb: 4000 },
  { level: '2.2', idc: 22, mbps: 20250, fs: 1620, br: 4000, cpb: 4000 },
  { level: '3', idc: 30, mbps: 40500, fs: 1620, br: 10000, cpb: 10000 },
  { level: '3.1', idc: 31, mbps: 108000, fs: 3600, br: 14000, cpb: 14000 },
  { level: '3.2', idc: 32, mbps: 216000, fs: 5120, br: 20000, cpb: 20000 },
  { level: '4', idc: 40, mbps: 245760, fs: 8192, br: 20000, cpb: 25000 },
  { level: '4.1', idc: 41, mbps: 245760, fs: 8192, br: 50000, cpb: 62500 },
  { level: '4.2', idc: 42, mbps: 522240, fs: 8704, br: 50000, cpb: 62500 },
  { level: '5', idc: 50, mbps: 589824, fs: 22080, br: 135000, cpb: 135000 },
  { level: '5.1', idc: 51, mbps: 983040, fs: 36864, br: 240000, cpb: 240000 },
  { level: '5.2', idc: 52, mbps: 2073600, fs: 36864, br: 240000, cpb: 240000 },
];

/** The lowest H.264 level that allows this picture size, frame rate, maxrate and buffer. */
export function h264Level(width: number, height: number, fps: number, maxrate: number, bufsize: number, profile: FittedRung['profile']): string {
  const mbW = Math.ceil(width / 16);
  const mbH = Math.ceil(height / 16);
  const fs = mbW * mbH;
  const factor = profile === 'high' ? 1.25 : 1;
  for (const l of H264_LEVELS) {
    const maxDim = Math.sqrt(l.fs * 8);
    if (fs > l.fs || mbW > maxDim || mbH > maxDim) continue;
    if (fs * fps > l.mbps) continue;
    if (maxrate > l.br * 1000 * factor || bufsize > l.cpb * 1000 * factor) continue;
    return l.level;
  }
  return '5.2';
}

const PROFILE_IDC: Record<FittedRung['profile'], number> = { baseline: 0x42, main: 0x4d, high: 0x64 };

/**
 * RFC 6381 codecs string for what libx264 writes: constrained baseline sets constraint_set0/1 (0xC0), main sets
 * constraint_set1 (0x40), high none. The transcode reads the real string from the init segment; this is the
 * expectation it is checked against.
 */
export function avcCodecString(profile: FittedRung['profile'], level: string): string {
  const idc = H264_LEVELS.find((l) => l.level === level)?.idc ?? 40;
  const constraints = profile === 'baseline' ? 0xc0 : profile === 'main' ? 0x40 : 0x00;
  return `avc1.${hex2(PROFILE_IDC[profile])}${hex2(constraints)}${hex2(idc)}`;
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** Source-wide fixes applied once, before the split. Also returns why each is there. */
export function sourceFilters(video: VideoStreamInfo, caps: FfmpegCaps, cfrRate: Rational | null): { filters: string[]; warnings: string[]; notes: string[] } {
  const filters: string[] = [];
  const warnings: string[] = [];
  const notes: string[] = [];
  if (video.interlaced) {
    // send_frame keeps the frame rate the ladder was fitted to (1080i30 -> 30p); deint=all because many
    // interlaced files do not flag every frame.
    filters.push('bwdif=mode=send_frame:parity=auto:deint=all');
    notes.push(`deinterlaced (${video.fieldOrder}) with bwdif`);
  }
  if (cfrRate) {
    filters.push(`fps=${rationalToString(cfrRate)}`);
    notes.push(`variable frame rate made constant at ${rationalToString(cfrRate)}`);
  }
  const hdr = video.colorTransfer === 'pq' || video.colorTransfer === 'hlg';
  if (hdr && caps.tonemapMethod === 'zscale') {
    const tin = video.colorTransfer === 'pq' ? 'smpte2084' : 'arib-std-b67';
    const rin = video.colorRange === 'pc' ? 'full' : 'limited';
    // Linear light in float, BT.709 primaries, Hable curve, back to BT.709 limited-range 8-bit. Input
    // parameters are explicit because phone files often carry only part of the colour tags.
    filters.push(
      `zscale=tin=${tin}:min=bt2020nc:pin=bt2020:rin=${rin}:t=linear:npl=100`,
      'format=gbrpf32le',
      'zscale=p=bt709',
      'tonemap=tonemap=hable:desat=0',
      'zscale=t=bt709:m=bt709:r=limited',
      'format=yuv420p',
    );
    notes.push(`HDR (${video.colorTransfer.toUpperCase()}) tone-mapped to SDR BT.709 (zscale + tonemap hable)`);
  } else if (hdr) {
    // No zscale in this build (libplacebo needs a Vulkan device, which servers rarely have): convert the matrix
    // and range with swscale. Colours come out flat and too bright, so the report says so.
    filters.push('scale=out_color_matrix=bt709:out_range=tv', 'format=yuv420p');
    warnings.push(
      `HDR (${video.colorTransfer.toUpperCase()}) source converted to SDR without tone-mapping: this ffmpeg build has no zscale filter, so colours will look washed out`,
    );
  } else {
    if (video.colorRange === 'pc') {
      filters.push('scale=out_range=tv');
      notes.push('full-range source converted to limited range');
    }
    filters.push('format=yuv420p');
    if (video.bitDepth > 8) notes.push(`${video.bitDepth}-bit source converted to 8-bit 4:2:0`);
  }
  return { filters, warnings, notes };
}

/** Display aspect ratio every rung is tagged with, so the DASH adaptation set is consistent. */
function rungAspect(rungs: readonly FittedRung[]): { filter: string; squarePixels: boolean } {
  const top = rungs[0]!;
  const g = gcd(top.width, top.height);
  const same = rungs.every((r) => r.width * top.height === r.height * top.width);
  if (same) return { filter: 'setsar=1', squarePixels: true };
  // Even-rounded rung sizes rarely share one exact ratio, and the dash muxer refuses an adaptation set whose
  // representations disagree. Pinning every rung to the top rung's ratio leaves sample aspect ratios within a
  // fraction of a percent of square while the display shape stays identical across rungs.
  return { filter: `setdar=dar=${top.width / g}/${top.height / g}:max=100000`, squarePixels: false };
}

export function planThumbnails(
  durationSec: number,
  displayAspect: number,
  options: { intervalSec?: number; tileWidth?: number } = {},
): ThumbnailPlan {
  const duration = Math.max(durationSec, 0.04);
  // About 200 tiles at most: a two-hour film gets one every 36 s, a short clip one every 2 s.
  const intervalSec = options.intervalSec ?? Math.max(2, Math.ceil(duration / 200));
  const tileWidth = even(options.tileWidth ?? 160);
  const tileHeight = Math.max(2, even(tileWidth / (displayAspect > 0 ? displayAspect : 16 / 9)));
  const count = Math.max(1, Math.ceil(duration / intervalSec));
  // One spare slot, so rounding at the last frame can never start a second sprite image.
  const slots = count + 1;
  const columns = Math.min(10, slots);
  const rows = Math.ceil(slots / columns);
  return { intervalSec, tileWidth, tileHeight, columns, rows, count, file: SPRITE_NAME, vttFile: THUMBNAILS_VTT_NAME };
}

function even(n: number): number {
  return Math.max(2, Math.round(n / 2) * 2);
}

/** At most this many audio tracks per job (main plus alternates). */
export const MAX_AUDIO_TRACKS = 8;

/**
 * The audio a ladder carries: the main track (probe puts the default one first) and then each other language the
 * source has, once, skipping commentary and audio description (`secondary`) and untagged or same-language
 * duplicates, which players could not tell apart.
 */
export function audioStreamsFor(media: MediaInfo): MediaInfo['audio'][number][] {
  const [main, ...rest] = media.audio;
  if (!main) return [];
  const out = [main];
  const seen = new Set([main.language ?? '']);
  for (const a of rest) {
    if (out.length >= MAX_AUDIO_TRACKS) break;
    if (a.secondary || !a.language || seen.has(a.language)) continue;
    seen.add(a.language);
    out.push(a);
  }
  return out;
}

/** The frame rate of one rung: the source rate (made constant) capped at the rung's rate. */
function rungRate(rung: FittedRung, sourceRate: Rational): Rational {
  if (rung.fps >= rationalValue(sourceRate) - 0.01) return sourceRate;
  // fitLadder rounds rates to 1/1000 (29.97); fpsToRational restores 30000/1001.
  return fpsToRational(rung.fps);
}

export function sourceRate(video: VideoStreamInfo): Rational {
  const candidates = [video.avgFrameRate, video.rFrameRate].filter((r) => r.den > 0 && r.num > 0);
  for (const r of candidates) if (Math.abs(rationalValue(r) - video.fps) < 0.01) return reduceRational(r);
  return fpsToRational(video.fps);
}

function reduceRational(r: Rational): Rational {
  const g = gcd(r.num, r.den);
  const reduced = { num: r.num / g, den: r.den / g };
  // 810000/13487 style averages: snap to a clean rate when close.
  return reduced.den > 1001 ? fpsToRational(reduced.num / reduced.den) : reduced;
}

/** A rung's keyframe rule: `-force_key_frames` expression and the GOP length x264 is given, in frames. */
export interface KeyframeRule {
  readonly expr: string;
  readonly gop: number;
}

/**
 * Where every rung puts its keyframes (README "The command line": keyframes aligned across rungs, segment lengths
 * verified). Counted in frames, never in seconds: each rung is fed frames at its own constant rate (the fps filters
 * of the graph), so frame n of a rung sits exactly n / rate after that rung's first frame whatever timestamps the
 * source starts with (audio priming, edit lists, B-frame delay), and the rule is integer arithmetic, so no float hair
 * can move a keyframe by one frame (`expr:gte(t,n_forced*4)` did, on a 20 fps camera clip whose first frame came out
 * at 0.05 s).
 *
 * The grid period P is the smallest whole number of frames of every rung that reaches the segment length: exactly the
 * segment length at integer rates (4 s = 80 frames at 20 fps), 4.004 s at 29.97 fps (120 frames). A rung puts keyframe
 * k on its first frame at or after k * P, so rungs at related rates (59.94 and its halved 29.97) cut on the same
 * frame, others within one frame, and nothing drifts over hours. Two keyframes are never closer than the segment
 * length, which matters because the dash muxer cuts a segment only at a keyframe at least `-seg_duration` after the
 * segment's start: a boundary a frame short (ceil(29.97 k) frames gives one every 34 s) would be skipped and make a
 * double-length segment.
 */
export function keyframeRules(rates: readonly Rational[], segmentSeconds: number): KeyframeRule[] {
  const seg = fpsToRational(segmentSeconds);
  // P = max over rungs of ceil(seg * rate) / rate, kept as the fraction pNum / pDen.
  let pNum = 0;
  let pDen = 1;
  for (const r of rates) {
    const frames = Math.ceil((seg.num * r.num) / (seg.den * r.den));
    const num = frames * r.den;
    const den = r.num;
    if (num * pDen > pNum * den) [pNum, pDen] = [num, den];
  }
  return rates.map((r) => {
    // Keyframe k on the first frame n with n / rate >= k * P, i.e. n * (pDen * rate.den) >= k * (pNum * rate.num).
    let a = pNum * r.num;
    let b = pDen * r.den;
    const g = gcd(a, b);
    a /= g;
    b /= g;
    return { expr: `expr:gte(n*${b},n_forced*${a})`, gop: Math.ceil(a / b) };
  });
}

export function buildLadderCommand(input: LadderCommandInput): LadderCommand {
  const { media, ladder, caps } = input;
  const video = media.video;
  if (!video) throw new Error('buildLadderCommand: the source has no video stream');
  if (ladder.rungs.length === 0) throw new Error('buildLadderCommand: the fitted ladder has no rungs');
  const seg = ladder.segmentSeconds;
  const baseRate = sourceRate(video);
  const maxRungFps = Math.max(...ladder.rungs.map((r) => r.fps));
  // A variable-rate source is made constant once, at the fastest rung's rate (fitLadder snaps a phone's
  // 27.6 fps average to the 30 fps it was shot at).
  const cfrRate = video.variableFrameRate ? fpsToRational(maxRungFps) : null;
  const frontRate = cfrRate ?? baseRate;
  const src = sourceFilters(video, caps, cfrRate);
  const warnings = [...src.warnings];

  const wantPoster = input.poster !== false;
  const thumbOpts = typeof input.thumbnails === 'object' ? input.thumbnails : {};
  const durationSec = input.window ? input.window.durationSec : media.durationSec;
  const thumbnails = input.thumbnails === false ? null : planThumbnails(durationSec, video.displayAspectRatio, thumbOpts);

  const branches = ladder.rungs.length + (wantPoster ? 1 : 0) + (thumbnails ? 1 : 0);
  const aspect = rungAspect(ladder.rungs);
  const chains: string[] = [];
  const front = [...src.filters];
  // Constant rate for every rung even when the source's timestamps jitter or start late: keyframes are counted in
  // frames (keyframeRules), so frames must be evenly spaced before the split.
  if (!cfrRate) front.push(`fps=${rationalToString(frontRate)}`);
  const splitLabels = Array.from({ length: branches }, (_, i) => `[s${i}]`);
  front.push(branches > 1 ? `split=${branches}${splitLabels.join('')}` : 'null[s0]');
  chains.push(`[0:${video.index}]${front.join(',')}`);

  const renditions: RenditionOutput[] = [];
  ladder.rungs.forEach((rung, i) => {
    const rate = rungRate(rung, frontRate);
    const parts: string[] = [];
    if (rate !== frontRate) parts.push(`fps=${rationalToString(rate)}`);
    parts.push(`scale=w=${rung.width}:h=${rung.height}:flags=lanczos`, aspect.filter);
    chains.push(`[s${i}]${parts.join(',')}[v${i}]`);
    const codec = rung.codec ?? 'h264';
    const level = codec === 'h264' ? h264Level(rung.width, rung.height, rationalValue(rate), rung.maxrate, rung.bufsize, rung.profile) : 'auto';
    renditions.push({
      name: rung.name,
      representationId: i,
      width: rung.width,
      height: rung.height,
      fps: rate,
      codec,
      profile: rung.profile,
      level,
      videoBitrate: rung.videoBitrate,
      maxrate: rung.maxrate,
      bufsize: rung.bufsize,
      playlist: `media_${i}.m3u8`,
      initSegment: `init-${i}.m4s`,
      segmentPattern: `seg-${i}-{n}.m4s`,
    });
  });

  let branch = ladder.rungs.length;
  let poster: LadderOutputs['poster'] = null;
  if (wantPoster) {
    const top = ladder.rungs[0]!;
    const scale = Math.min(1, 1280 / Math.max(top.width, top.height));
    const pw = even(top.width * scale);
    const ph = even(top.height * scale);
    // ~10% in skips black leaders and fades; thumbnail picks the most representative frame of the next
    // two seconds; trim's end closes the branch early so it holds no frames for the rest of the job.
    const atSec = round3(durationSec * 0.1);
    const frames = Math.max(1, Math.min(60, Math.round(rationalValue(frontRate) * 2)));
    chains.push(`[s${branch}]trim=start=${atSec}:duration=2,scale=w=${pw}:h=${ph}:flags=bicubic,setsar=1,thumbnail=n=${frames}[poster]`);
    poster = { file: POSTER_NAME, width: pw, height: ph, atSec };
    branch++;
  }
  if (thumbnails) {
    chains.push(
      `[s${branch}]select=gte(t\\,selected_n*${thumbnails.intervalSec}),scale=w=${thumbnails.tileWidth}:h=${thumbnails.tileHeight}:flags=bicubic,setsar=1,` +
        `tile=layout=${thumbnails.columns}x${thumbnails.rows}[sprite]`,
    );
  }
  const filterGraph = chains.join(';');

  const args: string[] = [];
  // Explicit: ffmpeg applies the display matrix (portrait phone video comes out portrait) and drops it.
  args.push('-autorotate', '1');
  if (input.window) args.push('-ss', String(input.window.startSec), '-t', String(input.window.durationSec));
  // Read with the demuxer the probe saw, and no playlist or list demuxer ever (shared/common/input-formats.ts).
  args.push(...inputGuardArgs(media.container), '-i', fileUrl(input.source));
  args.push('-filter_complex', filterGraph);
  if (input.threads) args.push('-filter_complex_threads', String(input.threads));

  // Output 1: the ladder, packaged by the dash muxer.
  renditions.forEach((_, i) => args.push('-map', `[v${i}]`));
  const audioLadder = ladder.audio;
  const audioTracks: AudioOutput[] = audioLadder
    ? audioStreamsFor(media).map((stream, k) => {
        const id = renditions.length + k;
        return {
          sourceIndex: stream.index,
          language: stream.language,
          name: stream.language ?? (k === 0 ? 'Audio' : `Audio ${k + 1}`),
          representationId: id,
          bitrate: audioLadder.bitrate,
          channels: 2,
          sampleRate: audioLadder.sampleRate,
          playlist: `media_${id}.m3u8`,
          initSegment: `init-${id}.m4s`,
          segmentPattern: `seg-${id}-{n}.m4s`,
        };
      })
    : [];
  const audio = audioTracks[0] ?? null;
  for (const t of audioTracks) args.push('-map', `0:${t.sourceIndex}`);
  args.push('-map_metadata', '-1', '-map_chapters', '-1');
  // Stream metadata is dropped with the rest; the language goes back on so the MPD's adaptation sets carry lang.
  audioTracks.forEach((t, k) => {
    if (t.language) args.push(`-metadata:s:a:${k}`, `language=${t.language}`);
    const filter = input.audioFilters?.get(t.sourceIndex);
    if (filter) args.push(`-filter:a:${k}`, filter);
  });

  const preset = ladder.preset;
  args.push('-c:v', 'libx264', '-preset', preset);
  if (input.threads) args.push('-threads', String(input.threads));
  // A keyframe at every segment boundary in every rung, counted in frames on one grid (keyframeRules); each rung's
  // encoder arguments by its codec (codecs.ts). SVT-AV1 ignores forced keyframes and keys every `gop` frames, which
  // lands on the same grid whenever a segment is a whole number of the rung's frames (rungs share the output rate).
  const keyframes = keyframeRules(renditions.map((r) => r.fps), seg);
  renditions.forEach((r, i) => {
    const { gop, expr } = keyframes[i]!;
    args.push(...rungEncoderArgs({ ...r, gop }, i, preset));
    if (r.codec !== 'av1') args.push(`-force_key_frames:v:${i}`, expr);
  });
  // No scene-cut keyframes between them, closed GOPs so each segment decodes on its own.
  args.push(
    '-sc_threshold:v', '0',
    '-flags:v', '+cgop',
    '-x264-params:v', 'open-gop=0',
    '-pix_fmt:v', 'yuv420p',
  );
  if (src.notes.some((n) => n.startsWith('HDR'))) {
    args.push('-color_primaries:v', 'bt709', '-color_trc:v', 'bt709', '-colorspace:v', 'bt709');
  }
  if (audio) {
    // Every audio output alike; -ac 2 downmixes 5.1/7.1 with swresample's standard matrix (centre and surrounds at -3 dB).
    args.push('-c:a', 'aac', '-b:a', String(audio.bitrate), '-ac', '2', '-ar', String(audio.sampleRate));
  }
  args.push(
    '-max_muxing_queue_size', '4096',
    '-f', 'dash',
    '-dash_segment_type', 'mp4',
    '-seg_duration', String(seg),
    '-use_template', '1',
    '-use_timeline', '1',
    '-single_file', '0',
    '-hls_playlist', '1',
    '-hls_master_name', MASTER_NAME,
    // One adaptation set per language: DASH players pick a language by adaptation set.
    '-adaptation_sets', adaptationSets(renditions, audioTracks),
    '-init_seg_name', INIT_SEG_TEMPLATE,
    '-media_seg_name', MEDIA_SEG_TEMPLATE,
    '-format_options', 'movflags=+cmaf',
    '-y', fileUrl(joinPath(input.outDir, MANIFEST_NAME)),
  );

  if (poster) {
    args.push('-map', '[poster]', '-frames:v', '1', '-update', '1', '-c:v', 'mjpeg', '-q:v', '3', '-f', 'image2', '-y', fileUrl(joinPath(input.outDir, poster.file)));
  }
  if (thumbnails) {
    args.push('-map', '[sprite]', '-frames:v', '1', '-update', '1', '-c:v', 'mjpeg', '-q:v', '5', '-f', 'image2', '-y', fileUrl(joinPath(input.outDir, thumbnails.file)));
  }

  return {
    args,
    filterGraph,
    warnings,
    sourceFixes: src.notes,
    outputs: { manifest: MANIFEST_NAME, hlsMaster: MASTER_NAME, renditions, audio, alternateAudio: audioTracks.slice(1), poster, thumbnails, segmentSeconds: seg },
  };
}

/**
 * One video adaptation set per codec family (a DASH player switches within a set, and cannot switch codecs
 * mid-stream), then one per audio language.
 */
function adaptationSets(renditions: readonly RenditionOutput[], audioTracks: readonly AudioOutput[]): string {
  const families = [...new Set(renditions.map((r) => r.codec))];
  const video =
    families.length === 1
      ? ['id=0,streams=v']
      : families.map((c, k) => `id=${k},streams=${renditions.filter((r) => r.codec === c).map((r) => r.representationId).join(',')}`);
  return [...video, ...audioTracks.map((t, k) => `id=${video.length + k},streams=${t.representationId}`)].join(' ');
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/** WebVTT thumbnails track: one cue per interval pointing at its tile in the sprite (`sprite.jpg#xywh=`). */
export function thumbnailsVtt(plan: ThumbnailPlan, durationSec: number): string {
  const lines = ['WEBVTT', ''];
  for (let i = 0; i < plan.count; i++) {
    const start = i * plan.intervalSec;
    if (i > 0 && start >= durationSec) break;
    const end = Math.min((i + 1) * plan.intervalSec, Math.max(durationSec, start + 0.001));
    const x = (i % plan.columns) * plan.tileWidth;
    const y = Math.floor(i / plan.columns) * plan.tileHeight;
    lines.push(`${vttTime(start)} --> ${vttTime(end)}`, `${plan.file}#xywh=${x},${y},${plan.tileWidth},${plan.tileHeight}`, '');
  }
  return lines.join('\n');
}

export function vttTime(sec: number): string {
  const ms = Math.round(sec * 1000);
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  const frac = ms % 1000;
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}.${String(frac).padStart(3, '0')}`;
}

export interface MasterVariant {
  readonly playlist: string;
  readonly width: number;
  readonly height: number;
  readonly fps: Rational;
  readonly codecs: string;
  readonly bitratePeak: number;
  readonly bitrateAvg: number;
}

export interface MasterAudio {
  readonly playlist: string;
  readonly codecs: string;
  readonly bitratePeak: number;
  readonly bitrateAvg: number;
  readonly channels: number;
  /** Shown to viewers; unique in the group. Default "Audio". */
  readonly name?: string;
  readonly language?: string | null;
}

/**
 * The HLS master playlist Tiercast writes over ffmpeg's (5.1's lacks AVERAGE-BANDWIDTH and FRAME-RATE and
 * computes BANDWIDTH from targets): BANDWIDTH is the measured peak segment bitrate of video plus audio,
 * AVERAGE-BANDWIDTH the measured average, CODECS read from the init segments. Highest rung first.
 */
export function hlsMasterPlaylist(input: {
  readonly renditions: readonly MasterVariant[];
  /** The main (default) audio track. */
  readonly audio: MasterAudio | null;
  /** Other languages, in the same group; a variant's BANDWIDTH counts the most demanding of them. */
  readonly alternateAudio?: readonly MasterAudio[];
}): string {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-INDEPENDENT-SEGMENTS', ''];
  const a = input.audio;
  const group = a ? [a, ...(input.alternateAudio ?? [])] : [];
  group.forEach((t, k) => {
    const attrs = [
      'TYPE=AUDIO',
      'GROUP-ID="audio"',
      `NAME="${(t.name ?? 'Audio').replace(/"/g, "'")}"`,
      ...(t.language ? [`LANGUAGE="${t.language.replace(/"/g, '')}"`] : []),
      `DEFAULT=${k === 0 ? 'YES' : 'NO'}`,
      'AUTOSELECT=YES',
      `CHANNELS="${t.channels}"`,
      `URI="${t.playlist}"`,
    ];
    lines.push(`#EXT-X-MEDIA:${attrs.join(',')}`);
  });
  if (group.length) lines.push('');
  const peakAudio = group.length ? Math.max(...group.map((t) => t.bitratePeak)) : 0;
  const avgAudio = group.length ? Math.max(...group.map((t) => t.bitrateAvg)) : 0;
  const sorted = [...input.renditions].sort((x, y) => y.bitratePeak - x.bitratePeak);
  for (const r of sorted) {
    const attrs = [
      `BANDWIDTH=${Math.round(r.bitratePeak + peakAudio)}`,
      `AVERAGE-BANDWIDTH=${Math.round(r.bitrateAvg + avgAudio)}`,
      `CODECS="${a ? `${r.codecs},${a.codecs}` : r.codecs}"`,
      `RESOLUTION=${r.width}x${r.height}`,
      `FRAME-RATE=${rationalValue(r.fps).toFixed(3)}`,
    ];
    if (a) attrs.push('AUDIO="audio"');
    attrs.push('CLOSED-CAPTIONS=NONE');
    lines.push(`#EXT-X-STREAM-INF:${attrs.join(',')}`, r.playlist, '');
  }
  return lines.join('\n');
}

/**
 * ffmpeg's dash muxer writes its HLS media playlists as if live: wall-clock PROGRAM-DATE-TIME tags, no
 * PLAYLIST-TYPE, and a TARGETDURATION of 0 for clips under half a second. Rewritten as VOD playlists.
 */
export function vodMediaPlaylist(text: string): string {
  const lines = text.split(/\r?\n/);
  let maxDur = 0;
  for (const l of lines) {
    const m = /^#EXTINF:([\d.]+)/.exec(l);
    if (m) maxDur = Math.max(maxDur, Number(m[1]));
  }
  const target = Math.max(1, Math.ceil(maxDur - 0.001));
  const out: string[] = [];
  for (const l of lines) {
    if (l.startsWith('#EXT-X-PROGRAM-DATE-TIME') || l.startsWith('#EXT-X-PLAYLIST-TYPE') || l.startsWith('#EXT-X-INDEPENDENT-SEGMENTS')) continue;
    if (l.startsWith('#EXT-X-TARGETDURATION:')) {
      out.push(`#EXT-X-TARGETDURATION:${target}`, '#EXT-X-PLAYLIST-TYPE:VOD', '#EXT-X-INDEPENDENT-SEGMENTS');
      continue;
    }
    out.push(l);
  }
  while (out.length && out[out.length - 1] === '') out.pop();
  return out.join('\n') + '\n';
}
