import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MediaInfo } from '../../../shared/common/media.ts';
import {
  applyFrameSample,
  bitDepthOf,
  colorTransferOf,
  fieldOrderOf,
  parseFrameSample,
  parseProbe,
  parseRational,
  rotationOf,
  samplePacketsFor,
} from '../../../shared/common/probe-parse.ts';
import { fixtureClips, type FixtureClip } from '../../helpers/media.ts';

/** Recorded ffprobe 5.1 output of the shared clips (test/fixtures/ffprobe/record.ts). */
const fixtures = path.resolve(import.meta.dirname, '../../fixtures/ffprobe');
const base = (clip: FixtureClip) => fixtureClips[clip].replace(/\.[^.]+$/, '');
const load = (clip: FixtureClip, suffix: string) => readFileSync(path.join(fixtures, `${base(clip)}${suffix}`), 'utf8');

function describeClip(clip: FixtureClip, withSample = true): MediaInfo {
  const json = JSON.parse(load(clip, '.json')) as { format: { size: string } };
  const info = parseProbe(json, Number(json.format.size));
  if (!withSample || !info.video) return info;
  const limit = samplePacketsFor(info.video.width, info.video.height);
  return applyFrameSample(info, parseFrameSample(JSON.parse(load(clip, '.frames.json')), limit, load(clip, '.frames.stderr.txt')));
}

describe('parseProbe on the recorded shared clips (properties from test/fixtures/media/SOURCES.md)', () => {
  it('roadtrip: VP9 Profile 2, 426x240 10-bit, 23.976 fps CFR, 3.0 s, no audio', () => {
    const info = describeClip('roadtrip10bit');
    const v = info.video!;
    expect(info.container).toBe('matroska,webm');
    expect(info.durationSec).toBeCloseTo(3.0, 2);
    expect(v).toMatchObject({ codec: 'vp9', profile: 'Profile 2', width: 426, height: 240, displayWidth: 426, displayHeight: 240 });
    expect(v).toMatchObject({ rotation: 0, pixelFormat: 'yuv420p10le', bitDepth: 10, colorTransfer: 'sdr', variableFrameRate: false, interlaced: false });
    expect(v.fps).toBeCloseTo(23.976, 3);
    expect(v.rFrameRate).toEqual({ num: 24000, den: 1001 });
    expect(v.colorSpace).toBe('bt2020nc');
    // No stream bitrate in WebM: taken from the container since there is no audio.
    expect(v.bitrate).toBe(323040);
    expect(info.audio).toEqual([]);
    expect(info.warnings).toEqual([]);
  });

  it('rooftop: AV1 10-bit PQ portrait 720x1280, 29.97 fps, 4.2 s, AAC stereo', () => {
    const info = describeClip('rooftopHdr10');
    const v = info.video!;
    expect(v).toMatchObject({ codec: 'av1', width: 720, height: 1280, rotation: 0, displayWidth: 720, displayHeight: 1280 });
    expect(v).toMatchObject({ bitDepth: 10, colorTransfer: 'pq', colorPrimaries: 'bt2020', fieldOrder: 'progressive', interlaced: false });
    expect(v.displayAspectRatio).toBeCloseTo(9 / 16, 5);
    expect(v.fps).toBeCloseTo(29.97, 2);
    expect(v.variableFrameRate).toBe(false);
    expect(info.durationSec).toBeCloseTo(4.24, 2);
    expect(info.audio).toHaveLength(1);
    expect(info.audio[0]).toMatchObject({ codec: 'aac', channels: 2, channelLayout: 'stereo', sampleRate: 48000 });
  });

  it('pixel motion photo: picks the 58-frame track over the 1-frame still, rotation, VFR, data tracks ignored, no audio', () => {
    const info = describeClip('pixelVfr');
    const v = info.video!;
    expect(info.videoStreamCount).toBe(2);
    expect(v.index).toBe(0);
    expect(v).toMatchObject({ codec: 'hevc', width: 1024, height: 768, rotation: 90, displayWidth: 768, displayHeight: 1024 });
    expect(v.variableFrameRate).toBe(true);
    // VFR: the honest rate is the average (58 frames in 2.1 s), not r_frame_rate's 120.
    expect(v.fps).toBeCloseTo(27.61, 1);
    expect(v.sample!.maxFrameGapSec!).toBeGreaterThan(0.1);
    expect(v.colorRange).toBe('pc');
    expect(info.audio).toEqual([]);
    expect(info.durationSec).toBeCloseTo(2.1, 1);
  });

  it('iPhone: HEVC Main10 HLG + Dolby Vision, rotation, 5 frames in the header but 4 decode, AAC', () => {
    const info = describeClip('iphoneHlg');
    const v = info.video!;
    expect(v).toMatchObject({ codec: 'hevc', profile: 'Main 10', width: 1280, height: 720, rotation: 90, displayWidth: 720, displayHeight: 1280 });
    expect(v).toMatchObject({ bitDepth: 10, colorTransfer: 'hlg', dolbyVision: true, headerFrameCount: 5 });
    expect(v.sample).toMatchObject({ packets: 5, decodedFrames: 4, complete: true });
    expect(info.warnings).toContain('the header declares 5 frames but only 4 decode');
    expect(info.warnings.some((w) => /Dolby Vision/.test(w))).toBe(true);
    expect(info.durationSec).toBeCloseTo(0.107, 3);
    // Apple metadata tracks are data, not audio or video.
    expect(info.audio).toHaveLength(1);
    expect(info.audio[0]).toMatchObject({ codec: 'aac', channels: 2, channelLayout: 'stereo', sampleRate: 44100 });
  });

  it('portrait 4K60: stored 3840x2160 landscape, shown 2160x3840 portrait, 60 fps CFR, 18 frames, full range', () => {
    const info = describeClip('portrait4k60');
    const v = info.video!;
    expect(v).toMatchObject({ codec: 'h264', width: 3840, height: 2160, rotation: 90, displayWidth: 2160, displayHeight: 3840 });
    expect(v.fps).toBe(60);
    expect(v.variableFrameRate).toBe(false);
    expect(v).toMatchObject({ frameCount: 18, colorRange: 'pc', bitDepth: 8, colorTransfer: 'sdr' });
    expect(v.bitrate).toBe(66330326);
    expect(info.durationSec).toBeLessThan(4);
    expect(info.audio[0]).toMatchObject({ codec: 'aac', channels: 2 });
  });

  it('bbb 1080i30: MPEG-2 interlaced top field first, AC-3 5.1(side), MPEG-TS, 1.0 s', () => {
    const info = describeClip('bbbInterlaced');
    const v = info.video!;
    expect(info.container).toBe('mpegts');
    expect(v).toMatchObject({ codec: 'mpeg2video', width: 1920, height: 1080, fieldOrder: 'tff', interlaced: true, fps: 30 });
    expect(v.sample!.interlacedFrames).toBe(30);
    expect(info.durationSec).toBeCloseTo(1.0, 1);
    expect(info.audio[0]).toMatchObject({ codec: 'ac3', channels: 6, channelLayout: '5.1(side)' });
    // Video bitrate derived from the container minus the AC-3 stream.
    expect(v.bitrate).toBe(17039302 - 384000);
  });

  it('corrupt VP9: the container parses, no pixel format, and the sample decodes nothing', () => {
    const info = describeClip('corruptVp9', false);
    expect(info.video).not.toBeNull();
    expect(info.video!.pixelFormat).toBe('unknown');
    expect(info.video!.bitDepth).toBe(10); // Profile 2
    expect(info.warnings.some((w) => /pixel format unknown/.test(w))).toBe(true);
    const sample = parseFrameSample(JSON.parse(load('corruptVp9', '.frames.json')), 60, load('corruptVp9', '.frames.stderr.txt'));
    expect(sample.packets).toBeGreaterThan(0);
    expect(sample.decodedFrames).toBe(0);
    expect(sample.decoderErrors[0]).toBe('Invalid sync code');
  });
});

describe('parseProbe edge cases', () => {
  const stream = (over: Record<string, unknown>) => ({
    index: 0, codec_type: 'video', codec_name: 'h264', width: 1920, height: 1080, pix_fmt: 'yuv420p',
    r_frame_rate: '25/1', avg_frame_rate: '25/1', ...over,
  });
  const probe = (streams: unknown[], format: Record<string, unknown> = {}) =>
    parseProbe({ streams, format: { format_name: 'mov,mp4,m4a,3gp,3g2,mj2', duration: '10.0', bit_rate: '5000000', ...format } }, 1000);

  it('ignores a cover image (attached_pic) and returns no video for audio + cover', () => {
    const info = probe([
      { index: 0, codec_type: 'audio', codec_name: 'mp3', channels: 2, sample_rate: '44100' },
      stream({ index: 1, codec_name: 'mjpeg', disposition: { attached_pic: 1 }, nb_frames: '1' }),
    ]);
    expect(info.video).toBeNull();
    expect(info.videoStreamCount).toBe(1);
    expect(info.warnings).toContain('only a cover image, no video');
  });

  it('puts the main audio first: the default track, never a commentary or audio description when another exists', () => {
    const audio = (index: number, language: string, disposition: Record<string, number>, channels = 2) =>
      ({ index, codec_type: 'audio', codec_name: 'aac', channels, sample_rate: '48000', tags: { language }, disposition });
    const film = probe([
      stream({ index: 0 }),
      audio(1, 'eng', { default: 0, comment: 1 }),
      audio(2, 'fra', { default: 0 }),
      audio(3, 'eng', { default: 1 }, 6),
    ]);
    expect(film.audio.map((a) => [a.index, a.language])).toEqual([[3, 'eng'], [2, 'fra'], [1, 'eng']]);
    // A commentary flagged default still loses to a plain track; with no flags at all, file order stands.
    const flagged = probe([stream({ index: 0 }), audio(1, 'eng', { default: 1, comment: 1 }), audio(2, 'eng', { default: 0 })]);
    expect(flagged.audio.map((a) => a.index)).toEqual([2, 1]);
    const plain = probe([stream({ index: 0 }), audio(1, 'deu', {}), audio(2, 'eng', {})]);
    expect(plain.audio.map((a) => a.index)).toEqual([1, 2]);
  });

  it('prefers the stream with most frames, then longest, then largest', () => {
    const info = probe([
      stream({ index: 0, width: 3840, height: 2160, nb_frames: '100' }),
      stream({ index: 1, width: 640, height: 360, nb_frames: '250' }),
    ]);
    expect(info.video!.index).toBe(1);
  });

  it('calls a single still image file not a video', () => {
    const info = parseProbe({ streams: [stream({ codec_name: 'png', r_frame_rate: '25/1' })], format: { format_name: 'png_pipe' } }, 10);
    expect(info.video).toBeNull();
  });

  it('applies anamorphic SAR to the display width (720x576 SAR 64:45 -> 1024x576)', () => {
    const v = probe([stream({ width: 720, height: 576, sample_aspect_ratio: '64:45' })]).video!;
    expect([v.displayWidth, v.displayHeight]).toEqual([1024, 576]);
    expect(v.displayAspectRatio).toBeCloseTo(16 / 9, 3);
  });

  it('reads the old rotate tag (clockwise) and the display matrix (counter-clockwise)', () => {
    expect(rotationOf({ tags: { rotate: '90' } })).toBe(90);
    expect(rotationOf({ side_data_list: [{ rotation: -90 }] })).toBe(90);
    expect(rotationOf({ side_data_list: [{ rotation: 90 }] })).toBe(270);
    expect(rotationOf({ side_data_list: [{ rotation: 180 }] })).toBe(180);
    expect(rotationOf({ side_data_list: [{ rotation: -180 }] })).toBe(180);
    expect(rotationOf({})).toBe(0);
  });

  it('treats a field-rate r_frame_rate on interlaced video as constant', () => {
    const v = probe([stream({ field_order: 'bb', r_frame_rate: '50/1', avg_frame_rate: '25/1' })]).video!;
    expect(v).toMatchObject({ fieldOrder: 'bff', interlaced: true, variableFrameRate: false, fps: 25 });
  });

  it('flags VFR when r and avg differ materially', () => {
    const v = probe([stream({ r_frame_rate: '60/1', avg_frame_rate: '45/1' })]).video!;
    expect(v.variableFrameRate).toBe(true);
    expect(v.fps).toBe(45);
  });

  it('throws NOT_MEDIA for JSON without a format', () => {
    expect(() => parseProbe({}, 10)).toThrowError(expect.objectContaining({ code: 'NOT_MEDIA' }));
  });

  it.each([
    ['yuv420p', 8], ['yuvj420p', 8], ['yuv420p10le', 10], ['yuv422p10be', 10], ['yuv444p12le', 12], ['p010le', 10],
    ['gray10le', 10], ['rgb48le', 16], ['nv12', 8], ['gbrp10le', 10], ['x2rgb10le', 10],
  ])('bit depth of %s is %i', (fmt, bits) => {
    expect(bitDepthOf(fmt)).toBe(bits);
  });

  it.each([
    ['smpte2084', 'pq'], ['arib-std-b67', 'hlg'], ['bt709', 'sdr'], [undefined, 'sdr'],
  ])('transfer %s is %s', (t, want) => expect(colorTransferOf(t)).toBe(want));

  it.each([
    ['tt', 'tff'], ['tb', 'tff'], ['bb', 'bff'], ['bt', 'bff'], ['progressive', 'progressive'], [undefined, 'unknown'],
  ])('field order %s is %s', (f, want) => expect(fieldOrderOf(f)).toBe(want));

  it('samples 60 packets up to 1080p and fewer, at least 24, above', () => {
    expect(samplePacketsFor(1920, 1080)).toBe(60);
    expect(samplePacketsFor(426, 240)).toBe(60);
    expect(samplePacketsFor(3840, 2160)).toBe(24);
    expect(samplePacketsFor(2560, 1440)).toBe(34);
  });

  it('parses rationals and rejects zero ones', () => {
    expect(parseRational('30000/1001')).toEqual({ num: 30000, den: 1001 });
    expect(parseRational('0/0')).toBeNull();
    expect(parseRational('N/A')).toBeNull();
  });
});
