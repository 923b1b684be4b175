import { TiercastError } from './errors.ts';
import type { Ladder } from './ladder-schema.ts';

/**
 * The three video codec families a rung can be: H.264 (libx264), HEVC (libx265, sample entry `hvc1` so Apple
 * players accept it) and AV1 (libsvtav1), all packaged the same way (CMAF fMP4 segments). This module holds what
 * differs per family: encoder arguments, the RFC 6381 CODECS strings the HLS master and the MPD carry, the check
 * that the ffmpeg build has the encoder, and the speed and bitrate factors the router and `--codecs` use.
 */

export const VIDEO_CODECS = ['h264', 'hevc', 'av1'] as const;
export type VideoCodec = (typeof VIDEO_CODECS)[number];

export interface CodecInfo {
  /** ffmpeg encoder name (what `ffmpeg -encoders` lists). */
  readonly encoder: string;
  readonly label: string;
  /**
   * Encode speed relative to libx264 at the matching preset, in CPU time (bench/codecs.bench.ts, preset veryfast,
   * 640x360 sources: x265 0.34-0.66x, mean 0.47x; SVT-AV1 preset 10 0.22-0.62x, mean 0.48x).
   */
  readonly speed: number;
  /**
   * Bits this codec needs for the quality H.264 reaches with one bit, at matching presets (bench/codecs.bench.ts,
   * equal SSIM over six sources: HEVC 0.48-0.89, 1.45 on a near-static slide, mean 0.85; AV1 0.43-1.01, mean
   * 0.65). `--codecs` scales a ladder's H.264 rates by it, and fitting scales the source-bitrate cap.
   */
  readonly bitsVsH264: number;
  /** What a player needs to decode it (README "Codecs"). */
  readonly players: string;
}

export const CODEC_INFO: Readonly<Record<VideoCodec, CodecInfo>> = {
  h264: { encoder: 'libx264', label: 'H.264', speed: 1, bitsVsH264: 1, players: 'every browser and device' },
  hevc: {
    encoder: 'libx265',
    label: 'HEVC',
    speed: 0.47,
    bitsVsH264: 0.8,
    players: 'Safari and Apple devices (hvc1), Edge/Chrome with hardware decoding, most smart TVs',
  },
  av1: {
    encoder: 'libsvtav1',
    label: 'AV1',
    speed: 0.48,
    bitsVsH264: 0.65,
    players: 'Chrome, Firefox, Edge, Android 10+, Safari on devices with an AV1 decoder (iPhone 15 Pro, M3 Macs)',
  },
};

export function isVideoCodec(value: unknown): value is VideoCodec {
  return typeof value === 'string' && (VIDEO_CODECS as readonly string[]).includes(value);
}

/** `h264,av1` -> ['h264', 'av1'] (order kept, duplicates dropped); an unknown name is CONFIG_INVALID naming it. */
export function parseCodecList(text: string): VideoCodec[] {
  const names = text
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  if (names.length === 0) throw new TiercastError('CONFIG_INVALID', `--codecs is empty; choose from ${VIDEO_CODECS.join(', ')}`);
  const alias: Record<string, VideoCodec> = { avc: 'h264', 'h.264': 'h264', x264: 'h264', h265: 'hevc', 'h.265': 'hevc', x265: 'hevc', av01: 'av1' };
  const out: VideoCodec[] = [];
  for (const n of names) {
    const codec = isVideoCodec(n) ? n : alias[n];
    if (!codec) {
      throw new TiercastError('CONFIG_INVALID', `unknown codec "${n}" in --codecs; choose from ${VIDEO_CODECS.join(', ')}`, {
        details: { codec: n, known: [...VIDEO_CODECS] },
      });
    }
    if (!out.includes(codec)) out.push(codec);
  }
  return out;
}

/**
 * `--codecs`: the ladder's rung sizes, once per codec family asked for, in that order (the first family is the
 * preferred one; a player that cannot decode it takes the next). Rates come from the ladder's H.264 rungs scaled by
 * each family's bitsVsH264; rungs other than H.264 are named `<rung>-<codec>` so names stay unique.
 */
export function applyCodecs(ladder: Ladder, codecs: readonly VideoCodec[]): Ladder {
  const families = [...new Set(ladder.rungs.map((r) => r.codec))];
  // The ladder's own sizes and H.264 rates: its H.264 family when it has one, else its first family rescaled.
  const base = ladder.rungs.filter((r) => r.codec === (families.includes('h264') ? 'h264' : families[0]));
  const baseFactor = CODEC_INFO[base[0]!.codec].bitsVsH264;
  const rungs = codecs.flatMap((codec) =>
    base.map((r) => {
      const k = CODEC_INFO[codec].bitsVsH264 / baseFactor;
      const scale = (n: number) => Math.max(50_000, Math.round(n * k));
      const name = r.name.replace(/-(h264|hevc|av1)$/, '');
      return { ...r, codec, name: codec === 'h264' ? name : `${name}-${codec}`, videoBitrate: scale(r.videoBitrate), maxrate: scale(r.maxrate), bufsize: scale(r.bufsize) };
    }),
  );
  return { ...ladder, rungs };
}

/** How to get an ffmpeg build with the encoder (Debian's 5.1 has all three). */
const ENCODER_HINT =
  'install an ffmpeg built with it (Debian 12/Ubuntu 23.04+: apt-get install -y ffmpeg; macOS: brew install ffmpeg) and point ' +
  'TIERCAST_FFMPEG at it, or choose another codec with --codecs';

/**
 * Throws ENCODER_MISSING when the build lacks the encoder of any codec asked for, naming the encoder and the fix.
 * `encoders` is the set `ffmpeg -encoders` lists (FfmpegInstall.encoders).
 */
export function requireEncoders(codecs: Iterable<VideoCodec>, encoders: ReadonlySet<string>): void {
  const missing = [...new Set(codecs)].filter((c) => !encoders.has(CODEC_INFO[c].encoder));
  if (missing.length === 0) return;
  const names = missing.map((c) => `${CODEC_INFO[c].encoder} (${CODEC_INFO[c].label})`).join(' and ');
  throw new TiercastError('ENCODER_MISSING', `this ffmpeg build has no ${names} encoder; ${ENCODER_HINT}`, {
    details: { codecs: missing, encoders: missing.map((c) => CODEC_INFO[c].encoder) },
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Encoder arguments

/** x264 preset names mapped to SVT-AV1's numeric presets (0 slowest .. 13 fastest) of similar intent. */
const SVT_PRESET: Readonly<Record<string, number>> = {
  ultrafast: 12, superfast: 11, veryfast: 10, faster: 9, fast: 8, medium: 7, slow: 6, slower: 5, veryslow: 4,
};

export function svtPreset(x264Preset: string): number {
  return SVT_PRESET[x264Preset] ?? 8;
}

export interface RungEncoderInput {
  readonly codec: VideoCodec;
  readonly videoBitrate: number;
  readonly maxrate: number;
  readonly bufsize: number;
  /** H.264 only. */
  readonly profile: 'baseline' | 'main' | 'high';
  /** H.264 only: the level h264Level chose. */
  readonly level: string;
  /** Frames between keyframes (one segment). */
  readonly gop: number;
}

/**
 * Per-stream encoder arguments of output video stream `i`. They follow the command's global `-c:v libx264 -preset`
 * (ffmpeg lets the more specific, later `:v:i` option win), so an H.264 rung writes exactly what it always did.
 * HEVC: capped VBR through VBV, a closed GOP of one segment, keyframes forced as IDR, no scene cuts, `hvc1` sample
 * entry (parameter sets in the init segment, which Apple players require). AV1: SVT-AV1 VBR with the same cap;
 * SVT-AV1 ignores forced keyframes, so its keyframes come from the GOP length alone (see keyframeOverrides).
 */
export function rungEncoderArgs(r: RungEncoderInput, i: number, preset: string): string[] {
  const rate = [`-b:v:${i}`, String(r.videoBitrate), `-maxrate:v:${i}`, String(r.maxrate), `-bufsize:v:${i}`, String(r.bufsize)];
  const gop = String(r.gop);
  switch (r.codec) {
    case 'h264':
      return [...rate, `-profile:v:${i}`, r.profile, `-level:v:${i}`, r.level, `-g:v:${i}`, gop, `-keyint_min:v:${i}`, gop];
    case 'hevc':
      return [
        `-c:v:${i}`, 'libx265', `-preset:v:${i}`, preset, `-tag:v:${i}`, 'hvc1', ...rate, `-profile:v:${i}`, 'main',
        `-g:v:${i}`, gop, `-keyint_min:v:${i}`, gop, `-forced-idr:v:${i}`, '1',
        `-x265-params:v:${i}`, `keyint=${gop}:min-keyint=${gop}:scenecut=0:open-gop=0:repeat-headers=0:log-level=error`,
      ];
    case 'av1':
      return [
        `-c:v:${i}`, 'libsvtav1', `-preset:v:${i}`, String(svtPreset(preset)), ...rate, `-g:v:${i}`, gop,
        // irefresh-type=2: every keyframe a KEY frame (closed GOP), so each segment decodes on its own.
        `-svtav1-params:v:${i}`, 'irefresh-type=2',
      ];
  }
}

/**
 * Frames between keyframes for each rung. Without AV1: one segment at the rung's rate (the other encoders are forced
 * onto segment boundaries by time anyway). With AV1, whose encoder only counts frames, every rung keys on one common
 * period: the segment length rounded up to whole frames of the slowest rung (rounded down, keyframes would land just
 * before each boundary and the muxer would skip them), which faster rungs, at whole multiples of that rate, hit exactly.
 */
export function segmentGops(rungs: readonly { readonly codec: VideoCodec; readonly fps: number }[], segmentSeconds: number): { codec: VideoCodec; gop: number }[] {
  if (!rungs.some((r) => r.codec === 'av1')) return rungs.map((r) => ({ codec: r.codec, gop: Math.max(1, Math.round(r.fps * segmentSeconds)) }));
  const slowest = Math.min(...rungs.map((r) => r.fps));
  const period = Math.max(1, Math.ceil(slowest * segmentSeconds - 1e-6)) / slowest;
  return rungs.map((r) => ({ codec: r.codec, gop: Math.max(1, Math.round(r.fps * period)) }));
}

/**
 * SVT-AV1 places keyframes every `gop` frames and nothing else (it ignores ffmpeg's forced keyframes), while the
 * other encoders follow the time-based `-force_key_frames`. The two agree only when a segment is a whole number of
 * frames. So when a ladder carries AV1 next to another family, every H.264/HEVC rung is forced on the same frame
 * count instead (`n` a multiple of its GOP), which keeps segments aligned across all renditions.
 */
export function keyframeOverrides(rungs: readonly { readonly codec: VideoCodec; readonly gop: number }[]): string[] {
  if (!rungs.some((r) => r.codec === 'av1')) return [];
  return rungs.flatMap((r, i) => (r.codec === 'av1' ? [] : [`-force_key_frames:v:${i}`, `expr:eq(mod(n,${r.gop}),0)`]));
}

// ---------------------------------------------------------------------------------------------------------------
// CODECS strings (RFC 6381; ISO/IEC 14496-15 Annex E for HEVC; the AV1 ISOBMFF binding section "Codecs Parameter String")

export interface AvcConfig {
  readonly profileIdc: number;
  readonly constraintFlags: number;
  readonly levelIdc: number;
}

/** avc1.PPCCLL: profile_idc, the constraint_set flags byte and level_idc, each two hex digits. */
export function avcCodecsString(c: AvcConfig): string {
  return `avc1.${hex2(c.profileIdc)}${hex2(c.constraintFlags)}${hex2(c.levelIdc)}`;
}

export interface HevcConfig {
  /** 0..3 (0 in every published profile; 1..3 print as A..C). */
  readonly profileSpace: number;
  readonly tierFlag: 0 | 1;
  readonly profileIdc: number;
  /** general_profile_compatibility_flags as stored (flag 0 is the most significant bit). */
  readonly compatibilityFlags: number;
  /** The six general constraint indicator bytes. */
  readonly constraintBytes: readonly number[];
  readonly levelIdc: number;
}

/**
 * hvc1.[A-C]<profile>.<compat>.<L|H><level>[.<constraint byte>...]: the compatibility flags in reverse bit order
 * as hex without leading zeros, constraint bytes in hex with trailing zero bytes left out.
 */
export function hevcCodecsString(c: HevcConfig, sampleEntry: 'hvc1' | 'hev1' = 'hvc1'): string {
  const space = c.profileSpace ? String.fromCharCode(64 + c.profileSpace) : '';
  let reversed = 0;
  for (let bit = 0; bit < 32; bit++) if ((c.compatibilityFlags >>> (31 - bit)) & 1) reversed |= 1 << bit;
  const bytes = [...c.constraintBytes];
  while (bytes.length && bytes[bytes.length - 1] === 0) bytes.pop();
  const parts = [sampleEntry, `${space}${c.profileIdc}`, (reversed >>> 0).toString(16).toUpperCase(), `${c.tierFlag ? 'H' : 'L'}${c.levelIdc}`];
  parts.push(...bytes.map((b) => b.toString(16).toUpperCase()));
  return parts.join('.');
}

export interface Av1Config {
  readonly profile: number;
  readonly levelIdx: number;
  readonly tier: 0 | 1;
  readonly bitDepth: 8 | 10 | 12;
}

/** av01.<profile>.<level, 2 digits><M|H>.<bit depth, 2 digits> (the short form; the optional fields default). */
export function av1CodecsString(c: Av1Config): string {
  return `av01.${c.profile}.${String(c.levelIdx).padStart(2, '0')}${c.tier ? 'H' : 'M'}.${String(c.bitDepth).padStart(2, '0')}`;
}

function hex2(n: number): string {
  // Lower case, as ffmpeg and most packagers write avc1 strings.
  return n.toString(16).padStart(2, '0');
}

/** The bytes of an ffprobe `-show_data` hex dump (`00000000: 0164 0015 ffe1 ...  .d......`). */
export function bytesFromHexDump(dump: string): Uint8Array {
  const out: number[] = [];
  for (const line of dump.split('\n')) {
    const m = /^[0-9a-f]{8}: (.*)$/i.exec(line.trim());
    if (!m) continue;
    // The hex part is 8 groups of up to 4 digits (40 columns); the ASCII column follows after two spaces.
    const hex = m[1]!.slice(0, 40).split('  ')[0]!.replace(/\s+/g, '');
    for (let k = 0; k + 1 < hex.length; k += 2) out.push(parseInt(hex.slice(k, k + 2), 16));
  }
  return Uint8Array.from(out);
}

export function parseAvcC(b: Uint8Array): AvcConfig | null {
  if (b.length < 4 || b[0] !== 1) return null;
  return { profileIdc: b[1]!, constraintFlags: b[2]!, levelIdc: b[3]! };
}

export function parseHvcC(b: Uint8Array): HevcConfig | null {
  if (b.length < 13 || b[0] !== 1) return null;
  return {
    profileSpace: b[1]! >> 6,
    tierFlag: ((b[1]! >> 5) & 1) as 0 | 1,
    profileIdc: b[1]! & 0x1f,
    compatibilityFlags: ((b[2]! << 24) | (b[3]! << 16) | (b[4]! << 8) | b[5]!) >>> 0,
    constraintBytes: Array.from(b.slice(6, 12)),
    levelIdc: b[12]!,
  };
}

export function parseAv1C(b: Uint8Array): Av1Config | null {
  if (b.length < 4 || b[0] !== 0x81) return null;
  const highBitdepth = (b[2]! >> 6) & 1;
  const twelveBit = (b[2]! >> 5) & 1;
  return {
    profile: b[1]! >> 5,
    levelIdx: b[1]! & 0x1f,
    tier: ((b[2]! >> 7) & 1) as 0 | 1,
    bitDepth: highBitdepth ? (twelveBit ? 12 : 10) : 8,
  };
}

/** The fields of one ffprobe video stream (`-show_data -show_entries stream=...`) the CODECS string comes from. */
export interface ProbedVideoStream {
  readonly codec_name?: string;
  readonly codec_tag_string?: string;
  readonly profile?: string;
  readonly level?: number;
  readonly pix_fmt?: string;
  readonly extradata?: string;
}

const AVC_PROFILES: Readonly<Record<string, number>> = {
  Baseline: 66, 'Constrained Baseline': 66, Main: 77, Extended: 88, High: 100, 'High 10': 110, 'High 4:2:2': 122, 'High 4:4:4 Predictive': 244,
};
const HEVC_PROFILES: Readonly<Record<string, number>> = { Main: 1, 'Main 10': 2, 'Main Still Picture': 3, Rext: 4 };
const AV1_PROFILES: Readonly<Record<string, number>> = { Main: 0, High: 1, Professional: 2 };

/**
 * The CODECS string of a produced rendition, from what ffprobe reads back: the decoder configuration record
 * (avcC / hvcC / av1C, ffprobe's extradata) gives the bytes, and ffprobe's own profile, level, sample entry and
 * pixel format must agree with them. Throws a plain Error saying what disagrees (the caller classifies it).
 */
export function codecsFromProbe(s: ProbedVideoStream): { codec: VideoCodec; codecs: string } {
  const bytes = bytesFromHexDump(s.extradata ?? '');
  const mismatch = (what: string, probed: unknown, record: unknown) =>
    new Error(`${s.codec_name} ${what}: ffprobe reads ${String(probed)} but the decoder configuration says ${String(record)}`);
  switch (s.codec_name) {
    case 'h264': {
      const c = parseAvcC(bytes);
      if (!c) throw new Error('h264 stream without an avcC record');
      if (s.codec_tag_string !== 'avc1') throw mismatch('sample entry', s.codec_tag_string, 'avc1');
      if (s.level !== undefined && s.level !== c.levelIdc) throw mismatch('level', s.level, c.levelIdc);
      const p = s.profile ? AVC_PROFILES[s.profile] : undefined;
      if (p !== undefined && p !== c.profileIdc) throw mismatch('profile', s.profile, c.profileIdc);
      return { codec: 'h264', codecs: avcCodecsString(c) };
    }
    case 'hevc': {
      const c = parseHvcC(bytes);
      if (!c) throw new Error('hevc stream without an hvcC record');
      const entry = s.codec_tag_string;
      if (entry !== 'hvc1' && entry !== 'hev1') throw mismatch('sample entry', entry, 'hvc1 or hev1');
      if (s.level !== undefined && s.level !== c.levelIdc) throw mismatch('level', s.level, c.levelIdc);
      const p = s.profile ? HEVC_PROFILES[s.profile] : undefined;
      if (p !== undefined && p !== c.profileIdc) throw mismatch('profile', s.profile, c.profileIdc);
      return { codec: 'hevc', codecs: hevcCodecsString(c, entry) };
    }
    case 'av1': {
      const c = parseAv1C(bytes);
      if (!c) throw new Error('av1 stream without an av1C record');
      if (s.codec_tag_string !== 'av01') throw mismatch('sample entry', s.codec_tag_string, 'av01');
      if (s.level !== undefined && s.level >= 0 && s.level !== c.levelIdx) throw mismatch('level', s.level, c.levelIdx);
      const p = s.profile ? AV1_PROFILES[s.profile] : undefined;
      if (p !== undefined && p !== c.profile) throw mismatch('profile', s.profile, c.profile);
      const depth = /p(10|12)/.exec(s.pix_fmt ?? '')?.[1];
      if (s.pix_fmt && Number(depth ?? 8) !== c.bitDepth) throw mismatch('bit depth', s.pix_fmt, c.bitDepth);
      return { codec: 'av1', codecs: av1CodecsString(c) };
    }
    default:
      throw new Error(`not an H.264, HEVC or AV1 stream (${s.codec_name ?? 'unknown'})`);
  }
}

/**
 * The level a CODECS string declares, as people write it: hvc1 L93 -> "3.1" (level_idc / 30), av01 level index 5 ->
 * "3.1" (2 + idx / 4 . idx % 4), avc1 level_idc 31 -> "3.1". Null for anything else.
 */
export function levelFromCodecs(codecs: string): string | null {
  const hevc = /^(?:hvc1|hev1)\.[^.]+\.[^.]+\.[LH](\d+)/.exec(codecs);
  if (hevc) {
    const idc = Number(hevc[1]);
    return idc % 30 === 0 ? String(idc / 30) : (idc / 30).toFixed(1);
  }
  const av1 = /^av01\.\d\.(\d\d)[MH]\./.exec(codecs);
  if (av1) {
    const idx = Number(av1[1]);
    return `${2 + (idx >> 2)}.${idx & 3}`;
  }
  const avc = /^avc1\.[0-9a-f]{4}([0-9a-f]{2})$/i.exec(codecs);
  if (avc) {
    const idc = parseInt(avc[1]!, 16);
    return idc % 10 === 0 ? String(idc / 10) : (idc / 10).toFixed(1);
  }
  return null;
}
