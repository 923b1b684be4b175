import { describe, expect, it } from 'vitest';
import {
  aggregateRecords,
  combineOutcomes,
  normalizeQuery,
  percentile,
  wholeRangeQuery,
  periodStart,
  type MetricRecord,
} from '../../../shared/common/metrics-query.ts';
import { TiercastError } from '../../../shared/common/errors.ts';

const T0 = Date.parse('2026-03-01T00:00:00Z');
const HOUR = 3_600_000;
const q = { from: '2026-03-01T00:00:00Z', to: '2026-03-03T00:00:00Z', periodSec: 3600 };

describe('percentile (nearest rank)', () => {
  it.each([
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50, 5],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95, 10],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99, 10],
    [Array.from({ length: 100 }, (_, i) => i + 1), 95, 95],
    [Array.from({ length: 100 }, (_, i) => i + 1), 99, 99],
    [[7], 50, 7],
    [[2, 4], 50, 2],
  ])('%j p%d = %d', (values, p, expected) => {
    expect(percentile(values, p)).toBe(expected);
  });
  it('is NaN for no values', () => expect(percentile([], 50)).toBeNaN());
});

describe('normalizeQuery', () => {
  it('forces one-day periods for cost and keeps others', () => {
    expect(normalizeQuery('cost', q).periodSec).toBe(86_400);
    expect(normalizeQuery('cost', { ...q, from: '2026-03-01T10:00:00Z', to: '2026-03-02T10:00:00Z' })).toEqual({
      from: '2026-03-01T00:00:00.000Z', to: '2026-03-03T00:00:00.000Z', periodSec: 86_400,
    });
    expect(normalizeQuery('latency', { ...q, from: '2026-03-01T10:00:42.5Z' }).from).toBe('2026-03-01T10:00:00.000Z');
    expect(normalizeQuery('latency', q)).toEqual({ from: '2026-03-01T00:00:00.000Z', to: '2026-03-03T00:00:00.000Z', periodSec: 3600 });
  });
  it.each([
    [{ ...q, periodSec: 90 }, /periodSec/],
    [{ ...q, periodSec: 30 }, /periodSec/],
    [{ ...q, from: 'yesterday' }, /from/],
    [{ ...q, to: q.from }, /must be after/],
    [{ ...q, to: '2027-03-01T00:00:00Z', periodSec: 60 }, /points per line/],
  ])('rejects %j', (bad, message) => {
    const err = (() => { try { normalizeQuery('latency', bad); } catch (e) { return e; } })();
    expect(err).toBeInstanceOf(TiercastError);
    expect((err as TiercastError).code).toBe('CONFIG_INVALID');
    expect((err as TiercastError).message).toMatch(message);
  });
});

describe('aggregateRecords', () => {
  const records: MetricRecord[] = [
    // lambda, hour 0: latencies 1..20 (p50 10, p95 19, p99 20); hour 1: 100
    ...Array.from({ length: 20 }, (_, i) => ({ timestamp: T0 + i * 1000, tier: 'lambda' as const, values: { JobLatencySeconds: 20 - i, JobsSucceeded: 1, JobCostUSD: 0.01 } })),
    { timestamp: T0 + HOUR + 5, tier: 'lambda', values: { JobLatencySeconds: 100, JobsFailed: 1 } },
    // fargate, day 2
    { timestamp: T0 + 25 * HOUR, tier: 'fargate', values: { JobLatencySeconds: 300, JobsSucceeded: 1, JobCostUSD: 0.5 } },
    { timestamp: T0 + 26 * HOUR, tier: 'fargate', values: { JobsFailed: 1, JobCostUSD: 0.25 } },
    { timestamp: T0 + 26 * HOUR, tier: 'fargate', values: { JobsFailed: 1 } },
    // outside the range: must not count
    { timestamp: T0 - 1, tier: 'lambda', values: { JobLatencySeconds: 9999, JobsFailed: 1, JobCostUSD: 9 } },
    { timestamp: T0 + 48 * HOUR, tier: 'lambda', values: { JobLatencySeconds: 9999, JobCostUSD: 9 } },
    { timestamp: T0 + 2 * HOUR, tier: 'local', values: { QueueDepth: 4 } },
    { timestamp: T0 + 2 * HOUR + 60_000, tier: 'local', values: { QueueDepth: 9 } },
  ];

  it('latency: p50/p95/p99 per tier per period', () => {
    const r = aggregateRecords(records, 'latency', q);
    expect(r.available).toBe(true);
    expect(r.series.map((s) => s.id)).toEqual([
      'latency_lambda_p50', 'latency_lambda_p95', 'latency_lambda_p99',
      'latency_fargate_p50', 'latency_fargate_p95', 'latency_fargate_p99',
    ]);
    const byId = Object.fromEntries(r.series.map((s) => [s.id, s.points]));
    expect(byId.latency_lambda_p50).toEqual([{ t: '2026-03-01T00:00:00.000Z', v: 10 }, { t: '2026-03-01T01:00:00.000Z', v: 100 }]);
    expect(byId.latency_lambda_p95![0]!.v).toBe(19);
    expect(byId.latency_lambda_p99![0]!.v).toBe(20);
    expect(byId.latency_fargate_p99).toEqual([{ t: '2026-03-02T01:00:00.000Z', v: 300 }]);
  });

  it('cost: USD per tier per UTC day', () => {
    const r = aggregateRecords(records, 'cost', q);
    expect(r.query.periodSec).toBe(86_400);
    const lambda = r.series.find((s) => s.tier === 'lambda')!;
    expect(lambda.unit).toBe('USD');
    expect(lambda.points).toHaveLength(1);
    expect(lambda.points[0]!.t).toBe('2026-03-01T00:00:00.000Z');
    expect(lambda.points[0]!.v).toBeCloseTo(0.2, 10);
    expect(r.series.find((s) => s.tier === 'fargate')!.points).toEqual([{ t: '2026-03-02T00:00:00.000Z', v: 0.75 }]);
  });

  it('throughput and error rate from succeeded and failed counts', () => {
    const tp = aggregateRecords(records, 'throughput', q);
    expect(tp.series.find((s) => s.tier === 'lambda')!.points).toEqual([
      { t: '2026-03-01T00:00:00.000Z', v: 20 },
      { t: '2026-03-01T01:00:00.000Z', v: 1 },
    ]);
    const er = aggregateRecords(records, 'errorRate', { ...q, periodSec: 86_400 });
    expect(er.series.find((s) => s.tier === 'lambda')!.points).toEqual([{ t: '2026-03-01T00:00:00.000Z', v: 1 / 21 }]);
    expect(er.series.find((s) => s.tier === 'fargate')!.points).toEqual([{ t: '2026-03-02T00:00:00.000Z', v: 2 / 3 }]);
  });

  it('queue depth: maximum per period', () => {
    const r = aggregateRecords(records, 'queueDepth', q);
    expect(r.series).toHaveLength(1);
    expect(r.series[0]!.points).toEqual([{ t: '2026-03-01T02:00:00.000Z', v: 9 }]);
  });

  it('cloud-only panels answer unavailable rather than failing', () => {
    for (const panel of ['lambdaDuration', 'lambdaThrottles', 'lambdaErrors', 'ecsCpu'] as const) {
      const r = aggregateRecords(records, panel, q);
      expect(r.available).toBe(false);
      expect(r.series).toEqual([]);
      expect(r.note).toMatch(/CloudWatch/);
    }
  });

  it('combineOutcomes leaves periods with nothing finished out of the error rate', () => {
    const s = combineOutcomes('errorRate', new Map([['ec2', [{ t: 'a', v: 0 }]]]), new Map());
    expect(s[0]!.points).toEqual([]);
    expect(periodStart(Date.parse('2026-03-01T13:37:00Z'), 86_400)).toBe(T0);
    expect(periodStart(Date.parse('2026-03-01T13:37:00Z'), 3600, Date.parse('2026-03-01T00:30:00Z'))).toBe(Date.parse('2026-03-01T13:30:00Z'));
  });
});

describe('wholeRangeQuery', () => {
  it('makes one period of the whole range, in whole minutes', () => {
    expect(wholeRangeQuery('2026-03-01T00:00:00Z', '2026-03-08T00:00:00Z').periodSec).toBe(7 * 86_400);
    expect(wholeRangeQuery('2026-03-01T00:00:00Z', '2026-03-01T00:00:30Z').periodSec).toBe(60);
    const q = wholeRangeQuery('2026-03-01T00:00:00Z', '2026-03-01T10:00:30Z');
    expect(q.periodSec).toBe(36_060);
    const r = aggregateRecords(
      [1, 2, 3, 4].map((v, i) => ({ timestamp: T0 + i * HOUR, tier: 'ec2' as const, values: { JobLatencySeconds: v } })),
      'latency',
      q,
    );
    expect(r.series.find((s) => s.id === 'latency_ec2_p50')!.points).toEqual([{ t: '2026-03-01T00:00:00.000Z', v: 2 }]);
  });
});
