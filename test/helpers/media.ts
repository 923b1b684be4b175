import { existsSync } from 'node:fs';
import path from 'node:path';

/** Real clips with awkward properties, kept in the repo's fixtures with their licences (test/fixtures/media/SOURCES.md). */
export const repoRoot = path.resolve(import.meta.dirname, '../..');
export const fixtureMediaDir = path.join(repoRoot, 'test/fixtures/media');

export const fixtureClips = {
  roadtrip10bit: 'roadtrip_426x240_vp9-profile2_10bit_noaudio.webm',
  rooftopHdr10: 'rooftop_portrait_720x1280_av1_10bit_hdr10.mp4',
  pixelVfr: 'pixel_motionphoto_hevc_vfr_rotated_2vtracks.mp4',
  iphoneHlg: 'iphone_dolbyvision_hevc-main10_rotated_5frames.mov',
  portrait4k60: 'portrait_4k60_h264_rotated_0.3s.mp4',
  bbbInterlaced: 'bbb_1080i30_mpeg2_ac3-5.1_tff_DERIVED.ts',
  corruptVp9: 'corrupt_vp9_invalid_bitstream.webm',
} as const;

export type FixtureClip = keyof typeof fixtureClips;

export function fixtureClip(name: FixtureClip): string {
  const p = path.join(fixtureMediaDir, fixtureClips[name]);
  if (!existsSync(p)) throw new Error(`test clip missing: ${p} (it belongs in the repo's test/fixtures/media)`);
  return p;
}
