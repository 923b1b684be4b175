import { describe, expect, it } from 'vitest';
import { fitLadder, getLadder } from '../../../shared/common/ladders.ts';
import type { MediaInfo } from '../../../shared/common/media.ts';
import {
  autoLadder,
  buildSampleCommand,
  chooseRungs,
  convexHull,
  geometricSteps,
  hullQualityAt,
  planWindows,
  ssimToDb,
  STEP_MAX,
  STEP_MIN,
  type RatePoint,
} from '../../../shared/common/per-title.ts';

const SIZES = [
  [1920, 1080],
  [1280, 720],
  [960, 540],
  [768, 432],
  [640, 360],
  [416, 234],
] as const;
const RATES = [150e3, 300e3, 600e3, 1.2e6, 2.4e6, 4.8e6, 9.6e6];

/**
 * Trial points from a simple rate-quality model: each size climbs `slope` dB per doubling from a base that is
 * lower for larger sizes (more pixels to pay for), then saturates at a ceiling that is higher for larger sizes.
 */
function grid(o: { slope: number; ceilingTop: number; ceilingStep: number; offset?: number }): RatePoint[] {
  return SIZES.flatMap(([w, h], i) =>
    RATES.map((bitrate) => {
      const base = 12 + (o.offset ?? 0) + i * 1.2 + o.slope * Math.log2(bitrate / 150e3) - (SIZES.length - 1 - i) * 0;
      const climb = base - (5 - i) * 0.6 * Math.max(0, 3 - Math.log2(bitrate / 150e3));
      return { width: w, height: h, bitrate, quality: Math.round(Math.min(o.ceilingTop - i * o.ceilingStep, climb) * 100) / 100 };
    }),
  );
}

const HARD = grid({ slope: 2.5, ceilingTop: 40, ceilingStep: 3 }); // quality still climbing at the top rate
const EASY = grid({ slope: 2.5, ceilingTop: 22, ceilingStep: 0.5, offset: 6 }); // saturates early (static screen)

describe('convexHull', () => {
  const p = (bitrate: number, quality: number, width = 640): RatePoint => ({ width, height: 360, bitrate, quality });
  it.each([
    { name: 'keeps a concave curve whole', input: [p(100, 10), p(200, 14), p(400, 16)], hull: [100, 200, 400] },
    { name: 'drops a point under the chord', input: [p(100, 10), p(200, 11), p(400, 16)], hull: [100, 400] },
    { name: 'drops points that cost more for less', input: [p(100, 10), p(200, 15), p(400, 14), p(800, 15.5)], hull: [100, 200, 800] },
    { name: 'ends at the best quality', input: [p(100, 10), p(200, 15), p(400, 14)], hull: [100, 200] },
    { name: 'keeps the better of two at one rate', input: [p(100, 10), p(100, 12), p(200, 13)], hull: [100, 200] },
    { name: 'ignores broken points', input: [p(0, 10), p(100, Number.NaN), p(200, 13)], hull: [200] },
  ])('$name', ({ input, hull }) => {
    expect(convexHull(input).map((x) => x.bitrate)).toEqual(hull);
  });

  it('is monotone and concave on a trial grid, mixing sizes', () => {
    const hull = convexHull(HARD);
    for (let i = 1; i < hull.length; i++) {
      expect(hull[i]!.bitrate).toBeGreaterThan(hull[i - 1]!.bitrate);
      expect(hull[i]!.quality).toBeGreaterThan(hull[i - 1]!.quality);
    }
    const slopes = hull.slice(1).map((b, i) => (b.quality - hull[i]!.quality) / Math.log2(b.bitrate / hull[i]!.bitrate));
    for (let i = 1; i < slopes.length; i++) expect(slopes[i]!).toBeLessThanOrEqual(slopes[i - 1]! + 1e-9);
    expect(new Set(hull.map((x) => x.width)).size).toBeGreaterThan(1);
    for (const point of HARD) expect(point.quality).toBeLessThanOrEqual(hullQualityAt(hull, point.bitrate) + 1e-9);
  });
});

describe('geometricSteps', () => {
  it.each([
    [6e6, 300e3],
    [3e6, 300e3],
    [2e6, 365e3],
    [1e6, 300e3],
    [700e3, 300e3],
  ])('%d down to %d in steps inside 1.5-2x', (top, floor) => {
    const n = geometricSteps(top, floor);
    const ratio = (top / floor) ** (1 / n);
    expect(ratio).toBeGreaterThanOrEqual(STEP_MIN - 1e-9);
    expect(ratio).toBeLessThanOrEqual(STEP_MAX + 1e-9);
  });
  it('no step when the top is within 1.5x of the floor', () => expect(geometricSteps(400e3, 300e3)).toBe(0));
});

describe('chooseRungs', () => {
  const options = { metric: 'ssim-db' as const, maxBitrate: 6e6, floorBitrate: 300e3, ceiling: 100 };

  it('climbing content: top at the cap, steps of 1.5-2x, sizes shrinking, a floor rung', () => {
    const rungs = chooseRungs(HARD, options);
    expect(rungs[0]!.bitrate).toBe(6e6);
    expect(rungs.at(-1)!.bitrate).toBe(300e3);
    expect(rungs.at(-1)!.why).toMatch(/floor/);
    for (let i = 1; i < rungs.length; i++) {
      const ratio = rungs[i - 1]!.bitrate / rungs[i]!.bitrate;
      expect(ratio).toBeGreaterThanOrEqual(STEP_MIN - 0.01);
      expect(ratio).toBeLessThanOrEqual(STEP_MAX + 0.01);
      expect(rungs[i]!.width * rungs[i]!.height).toBeLessThan(rungs[i - 1]!.width * rungs[i - 1]!.height);
      expect(rungs[i - 1]!.quality - rungs[i]!.quality).toBeGreaterThanOrEqual(0.25);
    }
    expect(rungs.length).toBeGreaterThanOrEqual(4);
  });

  it('saturating content: the top stops where a doubling gains little, far below the cap', () => {
    const rungs = chooseRungs(EASY, options);
    expect(rungs[0]!.bitrate).toBeLessThan(2e6);
    expect(rungs[0]!.why).toMatch(/saturates/);
    const hull = convexHull(EASY);
    const gainAbove = hullQualityAt(hull, rungs[0]!.bitrate * 2) - hullQualityAt(hull, rungs[0]!.bitrate);
    expect(gainAbove).toBeLessThan(0.6);
    expect(rungs.length).toBeLessThan(chooseRungs(HARD, options).length);
  });

  it('drops a rung whose quality the rung below already reaches', () => {
    // Two sizes, both flat: the large one adds nothing over the small one.
    const flat: RatePoint[] = [
      { width: 1280, height: 720, bitrate: 300e3, quality: 20 },
      { width: 1280, height: 720, bitrate: 3e6, quality: 20.1 },
      { width: 640, height: 360, bitrate: 100e3, quality: 19.95 },
      { width: 640, height: 360, bitrate: 1e6, quality: 20 },
    ];
    const rungs = chooseRungs(flat, { ...options, maxBitrate: 3e6, floorBitrate: 100e3, saturationPerDoubling: 0.01 });
    for (let i = 1; i < rungs.length; i++) expect(rungs[i - 1]!.quality - rungs[i]!.quality).toBeGreaterThanOrEqual(0.25);
    expect(rungs).toHaveLength(1);
    expect(rungs[0]!.bitrate).toBe(100e3);
  });

  it('never goes above the cap, even when quality still climbs', () => {
    const rungs = chooseRungs(HARD, { ...options, maxBitrate: 1.5e6 });
    expect(Math.max(...rungs.map((r) => r.bitrate))).toBeLessThanOrEqual(1.5e6);
  });
});

describe('ssimToDb and planWindows', () => {
  it.each([
    [0.9, 10],
    [0.99, 20],
    [0.999, 30],
    [1, 60],
  ])('SSIM %d is %d dB', (ssim, db) => expect(ssimToDb(ssim)).toBeCloseTo(db, 6));

  it.each([
    [6, 3, 0.4],
    [20, 3, 0.4],
    [90, 4, 1.125],
    [600, 5, 2],
  ])('%d s source: %d windows of %d s, spread inside it', (duration, count, length) => {
    const w = planWindows(duration);
    expect(w).toHaveLength(count);
    for (const x of w) {
      expect(x.durationSec).toBeCloseTo(length, 3);
      expect(x.startSec).toBeGreaterThanOrEqual(0);
      expect(x.startSec + x.durationSec).toBeLessThanOrEqual(duration + 1e-9);
    }
    expect(w.at(-1)!.startSec - w[0]!.startSec).toBeGreaterThan(duration / 2);
  });
});

const media720: MediaInfo = {
  container: 'mov,mp4', durationSec: 20, bitrate: 20e6, sizeBytes: 50e6, warnings: [], audio: [],
  video: {
    index: 0, codec: 'h264', profile: 'High', width: 1280, height: 720, rotation: 0, displayWidth: 1280, displayHeight: 720,
    sampleAspectRatio: { num: 1, den: 1 }, displayAspectRatio: 16 / 9, rFrameRate: { num: 30, den: 1 }, avgFrameRate: { num: 30, den: 1 },
    fps: 30, variableFrameRate: false, pixelFormat: 'yuv420p', bitDepth: 8, colorTransfer: 'bt709', colorRange: 'tv', colorPrimaries: 'bt709',
    interlaced: false, fieldOrder: 'progressive', bitrate: 20e6, durationSec: 20,
  },
} as unknown as MediaInfo;

describe('autoLadder', () => {
  it('fits back to the chosen sizes and rates on the same source', () => {
    const base = getLadder('default');
    const fitted = fitLadder(media720, base);
    const chosen = [
      { width: 1280, height: 720, bitrate: 1_800_000, quality: 20, why: 'top' },
      { width: 768, height: 432, bitrate: 1_000_000, quality: 18, why: 'step' },
      { width: 416, height: 234, bitrate: 300_000, quality: 14, why: 'floor' },
    ];
    const ladder = autoLadder(base, fitted, chosen);
    expect(ladder.name).toBe('auto');
    const refit = fitLadder(media720, ladder);
    expect(refit.rungs.map((r) => [r.width, r.height, r.videoBitrate])).toEqual(chosen.map((c) => [c.width, c.height, c.bitrate]));
    expect(refit.rungs.map((r) => r.profile)).toEqual(['high', 'high', 'main']);
  });

  it('refuses a size the base ladder does not have', () => {
    const base = getLadder('default');
    expect(() => autoLadder(base, fitLadder(media720, base), [{ width: 1000, height: 562, bitrate: 1e6, quality: 1, why: '' }])).toThrow(/no base rung/);
  });
});

describe('buildSampleCommand', () => {
  it('cuts each window as its own input and joins them losslessly at the given size', () => {
    const args = buildSampleCommand({
      source: '/in/a b.mp4', media: media720, caps: { tonemapMethod: 'none' } as never,
      windows: [{ startSec: 1, durationSec: 0.5 }, { startSec: 9, durationSec: 0.5 }], width: 1280, height: 720, fps: 30, output: '/w/sample.mkv',
    });
    expect(args.filter((a) => a === '-i')).toHaveLength(2);
    expect(args.join(' ')).toContain('-ss 9 -t 0.5 -i file:/in/a b.mp4');
    const graph = args[args.indexOf('-filter_complex') + 1]!;
    expect(graph).toContain('[w0][w1]concat=n=2:v=1:a=0[sample]');
    expect(graph).toContain('scale=w=1280:h=720');
    expect(args.slice(-10)).toEqual(['-c:v', 'libx264', '-preset', 'ultrafast', '-qp', '0', '-threads', '1', '-y', 'file:/w/sample.mkv']);
  });
});

describe('quality ceiling', () => {
  it('stops the top rung where the hull reaches transparency, even while the metric still climbs', () => {
    const clean: RatePoint[] = [
      { width: 1280, height: 720, bitrate: 500e3, quality: 18 },
      { width: 1280, height: 720, bitrate: 1e6, quality: 21.5 },
      { width: 1280, height: 720, bitrate: 2e6, quality: 24.5 },
      { width: 1280, height: 720, bitrate: 4e6, quality: 27 },
      { width: 640, height: 360, bitrate: 200e3, quality: 12 },
      { width: 640, height: 360, bitrate: 800e3, quality: 16 },
    ];
    const rungs = chooseRungs(clean, { metric: 'ssim-db', maxBitrate: 4e6, floorBitrate: 300e3 });
    // 24 dB is crossed between 1 Mb/s (21.5) and 2 Mb/s (24.5): at 1 Mb/s x 2^(2.5/3).
    expect(rungs[0]!.bitrate).toBeCloseTo(1e6 * 2 ** (2.5 / 3), -3);
    expect(rungs[0]!.why).toMatch(/transparent/);
    expect(chooseRungs(clean, { metric: 'ssim-db', maxBitrate: 4e6, floorBitrate: 300e3, ceiling: 100 })[0]!.bitrate).toBe(4e6);
  });
});
