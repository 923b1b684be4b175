import { describe, expect, it } from 'vitest';
import {
  applyCodecs,
  av1CodecsString,
  avcCodecsString,
  bytesFromHexDump,
  codecsFromProbe,
  hevcCodecsString,
  keyframeOverrides,
  levelFromCodecs,
  parseAv1C,
  parseAvcC,
  parseCodecList,
  parseHvcC,
  requireEncoders,
  rungEncoderArgs,
  segmentGops,
  type Av1Config,
  type AvcConfig,
  type HevcConfig,
} from '../../../shared/common/codecs.ts';
import { TiercastError } from '../../../shared/common/errors.ts';
import { buildLadderCommand } from '../../../shared/common/ffmpeg-args.ts';
import { LadderSchema } from '../../../shared/common/ladder-schema.ts';
import { fitLadder, getLadder, parseLadder } from '../../../shared/common/ladders.ts';
import type { MediaInfo } from '../../../shared/common/media.ts';
import { mpdWithCodecs } from '../../../shared/node/transcode.ts';

describe('CODECS string builders', () => {
  it.each<[AvcConfig, string]>([
    [{ profileIdc: 100, constraintFlags: 0, levelIdc: 31 }, 'avc1.64001f'],
    [{ profileIdc: 77, constraintFlags: 0x40, levelIdc: 30 }, 'avc1.4d401e'],
    [{ profileIdc: 66, constraintFlags: 0xc0, levelIdc: 13 }, 'avc1.42c00d'],
    [{ profileIdc: 100, constraintFlags: 0, levelIdc: 52 }, 'avc1.640034'],
  ])('avc %o -> %s', (c, s) => expect(avcCodecsString(c)).toBe(s));

  const zeros = [0, 0, 0, 0, 0, 0];
  it.each<[HevcConfig, string]>([
    // x265 Main, level 2 (what the 320x180 test encode writes): compat flags 1 and 2 -> 6, progressive+frame-only 0x90.
    [{ profileSpace: 0, tierFlag: 0, profileIdc: 1, compatibilityFlags: 0x6000_0000, constraintBytes: [0x90, 0, 0, 0, 0, 0], levelIdc: 60 }, 'hvc1.1.6.L60.90'],
    // Apple's authoring spec example: Main 10, level 4.1.
    [{ profileSpace: 0, tierFlag: 0, profileIdc: 2, compatibilityFlags: 0x2000_0000, constraintBytes: [0xb0, 0, 0, 0, 0, 0], levelIdc: 123 }, 'hvc1.2.4.L123.B0'],
    [{ profileSpace: 0, tierFlag: 1, profileIdc: 1, compatibilityFlags: 0x6000_0000, constraintBytes: [0xb0, 0, 0, 0, 0, 0], levelIdc: 150 }, 'hvc1.1.6.H150.B0'],
    // Trailing zero constraint bytes are left out, inner ones kept; all-zero leaves none.
    [{ profileSpace: 0, tierFlag: 0, profileIdc: 1, compatibilityFlags: 0x6000_0000, constraintBytes: [0x90, 0, 0x08, 0, 0, 0], levelIdc: 93 }, 'hvc1.1.6.L93.90.0.8'],
    [{ profileSpace: 0, tierFlag: 0, profileIdc: 1, compatibilityFlags: 0x4000_0000, constraintBytes: zeros, levelIdc: 93 }, 'hvc1.1.2.L93'],
    [{ profileSpace: 1, tierFlag: 0, profileIdc: 4, compatibilityFlags: 0x0800_0000, constraintBytes: zeros, levelIdc: 90 }, 'hvc1.A4.10.L90'],
  ])('hevc %o -> %s', (c, s) => expect(hevcCodecsString(c)).toBe(s));

  it.each<[Av1Config, string]>([
    [{ profile: 0, levelIdx: 0, tier: 0, bitDepth: 8 }, 'av01.0.00M.08'],
    [{ profile: 0, levelIdx: 8, tier: 0, bitDepth: 10 }, 'av01.0.08M.10'],
    [{ profile: 0, levelIdx: 13, tier: 1, bitDepth: 8 }, 'av01.0.13H.08'],
    [{ profile: 2, levelIdx: 4, tier: 0, bitDepth: 12 }, 'av01.2.04M.12'],
  ])('av1 %o -> %s', (c, s) => expect(av1CodecsString(c)).toBe(s));
});

// Decoder configuration records as ffprobe -show_data prints them, from 320x180 encodes by Debian's ffmpeg 5.1.
const AVCC = '\n00000000: 0164 0015 ffe1 001a 6764 0015 acd9 4141  .d......gd....AA\n00000010: 9f9f 0110 0000 0300 1000 0003 03c0 f162  ...............b\n';
const HVCC = '\n00000000: 0101 6000 0000 9000 0000 0000 3cf0 00fc  ..`.........<...\n00000010: fdf8 f800 000f 04a0 0001 0018 4001 0c01  ............@...\n';
const AV1C = '\n00000000: 8100 0d00 0a0b 0000 0004 3cfe cc02 f802  ..........<.....\n00000010: 40                                       @\n';

describe('levelFromCodecs', () => {
  it.each([
    ['hvc1.1.6.L93.90', '3.1'],
    ['hvc1.1.6.L60.90', '2'],
    ['hev1.2.4.H150.B0', '5'],
    ['hvc1.2.4.L123.B0', '4.1'],
    ['av01.0.00M.08', '2.0'],
    ['av01.0.05M.08', '3.1'],
    ['av01.0.13H.10', '5.1'],
    ['avc1.64001f', '3.1'],
    ['avc1.42c00d', '1.3'],
    ['avc1.640028', '4'],
    ['mp4a.40.2', null],
  ])('%s -> %s', (codecs, level) => expect(levelFromCodecs(codecs)).toBe(level));
});

describe('decoder configuration records from ffprobe', () => {
  it('reads the hex dump, ignoring the ASCII column', () => {
    expect(Array.from(bytesFromHexDump(AV1C))).toEqual([0x81, 0x00, 0x0d, 0x00, 0x0a, 0x0b, 0, 0, 0, 0x04, 0x3c, 0xfe, 0xcc, 0x02, 0xf8, 0x02, 0x40]);
  });

  it('parses avcC, hvcC and av1C', () => {
    expect(parseAvcC(bytesFromHexDump(AVCC))).toEqual({ profileIdc: 100, constraintFlags: 0, levelIdc: 21 });
    expect(parseHvcC(bytesFromHexDump(HVCC))).toEqual({
      profileSpace: 0, tierFlag: 0, profileIdc: 1, compatibilityFlags: 0x6000_0000, constraintBytes: [0x90, 0, 0, 0, 0, 0], levelIdc: 60,
    });
    expect(parseAv1C(bytesFromHexDump(AV1C))).toEqual({ profile: 0, levelIdx: 0, tier: 0, bitDepth: 8 });
    expect(parseAv1C(Uint8Array.from([0x81, 0x08, 0x4c, 0]))).toEqual({ profile: 0, levelIdx: 8, tier: 0, bitDepth: 10 });
    expect(parseHvcC(Uint8Array.from([0, 1, 2]))).toBeNull();
  });

  it.each([
    [{ codec_name: 'h264', codec_tag_string: 'avc1', profile: 'High', level: 21, pix_fmt: 'yuv420p', extradata: AVCC }, 'h264', 'avc1.640015'],
    [{ codec_name: 'hevc', codec_tag_string: 'hvc1', profile: 'Main', level: 60, pix_fmt: 'yuv420p', extradata: HVCC }, 'hevc', 'hvc1.1.6.L60.90'],
    [{ codec_name: 'hevc', codec_tag_string: 'hev1', profile: 'Main', level: 60, pix_fmt: 'yuv420p', extradata: HVCC }, 'hevc', 'hev1.1.6.L60.90'],
    [{ codec_name: 'av1', codec_tag_string: 'av01', profile: 'Main', level: 0, pix_fmt: 'yuv420p', extradata: AV1C }, 'av1', 'av01.0.00M.08'],
  ])('codecsFromProbe %#', (stream, codec, codecs) => {
    expect(codecsFromProbe(stream)).toEqual({ codec, codecs });
  });

  it.each([
    [{ codec_name: 'h264', codec_tag_string: 'avc1', profile: 'High', level: 31, extradata: AVCC }, /level: ffprobe reads 31 but the decoder configuration says 21/],
    [{ codec_name: 'h264', codec_tag_string: 'avc1', profile: 'Main', level: 21, extradata: AVCC }, /profile: ffprobe reads Main/],
    [{ codec_name: 'hevc', codec_tag_string: 'hvc1', profile: 'Main 10', level: 60, extradata: HVCC }, /profile/],
    [{ codec_name: 'av1', codec_tag_string: 'av01', profile: 'Main', level: 0, pix_fmt: 'yuv420p10le', extradata: AV1C }, /bit depth/],
    [{ codec_name: 'av1', codec_tag_string: 'av01', profile: 'Main', level: 0, extradata: '' }, /without an av1C record/],
    [{ codec_name: 'vp9', codec_tag_string: 'vp09' }, /not an H\.264, HEVC or AV1 stream \(vp9\)/],
  ])('codecsFromProbe refuses what disagrees %#', (stream, message) => {
    expect(() => codecsFromProbe(stream)).toThrow(message);
  });
});

describe('--codecs', () => {
  it.each([
    ['h264', ['h264']],
    ['av1,h264', ['av1', 'h264']],
    [' HEVC , h264,hevc ', ['hevc', 'h264']],
    ['h265,avc,av01', ['hevc', 'h264', 'av1']],
  ])('parses %j', (text, list) => expect(parseCodecList(text)).toEqual(list));

  it.each([
    ['vp9', /unknown codec "vp9" in --codecs; choose from h264, hevc, av1/],
    ['h264,,mpeg2', /unknown codec "mpeg2"/],
    [' , ', /--codecs is empty/],
  ])('refuses %j with CONFIG_INVALID naming it', (text, message) => {
    const err = (() => {
      try {
        parseCodecList(text);
      } catch (e) {
        return e as TiercastError;
      }
      throw new Error('no error');
    })();
    expect(err).toBeInstanceOf(TiercastError);
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toMatch(message);
  });

  it('applyCodecs repeats the ladder per family, H.264 first names kept, others suffixed and rates scaled', () => {
    const base = getLadder('default');
    expect(applyCodecs(base, ['h264'])).toEqual(base);
    const two = applyCodecs(base, ['av1', 'h264']);
    expect(two.rungs).toHaveLength(base.rungs.length * 2);
    expect(two.rungs.map((r) => r.name).slice(0, 2)).toEqual(['1080p-av1', '720p-av1']);
    expect(two.rungs[0]!.codec).toBe('av1');
    expect(two.rungs[0]!.videoBitrate).toBeLessThan(base.rungs[0]!.videoBitrate);
    expect(two.rungs.slice(base.rungs.length)).toEqual(base.rungs);
    // Valid as a ladder document (unique names; one size per family).
    expect(() => parseLadder(two)).not.toThrow();
    // Applying again does not stack suffixes or factors.
    expect(applyCodecs(two, ['hevc']).rungs[0]).toMatchObject({ name: '1080p-hevc', codec: 'hevc' });
    expect(applyCodecs(two, ['h264']).rungs).toEqual(base.rungs);
  });
});

describe('requireEncoders', () => {
  const debian = new Set(['libx264', 'libx265', 'libsvtav1', 'aac']);
  const noSvt = new Set(['libx264', 'libx265', 'aac']);

  it('passes when the build has every encoder', () => {
    expect(() => requireEncoders(['h264', 'hevc', 'av1'], debian)).not.toThrow();
    expect(() => requireEncoders(['h264', 'hevc'], noSvt)).not.toThrow();
  });

  it('a build without libsvtav1: ENCODER_MISSING naming the encoder and the fix', () => {
    let err: TiercastError | undefined;
    try {
      requireEncoders(['av1', 'h264'], noSvt);
    } catch (e) {
      err = e as TiercastError;
    }
    expect(err).toBeInstanceOf(TiercastError);
    expect(err!.code).toBe('ENCODER_MISSING');
    expect(err!.retryable).toBe(false);
    expect(err!.message).toMatch(/^this ffmpeg build has no libsvtav1 \(AV1\) encoder; install an ffmpeg built with it .*TIERCAST_FFMPEG.*--codecs/);
    expect(err!.details).toEqual({ codecs: ['av1'], encoders: ['libsvtav1'] });
  });
});

const media: MediaInfo = {
  container: 'mov,mp4,m4a,3gp,3g2,mj2',
  durationSec: 10,
  sizeBytes: 10_000_000,
  bitrate: 8_000_000,
  video: {
    index: 0, codec: 'h264', profile: 'High', width: 1280, height: 720, displayWidth: 1280, displayHeight: 720, rotation: 0,
    sampleAspectRatio: { num: 1, den: 1 }, displayAspectRatio: 16 / 9, fps: 30, rFrameRate: { num: 30, den: 1 }, avgFrameRate: { num: 30, den: 1 },
    variableFrameRate: false, pixelFormat: 'yuv420p', bitDepth: 8, colorTransfer: 'sdr', colorPrimaries: null, colorSpace: null, colorRange: 'tv',
    interlaced: false, fieldOrder: 'progressive', bitrate: 7_800_000, durationSec: 10, frameCount: 300,
  },
  audio: [{ index: 1, codec: 'aac', channels: 2, channelLayout: 'stereo', sampleRate: 48000, bitrate: 128000, language: null, default: true, secondary: false }],
  warnings: [],
} as unknown as MediaInfo;

const mixed = LadderSchema.parse({
  name: 'mixed',
  segmentSeconds: 4,
  preset: 'veryfast',
  rungs: [
    { name: '720p-av1', codec: 'av1', shortEdge: 720, videoBitrate: 1_800_000, maxrate: 2_000_000, bufsize: 2_700_000 },
    { name: '360p-av1', codec: 'av1', shortEdge: 360, videoBitrate: 500_000, maxrate: 550_000, bufsize: 750_000 },
    { name: '720p', shortEdge: 720, videoBitrate: 3_000_000, maxrate: 3_300_000, bufsize: 4_500_000 },
    { name: '360p-hevc', codec: 'hevc', shortEdge: 360, videoBitrate: 550_000, maxrate: 600_000, bufsize: 800_000 },
  ],
});

describe('a ladder with several codec families', () => {
  it('parseLadder allows one size per family, not twice in one', () => {
    const twice = { ...mixed, rungs: [...mixed.rungs, { ...mixed.rungs[1]!, name: 'again' }] };
    expect(() => parseLadder(twice)).toThrow(/rungs\.4\.shortEdge: 360 is used twice for av1/);
  });

  it('fitLadder fits each family on its own and keeps its codec (families in the order the sorted ladder names them)', () => {
    const fitted = fitLadder(media, mixed);
    expect(fitted.rungs.map((r) => [r.name, r.codec ?? 'h264', r.width])).toEqual([
      ['720p-av1', 'av1', 1280],
      ['360p-av1', 'av1', 640],
      ['720p', 'h264', 1280],
      ['360p-hevc', 'hevc', 640],
    ]);
  });

  it('every rung gets its encoder, hvc1, one adaptation set per family, and keyframes on the same frames', () => {
    const fitted = fitLadder(media, mixed);
    const cmd = buildLadderCommand({ source: '/in/a.mp4', media, ladder: fitted, outDir: '/out', formats: ['hls', 'dash'], caps: { canTonemap: true, tonemapMethod: 'zscale' } });
    const after = (flag: string) => cmd.args[cmd.args.indexOf(flag) + 1];
    expect(cmd.outputs.renditions.map((r) => r.codec)).toEqual(['av1', 'av1', 'h264', 'hevc']);
    expect(after('-c:v:0')).toBe('libsvtav1');
    expect(after('-preset:v:0')).toBe('10');
    expect(after('-g:v:0')).toBe('120');
    expect(after('-svtav1-params:v:0')).toBe('irefresh-type=2');
    expect(after('-c:v:3')).toBe('libx265');
    expect(after('-tag:v:3')).toBe('hvc1');
    expect(after('-x265-params:v:3')).toContain('keyint=120:min-keyint=120:scenecut=0:open-gop=0');
    expect(cmd.args).not.toContain('-c:v:2');
    expect(after('-profile:v:2')).toBe('high');
    expect(cmd.args).not.toContain('-profile:v:0');
    expect(cmd.args).not.toContain('-level:v:3');
    // SVT-AV1 keys every 120 frames only, so the others are forced on the same frames, not by time.
    // The whole-frame keyframe grid (keyframeRules): every 120th frame at 30 fps and 4 s segments, as SVT-AV1 keys.
    expect(after('-force_key_frames:v:2')).toBe('expr:gte(n*1,n_forced*120)');
    expect(after('-force_key_frames:v:3')).toBe('expr:gte(n*1,n_forced*120)');
    expect(cmd.args).not.toContain('-force_key_frames:v:0');
    expect(after('-adaptation_sets')).toBe('id=0,streams=0,1 id=1,streams=2 id=2,streams=3 id=3,streams=4');
    expect(cmd.outputs.renditions[3]!.level).toBe('auto');
  });

  it('an H.264-only ladder keeps its command (libx264 for all, per-rung frame-grid keyframes, one video adaptation set)', () => {
    const cmd = buildLadderCommand({ source: '/in/a.mp4', media, ladder: fitLadder(media, getLadder('default')), outDir: '/out', formats: ['hls'], caps: { canTonemap: true, tonemapMethod: 'zscale' } });
    expect(cmd.args.some((a) => /^-c:v:\d/.test(a))).toBe(false);
    expect(cmd.args.filter((a) => /^-force_key_frames:v:\d/.test(a))).toHaveLength(cmd.outputs.renditions.length);
    expect(cmd.args[cmd.args.indexOf('-adaptation_sets') + 1]).toBe('id=0,streams=v id=1,streams=5');
  });

  it.each([
    // No AV1: one segment at each rung's own rate, as before.
    [[{ codec: 'h264', fps: 30 }, { codec: 'hevc', fps: 15 }], 4, [120, 60]],
    [[{ codec: 'h264', fps: 30000 / 1001 }], 1.25, [37]],
    // AV1: a common period, rounded up to whole frames of the slowest rung, never just before a boundary.
    [[{ codec: 'av1', fps: 30000 / 1001 }, { codec: 'h264', fps: 30000 / 1001 }], 1.25, [38, 38]],
    [[{ codec: 'av1', fps: 60000 / 1001 }, { codec: 'h264', fps: 30000 / 1001 }], 4, [240, 120]],
    [[{ codec: 'av1', fps: 30 }, { codec: 'h264', fps: 15 }], 1.25, [38, 19]],
  ] as const)('segmentGops %j every %d s -> %j', (rungs, seg, gops) => {
    expect(segmentGops(rungs, seg).map((g) => g.gop)).toEqual(gops);
  });

  it('keyframeOverrides is empty without AV1', () => {
    expect(keyframeOverrides([{ codec: 'hevc', gop: 96 }, { codec: 'h264', gop: 96 }])).toEqual([]);
  });

  it('rungEncoderArgs for H.264 is what the command always wrote', () => {
    expect(rungEncoderArgs({ codec: 'h264', videoBitrate: 1, maxrate: 2, bufsize: 3, profile: 'main', level: '3.1', gop: 50 }, 4, 'fast')).toEqual([
      '-b:v:4', '1', '-maxrate:v:4', '2', '-bufsize:v:4', '3', '-profile:v:4', 'main', '-level:v:4', '3.1', '-g:v:4', '50', '-keyint_min:v:4', '50',
    ]);
  });
});

describe('mpdWithCodecs', () => {
  it('replaces the codecs attribute of the listed representations only', () => {
    const xml = [
      '<Representation id="0" mimeType="video/mp4" codecs="hvc1" bandwidth="1">',
      '<Representation id="1" mimeType="video/mp4" codecs="avc1.640015" bandwidth="1">',
      '<Representation id="2" mimeType="audio/mp4" codecs="mp4a.40.2" bandwidth="1">',
    ].join('\n');
    const out = mpdWithCodecs(xml, new Map([['0', 'hvc1.1.6.L60.90'], ['1', 'avc1.640015']]));
    expect(out).toContain('<Representation id="0" mimeType="video/mp4" codecs="hvc1.1.6.L60.90" bandwidth="1">');
    expect(out).toContain('codecs="mp4a.40.2"');
  });
});
