import { describe, expect, it } from 'vitest';
import { statsView, textTrackViews, variantViews, type ShakaTrackLike } from '../../../desktop/renderer/src/features/player/hooks/shaka-views.ts';

const track = (id: number, height: number, bandwidth: number, active = false, videoBandwidth: number | null = bandwidth - 64_000): ShakaTrackLike => ({
  id, width: Math.round((height * 16) / 9), height, bandwidth, videoBandwidth, codecs: 'avc1.64001e,mp4a.40.2', active,
});

describe('player variant and stats views', () => {
  it('lists one entry per rung, highest first, and keeps the active mark when the active track is an audio duplicate', () => {
    // Two audio renditions of each rung: the second 234p track is the one playing.
    const views = variantViews([track(1, 234, 548_000), track(2, 234, 612_000, true, 484_000), track(3, 360, 1_064_000), track(4, 360, 1_128_000, false, 1_000_000)]);
    expect(views.map((v) => [v.id, v.height, v.active])).toEqual([
      [3, 360, false],
      [2, 234, true],
    ]);
    expect(views.filter((v) => v.active)).toHaveLength(1);
  });

  it('reports the active variant size and the decoded picture separately', () => {
    const s = statsView(
      { estimatedBandwidth: 5e6, streamBandwidth: 548_000, width: 416, height: 234, droppedFrames: 0, decodedFrames: 90 },
      { currentTime: 3, duration: Number.NaN, videoWidth: 640, videoHeight: 360 },
    );
    expect([s.width, s.height, s.pictureWidth, s.pictureHeight, s.duration]).toEqual([416, 234, 640, 360, 0]);
  });
});

describe('player subtitle views', () => {
  it('marks the selected track active only while subtitles are shown', () => {
    const tracks = [
      { id: 7, language: 'en', label: 'eng', active: true },
      { id: 8, language: 'fr', label: null, forced: true, active: false },
    ];
    expect(textTrackViews(tracks, true)).toEqual([
      { id: 7, language: 'en', label: 'eng', forced: false, active: true },
      { id: 8, language: 'fr', label: null, forced: true, active: false },
    ]);
    expect(textTrackViews(tracks, false).some((t) => t.active)).toBe(false);
  });
});
