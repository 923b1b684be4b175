import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { codecsFromProbe, type ProbedVideoStream } from '../common/codecs.ts';
import { TiercastError } from '../common/errors.ts';
import type { LadderOutputs, RenditionOutput } from '../common/ffmpeg-args.ts';

/**
 * Checks a finished ladder before it is published: every playlist and the MPD parse and point at files that
 * exist, each rendition lasts as long as the source decoded (within a tolerance), segments stay within bounds,
 * and every video rung starts its segments at the same instants on a keyframe. Returns what it measured.
 */

export interface SegmentInfo {
  readonly uri: string;
  readonly startSec: number;
  readonly durationSec: number;
  readonly sizeBytes: number;
}

export interface VerifiedTrack {
  readonly representationId: number;
  readonly kind: 'video' | 'audio';
  readonly playlist: string;
  readonly codecs: string;
  readonly width: number | null;
  readonly height: number | null;
  readonly fps: number | null;
  readonly profile: string | null;
  readonly durationSec: number;
  readonly sizeBytes: number;
  readonly bitrateAvg: number;
  readonly bitratePeak: number;
  readonly segments: readonly SegmentInfo[];
}

export interface VerifyResult {
  readonly tracks: readonly VerifiedTrack[];
  readonly keyframesAligned: boolean;
  readonly maxSegmentSec: number;
  readonly decodedDurationSec: number;
  readonly toleranceSec: number;
}

export interface VerifyOptions {
  readonly dir: string;
  readonly outputs: LadderOutputs;
  /** The duration the output must reach: the source's video duration (header), in seconds. */
  readonly expectedDurationSec: number;
  readonly ffprobe: string;
  readonly signal?: AbortSignal;
}

/**
 * Tolerance for "as long as the source": half a second, two frames at 24 fps, or 2% of the duration, whichever
 * is largest. Containers round, audio priming shifts ends by a few ms, phone files declare a frame or two that
 * never decode; a truncated upload loses far more than this.
 */
export function durationTolerance(expectedSec: number): number {
  return Math.max(0.5, 2 / 24, expectedSec * 0.02);
}

export class OutputVerifyError extends TiercastError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('OUTPUT_VERIFY_FAILED', message, { details });
    this.name = 'OutputVerifyError';
  }
}

interface M3u8Segment {
  uri: string;
  duration: number;
  map?: { uri: string };
}
interface M3u8Manifest {
  segments: M3u8Segment[];
  targetDuration?: number;
  endList?: boolean;
  playlists?: { uri: string; attributes: Record<string, unknown> }[];
  mediaGroups?: Record<string, Record<string, Record<string, { uri?: string }>>>;
}
type M3u8ParserCtor = new () => { push(text: string): void; end(): void; manifest: M3u8Manifest };

// m3u8-parser ships CommonJS without type declarations.
const { Parser: M3u8Parser } = createRequire(import.meta.url)('m3u8-parser') as { Parser: M3u8ParserCtor };

export function parseM3u8(text: string): M3u8Manifest {
  if (!text.startsWith('#EXTM3U')) throw new OutputVerifyError('playlist does not start with #EXTM3U');
  const parser = new M3u8Parser();
  parser.push(text);
  parser.end();
  return parser.manifest;
}

export interface MpdRepresentation {
  readonly id: string;
  readonly contentType: 'video' | 'audio';
  readonly codecs: string;
  readonly width: number | null;
  readonly height: number | null;
  readonly bandwidth: number;
  readonly initialization: string;
  readonly media: string;
  readonly startNumber: number;
  readonly timescale: number;
  /** Segment start times and durations in seconds, from the SegmentTimeline. */
  readonly timeline: readonly { startSec: number; durationSec: number }[];
}

const ARRAY_TAGS = new Set(['Period', 'AdaptationSet', 'Representation', 'S']);

/** The parts of a static MPD (SegmentTemplate + SegmentTimeline, as ffmpeg's dash muxer writes it) Tiercast checks. */
export function parseMpd(xml: string): { durationSec: number | null; representations: MpdRepresentation[] } {
  const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => ARRAY_TAGS.has(name) });
  let doc: Record<string, unknown>;
  try {
    doc = parser.parse(xml, true) as Record<string, unknown>;
  } catch (err) {
    throw new OutputVerifyError(`manifest.mpd is not well-formed XML (${(err as Error).message})`);
  }
  const mpd = doc.MPD as Record<string, unknown> | undefined;
  if (!mpd) throw new OutputVerifyError('manifest.mpd has no MPD element');
  const reps: MpdRepresentation[] = [];
  for (const period of (mpd.Period as Record<string, unknown>[] | undefined) ?? []) {
    for (const as of (period.AdaptationSet as Record<string, unknown>[] | undefined) ?? []) {
      for (const rep of (as.Representation as Record<string, unknown>[] | undefined) ?? []) {
        const tpl = (rep.SegmentTemplate ?? as.SegmentTemplate) as Record<string, unknown> | undefined;
        if (!tpl) throw new OutputVerifyError(`manifest.mpd: representation ${String(rep.id)} has no SegmentTemplate`);
        const timescale = Number(tpl.timescale ?? 1);
        const timeline: { startSec: number; durationSec: number }[] = [];
        const sList = ((tpl.SegmentTimeline as Record<string, unknown> | undefined)?.S as Record<string, unknown>[] | undefined) ?? [];
        let t = 0;
        for (const s of sList) {
          if (s.t !== undefined) t = Number(s.t);
          const d = Number(s.d);
          const r = Number(s.r ?? 0);
          for (let k = 0; k <= r; k++) {
            timeline.push({ startSec: t / timescale, durationSec: d / timescale });
            t += d;
          }
        }
        const mime = String(rep.mimeType ?? as.mimeType ?? '');
        const contentType = String(as.contentType ?? '').startsWith('audio') || mime.startsWith('audio') ? 'audio' : 'video';
        reps.push({
          id: String(rep.id),
          contentType,
          codecs: String(rep.codecs ?? as.codecs ?? ''),
          width: rep.width === undefined ? null : Number(rep.width),
          height: rep.height === undefined ? null : Number(rep.height),
          bandwidth: Number(rep.bandwidth ?? 0),
          initialization: String(tpl.initialization ?? ''),
          media: String(tpl.media ?? ''),
          startNumber: Number(tpl.startNumber ?? 1),
          timescale,
          timeline,
        });
      }
    }
  }
  const dur = typeof mpd.mediaPresentationDuration === 'string' ? isoDurationSec(mpd.mediaPresentationDuration) : null;
  return { durationSec: dur, representations: reps };
}

/** PT1H2M3.5S -> 3723.5 */
export function isoDurationSec(v: string): number | null {
  const m = /^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(v);
  if (!m) return null;
  return Number(m[1] ?? 0) * 86400 + Number(m[2] ?? 0) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0);
}

/** Fills a dash SegmentTemplate (`$RepresentationID$`, `$Number%05d$`, `$Number$`). */
export function fillTemplate(template: string, id: string, n: number): string {
  return template
    .replace(/\$RepresentationID\$/g, id)
    .replace(/\$Number(?:%0(\d+)d)?\$/g, (_m, width: string | undefined) => (width ? String(n).padStart(Number(width), '0') : String(n)))
    .replace(/\$\$/g, '$');
}

/**
 * RFC 6381 string from an MP4 init segment: avc1.PPCCLL from the avcC box, mp4a.40.N from the esds
 * AudioSpecificConfig. Read from the bytes ffmpeg wrote, so the master playlist never claims a profile that
 * x264 did not use (ultrafast, for one, writes Constrained Baseline whatever -profile says).
 */
export function codecsFromInit(buf: Buffer): string | null {
  const avcc = buf.indexOf('avcC');
  if (avcc >= 0 && avcc + 8 <= buf.length) {
    const p = buf[avcc + 5]!;
    const c = buf[avcc + 6]!;
    const l = buf[avcc + 7]!;
    return `avc1.${[p, c, l].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
  }
  if (buf.indexOf('mp4a') >= 0) {
    const esds = buf.indexOf('esds');
    // DecoderSpecificInfo tag 0x05; the audio object type is its first 5 bits.
    if (esds >= 0) {
      for (let i = esds + 8; i < Math.min(buf.length - 2, esds + 80); i++) {
        if (buf[i] === 0x05) {
          let j = i + 1;
          while (j < buf.length && (buf[j]! & 0x80) !== 0) j++;
          const aot = buf[j + 1]! >> 3;
          if (aot > 0 && aot < 31) return `mp4a.40.${aot}`;
          break;
        }
      }
    }
    return 'mp4a.40.2';
  }
  return null;
}

interface ProbePacket {
  pts_time?: string;
  flags?: string;
}
interface ProbeOut {
  streams?: (ProbedVideoStream & { width?: number; height?: number; avg_frame_rate?: string; r_frame_rate?: string })[];
  packets?: ProbePacket[];
}

function ffprobeJson(ffprobe: string, args: string[], cwd: string, signal?: AbortSignal): Promise<ProbeOut> {
  return new Promise((resolve, reject) => {
    execFile(ffprobe, ['-v', 'error', '-of', 'json', ...args], { cwd, maxBuffer: 512 * 1024 * 1024, signal, windowsHide: true }, (err, stdout, stderr) => {
      if (err) {
        if ((err as { name?: string }).name === 'AbortError') reject(new TiercastError('CANCELLED', 'verification cancelled', { cause: err }));
        else reject(new OutputVerifyError(`ffprobe could not read ${args.at(-1)} (${String(stderr).trim().split('\n').at(-1) ?? err.message})`));
        return;
      }
      try {
        resolve(JSON.parse(stdout) as ProbeOut);
      } catch (e) {
        reject(new OutputVerifyError(`ffprobe output for ${args.at(-1)} is not JSON`, { cause: String(e) }));
      }
    });
  });
}

async function fileSize(file: string, what: string): Promise<number> {
  try {
    const st = await stat(file);
    if (!st.isFile() || st.size === 0) throw new Error('empty');
    return st.size;
  } catch {
    throw new OutputVerifyError(`${what} is missing or empty: ${path.basename(file)}`);
  }
}

function parseRate(r: string | undefined): number | null {
  if (!r) return null;
  const [n, d] = r.split('/').map(Number);
  return n && d ? n / d : null;
}

async function readTrack(
  dir: string,
  kind: 'video' | 'audio',
  representationId: number,
  playlist: string,
  segmentSeconds: number,
): Promise<Omit<VerifiedTrack, 'width' | 'height' | 'fps' | 'profile'> & { initSize: number }> {
  const text = await readFile(path.join(dir, playlist), 'utf8').catch(() => {
    throw new OutputVerifyError(`HLS media playlist missing: ${playlist}`);
  });
  const manifest = parseM3u8(text);
  if (!manifest.endList) throw new OutputVerifyError(`${playlist} has no #EXT-X-ENDLIST (the encode did not finish)`);
  if (manifest.segments.length === 0) throw new OutputVerifyError(`${playlist} lists no segments`);
  const mapUri = manifest.segments[0]!.map?.uri;
  if (!mapUri) throw new OutputVerifyError(`${playlist} has no #EXT-X-MAP (init segment)`);
  const initPath = path.join(dir, mapUri);
  const initSize = await fileSize(initPath, 'init segment');
  // Video CODECS strings come from ffprobe (renditionCodecs); audio's from the esds box.
  const codecs = kind === 'audio' ? (codecsFromInit(await readFile(initPath)) ?? '') : '';
  if (kind === 'audio' && !codecs) throw new OutputVerifyError(`${mapUri}: no mp4a sample entry`);
  const segments: SegmentInfo[] = [];
  let t = 0;
  for (const [i, s] of manifest.segments.entries()) {
    const size = await fileSize(path.join(dir, s.uri), `segment ${i + 1} of ${playlist}`);
    const last = i === manifest.segments.length - 1;
    if (!(s.duration > 0)) throw new OutputVerifyError(`${playlist}: segment ${s.uri} has no duration`);
    if (!last && s.duration > segmentSeconds * 1.5 + 0.001) {
      throw new OutputVerifyError(`${playlist}: segment ${s.uri} lasts ${s.duration.toFixed(3)} s, over 1.5x the ${segmentSeconds} s target`);
    }
    segments.push({ uri: s.uri, startSec: t, durationSec: s.duration, sizeBytes: size });
    t += s.duration;
  }
  const durationSec = t;
  const mediaBytes = segments.reduce((a, s) => a + s.sizeBytes, 0);
  const sizeBytes = mediaBytes + initSize;
  const bitrateAvg = Math.round((mediaBytes * 8) / durationSec);
  // Peak segment bitrate (the HLS BANDWIDTH definition); a tail segment under half a target is too short to
  // say anything about the rate and would inflate the peak.
  const full = segments.filter((s, i) => i < segments.length - 1 || s.durationSec >= segmentSeconds * 0.5 || segments.length === 1);
  const bitratePeak = Math.round(Math.max(bitrateAvg, ...full.map((s) => (s.sizeBytes * 8) / s.durationSec)));
  return { representationId, kind, playlist, codecs, durationSec, sizeBytes, bitrateAvg, bitratePeak, segments, initSize };
}

/**
 * The CODECS string of a rendition as ffprobe reads it back from its playlist (init segment and media): the decoder
 * configuration record, cross-checked against ffprobe's profile, level and sample entry (codecsFromProbe). HEVC must
 * be tagged hvc1, which Apple players require.
 */
async function renditionCodecs(ffprobe: string, dir: string, r: RenditionOutput, signal?: AbortSignal): Promise<string> {
  const probe = await ffprobeJson(
    ffprobe,
    ['-select_streams', 'v:0', '-show_data', '-show_entries', 'stream=codec_name,codec_tag_string,profile,level,pix_fmt,extradata', r.playlist],
    dir,
    signal,
  );
  try {
    const got = codecsFromProbe(probe.streams?.[0] ?? {});
    if (got.codec === 'hevc' && !got.codecs.startsWith('hvc1.')) throw new Error(`HEVC sample entry is ${got.codecs.split('.')[0]}, not hvc1`);
    return got.codecs;
  } catch (err) {
    throw new OutputVerifyError(`${r.playlist}: ${(err as Error).message}`);
  }
}

export async function verifyOutputs(options: VerifyOptions): Promise<VerifyResult> {
  const { dir, outputs, ffprobe, signal } = options;
  const seg = outputs.segmentSeconds;

  // The MPD: parses, lists one representation per output, and its timelines agree with the HLS playlists.
  const mpdText = await readFile(path.join(dir, outputs.manifest), 'utf8').catch(() => {
    throw new OutputVerifyError('manifest.mpd missing');
  });
  const mpd = parseMpd(mpdText);
  const audioOutputs = outputs.audio ? [outputs.audio, ...outputs.alternateAudio] : [];
  const expectedReps = outputs.renditions.length + audioOutputs.length;
  if (mpd.representations.length !== expectedReps) {
    throw new OutputVerifyError(`manifest.mpd lists ${mpd.representations.length} representations, expected ${expectedReps}`);
  }
  for (const rep of mpd.representations) {
    await fileSize(path.join(dir, fillTemplate(rep.initialization, rep.id, 0)), `MPD init segment of representation ${rep.id}`);
    for (let k = 0; k < rep.timeline.length; k++) {
      await fileSize(path.join(dir, fillTemplate(rep.media, rep.id, rep.startNumber + k)), `MPD segment ${k + 1} of representation ${rep.id}`);
    }
  }

  const tracks: VerifiedTrack[] = [];
  for (const r of outputs.renditions) {
    signal?.throwIfAborted();
    const t = await readTrack(dir, 'video', r.representationId, r.playlist, seg);
    const probe = await ffprobeJson(
      ffprobe,
      ['-select_streams', 'v:0', '-show_entries', 'stream=codec_name,width,height,profile,avg_frame_rate,r_frame_rate:packet=pts_time,flags', r.playlist],
      dir,
      signal,
    );
    const stream = probe.streams?.[0];
    const expected = { h264: 'H.264', hevc: 'HEVC', av1: 'AV1' }[r.codec];
    if (!stream || stream.codec_name !== r.codec) throw new OutputVerifyError(`${r.playlist}: no ${expected} stream`);
    if (stream.width !== r.width || stream.height !== r.height) {
      throw new OutputVerifyError(`${r.playlist}: ${stream.width}x${stream.height}, expected ${r.width}x${r.height}`);
    }
    const packets = probe.packets ?? [];
    const pts = packets.map((p) => Number(p.pts_time)).filter(Number.isFinite);
    const first = pts.length ? Math.min(...pts) : 0;
    const keyTimes = packets.filter((p) => p.flags?.startsWith('K')).map((p) => Number(p.pts_time) - first);
    const fps = r.fps.num / r.fps.den;
    const halfFrame = 0.5 / fps;
    for (const s of t.segments) {
      if (!keyTimes.some((k) => Math.abs(k - s.startSec) <= halfFrame + 0.002)) {
        throw new OutputVerifyError(`${r.playlist}: segment ${s.uri} (at ${s.startSec.toFixed(3)} s) does not start on a keyframe`);
      }
    }
    const rep = mpd.representations.find((x) => x.id === String(r.representationId));
    if (!rep || rep.timeline.length !== t.segments.length) {
      throw new OutputVerifyError(`manifest.mpd and ${r.playlist} disagree on the number of segments of ${r.name}`);
    }
    tracks.push({ ...t, codecs: await renditionCodecs(ffprobe, dir, r, signal), width: stream.width ?? null, height: stream.height ?? null, fps: parseRate(stream.avg_frame_rate) ?? fps, profile: stream.profile ?? null });
  }
  for (const a of audioOutputs) {
    signal?.throwIfAborted();
    const t = await readTrack(dir, 'audio', a.representationId, a.playlist, seg);
    if (!t.codecs.startsWith('mp4a.')) throw new OutputVerifyError(`${a.playlist}: not AAC (${t.codecs})`);
    tracks.push({ ...t, width: null, height: null, fps: null, profile: null });
  }

  // Every video rung cuts at the same instants, so a player can switch at any segment boundary.
  const video = tracks.filter((x) => x.kind === 'video');
  const ref = video[0]!;
  const slowestFrame = Math.max(...outputs.renditions.map((r) => r.fps.den / r.fps.num));
  let keyframesAligned = true;
  for (const v of video.slice(1)) {
    if (v.segments.length !== ref.segments.length || v.segments.some((s, i) => Math.abs(s.startSec - ref.segments[i]!.startSec) > slowestFrame + 0.002)) {
      keyframesAligned = false;
    }
  }
  if (!keyframesAligned) throw new OutputVerifyError('segment boundaries differ between rungs (keyframes not aligned)');

  const decodedDurationSec = Math.min(...video.map((v) => v.durationSec));
  const toleranceSec = durationTolerance(options.expectedDurationSec);
  for (const v of video) {
    if (Math.abs(v.durationSec - decodedDurationSec) > slowestFrame * 2 + 0.01) {
      throw new OutputVerifyError(`rung ${v.playlist} lasts ${v.durationSec.toFixed(3)} s but another lasts ${decodedDurationSec.toFixed(3)} s`);
    }
  }
  const maxSegmentSec = Math.max(...tracks.flatMap((x) => x.segments.slice(0, -1).map((s) => s.durationSec)), ...tracks.map((x) => x.segments.at(-1)!.durationSec));
  return { tracks, keyframesAligned, maxSegmentSec, decodedDurationSec, toleranceSec };
}
