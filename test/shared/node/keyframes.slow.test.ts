import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LadderSchema } from '../../../shared/common/ladder-schema.ts';
import { transcodeFile } from '../../../shared/node/transcode.ts';
import { makeTimingClip, type TimingClipOptions } from '../../helpers/clips.ts';

/**
 * Issue 9, section 1: keyframe placement must not depend on where the source's timestamps start. A real 20 fps
 * camera clip (High 4:4:4, MP3, index at the end, B-frames) failed verification because its first frame came out at
 * 0.05 s and the time-based keyframe expression missed a boundary by a float hair. Every source below must verify,
 * and each rung's keyframes must sit on one grid shared by all rungs.
 */

const dir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-keyframes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ladder = (segmentSeconds: number) =>
  LadderSchema.parse({
    name: 'two-small',
    segmentSeconds,
    preset: 'ultrafast',
    rungs: [
      { name: '90p', shortEdge: 90, videoBitrate: 150_000, maxrate: 200_000, bufsize: 300_000 },
      // At most 30 fps: 50 and 59.94 fps sources get a halved rung that must still cut where the full-rate one does.
      { name: '72p', shortEdge: 72, videoBitrate: 80_000, maxrate: 100_000, bufsize: 160_000, maxFps: 30 },
    ],
  });

interface Packet {
  readonly pts: number;
  readonly key: boolean;
}

/** Video packets of a rendition in presentation order, read with ffprobe independently of Tiercast's verifier. */
function packets(outDir: string, playlist: string): Packet[] {
  const out = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,flags', '-of', 'csv=p=0', playlist], { cwd: outDir, encoding: 'utf8' });
  return out
    .trim()
    .split('\n')
    .map((l) => l.split(','))
    .map(([t, flags]) => ({ pts: Number(t), key: Boolean(flags?.startsWith('K')) }))
    .sort((a, b) => a.pts - b.pts);
}

function extinf(outDir: string, playlist: string): number[] {
  return [...readFileSync(path.join(outDir, playlist), 'utf8').matchAll(/#EXTINF:([\d.]+)/g)].map((m) => Number(m[1]));
}

/** Transcodes and checks the keyframe grid: what the clip got wrong, measured from the files themselves. */
async function expectExactGrid(input: string, name: string, segmentSeconds: number): Promise<void> {
  const outDir = path.join(dir, name);
  const report = await transcodeFile({ input, outDir, ladder: ladder(segmentSeconds), thumbnails: false });
  expect(report.verification.keyframesAligned).toBe(true);
  const grids = report.renditions.map((r) => {
    const all = packets(outDir, r.playlist);
    const first = all[0]!.pts;
    const frame = 1 / r.fps;
    const keys = all.filter((p) => p.key).map((p) => p.pts - first);
    const durations = extinf(outDir, r.playlist);
    // Every segment but the last lasts at least the target (the dash muxer cuts only then) and less than target
    // plus two frames; every segment starts on a keyframe and every keyframe starts a segment.
    for (const d of durations.slice(0, -1)) {
      expect(d).toBeGreaterThanOrEqual(segmentSeconds - 0.0005);
      expect(d).toBeLessThan(segmentSeconds + 2 * frame + 0.001);
    }
    const starts = durations.map((_, i) => durations.slice(0, i).reduce((a, b) => a + b, 0));
    expect(keys).toHaveLength(starts.length);
    keys.forEach((k, i) => expect(Math.abs(k - starts[i]!)).toBeLessThan(frame / 2));
    return { keys, frame };
  });
  const [top, ...rest] = grids;
  for (const g of rest) {
    expect(g.keys).toHaveLength(top!.keys.length);
    g.keys.forEach((k, i) => expect(Math.abs(k - top!.keys[i]!)).toBeLessThan(Math.max(g.frame, top!.frame)));
  }
}

const RATES = ['20', '24000/1001', '25', '30000/1001', '30', '50', '60000/1001'] as const;

// Two sources per rate, so that across the matrix every rate meets AAC and MP3 priming or no audio, a late video
// track, a trim inside a GOP and a shifted timeline, B-frames on and off, and the index at either end.
const MATRIX: readonly TimingClipOptions[] = [
  // The camera clip of the issue, in miniature.
  { rate: '20', audio: 'mp3', offset: 'video-late', bframes: true, faststart: false, yuv444: true },
  { rate: '20', audio: 'aac', offset: 'cut', bframes: false, faststart: true },
  { rate: '24000/1001', audio: 'aac', offset: 'video-late', bframes: true, faststart: true },
  { rate: '24000/1001', audio: 'none', offset: 'shifted', bframes: true, faststart: false },
  { rate: '25', audio: 'mp3', offset: 'cut', bframes: true, faststart: true },
  { rate: '25', audio: 'aac', offset: 'shifted', bframes: false, faststart: false },
  { rate: '30000/1001', audio: 'mp3', offset: 'shifted', bframes: true, faststart: false },
  { rate: '30000/1001', audio: 'aac', offset: 'none', bframes: true, faststart: true },
  { rate: '30', audio: 'aac', offset: 'video-late', bframes: false, faststart: false },
  { rate: '30', audio: 'none', offset: 'cut', bframes: true, faststart: true },
  { rate: '50', audio: 'aac', offset: 'cut', bframes: true, faststart: false },
  { rate: '50', audio: 'mp3', offset: 'video-late', bframes: false, faststart: true, yuv444: true },
  { rate: '60000/1001', audio: 'mp3', offset: 'video-late', bframes: true, faststart: false },
  { rate: '60000/1001', audio: 'aac', offset: 'shifted', bframes: true, faststart: true },
];

describe('keyframes land on the segment grid whatever the source timestamps (real ffmpeg, 9 s clips at 160x90)', () => {
  it('the matrix covers every rate', () => {
    expect(new Set(MATRIX.map((m) => m.rate))).toEqual(new Set(RATES));
  });

  it.each(MATRIX.map((m) => [`${m.rate} fps, ${m.audio}, ${m.offset}, ${m.bframes ? 'B-frames' : 'no B-frames'}, ${m.faststart ? 'faststart' : 'index at end'}`, m] as const))(
    '%s',
    async (_label, clip) => {
      const name = [clip.rate.replace('/', '_'), clip.audio, clip.offset, clip.bframes ? 'bf' : 'nobf', clip.faststart ? 'fs' : 'end'].join('-');
      await expectExactGrid(makeTimingClip(clip), name, 4);
    },
  );

  it('29.97 fps over 40 s with 1 s segments: no drift, no boundary skipped (the grid is not 29.97 frames)', async () => {
    // ceil(29.97 k) frames from the start puts keyframe 34 only 29 frames after keyframe 33: under a second, so
    // the dash muxer would not cut there and one segment would last two.
    // Failed before: "segment seg-0-00034.m4s lasts 1.969 s, over 1.5x the 1 s target".
    const input = makeTimingClip({ rate: '30000/1001', audio: 'aac', offset: 'none', bframes: false, faststart: false, durationSec: 40 });
    await expectExactGrid(input, 'ntsc-40s', 1);
  });
});
