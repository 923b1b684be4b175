/**
 * Metrics: what Tiercast measures, and the one query contract dashboards use.
 *
 * Writers: every worker (CLI, agent, Lambda, Fargate) gets a `MetricsSink` and calls
 * `sink.emit(tier, { JobLatencySeconds: 12.5, JobsSucceeded: 1 }, { jobId })`. The implementations write CloudWatch
 * Embedded Metric Format lines (shared/node/metrics-emf.ts): to stdout on AWS, where CloudWatch Logs extracts them,
 * and to daily files in the data home's metrics/ folder locally (shared/node/local-metrics.ts).
 *
 * Readers (the console, `tiercast` dashboards): one interface, two implementations.
 *
 *   const source: MetricsSource = createLocalMetricsSource(homePaths().metrics)    // shared/node/local-metrics.ts
 *                              or createCloudWatchMetricsSource({ client, ... })   // cloud/cloudwatch-metrics.ts
 *   const result = await source.query('latency', { from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z', periodSec: 3600 });
 *   // result.series: one line per tier and statistic, result.thresholds: horizontal lines (e.g. Lambda timeouts)
 *   // a summary table (one value per line for the whole range): source.query('latency', wholeRangeQuery(from, to))
 *   // CloudWatch options from the configuration: cloudWatchOptionsFromConfig(config) in cloud/cloudwatch-metrics.ts
 *
 * Panels (`PANELS`): latency (p50/p95/p99 per tier), cost (USD per tier per UTC day; the period is always 86400),
 * throughput (jobs finished per period per tier), errorRate (failed / finished, 0..1), queueDepth, lambdaDuration
 * (with each function's timeout as a threshold), lambdaThrottles, lambdaErrors, ecsCpu. Panels a source cannot answer
 * (Lambda or ECS panels from local metrics) come back with `available: false` and a `note`, never an error, so a
 * dashboard can draw the same grid with or without an AWS account.
 *
 * Everything here is pure (no Node, no AWS): the local source and the tests feed `aggregateRecords` with
 * `MetricRecord`s; the CloudWatch source maps GetMetricData results to the same `Series`.
 */
import { z } from 'zod';
import { TiercastError } from './errors.ts';
import { TIERS, type Tier } from './job.ts';
import type { AbortSignalLike } from './abort.ts';

export const METRICS_NAMESPACE = 'Tiercast';
export const TIER_DIMENSION = 'Tier';

/** Units CloudWatch accepts in EMF (a subset: the ones Tiercast uses). */
export type MetricUnit = 'Seconds' | 'Milliseconds' | 'Count' | 'Bytes' | 'Percent' | 'None';

/**
 * The job metrics of the issue, plus QueueDepth: a gauge the local agent emits so the local dashboard can show a
 * queue (on AWS queue depth comes from AWS/SQS instead).
 */
export const METRIC_NAMES = [
  'JobLatencySeconds',
  'QueueWaitSeconds',
  'EncodeSeconds',
  'JobCostUSD',
  'JobsSucceeded',
  'JobsFailed',
  'BytesIn',
  'BytesOut',
  'QueueDepth',
  /** A webhook delivery that used every attempt (cloud/lambda/job-events.ts); emitted without dimensions, for one alarm. */
  'WebhookDeliveryFailed',
] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

/** CloudWatch has no currency unit: money is `None`, in USD (CONVENTIONS.md). */
export const METRIC_UNITS: Readonly<Record<MetricName, MetricUnit>> = {
  JobLatencySeconds: 'Seconds',
  QueueWaitSeconds: 'Seconds',
  EncodeSeconds: 'Seconds',
  JobCostUSD: 'None',
  JobsSucceeded: 'Count',
  JobsFailed: 'Count',
  BytesIn: 'Bytes',
  BytesOut: 'Bytes',
  QueueDepth: 'Count',
  WebhookDeliveryFailed: 'Count',
};

export function isMetricName(value: unknown): value is MetricName {
  return typeof value === 'string' && (METRIC_NAMES as readonly string[]).includes(value);
}

/** Where workers report. `emit` never throws: metrics must not fail a job. */
export interface MetricsSink {
  emit(tier: Tier, values: Partial<Record<MetricName, number>>, extra?: { readonly jobId?: string }): void;
}

/** For callers that were given no sink. */
export const noopMetrics: MetricsSink = { emit: () => {} };

/** One emitted EMF document, as the local source reads it back. */
export interface MetricRecord {
  /** Epoch milliseconds (EMF `_aws.Timestamp`). */
  readonly timestamp: number;
  readonly tier: Tier;
  readonly values: Partial<Record<MetricName, number>>;
  readonly jobId?: string;
}

/**
 * Reads one EMF line written by Tiercast back into a record; null for anything else (another namespace, a torn last
 * line of a file being appended to, a non-EMF log line), so a reader can skip it.
 */
export function parseEmfLine(line: string, namespace: string = METRICS_NAMESPACE): MetricRecord | null {
  const text = line.trim();
  if (!text.startsWith('{')) return null;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof doc !== 'object' || doc === null) return null;
  const root = doc as Record<string, unknown>;
  const aws = root._aws as { Timestamp?: unknown; CloudWatchMetrics?: unknown } | undefined;
  if (!aws || typeof aws.Timestamp !== 'number' || !Array.isArray(aws.CloudWatchMetrics)) return null;
  const directive = (aws.CloudWatchMetrics as Array<{ Namespace?: unknown; Metrics?: unknown }>).find((d) => d?.Namespace === namespace);
  if (!directive || !Array.isArray(directive.Metrics)) return null;
  const tier = root[TIER_DIMENSION];
  if (typeof tier !== 'string' || !(TIERS as readonly string[]).includes(tier)) return null;
  const values: Partial<Record<MetricName, number>> = {};
  for (const m of directive.Metrics as Array<{ Name?: unknown }>) {
    const name = m?.Name;
    const v = typeof name === 'string' ? root[name] : undefined;
    if (isMetricName(name) && typeof v === 'number' && Number.isFinite(v)) values[name] = v;
  }
  const jobId = typeof root.jobId === 'string' ? root.jobId : undefined;
  return { timestamp: aws.Timestamp, tier: tier as Tier, values, ...(jobId ? { jobId } : {}) };
}

// ---------------------------------------------------------------------------------------------------------------
// The query contract

/** A time range and the width of one data point. Timestamps are ISO-8601 UTC; `to` is exclusive. */
export type MetricsQuery = { from: string; to: string; periodSec: number };

export const PANELS = [
  'latency',
  'cost',
  'throughput',
  'errorRate',
  'queueDepth',
  'lambdaDuration',
  'lambdaThrottles',
  'lambdaErrors',
  'ecsCpu',
] as const;
export type PanelKind = (typeof PANELS)[number];

export type SeriesUnit = MetricUnit | 'USD' | 'Ratio';
export type SeriesStat = 'p50' | 'p95' | 'p99' | 'Sum' | 'Average' | 'Maximum' | 'Ratio';

export interface Point {
  /** Start of the period, ISO-8601 UTC. */
  readonly t: string;
  readonly v: number;
}

export interface Series {
  /** Stable id, e.g. `latency_lambda_enhanced_p95` (also the GetMetricData query id on CloudWatch). */
  readonly id: string;
  readonly label: string;
  /** The tier the line belongs to; null for AWS resources (a queue, a function, the cluster). */
  readonly tier: Tier | null;
  readonly stat: SeriesStat;
  readonly unit: SeriesUnit;
  /** Ascending by time; periods without data are absent (not zero). */
  readonly points: readonly Point[];
}

export interface Threshold {
  readonly label: string;
  readonly value: number;
  readonly unit: SeriesUnit;
}

export interface PanelResult {
  readonly panel: PanelKind;
  /** The query actually answered (the cost panel always uses one UTC day per point). */
  readonly query: MetricsQuery;
  readonly series: readonly Series[];
  readonly thresholds: readonly Threshold[];
  /** False when this source cannot answer the panel at all (e.g. Lambda metrics without AWS). */
  readonly available: boolean;
  readonly note?: string;
}

export interface MetricsSource {
  readonly kind: 'local' | 'cloudwatch';
  /** Throws TiercastError: CONFIG_INVALID for a bad range, THROTTLED / INTERNAL for a failing backend. */
  query(panel: PanelKind, range: MetricsQuery, options?: { readonly signal?: AbortSignalLike }): Promise<PanelResult>;
}

export const DAY_SEC = 86_400;
/** CloudWatch returns at most 100,800 points per call; a dashboard never needs more than this per line. */
export const MAX_POINTS_PER_SERIES = 10_080;

const MetricsQuerySchema = z.object({
  from: z.iso.datetime({ offset: true }),
  to: z.iso.datetime({ offset: true }),
  // Standard-resolution EMF metrics are stored per minute: a shorter or unaligned period answers nothing useful.
  periodSec: z.number().int().min(60).refine((p) => p % 60 === 0, 'must be a multiple of 60'),
});

/**
 * Checks a query, rounds `from` down to the minute, and fixes the period for panels that have their own
 * (cost: whole UTC days, `from` and `to` widened to midnight).
 */
export function normalizeQuery(panel: PanelKind, range: MetricsQuery): MetricsQuery {
  const parsed = MetricsQuerySchema.safeParse(range);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TiercastError('CONFIG_INVALID', `metrics query: ${issue?.path.join('.') || 'range'}: ${issue?.message ?? 'invalid'}`);
  }
  const rawFrom = Date.parse(parsed.data.from);
  const rawTo = Date.parse(parsed.data.to);
  if (!(rawTo > rawFrom)) throw new TiercastError('CONFIG_INVALID', `metrics query: "to" (${range.to}) must be after "from" (${range.from})`);
  const periodSec = panel === 'cost' ? DAY_SEC : parsed.data.periodSec;
  const align = (panel === 'cost' ? DAY_SEC : 60) * 1000;
  const from = Math.floor(rawFrom / align) * align;
  const to = panel === 'cost' ? Math.ceil(rawTo / align) * align : rawTo;
  const points = Math.ceil((to - from) / 1000 / periodSec);
  if (points > MAX_POINTS_PER_SERIES) {
    throw new TiercastError('CONFIG_INVALID', `metrics query: ${points} points per line; widen periodSec (at most ${MAX_POINTS_PER_SERIES})`);
  }
  return { from: new Date(from).toISOString(), to: new Date(to).toISOString(), periodSec };
}

/**
 * One point per line over the whole range (for summary tables: "p95 latency this week, per tier"): the period is
 * the range's length rounded up to whole minutes.
 */
export function wholeRangeQuery(from: string, to: string): MetricsQuery {
  const seconds = Math.max(60, Math.ceil((Date.parse(to) - Date.parse(from)) / 60_000) * 60);
  return { from, to, periodSec: seconds };
}

// ---------------------------------------------------------------------------------------------------------------
// Pure aggregation (the local source; also the reference the CloudWatch mapping is tested against)

/**
 * Nearest-rank percentile (the smallest value with at least p% of values at or below it): always one of the
 * observed values, so "p95 latency was 41 s" names a job that really took 41 s. CloudWatch's own percentiles are
 * approximations of the same definition.
 */
export function percentile(sortedAscending: readonly number[], p: number): number {
  if (sortedAscending.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sortedAscending.length));
  return sortedAscending[Math.min(rank, sortedAscending.length) - 1]!;
}

/**
 * Periods start at the query's `from` and follow each other, as GetMetricData lays them out from StartTime;
 * normalizeQuery rounds `from` down to the minute (to the UTC day for cost), so both sources agree.
 */
export function periodStart(timestampMs: number, periodSec: number, originMs = 0): number {
  const p = periodSec * 1000;
  return originMs + Math.floor((timestampMs - originMs) / p) * p;
}

/** Key for ids: GetMetricData ids allow only [a-zA-Z0-9_] and must start with a lowercase letter. */
export function tierKey(tier: Tier): string {
  return tier.replace(/-/g, '_');
}

const LATENCY_STATS = ['p50', 'p95', 'p99'] as const;

function bucketBy(records: readonly MetricRecord[], query: MetricsQuery, metric: MetricName): Map<Tier, Map<number, number[]>> {
  const from = Date.parse(query.from);
  const to = Date.parse(query.to);
  const byTier = new Map<Tier, Map<number, number[]>>();
  for (const r of records) {
    const v = r.values[metric];
    if (v === undefined || r.timestamp < from || r.timestamp >= to) continue;
    let buckets = byTier.get(r.tier);
    if (!buckets) byTier.set(r.tier, (buckets = new Map()));
    const start = periodStart(r.timestamp, query.periodSec, from);
    const list = buckets.get(start);
    if (list) list.push(v);
    else buckets.set(start, [v]);
  }
  return byTier;
}

function pointsOf(buckets: Map<number, number[]>, reduce: (values: number[]) => number): Point[] {
  return [...buckets.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([start, values]) => ({ t: new Date(start).toISOString(), v: reduce(values) }));
}

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

function tiersInOrder<T>(map: Map<Tier, T>): Tier[] {
  return TIERS.filter((t) => map.has(t));
}

/** Per-tier sums of a counter, one series per tier with data. */
function sumSeries(records: readonly MetricRecord[], query: MetricsQuery, metric: MetricName, prefix: string, label: string, unit: SeriesUnit): Series[] {
  const byTier = bucketBy(records, query, metric);
  return tiersInOrder(byTier).map((tier) => ({
    id: `${prefix}_${tierKey(tier)}`,
    label: `${label} (${tier})`,
    tier,
    stat: 'Sum' as const,
    unit,
    points: pointsOf(byTier.get(tier)!, sum),
  }));
}

/**
 * Finished jobs and error rate from per-tier succeeded/failed sums. Shared by both sources so "error rate" means the
 * same thing everywhere: failed / (succeeded + failed) in a period, absent when nothing finished.
 */
export function combineOutcomes(
  kind: 'throughput' | 'errorRate',
  succeeded: ReadonlyMap<Tier, readonly Point[]>,
  failed: ReadonlyMap<Tier, readonly Point[]>,
): Series[] {
  const out: Series[] = [];
  for (const tier of TIERS) {
    const ok = succeeded.get(tier) ?? [];
    const bad = failed.get(tier) ?? [];
    if (ok.length === 0 && bad.length === 0) continue;
    const cells = new Map<string, { ok: number; bad: number }>();
    for (const p of ok) cells.set(p.t, { ok: p.v, bad: cells.get(p.t)?.bad ?? 0 });
    for (const p of bad) cells.set(p.t, { ok: cells.get(p.t)?.ok ?? 0, bad: p.v });
    const points: Point[] = [];
    for (const [t, c] of [...cells.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
      const total = c.ok + c.bad;
      if (kind === 'throughput') points.push({ t, v: total });
      else if (total > 0) points.push({ t, v: c.bad / total });
    }
    out.push(
      kind === 'throughput'
        ? { id: `throughput_${tierKey(tier)}`, label: `jobs finished (${tier})`, tier, stat: 'Sum', unit: 'Count', points }
        : { id: `error_rate_${tierKey(tier)}`, label: `error rate (${tier})`, tier, stat: 'Ratio', unit: 'Ratio', points },
    );
  }
  return out;
}

const CLOUD_ONLY_NOTE = 'only available from CloudWatch (needs an AWS account and the deployed stack)';

/** Answers a panel from records read back from local EMF files. */
export function aggregateRecords(records: readonly MetricRecord[], panel: PanelKind, range: MetricsQuery): PanelResult {
  const query = normalizeQuery(panel, range);
  const base = { panel, query, thresholds: [] as Threshold[], available: true };
  switch (panel) {
    case 'latency': {
      const byTier = bucketBy(records, query, 'JobLatencySeconds');
      const series: Series[] = [];
      for (const tier of tiersInOrder(byTier)) {
        const buckets = [...byTier.get(tier)!.entries()].sort((a, b) => a[0] - b[0]).map(([start, values]) => [start, [...values].sort((x, y) => x - y)] as const);
        for (const stat of LATENCY_STATS) {
          const p = Number(stat.slice(1));
          series.push({
            id: `latency_${tierKey(tier)}_${stat}`,
            label: `${stat} latency (${tier})`,
            tier,
            stat,
            unit: 'Seconds',
            points: buckets.map(([start, sorted]) => ({ t: new Date(start).toISOString(), v: percentile(sorted, p) })),
          });
        }
      }
      return { ...base, series };
    }
    case 'cost':
      return { ...base, series: sumSeries(records, query, 'JobCostUSD', 'cost', 'cost per day', 'USD') };
    case 'throughput':
    case 'errorRate': {
      const toMap = (metric: MetricName) => {
        const byTier = bucketBy(records, query, metric);
        return new Map(tiersInOrder(byTier).map((t) => [t, pointsOf(byTier.get(t)!, sum)] as const));
      };
      return { ...base, series: combineOutcomes(panel, toMap('JobsSucceeded'), toMap('JobsFailed')) };
    }
    case 'queueDepth': {
      const byTier = bucketBy(records, query, 'QueueDepth');
      const series = tiersInOrder(byTier).map((tier) => ({
        id: `queue_depth_${tierKey(tier)}`,
        label: `queue depth (${tier})`,
        tier,
        stat: 'Maximum' as const,
        unit: 'Count' as const,
        points: pointsOf(byTier.get(tier)!, (v) => Math.max(...v)),
      }));
      return { ...base, series };
    }
    case 'lambdaDuration':
    case 'lambdaThrottles':
    case 'lambdaErrors':
    case 'ecsCpu':
      return { ...base, series: [], available: false, note: `${panel}: ${CLOUD_ONLY_NOTE}` };
  }
}
