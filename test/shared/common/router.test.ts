import { beforeAll, describe, expect, it } from 'vitest';
import { TiercastError, type ErrorCode } from '../../../shared/common/errors.ts';
import type { Tier } from '../../../shared/common/job.ts';
import type { FittedLadder } from '../../../shared/common/ladder-schema.ts';
import { getLadder } from '../../../shared/common/ladders.ts';
import { applyCodecs, CODEC_INFO } from '../../../shared/common/codecs.ts';
import { hashUnit, ladderCodecSpeed, predictSeconds, predictWorkload, routeJob, type RouteInput } from '../../../shared/common/router.ts';
import { loadConfig, type TiercastConfig } from '../../../shared/node/config.ts';

const MB = 1024 * 1024;
const GB = 1024 * MB;
const home = '/nonexistent/tiercast-router-test';

const awsEnv = {
  TIERCAST_BUCKET: 'media-bucket',
  AWS_REGION: 'us-east-1',
  LAMBDA_FUNCTION_NAME: 'tc',
  LAMBDA_FUNCTION_NAME_ENHANCED: 'tc-xl',
  ECS_CLUSTER_NAME: 'tiercast',
  ECS_TASK_DEFINITION: 'tiercast:1',
  ECS_SUBNETS: 'subnet-0a',
  TIERCAST_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/tiercast',
};
const cfg = (env: Record<string, string> = awsEnv) => loadConfig({ env, home });

const ladder = getLadder('default');
const hd = (durationSec: number) => ({ durationSec, width: 1920, height: 1080, fps: 30 });
const job = (sizeMb: number, durationSec: number, extra: Partial<RouteInput> = {}): RouteInput => ({
  sizeBytes: sizeMb * MB,
  media: hd(durationSec),
  ladder,
  random: () => 0.5,
  ...extra,
});

describe('routeJob: tier by size, time, disk and what is enabled', () => {
  const cases: { name: string; env?: Record<string, string>; input: RouteInput; tier: Tier; reason: RegExp }[] = [
    { name: 'no AWS config: local, saying so', env: {}, input: job(25, 20), tier: 'local', reason: /no AWS tiers configured/ },
    { name: 'a short phone clip under 50 MB: Lambda', input: job(25, 20), tier: 'lambda', reason: /25 MB is under 50 MB/ },
    {
      name: 'under 50 MB but 10 minutes of 1080p: too long for either Lambda',
      input: job(45, 600),
      tier: 'fargate-spot',
      reason: /not lambda: predicted .* exceeds 75% of its 120 s limit.*; not lambda-enhanced: predicted .* 600 s limit/,
    },
    {
      name: 'under 50 MB, 60 s of 1080p: over Lambda\'s 120 s budget, fits the enhanced function',
      input: job(45, 60),
      tier: 'lambda-enhanced',
      reason: /not lambda: predicted/,
    },
    { name: '50-150 MB, 80 s: the enhanced function', input: job(100, 80), tier: 'lambda-enhanced', reason: /100 MB is 50 MB-150 MB/ },
    { name: 'over 150 MB: Fargate, Spot share drawn', input: job(500, 400, { random: () => 0.1 }), tier: 'fargate-spot', reason: /Spot: in the 70% share/ },
    { name: 'over 150 MB outside the Spot share: on-demand', input: job(500, 400, { random: () => 0.9 }), tier: 'fargate', reason: /outside the 70% Spot share/ },
    { name: '1 GB or more: on-demand whatever the draw', input: job(1100, 900, { random: () => 0 }), tier: 'fargate', reason: /never go to Spot/ },
    {
      name: 'only Fargate configured: a small clip goes there',
      env: { TIERCAST_BUCKET: 'media-bucket', ECS_CLUSTER_NAME: 'c', ECS_TASK_DEFINITION: 't', ECS_SUBNETS: 'subnet-0a' },
      input: job(25, 20, { random: () => 0.1 }),
      tier: 'fargate-spot',
      reason: /25 MB is under 50 MB/,
    },
    {
      name: 'only Lambda configured, a big file: local, with why the cloud could not',
      env: { TIERCAST_BUCKET: 'media-bucket', LAMBDA_FUNCTION_NAME: 'tc' },
      input: job(500, 400),
      tier: 'local',
      reason: /no enabled cloud tier can take it/,
    },
    {
      name: 'no probe: duration guessed from size, and the reason says so',
      input: { sizeBytes: 20 * MB, media: null, ladder, random: () => 0.5 },
      tier: 'lambda',
      reason: /no usable probe: assumed 1920x1080/,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const route = routeJob(c.input, await cfg(c.env));
      expect(route.tier).toBe(c.tier);
      expect(route.reason).toMatch(c.reason);
      expect(route.estimate.seconds).toBeGreaterThan(0);
      expect(route.estimate.priceDate).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(route.alternatives.map((a) => a.tier)).toEqual(['local', 'lambda', 'lambda-enhanced', 'fargate', 'fargate-spot', 'ec2']);
      // The chosen plan is never one the router itself marked as not fitting.
      expect(route.alternatives.find((a) => a.tier === c.tier)!.blocked).toBeNull();
    });
  }

  it('never picks a tier whose disk the job would exceed; more /tmp makes it fit', async () => {
    // 145 MB in, 150 s of 1080p: ~238 MB of outputs + 64 MB work > 85% of 512 MB /tmp.
    const input = job(145, 150);
    const small = routeJob(input, await cfg());
    const enhanced = small.alternatives.find((a) => a.tier === 'lambda-enhanced')!;
    expect(enhanced.blocked).toMatch(/disk/);
    expect(small.tier).not.toMatch(/^lambda/);
    expect(small.reason).toMatch(/not lambda-enhanced: needs ~\d+ MB of disk/);
    const big = routeJob(input, await cfg({ ...awsEnv, TIERCAST_LAMBDA_EPHEMERAL_MB: '2048' }));
    expect(big.tier).toBe('lambda-enhanced');
  });

  it('predicted time grows with duration, output pixels and slower presets, and shrinks with tier speed', async () => {
    const c = await cfg();
    const seconds = (input: RouteInput, conf: TiercastConfig = c) => routeJob({ ...input, requestedTier: 'local' }, conf).estimate.seconds;
    expect(seconds(job(25, 40))).toBeGreaterThan(seconds(job(25, 20)));
    const small: FittedLadder = {
      ladder: 'tiny', segmentSeconds: 4, preset: 'veryfast', presetReason: 'test', audio: null, dropped: [],
      rungs: [{ name: '360p', width: 640, height: 360, videoBitrate: 700_000, maxrate: 770_000, bufsize: 1_050_000, profile: 'main', fps: 30, notes: [] }],
    };
    expect(seconds(job(25, 20, { ladder: small }))).toBeLessThan(seconds(job(25, 20)));
    expect(seconds(job(25, 20, { ladder: { ...small, preset: 'slow' } }))).toBeGreaterThan(seconds(job(25, 20, { ladder: small })));
    const fast = await loadConfig({ env: awsEnv, home, flags: { router: { speed: { local: { encodeMpixPerSec: 450 } } } } });
    expect(seconds(job(25, 20), fast)).toBeLessThan(seconds(job(25, 20)));
  });

  it('a configured lower Lambda size threshold moves the boundary', async () => {
    const c = await loadConfig({ env: awsEnv, home, flags: { tiers: { lambda: { maxBytes: 10 * MB } } } });
    expect(routeJob(job(20, 10), c).tier).toBe('lambda-enhanced');
    expect(routeJob(job(8, 10), c).tier).toBe('lambda');
  });
});

describe('routeJob: retries one tier up', () => {
  const cases: { name: string; env?: Record<string, string>; failed: Tier; code: ErrorCode; random?: number; tier: Tier | 'throws' }[] = [
    { name: 'Lambda timeout -> enhanced', failed: 'lambda', code: 'TIMEOUT', tier: 'lambda-enhanced' },
    { name: 'Lambda out of memory -> enhanced', failed: 'lambda', code: 'OUT_OF_MEMORY', tier: 'lambda-enhanced' },
    { name: 'enhanced over its limit -> Fargate Spot (share drawn)', failed: 'lambda-enhanced', code: 'TIER_LIMIT_EXCEEDED', random: 0.1, tier: 'fargate-spot' },
    { name: 'enhanced timeout -> Fargate on-demand (outside share)', failed: 'lambda-enhanced', code: 'TIMEOUT', random: 0.9, tier: 'fargate' },
    { name: 'Fargate Spot out of memory -> EC2', failed: 'fargate-spot', code: 'OUT_OF_MEMORY', tier: 'ec2' },
    {
      name: 'Fargate Spot out of memory, no EC2 -> Fargate on-demand',
      env: { ...awsEnv, TIERCAST_QUEUE_URL: '' },
      failed: 'fargate-spot',
      code: 'OUT_OF_MEMORY',
      tier: 'fargate',
    },
    { name: 'Fargate timeout, no EC2 -> nothing above: error', env: { ...awsEnv, TIERCAST_QUEUE_URL: '' }, failed: 'fargate', code: 'TIMEOUT', tier: 'throws' },
    { name: 'Spot interruption -> on-demand', failed: 'fargate-spot', code: 'INTERRUPTED', tier: 'fargate' },
    { name: 'Spot capacity -> on-demand', failed: 'fargate-spot', code: 'CAPACITY_UNAVAILABLE', tier: 'fargate' },
    { name: 'an encode failure is not a tier problem: routed as new', failed: 'lambda', code: 'ENCODE_FAILED', tier: 'lambda' },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const input = job(25, 20, { previousFailure: { tier: c.failed, code: c.code }, random: () => c.random ?? 0.5 });
      const config = await cfg(c.env);
      if (c.tier === 'throws') {
        expect(() => routeJob(input, config)).toThrowError(expect.objectContaining({ code: 'TIER_LIMIT_EXCEEDED' }));
        return;
      }
      const route = routeJob(input, config);
      expect(route.tier).toBe(c.tier);
      expect(route.reason).toContain(c.code);
    });
  }

  it('escalation skips a tier the job would not fit', async () => {
    // 10 minutes of 1080p failed on Lambda: the enhanced function is over its time budget too.
    const route = routeJob(job(45, 600, { previousFailure: { tier: 'lambda', code: 'TIMEOUT' }, random: () => 0.9 }), await cfg());
    expect(route.tier).toBe('fargate');
    expect(route.reason).toMatch(/one tier up after TIMEOUT on lambda; not lambda-enhanced/);
  });
});

describe('routeJob: an operator\'s explicit tier', () => {
  let awaitedLocal: TiercastConfig | undefined;
  let awaitedAws: TiercastConfig | undefined;
  beforeAll(async () => {
    awaitedLocal = await cfg({});
    awaitedAws = await cfg();
  });
  it('is honoured when enabled and the job fits', async () => {
    const route = routeJob(job(500, 400, { requestedTier: 'ec2' }), await cfg());
    expect(route.tier).toBe('ec2');
    expect(route.reason).toMatch(/requested/);
  });
  it('is refused when the tier is not enabled, with why', async () => {
    const err = (() => {
      try {
        routeJob(job(25, 20, { requestedTier: 'lambda' }), awaitedLocal!);
      } catch (e) {
        return e as TiercastError;
      }
      return null;
    })();
    expect(err?.code).toBe('CONFIG_INVALID');
    expect(err?.message).toMatch(/lambda .*not enabled/);
  });
  it('is refused when the job would exceed the tier\'s limit', async () => {
    expect(() => routeJob(job(45, 600, { requestedTier: 'lambda' }), awaitedAws!)).toThrowError(/would not fit: predicted/);
  });
});


describe('Spot share without an injected random', () => {
  it('is deterministic per job id and close to the configured share over many jobs', async () => {
    const c = await cfg();
    const input = (id: string): RouteInput => ({ sizeBytes: 400 * MB, media: hd(300), ladder, jobId: id });
    expect(routeJob(input('job-a'), c).tier).toBe(routeJob(input('job-a'), c).tier);
    let spot = 0;
    for (let i = 0; i < 1000; i++) if (routeJob(input(`job-${i}`), c).tier === 'fargate-spot') spot++;
    expect(spot / 1000).toBeGreaterThan(0.65);
    expect(spot / 1000).toBeLessThan(0.75);
    const none = await cfg({ ...awsEnv, TIERCAST_FARGATE_SPOT_SHARE: '0' });
    expect(routeJob(input('job-a'), none).tier).toBe('fargate');
  });
  it('hashUnit spreads ids over [0,1)', () => {
    const values = Array.from({ length: 200 }, (_, i) => hashUnit(`id-${i}`));
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...values)).toBeLessThan(1);
    expect(new Set(values).size).toBe(200);
  });
});

describe('predictWorkload', () => {
  it('sums output pixels over the approximated rungs without upscaling a small source', async () => {
    const c = await cfg();
    const w = predictWorkload({ sizeBytes: 5 * MB, media: { durationSec: 10, width: 640, height: 360, fps: 30 }, ladder }, c);
    // 640x360 keeps 360p (at source size) and 234p (416x234): no 1080p/720p/540p/432p work.
    expect(w.outputMpix).toBeCloseTo(((640 * 360 + 416 * 234) * 30 * 10) / 1e6, 0);
    expect(w.preset).toBe('veryfast');
    expect(w.diskBytes).toBeGreaterThan(5 * MB + w.outputBytes);
  });
  it('knows each encoder\'s speed: an AV1 ladder with an H.264 fallback takes longer than H.264 alone', async () => {
    const c = await cfg();
    const media = { durationSec: 60, width: 1920, height: 1080, fps: 30 };
    const h264 = predictWorkload({ sizeBytes: 50 * MB, media, ladder }, c);
    const both = predictWorkload({ sizeBytes: 50 * MB, media, ladder: applyCodecs(ladder, ['av1', 'h264']) }, c);
    const hevc = predictWorkload({ sizeBytes: 50 * MB, media, ladder: applyCodecs(ladder, ['hevc']) }, c);
    expect(h264.codecSpeed).toBe(1);
    expect(hevc.codecSpeed).toBeCloseTo(CODEC_INFO.hevc.speed, 6);
    // Half the pixels at x264's speed, half at SVT-AV1's: the harmonic mean.
    expect(both.codecSpeed).toBeCloseTo(2 / (1 + 1 / CODEC_INFO.av1.speed), 6);
    expect(both.outputMpix).toBeCloseTo(h264.outputMpix * 2, 6);
    const t = (w: typeof h264) => predictSeconds('fargate', w, 50 * MB, c).run;
    expect(t(both)).toBeGreaterThan(t(h264) * 2);
    expect(t(hevc)).toBeGreaterThan(t(h264) * 1.5);
    expect(ladderCodecSpeed([])).toBe(1);
  });
  it('rejects a negative size', async () => {
    const c = await cfg();
    expect(() => routeJob({ sizeBytes: -1, media: null, ladder }, c)).toThrowError(TiercastError);
  });
  it('a 4K 60 fps source at preset medium needs more memory than the 2 GB Lambda gives it', async () => {
    const route = routeJob(
      { sizeBytes: 30 * MB, media: { durationSec: 5, width: 3840, height: 2160, fps: 60 }, ladder: { ...getLadder('reference'), preset: 'medium' }, random: () => 0.5 },
      await cfg(),
    );
    const lambda = route.alternatives.find((a) => a.tier === 'lambda')!;
    expect(lambda.blocked).toMatch(/needs ~\d+ MB of memory, over 90% of its 2048 MB/);
    expect(route.alternatives.find((a) => a.tier === 'fargate')!.blocked).toBeNull();
    expect(route.tier).not.toBe('lambda');
  });
});

it('GB constant sanity for the 1 GB on-demand rule', async () => {
  const c = await cfg();
  expect(c.tiers.fargate.onDemandAboveBytes).toBe(GB);
  expect(routeJob(job(1023, 600, { random: () => 0 }), c).tier).toBe('fargate-spot');
});
