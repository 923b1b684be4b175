import { mkdtempSync, readdirSync, readFileSync, rmSync, appendFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLocalMetricsSink, createLocalMetricsSource, createLocalMetricsStore } from '../../../shared/node/local-metrics.ts';
import { homePaths } from '../../../shared/node/data-home.ts';

const root = mkdtempSync(path.join(os.tmpdir(), 'tiercast-metrics-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const T0 = Date.parse('2026-05-10T23:00:00Z');

describe('local metrics store', () => {
  it('appends EMF lines to one file per UTC day and reads them back by range', async () => {
    const dir = homePaths(path.join(root, 'home1')).metrics;
    let now = T0;
    const sink = createLocalMetricsSink(dir, { now: () => now });
    // 100 lambda jobs with latencies 1..100 s across midnight, shuffled so order cannot help.
    const latencies = Array.from({ length: 100 }, (_, i) => ((i * 37) % 100) + 1);
    for (const [i, l] of latencies.entries()) {
      now = T0 + i * 60_000; // one a minute: 60 before midnight, 40 after
      sink.emit('lambda', { JobLatencySeconds: l, JobsSucceeded: 1, JobCostUSD: 0.001 }, { jobId: `j${i}` });
    }
    now = T0 + 30 * 60_000;
    sink.emit('fargate-spot', { JobLatencySeconds: 500, JobsFailed: 1 });

    expect(readdirSync(dir).sort()).toEqual(['2026-05-10.jsonl', '2026-05-11.jsonl']);
    const firstFile = readFileSync(path.join(dir, '2026-05-10.jsonl'), 'utf8').trim().split('\n');
    expect(firstFile).toHaveLength(61);
    expect(JSON.parse(firstFile[0]!)._aws.CloudWatchMetrics[0].Namespace).toBe('Tiercast');

    const store = createLocalMetricsStore(dir);
    const all = await store.read(T0, T0 + 2 * 3_600_000);
    expect(all).toHaveLength(101);
    const afterMidnight = await store.read(Date.parse('2026-05-11T00:00:00Z'), T0 + 2 * 3_600_000);
    expect(afterMidnight).toHaveLength(40);
    expect(afterMidnight.every((r) => r.tier === 'lambda')).toBe(true);
    expect(await store.read(T0, T0 + 2 * 3_600_000, { tiers: ['fargate-spot'] })).toHaveLength(1);

    const source = createLocalMetricsSource(dir);
    const range = { from: '2026-05-10T00:00:00Z', to: '2026-05-12T00:00:00Z', periodSec: 172_800 };
    const latency = await source.query('latency', range);
    const pts = (id: string) => latency.series.find((s) => s.id === id)!.points;
    expect(pts('latency_lambda_p50')).toEqual([{ t: '2026-05-10T00:00:00.000Z', v: 50 }]);
    expect(pts('latency_lambda_p95')[0]!.v).toBe(95);
    expect(pts('latency_lambda_p99')[0]!.v).toBe(99);
    expect(pts('latency_fargate_spot_p50')[0]!.v).toBe(500);

    const cost = await source.query('cost', range);
    const lambdaCost = cost.series.find((s) => s.tier === 'lambda')!.points;
    expect(lambdaCost.map((p) => p.t)).toEqual(['2026-05-10T00:00:00.000Z', '2026-05-11T00:00:00.000Z']);
    expect(lambdaCost[0]!.v).toBeCloseTo(0.06, 10);
    expect(lambdaCost[1]!.v).toBeCloseTo(0.04, 10);

    const errors = await source.query('errorRate', range);
    expect(errors.series.find((s) => s.tier === 'fargate-spot')!.points[0]!.v).toBe(1);
    expect(errors.series.find((s) => s.tier === 'lambda')!.points[0]!.v).toBe(0);
  });

  it('skips torn and foreign lines, and answers an empty result for a missing folder', async () => {
    const dir = path.join(root, 'torn');
    const store = createLocalMetricsStore(dir);
    expect(await store.read(0, Date.now())).toEqual([]);
    const good = JSON.stringify({ _aws: { Timestamp: T0, CloudWatchMetrics: [{ Namespace: 'Tiercast', Dimensions: [['Tier']], Metrics: [{ Name: 'JobsFailed', Unit: 'Count' }] }] }, Tier: 'ec2', JobsFailed: 1 });
    store.appendLine(good);
    appendFileSync(path.join(dir, '2026-05-10.jsonl'), 'not json at all\n{"_aws":{"Timestamp":');
    const records = await store.read(T0 - 1, T0 + 1);
    expect(records).toEqual([{ timestamp: T0, tier: 'ec2', values: { JobsFailed: 1 } }]);
    const tp = await createLocalMetricsSource(dir).query('throughput', { from: '2026-05-10T00:00:00Z', to: '2026-05-11T00:00:00Z', periodSec: 3600 });
    expect(tp.series[0]!.points).toEqual([{ t: '2026-05-10T23:00:00.000Z', v: 1 }]);
  });
});
