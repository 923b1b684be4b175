import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LadderSchema } from '../../../shared/common/ladder-schema.ts';
import { resolveFfmpeg } from '../../../shared/node/ffmpeg-locate.ts';
import { meanStat, previewLadder } from '../../../shared/node/preview.ts';
import { makeClip } from '../../helpers/clips.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-preview-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ladder = LadderSchema.parse({
  name: 'preview-test',
  segmentSeconds: 1,
  preset: 'ultrafast',
  rungs: [
    { name: '360p', shortEdge: 360, videoBitrate: 3_000_000, maxrate: 3_300_000, bufsize: 6_000_000 },
    { name: '144p', shortEdge: 144, videoBitrate: 60_000, maxrate: 70_000, bufsize: 120_000 },
  ],
});

describe('previewLadder', () => {
  it('encodes the window per rung and scores it: the generous top rung near-lossless, the starved small rung clearly worse', async () => {
    const input = makeClip({ durationSec: 4, width: 640, height: 360 });
    const outDir = path.join(dir, 'p1');
    const events: { phase: string; progress: number; rung: string }[] = [];
    const r = await previewLadder({ input, ladder, startSec: 1, durationSec: 2, outDir, onProgress: (p) => events.push({ ...p }) });
    // Progress per rung: encoding then measuring, never going back, ending on the last rung's scoring.
    expect(events.map((e) => e.progress)).toEqual([...events.map((e) => e.progress)].sort((a, b) => a - b));
    const phases = events.map((e) => `${e.rung}:${e.phase}`).filter((v, k, all) => all[k - 1] !== v);
    expect(phases).toEqual(['360p:encoding', '360p:measuring', '144p:encoding', '144p:measuring']);
    expect(events[0]!.progress).toBe(0);
    expect(events.at(-1)!.progress).toBeCloseTo(0.8, 5);
    expect(r).toMatchObject({ startSec: 1, durationSec: 2, referenceWidth: 640, referenceHeight: 360, preset: 'ultrafast' });
    const [top, low] = r.rungs;
    expect([top!.width, top!.height, low!.width, low!.height]).toEqual([640, 360, 256, 144]);
    expect(top!.ssim).toBeGreaterThan(0.95);
    expect(top!.psnr).toBeGreaterThan(35);
    expect(low!.ssim).toBeLessThan(top!.ssim);
    expect(low!.psnr).toBeLessThan(top!.psnr);
    // VMAF only where the build has libvmaf (Debian's ffmpeg 5.1 has not).
    const { hasLibvmaf } = await resolveFfmpeg();
    expect(top!.vmaf === null).toBe(!hasLibvmaf);
    for (const rung of r.rungs) {
      expect(rung.bitrateMeasured).toBeGreaterThan(0);
      expect(rung.sizeBytes).toBeGreaterThan(0);
      expect(rung.encodeSpeed).toBeGreaterThan(0);
      expect(statSync(rung.frameJpeg).size).toBeGreaterThan(500);
    }
    expect(top!.bitrateMeasured).toBeGreaterThan(low!.bitrateMeasured * 5);
    expect(existsSync(r.rungs[0]!.sourceFrameJpeg)).toBe(true);
    expect(r.rungs[1]!.sourceFrameJpeg).toBe(r.rungs[0]!.sourceFrameJpeg);
  });

  it('scores each codec family at the same reference size', async () => {
    const input = makeClip({ durationSec: 2, width: 320, height: 180, audio: false });
    const mixed = LadderSchema.parse({
      name: 'preview-codecs',
      segmentSeconds: 1,
      preset: 'ultrafast',
      rungs: [
        { name: '180p', shortEdge: 180, videoBitrate: 300_000, maxrate: 330_000, bufsize: 450_000 },
        { name: '180p-hevc', codec: 'hevc', shortEdge: 180, videoBitrate: 200_000, maxrate: 220_000, bufsize: 300_000 },
        { name: '180p-av1', codec: 'av1', shortEdge: 180, videoBitrate: 200_000, maxrate: 220_000, bufsize: 300_000 },
      ],
    });
    const r = await previewLadder({ input, ladder: mixed, startSec: 0, durationSec: 1, outDir: path.join(dir, 'p-codecs') });
    expect(r.rungs.map((x) => [x.name, x.codec, x.width])).toEqual([
      ['180p', 'h264', 320],
      ['180p-hevc', 'hevc', 320],
      ['180p-av1', 'av1', 320],
    ]);
    for (const rung of r.rungs) {
      expect(rung.ssim).toBeGreaterThan(0.8);
      expect(rung.ssim).toBeLessThan(1);
      expect(rung.bitrateMeasured).toBeGreaterThan(0);
      expect(rung.encodeSpeed).toBeGreaterThan(0);
    }
  });

  it('clamps a window that runs past the end', async () => {
    const input = makeClip({ durationSec: 2, width: 320, height: 180, audio: false });
    const r = await previewLadder({ input, ladder, startSec: 1.5, durationSec: 10, outDir: path.join(dir, 'p2') });
    expect(r.startSec).toBe(1.5);
    expect(r.durationSec).toBeCloseTo(0.5, 2);
    expect(r.rungs.length).toBeGreaterThan(0);
  });

  it('meanStat averages per-frame values and maps identical frames (inf) to 100 dB', () => {
    expect(meanStat('n:1 Y:0.9 All:0.90 (10)\nn:2 Y:1 All:1.00 (inf)\n', /All:([\d.]+)/)).toBeCloseTo(0.95, 6);
    expect(meanStat('n:1 mse_avg:0 psnr_avg:inf\nn:2 mse_avg:1 psnr_avg:40.00\n', /psnr_avg:([\d.]+|inf)/)).toBe(70);
    expect(() => meanStat('', /All:([\d.]+)/)).toThrow(/no frames/);
  });
});
