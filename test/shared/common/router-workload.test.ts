import { beforeAll, describe, expect, it } from 'vitest';
import type { Tier } from '../../../shared/common/job.ts';
import { getLadder } from '../../../shared/common/ladders.ts';
import { monthlyCost, planTier, predictWorkload, routeJob, type RouteInput } from '../../../shared/common/router.ts';
import { loadConfig, type TiercastConfig } from '../../../shared/node/config.ts';

/**
 * The workload: 1,000 requests a month, 60% under 50 MB, 30% at 50-150 MB, 10% over 150 MB, priced by the
 * model and compared with the $97/month quoted for the simple size-only plan.
 *
 * Durations (stated, since size alone does not give them): 1080p30 uploads at 10 Mb/s (a typical phone H.264/HEVC
 * export or a web upload), so duration = size x 8 / 10 Mb/s. Each band is split evenly over three sizes:
 *   under 50 MB:  10, 25, 40 MB   ->  8 s, 21 s, 34 s   (200 jobs each)
 *   50-150 MB:    60, 100, 140 MB -> 50 s, 84 s, 117 s  (100 jobs each)
 *   over 150 MB:  200, 500 MB, 1.2 GB -> 2.8, 7, 16.8 min (40, 40, 20 jobs)
 * The default ladder (1080p..234p, 6 rungs), HLS + DASH, S3 store in us-east-1, all AWS tiers configured, Spot share 70%.
 *
 * What the model gives (prices of 2025-06-01): about $13.3 a month: $6.6 compute (600 Lambda jobs $2.2, 300 enhanced
 * $4.5, 100 Fargate $6.5 with ~60 on Spot) and $6.7 of S3 requests plus one month of storage. The size-only plan priced
 * by the same model is about $14.3 (all Fargate on-demand). Both are roughly 7x below the $97 quote: with these
 * durations the quote overstates the cost. Size alone also misroutes: with 5 Mb/s sources (twice the duration per
 * byte) half of the 1,000 jobs would exceed the time or disk limit of the tier their size suggests; the router moves
 * them up and the month comes to about $26.
 */

const MB = 1024 * 1024;
const QUOTED_SIZE_ONLY_PLAN_USD = 97;

const env = {
  TIERCAST_BUCKET: 'media-bucket',
  AWS_REGION: 'us-east-1',
  LAMBDA_FUNCTION_NAME: 'tc',
  LAMBDA_FUNCTION_NAME_ENHANCED: 'tc-xl',
  ECS_CLUSTER_NAME: 'tiercast',
  ECS_TASK_DEFINITION: 'tiercast:1',
  ECS_SUBNETS: 'subnet-0a',
  TIERCAST_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/tiercast',
};

function workload(bitrate: number): { count: number; input: RouteInput }[] {
  const bands: [count: number, sizeMb: number][] = [
    [200, 10], [200, 25], [200, 40],
    [100, 60], [100, 100], [100, 140],
    [40, 200], [40, 500], [20, 1200],
  ];
  const ladder = getLadder('default');
  return bands.map(([count, sizeMb]) => ({
    count,
    input: { sizeBytes: sizeMb * MB, media: { durationSec: (sizeMb * MB * 8) / bitrate, width: 1920, height: 1080, fps: 30 }, ladder, jobId: `w${sizeMb}` },
  }));
}

/** What the simple plan does: tier by size alone, no limit checks. */
function sizeOnlyTier(sizeBytes: number, config: TiercastConfig): Tier {
  if (sizeBytes < config.tiers.lambda.maxBytes) return 'lambda';
  if (sizeBytes < config.tiers.lambda.enhancedMaxBytes) return 'lambda-enhanced';
  return 'fargate';
}

let config: TiercastConfig;
beforeAll(async () => {
  config = await loadConfig({ env, home: '/nonexistent/tiercast-workload' });
});

describe('the 1,000-requests-a-month workload', () => {
  it('prices the month and compares it with the $97 size-only quote', () => {
    const mix = workload(10e6);
    expect(mix.reduce((n, m) => n + m.count, 0)).toBe(1000);
    const month = monthlyCost(mix, config);

    // Every job is routed and priced; the month is the sum of the per-job estimates.
    const jobs = Object.values(month.byTier).reduce((n, t) => n + t.jobs, 0);
    expect(jobs).toBe(1000);
    const sum = Object.values(month.byTier).reduce((n, t) => n + t.usd, 0);
    expect(month.totalUsd).toBeCloseTo(sum, 6);

    // At 10 Mb/s the size classes hold: each clip fits the tier its size suggests.
    expect(month.byTier.lambda?.jobs).toBe(600);
    expect(month.byTier['lambda-enhanced']?.jobs).toBe(300);
    expect((month.byTier.fargate?.jobs ?? 0) + (month.byTier['fargate-spot']?.jobs ?? 0)).toBe(100);
    // The 20 jobs of 1.2 GB always run on-demand; of the other 80, roughly the configured 70% go to Spot.
    expect(month.byTier['fargate-spot']!.jobs).toBeGreaterThan(40);
    expect(month.byTier['fargate-spot']!.jobs).toBeLessThanOrEqual(80);

    // Model figure for the note: well under the quote (compute alone is a few dollars).
    expect(month.totalUsd).toBeGreaterThan(3);
    expect(month.totalUsd).toBeLessThan(QUOTED_SIZE_ONLY_PLAN_USD);
    expect(month.computeUsd).toBeLessThan(month.totalUsd);

    // The size-only plan priced by the same model (Fargate on-demand, no limit checks): what Spot and routing save.
    let sizeOnlyUsd = 0;
    for (const { count, input } of mix) {
      const plan = planTier(sizeOnlyTier(input.sizeBytes, config), predictWorkload(input, config), input.sizeBytes, config, true);
      sizeOnlyUsd += count * plan.costUsd;
    }
    expect(sizeOnlyUsd).toBeGreaterThan(month.totalUsd);

    const lines = Object.entries(month.byTier).map(([t, v]) => `  ${t.padEnd(16)} ${String(v.jobs).padStart(4)} jobs  $${v.usd.toFixed(2)}`);
    console.log(
      [
        `workload (10 Mb/s 1080p30 sources, prices of ${month.priceDate}):`,
        ...lines,
        `  total ${month.totalUsd.toFixed(2)} USD/month (compute ${month.computeUsd.toFixed(2)}, S3 requests and one month of storage ${(month.totalUsd - month.computeUsd).toFixed(2)})`,
        `  the size-only plan priced by this model: ${sizeOnlyUsd.toFixed(2)} USD/month; quoted: ${QUOTED_SIZE_ONLY_PLAN_USD} USD/month`,
      ].join('\n'),
    );
  });

  it('with longer clips per byte (5 Mb/s), the size-only plan would send jobs past Lambda limits; the router does not', () => {
    const mix = workload(5e6);
    let overLimit = 0;
    let moved = 0;
    for (const { count, input } of mix) {
      const naive = sizeOnlyTier(input.sizeBytes, config);
      const work = predictWorkload(input, config);
      const plan = planTier(naive, work, input.sizeBytes, config, true);
      const route = routeJob(input, config);
      if (plan.blocked) {
        overLimit += count;
        expect(route.tier).not.toBe(naive);
        expect(route.reason).toContain(`not ${naive}:`);
        moved += count;
      } else {
        expect(route.tier.startsWith('fargate') ? 'fargate' : route.tier).toBe(naive);
      }
    }
    expect(overLimit).toBeGreaterThan(0);
    const month = monthlyCost(mix, config);
    console.log(
      `5 Mb/s sources: the size-only plan would put ${overLimit} of 1000 jobs on a tier whose time/disk limit they exceed; the router moved them (${moved}); month ${month.totalUsd.toFixed(2)} USD`,
    );
  });
});
