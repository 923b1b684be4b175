import {
  GetMetricDataCommand,
  PutMetricDataCommand,
  CloudWatchClient,
  type GetMetricDataCommandOutput,
  type MetricDataQuery,
  type MetricDatum,
  type StandardUnit,
} from '@aws-sdk/client-cloudwatch';
import type { TiercastConfig } from '../shared/common/config-schema.ts';
import { TiercastError } from '../shared/common/errors.ts';
import { TIERS, type Tier } from '../shared/common/job.ts';
import {
  METRICS_NAMESPACE,
  METRIC_UNITS,
  TIER_DIMENSION,
  combineOutcomes,
  isMetricName,
  type MetricsSink,
  normalizeQuery,
  tierKey,
  type MetricsQuery,
  type MetricsSource,
  type PanelKind,
  type PanelResult,
  type Point,
  type Series,
  type SeriesStat,
  type SeriesUnit,
  type Threshold,
} from '../shared/common/metrics-query.ts';

/**
 * The dashboards' MetricsSource on AWS: each panel becomes one GetMetricData call (paged with NextToken), and the
 * results are mapped to the same Series the local source returns (contract: shared/common/metrics-query.ts).
 *
 * ECS CPU: AWS/ECS CPUUtilization by ClusterName alone only covers the EC2 launch type, and by ServiceName only
 * services; Tiercast's Fargate jobs are standalone RunTask tasks. Container Insights (enabled on the cluster by the
 * stack) publishes ECS/ContainerInsights CpuUtilized and CpuReserved per cluster for every task, so the panel is
 * 100 * used / reserved as a metric-math expression.
 */
export interface CloudWatchMetricsOptions {
  /** The caller builds the client (region, credentials from the default chain); this adapter never does. */
  readonly client: Pick<CloudWatchClient, 'send'>;
  readonly namespace?: string;
  /** Lambda function names (LAMBDA_FUNCTION_NAME, LAMBDA_FUNCTION_NAME_ENHANCED). */
  readonly lambdaFunctionNames?: readonly string[];
  /** Configured timeout per function name, drawn as a threshold on the duration panel. */
  readonly lambdaTimeoutsSec?: Readonly<Record<string, number>>;
  /** ECS cluster name (ECS_CLUSTER_NAME). */
  readonly ecsCluster?: string;
  /** SQS queue name(s) whose backlog the queue-depth panel shows. */
  readonly queueName?: string | readonly string[];
  /** Tiers that report to CloudWatch (default: all but local). */
  readonly tiers?: readonly Tier[];
}

interface SeriesMeta {
  readonly label: string;
  readonly tier: Tier | null;
  readonly stat: SeriesStat;
  readonly unit: SeriesUnit;
}

/** What one panel asks CloudWatch, and how the answer becomes series. */
export interface PanelPlan {
  readonly queries: MetricDataQuery[];
  readonly thresholds: Threshold[];
  /** Set when the source is not configured for this panel: no call is made. */
  readonly unavailable?: string;
  finish(results: ReadonlyMap<string, Point[]>): Series[];
}

const SDK_PAGE_LIMIT = 500; // MetricDataQueries per GetMetricData call

export function planPanel(panel: PanelKind, query: MetricsQuery, options: Omit<CloudWatchMetricsOptions, 'client'>): PanelPlan {
  const ns = options.namespace ?? METRICS_NAMESPACE;
  const tiers = options.tiers ?? TIERS.filter((t) => t !== 'local');
  const period = query.periodSec;
  const functions = options.lambdaFunctionNames ?? [];
  const queues = options.queueName === undefined ? [] : typeof options.queueName === 'string' ? [options.queueName] : options.queueName;
  const meta = new Map<string, SeriesMeta>();
  const queries: MetricDataQuery[] = [];
  const thresholds: Threshold[] = [];

  const stat = (id: string, namespace: string, metricName: string, dimensions: Record<string, string>, statName: string, m: SeriesMeta | null) => {
    queries.push({
      Id: id,
      MetricStat: {
        Metric: { Namespace: namespace, MetricName: metricName, Dimensions: Object.entries(dimensions).map(([Name, Value]) => ({ Name, Value })) },
        Period: period,
        Stat: statName,
      },
      ...(m ? { Label: m.label } : {}),
      ReturnData: m !== null,
    });
    if (m) meta.set(id, m);
  };
  const directSeries = (results: ReadonlyMap<string, Point[]>): Series[] =>
    [...meta.entries()].map(([id, m]) => ({ id, ...m, points: results.get(id) ?? [] }));
  const plan = (finish: PanelPlan['finish'] = directSeries): PanelPlan => ({ queries, thresholds, finish });
  const unavailable = (why: string): PanelPlan => ({ queries: [], thresholds: [], unavailable: why, finish: () => [] });

  switch (panel) {
    case 'latency':
      for (const tier of tiers) {
        for (const p of ['p50', 'p95', 'p99'] as const) {
          stat(`latency_${tierKey(tier)}_${p}`, ns, 'JobLatencySeconds', { [TIER_DIMENSION]: tier }, p, { label: `${p} latency (${tier})`, tier, stat: p, unit: 'Seconds' });
        }
      }
      return plan();
    case 'cost':
      for (const tier of tiers) {
        stat(`cost_${tierKey(tier)}`, ns, 'JobCostUSD', { [TIER_DIMENSION]: tier }, 'Sum', { label: `cost per day (${tier})`, tier, stat: 'Sum', unit: 'USD' });
      }
      return plan();
    case 'throughput':
    case 'errorRate': {
      for (const tier of tiers) {
        stat(`ok_${tierKey(tier)}`, ns, 'JobsSucceeded', { [TIER_DIMENSION]: tier }, 'Sum', null);
        stat(`failed_${tierKey(tier)}`, ns, 'JobsFailed', { [TIER_DIMENSION]: tier }, 'Sum', null);
      }
      // Both counters come back raw and are combined here, so both sources share combineOutcomes.
      for (const q of queries) q.ReturnData = true;
      return plan((results) => {
        const pick = (prefix: string) => new Map(tiers.map((t) => [t, results.get(`${prefix}_${tierKey(t)}`) ?? []] as const));
        return combineOutcomes(panel, pick('ok'), pick('failed'));
      });
    }
    case 'queueDepth':
      if (queues.length === 0) return unavailable('queueDepth: no queue name configured');
      queues.forEach((name, i) =>
        stat(`queue_${i}_visible`, 'AWS/SQS', 'ApproximateNumberOfMessagesVisible', { QueueName: name }, 'Maximum', { label: `visible messages (${name})`, tier: null, stat: 'Maximum', unit: 'Count' }),
      );
      return plan();
    case 'lambdaDuration':
      if (functions.length === 0) return unavailable('lambdaDuration: no Lambda function names configured');
      functions.forEach((fn, i) => {
        stat(`lambda_${i}_duration_avg`, 'AWS/Lambda', 'Duration', { FunctionName: fn }, 'Average', { label: `average duration (${fn})`, tier: null, stat: 'Average', unit: 'Milliseconds' });
        stat(`lambda_${i}_duration_max`, 'AWS/Lambda', 'Duration', { FunctionName: fn }, 'Maximum', { label: `maximum duration (${fn})`, tier: null, stat: 'Maximum', unit: 'Milliseconds' });
        const timeout = options.lambdaTimeoutsSec?.[fn];
        if (timeout !== undefined) thresholds.push({ label: `timeout (${fn})`, value: timeout * 1000, unit: 'Milliseconds' });
      });
      return plan();
    case 'lambdaThrottles':
    case 'lambdaErrors': {
      if (functions.length === 0) return unavailable(`${panel}: no Lambda function names configured`);
      const metric = panel === 'lambdaThrottles' ? 'Throttles' : 'Errors';
      functions.forEach((fn, i) =>
        stat(`lambda_${i}_${metric.toLowerCase()}`, 'AWS/Lambda', metric, { FunctionName: fn }, 'Sum', { label: `${metric.toLowerCase()} (${fn})`, tier: null, stat: 'Sum', unit: 'Count' }),
      );
      return plan();
    }
    case 'ecsCpu': {
      const cluster = options.ecsCluster;
      if (!cluster) return unavailable('ecsCpu: no ECS cluster configured');
      stat('cpu_used', 'ECS/ContainerInsights', 'CpuUtilized', { ClusterName: cluster }, 'Sum', null);
      stat('cpu_reserved', 'ECS/ContainerInsights', 'CpuReserved', { ClusterName: cluster }, 'Sum', null);
      queries.push({ Id: 'ecs_cpu', Expression: '100 * cpu_used / cpu_reserved', Label: `CPU utilization (${cluster})`, ReturnData: true });
      meta.set('ecs_cpu', { label: `CPU utilization (${cluster})`, tier: null, stat: 'Average', unit: 'Percent' });
      thresholds.push({ label: 'alarm', value: 80, unit: 'Percent' });
      return plan();
    }
  }
}

const THROTTLE_NAMES = new Set(['Throttling', 'ThrottlingException', 'LimitExceededException', 'RequestLimitExceeded', 'TooManyRequestsException']);
const AUTH_NAMES = new Set(['AccessDenied', 'AccessDeniedException', 'InvalidClientTokenId', 'ExpiredToken', 'ExpiredTokenException', 'UnrecognizedClientException', 'CredentialsProviderError', 'InvalidSignatureException']);

export function classifyCloudWatchError(err: unknown): TiercastError {
  const name = (err as { name?: string })?.name ?? '';
  const message = (err as Error)?.message ?? String(err);
  const details = { service: 'cloudwatch', awsError: name };
  const op = 'CloudWatch';
  if (name === 'AbortError') return new TiercastError('CANCELLED', 'metrics query cancelled', { cause: err, details });
  if (THROTTLE_NAMES.has(name)) return new TiercastError('THROTTLED', `${op} throttled the request: ${message}`, { cause: err, details });
  if (AUTH_NAMES.has(name)) {
    return new TiercastError('CONFIG_INVALID', `${op} refused the request (${name}): check the AWS credentials and that they allow cloudwatch:GetMetricData / PutMetricData`, { cause: err, details });
  }
  return new TiercastError('INTERNAL', `${op} request failed (${name || 'error'}): ${message}`, { cause: err, details });
}

export function createCloudWatchMetricsSource(options: CloudWatchMetricsOptions): MetricsSource {
  const { client, ...rest } = options;
  return {
    kind: 'cloudwatch',
    async query(panel, range, queryOptions = {}): Promise<PanelResult> {
      const query = normalizeQuery(panel, range);
      const p = planPanel(panel, query, rest);
      if (p.unavailable) return { panel, query, series: [], thresholds: [], available: false, note: p.unavailable };
      const collected = new Map<string, Array<[number, number]>>();
      const messages: string[] = [];
      for (let i = 0; i < p.queries.length; i += SDK_PAGE_LIMIT) {
        const chunk = p.queries.slice(i, i + SDK_PAGE_LIMIT);
        let nextToken: string | undefined;
        do {
          let out: GetMetricDataCommandOutput;
          try {
            out = await client.send(
              new GetMetricDataCommand({
                MetricDataQueries: chunk,
                StartTime: new Date(query.from),
                EndTime: new Date(query.to),
                ScanBy: 'TimestampAscending',
                ...(nextToken ? { NextToken: nextToken } : {}),
              }),
              queryOptions.signal ? { abortSignal: queryOptions.signal as AbortSignal } : {},
            );
          } catch (err) {
            throw classifyCloudWatchError(err);
          }
          for (const r of out.MetricDataResults ?? []) {
            if (!r.Id) continue;
            const list = collected.get(r.Id) ?? [];
            const ts = r.Timestamps ?? [];
            const vs = r.Values ?? [];
            for (let k = 0; k < Math.min(ts.length, vs.length); k++) {
              const v = vs[k]!;
              // Metric math yields NaN/Infinity for empty reserved CPU; such a period has no meaningful value.
              if (Number.isFinite(v)) list.push([ts[k]!.getTime(), v]);
            }
            collected.set(r.Id, list);
            if (r.StatusCode === 'Forbidden' || r.StatusCode === 'InternalError') messages.push(`${r.Id}: ${r.StatusCode}`);
          }
          for (const m of out.Messages ?? []) if (m.Value) messages.push(m.Value);
          nextToken = out.NextToken;
        } while (nextToken);
      }
      const results = new Map<string, Point[]>();
      for (const [id, list] of collected) {
        list.sort((a, b) => a[0] - b[0]);
        results.set(id, list.map(([t, v]) => ({ t: new Date(t).toISOString(), v })));
      }
      return {
        panel,
        query,
        series: p.finish(results),
        thresholds: p.thresholds,
        available: true,
        ...(messages.length ? { note: messages.join('; ') } : {}),
      };
    },
  };
}

/**
 * A MetricsSink that publishes with PutMetricData, for the Fargate entry: CloudWatch Logs extracts EMF from Lambda
 * logs (and from the CloudWatch agent), but not from what the awslogs driver forwards for a Fargate task. Values are
 * buffered and sent by `flush()` (at most 1000 data points per call), once, before the task exits; raw values keep
 * percentile statistics (p95 latency alarms) available.
 */
export interface PutMetricDataSink extends MetricsSink {
  flush(): Promise<void>;
}

export function createPutMetricDataSink(options: {
  readonly client: Pick<CloudWatchClient, 'send'>;
  readonly namespace?: string;
  readonly now?: () => number;
  readonly onError?: (err: TiercastError) => void;
}): PutMetricDataSink {
  const namespace = options.namespace ?? METRICS_NAMESPACE;
  const now = options.now ?? Date.now;
  let pending: MetricDatum[] = [];
  return {
    emit(tier, values) {
      const timestamp = new Date(now());
      for (const [name, value] of Object.entries(values)) {
        if (!isMetricName(name) || typeof value !== 'number' || !Number.isFinite(value)) continue;
        pending.push({ MetricName: name, Dimensions: [{ Name: TIER_DIMENSION, Value: tier }], Timestamp: timestamp, Value: value, Unit: METRIC_UNITS[name] as StandardUnit });
      }
    },
    async flush() {
      const batch = pending;
      pending = [];
      for (let i = 0; i < batch.length; i += 1000) {
        try {
          await options.client.send(new PutMetricDataCommand({ Namespace: namespace, MetricData: batch.slice(i, i + 1000) }));
        } catch (err) {
          options.onError?.(classifyCloudWatchError(err));
        }
      }
    },
  };
}

/**
 * The CloudWatch source's resource names from Tiercast's configuration (LAMBDA_FUNCTION_NAME(_ENHANCED) with their
 * timeouts, ECS_CLUSTER_NAME, the queue URLs' names), so a composition root needs one line:
 * `createCloudWatchMetricsSource({ client, ...cloudWatchOptionsFromConfig(config) })`.
 */
export function cloudWatchOptionsFromConfig(config: Pick<TiercastConfig, 'tiers' | 'queue' | 'metrics'>): Omit<CloudWatchMetricsOptions, 'client'> {
  const { lambda, fargate } = config.tiers;
  const functions: string[] = [];
  const timeouts: Record<string, number> = {};
  if (lambda.functionName) {
    functions.push(lambda.functionName);
    timeouts[lambda.functionName] = lambda.timeoutSec;
  }
  if (lambda.enhancedFunctionName) {
    functions.push(lambda.enhancedFunctionName);
    timeouts[lambda.enhancedFunctionName] = lambda.enhancedTimeoutSec;
  }
  const queueNames =
    config.queue.kind === 'sqs'
      ? [config.queue.url, config.queue.highPriorityUrl].filter((u): u is string => !!u).map((u) => new URL(u).pathname.split('/').filter(Boolean).at(-1)!)
      : [];
  return {
    namespace: config.metrics.namespace,
    lambdaFunctionNames: functions,
    lambdaTimeoutsSec: timeouts,
    ...(fargate.cluster ? { ecsCluster: fargate.cluster } : {}),
    ...(queueNames.length ? { queueName: queueNames } : {}),
  };
}

/**
 * The dashboards' CloudWatch source built from configuration alone (region and profile; credentials from the
 * SDK's default chain), for composition roots that must not import @aws-sdk themselves.
 */
export async function createCloudWatchMetricsSourceFromConfig(
  config: Pick<TiercastConfig, 'tiers' | 'queue' | 'metrics' | 'aws'>,
): Promise<MetricsSource & { close(): void }> {
  const client = new CloudWatchClient({
    ...(config.aws.region ? { region: config.aws.region } : {}),
    ...(config.aws.profile ? { profile: config.aws.profile } : {}),
  });
  const source = createCloudWatchMetricsSource({ client, ...cloudWatchOptionsFromConfig(config) });
  return Object.assign(source, { close: () => client.destroy() });
}
