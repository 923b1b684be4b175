import { describe, expect, it } from 'vitest';
import { fitLadder, getLadder } from '../../../shared/common/ladders.ts';
import type { MediaInfo } from '../../../shared/common/media.ts';
import {
  autoLadder,
  buildSampleCommand,
  chooseRungs,
  convexHull,
  lowestRateFor,
  METRIC_DEFAULTS,
  MIN_STEP,
  planWindows,
  ssimToDb,
  trialQualityAt,
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
  });
});

/** The default ladder fitted to a 960x540 source: the sizes and rates whose trial quality the auto rungs must match. */
const BASE = [
  { width: 960, height: 540, bitrate: 2_000_000 },
  { width: 768, height: 432, bitrate: 1_100_000 },
  { width: 640, height: 360, bitrate: 730_000 },
  { width: 416, height: 234, bitrate: 365_000 },
];

/** Trials as the analysis runs them: each base size at 30 % and 100 % of its rate, `spent` the share actually spent. */
function trials(quality: (size: number, fraction: number) => number, spent = 1): RatePoint[] {
  return BASE.flatMap((b, i) =>
    [0.3, 1].map((f) => ({ width: b.width, height: b.height, target: Math.round(b.bitrate * f), bitrate: Math.round(b.bitrate * f * spent), quality: quality(i, f) })),
  );
}
const curveOf = (points: readonly RatePoint[], w: number) =>
  points.filter((p) => p.width === w).map((p) => ({ target: p.target!, spent: p.bitrate, quality: p.quality })).sort((a, b) => a.target - b.target);

describe('trialQualityAt and lowestRateFor', () => {
  const curve = [
    { target: 300e3, spent: 290e3, quality: 16 },
    { target: 1200e3, spent: 1100e3, quality: 20 },
  ];
  it('interpolates in log rate between trials and stays flat outside them', () => {
    expect(trialQualityAt(curve, 600e3)).toBeCloseTo(18, 6);
    expect(trialQualityAt(curve, 100e3)).toBe(16);
    expect(trialQualityAt(curve, 5e6)).toBe(20);
  });
  it('finds the lowest rate reaching a quality on the chord, never below the lowest trial nor above the cap', () => {
    expect(lowestRateFor(curve, 18, 2e6)).toBeCloseTo(600e3, -1);
    expect(lowestRateFor(curve, 12, 2e6)).toBe(300e3);
    expect(lowestRateFor(curve, 25, 1.5e6)).toBe(1.5e6);
    expect(lowestRateFor(curve, 19, 500e3)).toBe(500e3);
  });
});

describe('chooseRungs', () => {
  const ssim = { metric: 'ssim-db' as const, base: BASE };
  const tolerance = METRIC_DEFAULTS['ssim-db'].tolerance;

  /** The rule the bench checks on real encodes: per size, the trials predict at least the base rung's quality. */
  function expectMatchesBase(points: RatePoint[], rungs: ReturnType<typeof chooseRungs>, ceiling = METRIC_DEFAULTS['ssim-db'].ceiling) {
    for (const r of rungs) {
      const b = BASE.find((x) => x.width === r.width)!;
      const curve = curveOf(points, r.width);
      expect(r.bitrate).toBeLessThanOrEqual(b.bitrate);
      expect(trialQualityAt(curve, r.bitrate)).toBeGreaterThanOrEqual(Math.min(trialQualityAt(curve, b.bitrate), ceiling) - tolerance - 1e-9);
    }
  }

  it('hard content: every size kept, each at the rate its trials need to match the base rung, just under it', () => {
    const hard = trials((i, f) => 17 - i * 1.5 - (f < 1 ? 3.5 : 0));
    const rungs = chooseRungs(hard, ssim);
    expect(rungs.map((r) => r.width)).toEqual([960, 768, 640, 416]);
    expectMatchesBase(hard, rungs);
    // 0.1 dB of the 3.5 dB the rate's last 3.3x buys: 0.3 x (1/0.3)^(3.4/3.5) of the base rate.
    for (const [i, r] of rungs.entries()) expect(r.bitrate).toBeCloseTo(BASE[i]!.bitrate * 0.3 * (1 / 0.3) ** (3.4 / 3.5), -3);
    expect(rungs.at(-1)!.why).toMatch(/poor networks/);
  });

  it('easy content: a rung stops at transparency, far below the base rate; a smaller size it beats at a lower rate goes', () => {
    // 540p is transparent (24 dB) well below its base rate; the smaller sizes are not.
    const easy = trials((i, f) => (i === 0 ? (f < 1 ? 22 : 28) : 21 - i - (f < 1 ? 3 : 0)));
    const rungs = chooseRungs(easy, ssim);
    expectMatchesBase(easy, rungs);
    // 23.9 dB on the chord from (600k, 22) to (2000k, 28): 600k x (2000/600)^(1.9/6).
    expect(rungs[0]!.bitrate).toBeCloseTo(600e3 * (2000 / 600) ** (1.9 / 6), -3);
    expect(rungs[0]!.why).toMatch(/transparency/);
    // 432p would need about 1.06 Mb/s for 19.9 dB: 540p gives 23.9 dB for less, so 432p is of no use.
    expect(rungs.map((r) => r.width)).toEqual([960, 640, 416]);
    expect(rungs.reduce((s, r) => s + r.bitrate, 0)).toBeLessThan(BASE.reduce((s, b) => s + b.bitrate, 0) * 0.85);
  });

  it('rates are the encoder targets the trials were given, not what they spent (easy content spends less)', () => {
    const spendsHalf = trials((i, f) => 17 - i * 1.5 - (f < 1 ? 3.5 : 0), 0.5);
    const full = chooseRungs(trials((i, f) => 17 - i * 1.5 - (f < 1 ? 3.5 : 0)), ssim);
    expect(chooseRungs(spendsHalf, ssim).map((r) => r.bitrate)).toEqual(full.map((r) => r.bitrate));
  });

  it('never below the base rung quality even where the hull of all sizes would pick a smaller size', () => {
    // A smaller size is better than 540p at low rates (the hull takes it there), but 540p at its base rate is best.
    const crossing = trials((i, f) => (f < 1 ? 16 - i * 0.2 : 20 - i * 1.5));
    const rungs = chooseRungs(crossing, ssim);
    expectMatchesBase(crossing, rungs);
    expect(rungs[0]!.width).toBe(960);
  });

  it('drops a rung whose quality the rung below already reaches; the smallest size always stays', () => {
    // Flat content: every size gives ~20 dB whatever the rate.
    const flat = trials((i, f) => 20 + (f < 1 ? 0 : 0.05) - i * 0.01);
    const rungs = chooseRungs(flat, ssim);
    expect(rungs).toHaveLength(1);
    expect(rungs[0]).toMatchObject({ width: 416, bitrate: Math.round(365_000 * 0.3) });
  });

  it('a rung spends at least MIN_STEP times the rung below it; the floor rung is never replaced', () => {
    // 432p is flat at 18 dB (its lowest trial, 330k, is enough); 360p and 234p need nearly their full rates.
    const odd = trials((i, f) => (i === 0 ? (f < 1 ? 17 : 20) : i === 1 ? 18 : 17 - i - (f < 1 ? 3 : 0)));
    const rungs = chooseRungs(odd, ssim);
    // 360p would cost more than 432p for less quality: gone. 234p is the floor: 432p is raised above it instead.
    expect(rungs.map((r) => r.width)).toEqual([960, 768, 416]);
    const r432 = rungs[1]!;
    expect(r432.bitrate).toBe(Math.ceil(rungs[2]!.bitrate * MIN_STEP));
    expect(r432.why).toMatch(/raised/);
    for (let i = 1; i < rungs.length; i++) expect(rungs[i - 1]!.bitrate).toBeGreaterThanOrEqual(rungs[i]!.bitrate * MIN_STEP - 1);
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
    [6, 3, 0.5],
    [30, 3, 0.5],
    [60, 3, 0.5],
    [90, 3, 0.75],
    [600, 4, 2],
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

  it.each([60, 120, 300, 3600])('%d s source: the windows are at most 2.5 %% of it (the analysis CPU budget)', (duration) => {
    const total = planWindows(duration).reduce((s, w) => s + w.durationSec, 0);
    expect(total / duration).toBeLessThanOrEqual(0.025 + 1e-9);
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
