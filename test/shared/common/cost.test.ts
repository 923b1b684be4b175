import { describe, expect, it } from 'vitest';
import { TiercastConfigSchema, defaultEnabledTiers, type ConfigOverrides, type TiercastConfig } from '../../../shared/common/config-schema.ts';
import { actualCost, estimateCost, formatUsd, jobCost } from '../../../shared/common/cost.ts';
import type { Tier } from '../../../shared/common/job.ts';
import { US_EAST_1_PRICES } from '../../../shared/common/prices.ts';

function config(overrides: ConfigOverrides = {}): TiercastConfig {
  const parsed = TiercastConfigSchema.parse(overrides);
  return { ...parsed, tiers: { ...parsed.tiers, enabled: parsed.tiers.enabled ?? defaultEnabledTiers(parsed) } };
}
const s3 = { store: { kind: 's3' as const, bucket: 'media-bucket', region: 'us-east-1' } };

describe('compute cost per tier (us-east-1 table)', () => {
  const p = US_EAST_1_PRICES;
  const cases: { name: string; tier: Tier; seconds: number; overrides?: ConfigOverrides; compute: number; requests: number }[] = [
    { name: 'local is free', tier: 'local', seconds: 600, compute: 0, requests: 0 },
    { name: 'Lambda 2048 MB x86, 100 s', tier: 'lambda', seconds: 100, compute: 2 * 100 * p.lambda.gbSecondX86, requests: 0.2e-6 },
    {
      name: 'Lambda arm64 is cheaper per GB-s',
      tier: 'lambda',
      seconds: 100,
      overrides: { tiers: { lambda: { arch: 'arm64' } } },
      compute: 2 * 100 * p.lambda.gbSecondArm64,
      requests: 0.2e-6,
    },
    { name: 'enhanced Lambda 3008 MB, 400 s', tier: 'lambda-enhanced', seconds: 400, compute: (3008 / 1024) * 400 * p.lambda.gbSecondX86, requests: 0.2e-6 },
    {
      name: 'Lambda with 10 GB /tmp pays for the 9.5 GB beyond 512 MB',
      tier: 'lambda',
      seconds: 100,
      overrides: { tiers: { lambda: { ephemeralMb: 10_240 } } },
      compute: 2 * 100 * p.lambda.gbSecondX86 + 9.5 * 100 * p.lambda.ephemeralGbSecond,
      requests: 0.2e-6,
    },
    { name: 'Fargate 2 vCPU / 8 GB for an hour', tier: 'fargate', seconds: 3600, compute: 2 * 0.04048 + 8 * 0.004445, requests: 0 },
    { name: 'Fargate Spot: 70% off', tier: 'fargate-spot', seconds: 3600, compute: (2 * 0.04048 + 8 * 0.004445) * 0.3, requests: 0 },
    { name: 'Fargate bills at least a minute', tier: 'fargate', seconds: 10, compute: ((2 * 0.04048 + 8 * 0.004445) * 60) / 3600, requests: 0 },
    {
      name: 'Fargate with 50 GB ephemeral pays for 30 GB',
      tier: 'fargate',
      seconds: 3600,
      overrides: { tiers: { fargate: { ephemeralGb: 50 } } },
      compute: 2 * 0.04048 + 8 * 0.004445 + 30 * 0.000111,
      requests: 0,
    },
    { name: 'EC2 c6i.xlarge shared by 2 jobs at 60% utilisation, 1 h', tier: 'ec2', seconds: 3600, compute: 0.17 / 2 / 0.6, requests: (3 + 60) * 0.4e-6 },
    {
      name: 'EC2 with an hourly override',
      tier: 'ec2',
      seconds: 1800,
      overrides: { tiers: { ec2: { hourlyUsd: 1, jobsPerHost: 4, utilization: 1 } } },
      compute: 0.125,
      requests: (3 + 30) * 0.4e-6,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const cost = estimateCost(c.tier, c.seconds, config(c.overrides));
      expect(cost.computeUsd).toBeCloseTo(c.compute, 6);
      expect(cost.requestsUsd).toBeCloseTo(c.requests, 8);
      expect(cost.storageUsdPerMonth).toBe(0);
      expect(cost.totalUsd).toBeCloseTo(c.compute + c.requests, 6);
      expect(cost.priceDate).toBe(p.date);
      expect(cost.detail.length).toBeGreaterThan(5);
    });
  }
});

describe('storage and requests', () => {
  it('counts S3 storage and requests only for an S3 store', () => {
    const storage = { inputBytes: 4 * 1024 ** 3, outputBytes: 6 * 1024 ** 3, putRequests: 1000, getRequests: 10_000 };
    const withS3 = estimateCost('local', 60, config(s3), storage);
    expect(withS3.storageUsdPerMonth).toBeCloseTo(10 * 0.023, 6);
    expect(withS3.requestsUsd).toBeCloseTo(1000 * 0.000005 + 10_000 * 0.0000004, 8);
    const local = estimateCost('local', 60, config(), storage);
    expect(local.storageUsdPerMonth).toBe(0);
    expect(local.requestsUsd).toBe(0);
  });
});

describe('prices: overrides, regions, dates', () => {
  it('config overrides replace single prices and the date', () => {
    const c = config({ prices: { date: '2026-01-15', lambda: { gbSecondX86: 0.00002 } } });
    const cost = estimateCost('lambda', 100, c);
    expect(cost.computeUsd).toBeCloseTo(2 * 100 * 0.00002, 8);
    expect(cost.priceDate).toBe('2026-01-15');
  });
  it('a region without a shipped table says which prices it used', () => {
    const cost = estimateCost('lambda', 10, config({ aws: { region: 'ap-south-1' } }));
    expect(cost.notes.join()).toMatch(/no shipped price table for ap-south-1/);
  });
  it('an EC2 instance type without a price is a configuration error', () => {
    expect(() => estimateCost('ec2', 60, config({ tiers: { ec2: { instanceType: 'z9.mega' } } }))).toThrowError(/tiers.ec2.hourlyUsd/);
  });
  it('invalid overrides are rejected by the schema', () => {
    expect(() => config({ prices: { lambda: { gbSecondX86: -1 } } })).toThrow();
  });
});

describe('actual cost after the run', () => {
  it('uses Lambda\'s billed duration when present and measured output sizes', () => {
    const c = config(s3);
    const a = actualCost('lambda', { durationSec: 50, billedDurationSec: 51.2, inputBytes: 1024 ** 3, outputBytes: 1024 ** 3, objectsWritten: 200 }, c);
    expect(a.computeUsd).toBeCloseTo(2 * 51.2 * US_EAST_1_PRICES.lambda.gbSecondX86, 8);
    expect(a.storageUsdPerMonth).toBeCloseTo(2 * 0.023, 6);
    expect(a.requestsUsd).toBeCloseTo(0.2e-6 + 200 * 0.000005, 8);
    expect(jobCost({ tier: 'lambda', seconds: 51.2 }, c).computeUsd).toBe(a.computeUsd);
  });
});

describe('formatUsd', () => {
  it.each([
    [0, '$0'],
    [0.0034, '$0.0034'],
    [0.5, '$0.50'],
    [97.4, '$97.40'],
    [1234.4, '$1234'],
  ])('%s -> %s', (usd, text) => expect(formatUsd(usd)).toBe(text));
});
