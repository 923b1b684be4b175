import { describe, expect, it } from 'vitest';
import { LadderSchema, type Ladder } from '../../../shared/common/ladder-schema.ts';
import { choosePreset, DEFAULT_LADDER_NAME, fitLadder, getLadder, LADDERS, parseLadder } from '../../../shared/common/ladders.ts';
import type { MediaInfo, VideoStreamInfo } from '../../../shared/common/media.ts';

interface Src {
  w: number;
  h: number;
  rotation?: 0 | 90 | 180 | 270;
  sar?: [number, number];
  fps?: number;
  vfr?: boolean;
  bitrate?: number | null;
  audio?: boolean;
  duration?: number;
  codec?: string;
}

/** A MediaInfo as probeFile would give it: display size derived from stored size, SAR and rotation. */
function media(s: Src): MediaInfo {
  const [sn, sd] = s.sar ?? [1, 1];
  const sarW = Math.round((s.w * sn) / sd);
  const turned = s.rotation === 90 || s.rotation === 270;
  const displayWidth = turned ? s.h : sarW;
  const displayHeight = turned ? sarW : s.h;
  const fps = s.fps ?? 30;
  const video: VideoStreamInfo = {
    index: 0, codec: s.codec ?? 'h264', profile: 'High', width: s.w, height: s.h, rotation: s.rotation ?? 0,
    displayWidth, displayHeight, sampleAspectRatio: { num: sn, den: sd }, displayAspectRatio: displayWidth / displayHeight,
    rFrameRate: { num: fps * 1000, den: 1000 }, avgFrameRate: { num: fps * 1000, den: 1000 }, fps, variableFrameRate: s.vfr ?? false,
    pixelFormat: 'yuv420p', bitDepth: 8, colorTransfer: 'sdr', colorPrimaries: null, colorSpace: null, colorRange: 'tv',
    fieldOrder: 'progressive', interlaced: false, frameCount: null, bitrate: s.bitrate === undefined ? 50_000_000 : s.bitrate,
    durationSec: s.duration ?? 60,
  };
  return {
    container: 'mov,mp4,m4a,3gp,3g2,mj2', containerLongName: null, durationSec: s.duration ?? 60, sizeBytes: 1,
    bitrate: null, video, videoStreamCount: 1,
    audio: s.audio === false ? [] : [{ index: 1, codec: 'aac', channels: 2, channelLayout: 'stereo', sampleRate: 48000, bitrate: 128000, language: null }],
    warnings: [],
  };
}

const sizes = (l: ReturnType<typeof fitLadder>) => l.rungs.map((r) => `${r.width}x${r.height}`);
const reference = LADDERS.reference!;
const def = LADDERS[DEFAULT_LADDER_NAME]!;

describe('built-in ladders', () => {
  it('all validate against LadderSchema and have descending, unique rungs', () => {
    for (const ladder of Object.values(LADDERS)) {
      expect(() => LadderSchema.parse(ladder)).not.toThrow();
      const edges = ladder.rungs.map((r) => r.shortEdge);
      expect(edges).toEqual([...edges].sort((a, b) => b - a));
      expect(new Set(edges).size).toBe(edges.length);
      for (const r of ladder.rungs) {
        expect(r.maxrate / r.videoBitrate).toBeGreaterThanOrEqual(1.07);
        expect(r.maxrate / r.videoBitrate).toBeLessThanOrEqual(1.5);
        expect(r.bufsize / r.videoBitrate).toBeGreaterThanOrEqual(1.2);
        expect(r.bufsize / r.videoBitrate).toBeLessThanOrEqual(2);
      }
    }
  });

  it('reference is 2160p 20, 1080p 8, 720p 5, 480p 2.5, 360p 1 Mb/s', () => {
    expect(reference.rungs.map((r) => [r.shortEdge, r.videoBitrate])).toEqual([
      [2160, 20_000_000], [1080, 8_000_000], [720, 5_000_000], [480, 2_500_000], [360, 1_000_000],
    ]);
  });

  it('default has no 4K and tops out at 1080p', () => {
    expect(def.rungs[0]!.shortEdge).toBe(1080);
    expect(def.rungs.length).toBeGreaterThanOrEqual(4);
  });

  it('getLadder names the known ladders when the name is unknown', () => {
    expect(getLadder('reference')).toBe(reference);
    expect(() => getLadder('nope')).toThrowError(/unknown ladder "nope"; known ladders: default, reference, mobile/);
    expect(() => getLadder('toString')).toThrowError(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });

  it('parseLadder names the bad field', () => {
    const bad = { name: 'x', rungs: [{ name: 'a', shortEdge: 720, videoBitrate: 3_000_000, maxrate: 1_000_000, bufsize: 4_000_000 }] };
    expect(() => parseLadder(bad)).toThrowError(/rungs\.0\.maxrate: maxrate must be >= videoBitrate/);
    expect(() => parseLadder({ name: 'x', rungs: [] })).toThrowError(/rungs:/);
    expect(() => parseLadder({ rungs: 3 })).toThrowError(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringMatching(/name:.*rungs:/) }));
    const twice = { name: 'x', rungs: [bad.rungs[0]!, bad.rungs[0]!].map((r) => ({ ...r, maxrate: 3_000_000 })) };
    expect(() => parseLadder(twice)).toThrowError(/rungs\.1\.name: "a" is used twice/);
  });

  it('parseLadder fills defaults and sorts rungs largest first', () => {
    const l = parseLadder({ name: 'mine', rungs: [
      { name: 's', shortEdge: 360, videoBitrate: 800_000, maxrate: 900_000, bufsize: 1_200_000 },
      { name: 'l', shortEdge: 720, videoBitrate: 3_000_000, maxrate: 3_300_000, bufsize: 4_500_000 },
    ] });
    expect(l.rungs.map((r) => r.name)).toEqual(['l', 's']);
    expect(l).toMatchObject({ segmentSeconds: 4, preset: null, audio: { bitrate: 128_000, channels: 2 } });
  });
});

describe('fitLadder', () => {
  const table: { name: string; src: Src; ladder?: Ladder; sizes: string[]; check?: (l: ReturnType<typeof fitLadder>) => void }[] = [
    {
      name: 'landscape 1080p on reference: no 2160p, the rest at 16:9',
      src: { w: 1920, h: 1080 },
      sizes: ['1920x1080', '1280x720', '854x480', '640x360'],
      check: (l) => {
        expect(l.rungs[0]!.videoBitrate).toBe(8_000_000);
        expect(l.rungs[0]!.maxrate).toBe(8_560_000);
        expect(l.rungs[0]!.bufsize).toBe(12_000_000);
        expect(l.dropped).toEqual([{ name: '2160p', reason: expect.stringMatching(/would upscale/) }]);
      },
    },
    {
      name: '4K landscape keeps every reference rung',
      src: { w: 3840, h: 2160, bitrate: 45_000_000 },
      sizes: ['3840x2160', '1920x1080', '1280x720', '854x480', '640x360'],
      check: (l) => expect(l.rungs[0]!.videoBitrate).toBe(20_000_000),
    },
    {
      name: 'portrait 720x1280 gets portrait rungs',
      src: { w: 720, h: 1280 },
      sizes: ['720x1280', '480x854', '360x640'],
    },
    {
      name: '4K stored landscape, rotated 90: portrait 2160x3840',
      src: { w: 3840, h: 2160, rotation: 90, bitrate: 60_000_000 },
      sizes: ['2160x3840', '1080x1920', '720x1280', '480x854', '360x640'],
    },
    {
      name: 'tiny 214x160: one rung at the source size',
      src: { w: 214, h: 160, bitrate: 200_000 },
      sizes: ['214x160'],
      check: (l) => {
        expect(l.rungs[0]!.name).toBe('360p');
        expect(l.rungs[0]!.notes.join(' ')).toMatch(/source's own size/);
        expect(l.rungs[0]!.videoBitrate).toBeLessThanOrEqual(200_000);
      },
    },
    {
      name: 'odd 427x241: even dimensions, never above the source',
      src: { w: 427, h: 241 },
      ladder: LADDERS.default!,
      sizes: ['426x240'],
    },
    {
      name: '2.39:1 film 1920x804 keeps its 1080p rung (16:9 box fitting)',
      src: { w: 1920, h: 804 },
      sizes: ['1920x804', '1280x536', '854x358', '640x268'],
      check: (l) => expect(l.rungs[0]!.videoBitrate).toBeLessThan(8_000_000),
    },
    {
      name: '1000p source: the 1080p rung kept at source size rather than topping out at 720p',
      src: { w: 1776, h: 1000 },
      sizes: ['1776x1000', '1278x720', '852x480', '640x360'],
    },
    {
      name: 'low-bitrate 1080p source (1.5 Mb/s): capped at the source, capped rungs without a step dropped',
      src: { w: 1920, h: 1080, bitrate: 1_500_000 },
      sizes: ['1920x1080', '640x360'],
      check: (l) => {
        expect(l.rungs[0]!.videoBitrate).toBe(1_500_000);
        expect(l.rungs[0]!.maxrate).toBe(Math.round(1_500_000 * 1.07));
        expect(l.rungs[1]!.videoBitrate).toBe(1_000_000);
        expect(l.dropped.map((d) => d.name)).toEqual(['2160p', '720p', '480p']);
        for (const r of l.rungs) expect(r.videoBitrate).toBeLessThanOrEqual(1_500_000);
      },
    },
    {
      name: '60 fps: bitrates x~1.5, fps kept',
      src: { w: 1920, h: 1080, fps: 60 },
      sizes: ['1920x1080', '1280x720', '854x480', '640x360'],
      check: (l) => {
        expect(l.rungs.every((r) => r.fps === 60)).toBe(true);
        expect(l.rungs[0]!.videoBitrate).toBeGreaterThan(8_000_000 * 1.45);
        expect(l.rungs[0]!.videoBitrate).toBeLessThan(8_000_000 * 1.55);
      },
    },
    {
      name: '60 fps on default: the small rungs are halved to 30 fps and not boosted',
      src: { w: 1920, h: 1080, fps: 59.94 },
      ladder: LADDERS.default!,
      sizes: ['1920x1080', '1280x720', '960x540', '768x432', '640x360', '416x234'],
      check: (l) => {
        expect(l.rungs.map((r) => r.fps)).toEqual([59.94, 59.94, 59.94, 59.94, 29.97, 29.97]);
        expect(l.rungs[4]!.videoBitrate).toBe(730_000);
      },
    },
    {
      name: '120 fps source capped at 60',
      src: { w: 1280, h: 720, fps: 120 },
      sizes: ['1280x720', '854x480', '640x360'],
      check: (l) => expect(l.rungs.map((r) => r.fps)).toEqual([60, 60, 60]),
    },
    {
      name: 'VFR phone clip averaging 27.6 fps is encoded at constant 30',
      src: { w: 1024, h: 768, rotation: 90, fps: 27.61, vfr: true },
      sizes: ['720x960', '480x640', '360x480'],
      check: (l) => expect(l.rungs.every((r) => r.fps === 30)).toBe(true),
    },
    {
      name: 'anamorphic PAL 720x576 SAR 64:45 is shown 1024x576',
      src: { w: 720, h: 576, sar: [64, 45], fps: 25 },
      sizes: ['1024x576', '854x480', '640x360'],
    },
    {
      name: 'anamorphic PAL 720x576 SAR 16:15 is shown 768x576 (4:3)',
      src: { w: 720, h: 576, sar: [16, 15], fps: 25 },
      sizes: ['768x576', '640x480', '480x360'],
    },
    {
      name: '23.976 fps film is inside the 24-30 band, 15 fps screen capture gets fewer bits',
      src: { w: 1280, h: 720, fps: 23.976 },
      sizes: ['1280x720', '854x480', '640x360'],
      check: (l) => {
        expect(l.rungs[0]!.videoBitrate).toBe(5_000_000);
        expect(l.rungs[0]!.fps).toBe(23.976);
        const slow = fitLadder(media({ w: 1280, h: 720, fps: 15 }), reference);
        expect(slow.rungs[0]!.videoBitrate).toBeLessThan(4_000_000);
        expect(slow.rungs[0]!.videoBitrate).toBeGreaterThan(3_000_000);
      },
    },
    {
      name: 'no audio: a video-only ladder',
      src: { w: 1280, h: 720, audio: false },
      sizes: ['1280x720', '854x480', '640x360'],
      check: (l) => expect(l.audio).toBeNull(),
    },
  ];

  it.each(table)('$name', ({ src, ladder, sizes: want, check }) => {
    const fitted = fitLadder(media(src), ladder ?? reference);
    expect(sizes(fitted)).toEqual(want);
    for (const r of fitted.rungs) {
      expect(r.width % 2).toBe(0);
      expect(r.height % 2).toBe(0);
      expect(r.width).toBeLessThanOrEqual(media(src).video!.displayWidth);
      expect(r.height).toBeLessThanOrEqual(media(src).video!.displayHeight);
      expect(r.maxrate).toBeGreaterThanOrEqual(r.videoBitrate);
      expect(r.bufsize).toBeGreaterThanOrEqual(r.videoBitrate);
      // Display aspect ratio kept within the rounding of one even step.
      const dar = media(src).video!.displayAspectRatio;
      expect(Math.abs(r.width / r.height - dar) / dar).toBeLessThan(0.02);
    }
    const bitrates = fitted.rungs.map((r) => r.videoBitrate);
    expect(bitrates).toEqual([...bitrates].sort((a, b) => b - a));
    expect(new Set(sizes(fitted)).size).toBe(fitted.rungs.length);
    if (src.audio !== false) expect(fitted.audio).toEqual({ bitrate: 128_000, channels: 2, sampleRate: 48_000 });
    check?.(fitted);
  });

  it('counts the source bitrate in H.264 bits: AV1 and HEVC sources are worth more, MPEG-2 less, mezzanine sets no cap', () => {
    const portrait = { w: 720, h: 1280, bitrate: 850_000 };
    const h264 = fitLadder(media({ ...portrait, codec: 'h264' }), def);
    const av1 = fitLadder(media({ ...portrait, codec: 'av1' }), def);
    expect(h264.rungs[0]!.videoBitrate).toBe(850_000);
    expect(av1.rungs[0]!.videoBitrate).toBe(1_700_000);
    expect(av1.rungs[0]!.notes.join(' ')).toMatch(/capped at 1\.70 Mb\/s, the source's 0\.85 Mb\/s of av1 in H\.264 terms \(x2\)/);
    // More rungs survive: the AV1 source's cap leaves real steps that the same bitrate of H.264 would not.
    expect(av1.rungs.length).toBeGreaterThan(h264.rungs.length);

    const hevc = fitLadder(media({ w: 3840, h: 2160, bitrate: 6_000_000, codec: 'hevc' }), reference);
    expect(hevc.rungs[0]!.videoBitrate).toBe(9_600_000);

    const mpeg2 = fitLadder(media({ w: 1920, h: 1080, bitrate: 6_000_000, codec: 'mpeg2video' }), reference);
    expect(mpeg2.rungs[0]!.videoBitrate).toBe(3_600_000);

    const prores = fitLadder(media({ w: 1920, h: 1080, bitrate: 5_000_000, codec: 'prores' }), reference);
    expect(prores.rungs[0]!.videoBitrate).toBe(8_000_000);
    expect(prores.rungs.flatMap((r) => r.notes).join(' ')).not.toMatch(/capped at/);
  });

  it('fails with NO_VIDEO_STREAM when there is no video', () => {
    expect(() => fitLadder({ ...media({ w: 640, h: 360 }), video: null }, reference)).toThrowError(expect.objectContaining({ code: 'NO_VIDEO_STREAM' }));
  });
});

describe('presets', () => {
  it.each([
    [5, 'veryfast'], [119, 'veryfast'], [120, 'faster'], [599, 'faster'], [600, 'medium'], [1799, 'medium'], [1800, 'slow'], [7200, 'slow'],
  ])('%s s -> %s', (sec, preset) => {
    expect(choosePreset(sec).preset).toBe(preset);
  });

  it('the job option beats the ladder, which beats the duration', () => {
    const src = media({ w: 1280, h: 720, duration: 10 });
    expect(fitLadder(src, reference)).toMatchObject({ preset: 'veryfast', presetReason: expect.stringMatching(/10 s, under 2 min/) });
    const slowLadder = { ...reference, preset: 'slow' as const };
    expect(fitLadder(src, slowLadder)).toMatchObject({ preset: 'slow', presetReason: 'set by ladder reference' });
    expect(fitLadder(src, slowLadder, { preset: 'ultrafast' })).toMatchObject({ preset: 'ultrafast', presetReason: 'set for this job' });
    expect(fitLadder(src, slowLadder, { preset: null }).preset).toBe('slow');
  });
});
