import { TiercastError } from './errors.ts';
import { hasClosedCaptions, parseSubtitleStreams } from './subtitles.ts';
import type {
  AudioStreamInfo,
  ColorTransfer,
  FieldOrder,
  FrameSample,
  MediaInfo,
  Rational,
  VideoStreamInfo,
} from './media.ts';

/**
 * Pure parsers of ffprobe JSON. probeFile (shared/node/probe.ts) runs ffprobe with PROBE_ARGS and
 * frameSampleArgs() and feeds the output here; tests feed recorded output (test/fixtures/ffprobe).
 */

/** ffprobe arguments for the format/stream description; the file path goes last. */
export const PROBE_ARGS: readonly string[] = ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams'];

/** Packets of the main video stream read (and decoded) by the frame sample: enough to see VFR, small enough for 4K. */
export const FRAME_SAMPLE_PACKETS = 60;

/**
 * Packets to sample for a picture size: 60 up to 1080p, fewer above (decoding 60 4K frames costs seconds of CPU),
 * never under 24 so a VFR pattern still shows.
 */
export function samplePacketsFor(width: number, height: number): number {
  const pixels = Math.max(1, width * height);
  return Math.max(24, Math.min(FRAME_SAMPLE_PACKETS, Math.round((FRAME_SAMPLE_PACKETS * 1920 * 1080) / pixels)));
}

/** ffprobe arguments for the frame sample of one stream; the file path goes last. */
export function frameSampleArgs(streamIndex: number, packets: number = FRAME_SAMPLE_PACKETS): readonly string[] {
  return [
    '-v', 'error',
    '-select_streams', String(streamIndex),
    '-read_intervals', `%+#${packets}`,
    '-show_entries', 'packet=pts_time,duration_time,flags:frame=best_effort_timestamp_time,interlaced_frame,top_field_first',
    '-print_format', 'json',
  ];
}

/** Frames at the end of a decode-order sample that may be missing their B-frames (x264's B-pyramid shows 3). */
const REORDER_WINDOW = 4;
/** r and avg frame rates further apart than this (relative) mean the timestamps are not evenly spaced. */
const VFR_RATE_TOLERANCE = 0.02;
/** In a frame sample, a gap this much longer than the shortest means frames are not evenly spaced. */
const VFR_GAP_RATIO = 1.2;

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : typeof v === 'number' ? String(v) : null);
function num(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v !== 'string' || v.trim() === '' || v === 'N/A') return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/** "30000/1001" or "16:9" -> { num, den }; null when absent, zero or malformed. */
export function parseRational(value: unknown): Rational | null {
  const s = str(value);
  if (!s) return null;
  const m = /^(-?\d+)[/:](\d+)$/.exec(s.trim());
  if (!m) return null;
  const n = Number(m[1]);
  const d = Number(m[2]);
  return n > 0 && d > 0 ? { num: n, den: d } : null;
}

const ratio = (r: Rational) => r.num / r.den;

/**
 * Bits per sample from the pixel format name: the number before le/be (yuv420p10le -> 10), P010/P016,
 * rgb48/rgba64 (16 per component). bits_per_raw_sample is unreliable (often absent or 8 for 10-bit HEVC).
 */
export function bitDepthOf(pixelFormat: string | null): number | null {
  if (!pixelFormat) return null;
  const f = pixelFormat.toLowerCase();
  let m = /p(\d{2})(le|be)?$/.exec(f);
  if (m) return Number(m[1]);
  m = /^p0(\d{2})(le|be)?$/.exec(f);
  if (m) return Number(m[1]);
  m = /^(?:x2)?(?:rgb|bgr)(?:10|12)(le|be)?$/.exec(f);
  if (m) return /12/.test(f) ? 12 : 10;
  if (/^(rgb|bgr)a?(48|64)(le|be)?$/.test(f)) return 16;
  if (/^gray(\d{2})(le|be)?$/.test(f)) return Number(/gray(\d{2})/.exec(f)![1]);
  if (/^y2[01]0/.test(f)) return 10;
  return 8;
}

/** When the decoder could not report a pixel format (nothing decoded), guess the depth from the profile. */
function bitDepthFromProfile(profile: string | null): number {
  if (!profile) return 8;
  if (/main ?10|profile [23]|high ?10|\b10\b/i.test(profile)) return 10;
  if (/main ?12|high ?4:?4:?4/i.test(profile)) return 12;
  return 8;
}

export function colorTransferOf(value: unknown): ColorTransfer {
  const t = str(value);
  if (t === 'smpte2084') return 'pq';
  if (t === 'arib-std-b67') return 'hlg';
  return 'sdr';
}

export function fieldOrderOf(value: unknown): FieldOrder {
  switch (str(value)) {
    case 'progressive':
      return 'progressive';
    // tt: top coded and displayed first; tb: top coded first, bottom displayed first (rare); both show top first.
    case 'tt':
    case 'tb':
      return 'tff';
    case 'bb':
    case 'bt':
      return 'bff';
    default:
      return 'unknown';
  }
}

/**
 * Clockwise degrees to rotate the stored picture for display. The display matrix's `rotation` (ffprobe >= 5)
 * is counter-clockwise (iPhone/Android portrait clips say -90 = turn 90 clockwise); the old `rotate` tag
 * was already clockwise.
 */
export function rotationOf(stream: Obj): 0 | 90 | 180 | 270 {
  let clockwise: number | null = null;
  const sideData = Array.isArray(stream.side_data_list) ? stream.side_data_list : [];
  for (const sd of sideData) {
    if (isObj(sd)) {
      const r = num(sd.rotation);
      if (r !== null) {
        clockwise = -r;
        break;
      }
    }
  }
  if (clockwise === null && isObj(stream.tags)) {
    const tag = num(stream.tags.rotate);
    if (tag !== null) clockwise = tag;
  }
  if (clockwise === null) return 0;
  const snapped = ((Math.round(clockwise / 90) * 90) % 360 + 360) % 360;
  return snapped as 0 | 90 | 180 | 270;
}

interface Candidate {
  stream: Obj;
  frames: number | null;
  duration: number | null;
  pixels: number;
  still: boolean;
}

const STILL_IMAGE_CONTAINERS = /(^|,)(image2|image2pipe|\w+_pipe|gif|webp|apng)(,|$)/;
const STILL_IMAGE_CODECS = new Set(['mjpeg', 'png', 'bmp', 'gif', 'webp', 'tiff', 'jpegls', 'jpeg2000']);

function streamDuration(s: Obj): number | null {
  const d = num(s.duration);
  if (d !== null && d > 0) return d;
  // Matroska keeps per-track durations in tags (DURATION=00:00:03.002000000).
  const tag = isObj(s.tags) ? str(s.tags.DURATION ?? s.tags.duration) : null;
  const m = tag ? /^(\d+):(\d+):(\d+(?:\.\d+)?)$/.exec(tag) : null;
  return m ? Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) : null;
}

/**
 * The main video stream: not a cover image (attached_pic), not a one-frame still track (motion photos, iPhone
 * live photos carry one); among the rest the most frames, then the longest, then the largest picture.
 */
function pickMainVideo(videoStreams: Obj[], formatName: string): { main: Obj | null; reason: string | null } {
  const candidates: Candidate[] = videoStreams
    .filter((s) => !(isObj(s.disposition) && num(s.disposition.attached_pic) === 1))
    .map((s) => {
      const frames = num(s.nb_frames);
      const duration = streamDuration(s);
      const rate = parseRational(s.avg_frame_rate) ?? parseRational(s.r_frame_rate);
      const estFrames = frames ?? (duration !== null && rate ? Math.round(duration * ratio(rate)) : null);
      const still = frames === 1 || (STILL_IMAGE_CODECS.has(str(s.codec_name) ?? '') && (frames ?? 1) <= 1);
      return { stream: s, frames: estFrames, duration, pixels: (num(s.width) ?? 0) * (num(s.height) ?? 0), still };
    })
    .filter((c) => c.pixels > 0);
  if (candidates.length === 0) {
    return { main: null, reason: videoStreams.length > 0 ? 'only a cover image, no video' : 'no video stream' };
  }
  const moving = candidates.filter((c) => !c.still);
  if (moving.length === 0 || STILL_IMAGE_CONTAINERS.test(formatName)) {
    return { main: null, reason: 'a still image, not a video' };
  }
  moving.sort(
    (a, b) =>
      (b.frames ?? -1) - (a.frames ?? -1) || (b.duration ?? -1) - (a.duration ?? -1) || b.pixels - a.pixels ||
      (num(a.stream.index) ?? 0) - (num(b.stream.index) ?? 0),
  );
  return { main: moving[0]!.stream, reason: null };
}

function parseVideo(s: Obj, formatDuration: number, warnings: string[], otherBitrate: number | null, formatBitrate: number | null): VideoStreamInfo {
  const width = num(s.width) ?? 0;
  const height = num(s.height) ?? 0;
  const rotation = rotationOf(s);
  const sar = parseRational(s.sample_aspect_ratio) ?? { num: 1, den: 1 };
  // Anamorphic pixels are widened, never narrowed: keep every stored line, stretch the width (as players do).
  const sarWidth = Math.round((width * sar.num) / sar.den);
  const [displayWidth, displayHeight] = rotation === 90 || rotation === 270 ? [height, sarWidth] : [sarWidth, height];

  const fieldOrder = fieldOrderOf(s.field_order);
  const interlaced = fieldOrder === 'tff' || fieldOrder === 'bff';

  const r = parseRational(s.r_frame_rate);
  const avg = parseRational(s.avg_frame_rate);
  let fps: number;
  let variableFrameRate = false;
  if (r && avg) {
    const rf = ratio(r);
    const af = ratio(avg);
    // Field-coded interlaced streams often report r at the field rate (2x avg): that is not VFR.
    const fieldRate = interlaced && Math.abs(rf / 2 - af) / af <= VFR_RATE_TOLERANCE;
    variableFrameRate = !fieldRate && Math.abs(rf - af) / af > VFR_RATE_TOLERANCE;
    // r is exact for constant-rate streams (24000/1001); avg is the honest figure when timestamps vary.
    fps = variableFrameRate || fieldRate ? af : rf;
  } else if (avg || r) {
    fps = ratio((avg ?? r)!);
  } else {
    fps = 25;
    warnings.push('frame rate unknown; assuming 25 fps');
  }

  const pixelFormat = str(s.pix_fmt);
  const profile = str(s.profile);
  if (!pixelFormat) warnings.push('pixel format unknown: the decoder could not read the stream parameters (the stream may be corrupt)');
  const bitDepth = bitDepthOf(pixelFormat) ?? bitDepthFromProfile(profile);

  const headerFrameCount = num(s.nb_frames);
  const durationSec = streamDuration(s);
  const sideData = Array.isArray(s.side_data_list) ? s.side_data_list : [];
  const dolbyVision = sideData.some((sd) => isObj(sd) && /dovi/i.test(str(sd.side_data_type) ?? ''));
  const colorTransfer = colorTransferOf(s.color_transfer);
  if (dolbyVision) {
    warnings.push(`Dolby Vision configuration present; the ${colorTransfer === 'sdr' ? 'SDR' : colorTransfer.toUpperCase()} base layer is used`);
  }

  let bitrate = num(s.bit_rate) ?? (isObj(s.tags) ? num(s.tags.BPS ?? s.tags['BPS-eng']) : null);
  // WebM/MPEG-TS often give only the container's rate: the video is that minus the known audio.
  if (bitrate === null && formatBitrate !== null && otherBitrate !== null) bitrate = Math.max(0, Math.round(formatBitrate - otherBitrate));

  const colorRange = str(s.color_range);
  const streamDur = durationSec ?? formatDuration;
  if (headerFrameCount !== null && headerFrameCount > 1 && streamDur > 0 && !variableFrameRate) {
    const expected = streamDur * fps;
    if (Math.abs(expected - headerFrameCount) > Math.max(2, expected * 0.1)) {
      warnings.push(`the header declares ${headerFrameCount} frames but ${streamDur.toFixed(3)} s at ${fps.toFixed(3)} fps is about ${Math.round(expected)}`);
    }
  }

  return {
    index: num(s.index) ?? 0,
    codec: str(s.codec_name) ?? 'unknown',
    profile,
    width,
    height,
    rotation,
    displayWidth,
    displayHeight,
    sampleAspectRatio: sar,
    displayAspectRatio: displayHeight > 0 ? displayWidth / displayHeight : 0,
    rFrameRate: r ?? avg ?? { num: Math.round(fps * 1000), den: 1000 },
    avgFrameRate: avg ?? r ?? { num: Math.round(fps * 1000), den: 1000 },
    fps,
    variableFrameRate,
    pixelFormat: pixelFormat ?? 'unknown',
    bitDepth,
    colorTransfer,
    colorPrimaries: str(s.color_primaries),
    colorSpace: str(s.color_space),
    colorRange: colorRange === 'tv' || colorRange === 'pc' ? colorRange : null,
    fieldOrder,
    interlaced,
    frameCount: headerFrameCount ?? (streamDur > 0 ? Math.round(streamDur * fps) : null),
    bitrate,
    durationSec,
    headerFrameCount,
    dolbyVision,
  };
}

function parseAudio(s: Obj): AudioStreamInfo {
  const channels = num(s.channels) ?? 0;
  return {
    index: num(s.index) ?? 0,
    codec: str(s.codec_name) ?? 'unknown',
    channels,
    channelLayout: str(s.channel_layout),
    sampleRate: num(s.sample_rate) ?? 0,
    bitrate: num(s.bit_rate) ?? (isObj(s.tags) ? num(s.tags.BPS ?? s.tags['BPS-eng']) : null),
    language: isObj(s.tags) ? (str(s.tags.language) === 'und' ? null : str(s.tags.language)) : null,
    ...(isSecondaryAudio(s) ? { secondary: true } : {}),
  };
}

/** Audio-description, commentary and impaired-audience tracks: never the programme's main sound. */
const SECONDARY_AUDIO = ['comment', 'visual_impaired', 'hearing_impaired', 'descriptions', 'karaoke'] as const;

const dispositionFlag = (s: Obj, key: string) => isObj(s.disposition) && num(s.disposition[key]) === 1;
const isSecondaryAudio = (s: Obj) => SECONDARY_AUDIO.some((k) => dispositionFlag(s, k));

/**
 * Audio streams with the main one first (the ladder carries `audio[0]`): the stream flagged default, never a
 * commentary or audio-description track when another exists; otherwise file order.
 */
function mainAudioFirst(streams: readonly Obj[]): Obj[] {
  const score = (s: Obj) => (dispositionFlag(s, 'default') ? 1 : 0) - (isSecondaryAudio(s) ? 2 : 0);
  return streams.map((s, i) => ({ s, i })).sort((a, b) => score(b.s) - score(a.s) || a.i - b.i).map((x) => x.s);
}

/**
 * ffprobe `-show_format -show_streams` JSON into a MediaInfo. Pure: never throws for odd media (a file with no
 * usable video gets `video: null`; the caller decides), only for JSON that is not ffprobe's shape at all.
 */
export function parseProbe(json: unknown, sizeBytes: number): MediaInfo {
  if (!isObj(json) || !isObj(json.format)) {
    throw new TiercastError('NOT_MEDIA', 'ffprobe found no container format in this file');
  }
  const format = json.format;
  const streams = (Array.isArray(json.streams) ? json.streams : []).filter(isObj);
  const warnings: string[] = [];
  const formatName = str(format.format_name) ?? 'unknown';

  const videoStreams = streams.filter((s) => s.codec_type === 'video');
  const audioStreams = streams.filter((s) => s.codec_type === 'audio' && (num(s.channels) ?? 0) > 0);
  const { main, reason } = pickMainVideo(videoStreams, formatName);
  if (reason) warnings.push(reason);
  if (main && videoStreams.length > 1) {
    warnings.push(`${videoStreams.length} video streams; using stream ${String(main.index)} (the others are covers or stills)`);
  }

  let durationSec = num(format.duration);
  if (durationSec === null || durationSec <= 0) {
    durationSec = Math.max(0, ...streams.map((s) => streamDuration(s) ?? 0));
    if (durationSec === 0) warnings.push('duration unknown');
  }
  const formatBitrate = num(format.bit_rate) ?? (durationSec > 0 && sizeBytes > 0 ? Math.round((sizeBytes * 8) / durationSec) : null);
  const audio = mainAudioFirst(audioStreams).map(parseAudio);
  const audioBitrates = audio.map((a) => a.bitrate);
  const otherBitrate = audioBitrates.every((b) => b !== null) ? audioBitrates.reduce<number>((t, b) => t + (b ?? 0), 0) : null;
  const video = main ? parseVideo(main, durationSec, warnings, videoStreams.length === 1 ? otherBitrate : null, formatBitrate) : null;

  return {
    container: formatName,
    containerLongName: str(format.format_long_name),
    durationSec,
    sizeBytes: num(format.size) ?? sizeBytes,
    bitrate: formatBitrate,
    video,
    videoStreamCount: videoStreams.length,
    audio,
    subtitles: parseSubtitleStreams(streams),
    closedCaptions: hasClosedCaptions(streams),
    warnings,
  };
}

/**
 * The frame-sample JSON (frameSampleArgs) into counts and timestamp gaps. `stderr` carries decoder complaints.
 */
export function parseFrameSample(json: unknown, limit: number = FRAME_SAMPLE_PACKETS, stderr = ''): FrameSample {
  const entries = isObj(json) && Array.isArray(json.packets_and_frames) ? json.packets_and_frames.filter(isObj) : [];
  const packets = entries.filter((e) => e.type === 'packet');
  const frames = entries.filter((e) => e.type === 'frame');
  // Shown frames' timestamps, not packets': VP9/AV1 carry hidden reference frames as packets a tick apart.
  const timed = frames.length >= 2 ? frames.map((f) => num(f.best_effort_timestamp_time)) : packets.map((p) => num(p.pts_time));
  const sorted = timed
    .filter((t): t is number => t !== null)
    .sort((a, b) => a - b);
  // A sample cut off after N packets in decode order lacks the B-frames whose packets come after the cut but
  // display before its last frames: the last few shown times have holes that are not in the file (a 29.97 fps
  // clip with B-frames looked variable-rate and was made 30 fps). Only the whole stream is trusted to its end.
  const pts = packets.length >= limit && sorted.length > REORDER_WINDOW * 2 ? sorted.slice(0, -REORDER_WINDOW) : sorted;
  const gaps: number[] = [];
  for (let i = 1; i < pts.length; i++) {
    const g = pts[i]! - pts[i - 1]!;
    if (g > 0) gaps.push(g);
  }
  const decoderErrors = [...new Set(
    stderr
      .split('\n')
      .map((l) => l.replace(/^\[[^\]]*\]\s*/, '').trim())
      .filter((l) => l && !/^Last message repeated/.test(l)),
  )].slice(0, 5);
  return {
    packets: packets.length,
    decodedFrames: frames.length,
    complete: packets.length < limit,
    interlacedFrames: frames.filter((f) => num(f.interlaced_frame) === 1).length,
    minFrameGapSec: gaps.length ? Math.min(...gaps) : null,
    maxFrameGapSec: gaps.length ? Math.max(...gaps) : null,
    decoderErrors,
  };
}

/**
 * Folds a frame sample into the description: uneven timestamps mark VFR even when r and avg agree, interlaced
 * frames mark an interlaced source whose header did not say, and a whole stream read with fewer decodable frames
 * than packets is reported (the header promises frames the decoder cannot give).
 */
export function applyFrameSample(info: MediaInfo, sample: FrameSample): MediaInfo {
  const video = info.video;
  if (!video) return info;
  const warnings = [...info.warnings];
  let { variableFrameRate, fieldOrder, interlaced, fps } = video;

  if (!variableFrameRate && sample.minFrameGapSec !== null && sample.maxFrameGapSec !== null && sample.packets >= 3) {
    // Rounding of timestamps to the time base makes equal frames differ by a tick; a real VFR gap is far larger.
    if (sample.maxFrameGapSec > sample.minFrameGapSec * VFR_GAP_RATIO + 0.002) {
      variableFrameRate = true;
      warnings.push(`frame timestamps vary (${(sample.minFrameGapSec * 1000).toFixed(1)}-${(sample.maxFrameGapSec * 1000).toFixed(1)} ms apart); output will be constant frame rate`);
      fps = ratio(video.avgFrameRate);
    }
  }
  if (!interlaced && sample.decodedFrames > 0 && sample.interlacedFrames * 2 > sample.decodedFrames) {
    interlaced = true;
    if (fieldOrder === 'progressive' || fieldOrder === 'unknown') fieldOrder = 'unknown';
    warnings.push('decoded frames are interlaced although the header does not say so');
  }
  // Only against a header count: packets alone overcount codecs with hidden frames (VP9 alt-ref).
  const declared = video.headerFrameCount ?? null;
  if (sample.complete && declared !== null && sample.decodedFrames > 0 && sample.decodedFrames < declared) {
    warnings.push(`the header declares ${declared} frames but only ${sample.decodedFrames} decode`);
  }
  return { ...info, warnings, video: { ...video, variableFrameRate, fieldOrder, interlaced, fps, sample } };
}
