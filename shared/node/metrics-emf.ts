import {
  METRICS_NAMESPACE,
  METRIC_UNITS,
  TIER_DIMENSION,
  isMetricName,
  type MetricName,
  type MetricsSink,
} from '../common/metrics-query.ts';
import type { Tier } from '../common/job.ts';

export type { MetricsSink, MetricName };

/**
 * CloudWatch Embedded Metric Format writer (AWS docs: "Specification: Embedded metric format"): one JSON object per
 * line, `_aws.Timestamp` in epoch milliseconds, one MetricDirective naming the namespace, the dimension set [["Tier"]]
 * and each metric with its unit; the dimension and metric values are root members. jobId is a plain root member:
 * searchable in Logs Insights, but not a dimension (a dimension per job would create a metric per job).
 *
 * On Lambda and Fargate the sink is stdout (CloudWatch Logs extracts the metrics); locally it is the metrics folder
 * (shared/node/local-metrics.ts). The same line serves both, so the local dashboard reads exactly what AWS would.
 */
export interface EmfOptions {
  /** Receives one complete JSON line (no trailing newline). */
  readonly sink: (line: string) => void;
  readonly namespace?: string;
  readonly now?: () => number;
  /** Called when a sink throws; metrics never fail a job. */
  readonly onError?: (err: unknown) => void;
}

/**
 * EMF allows at most 100 metrics per directive; Tiercast has fewer, so one directive always suffices. A null tier
 * makes a metric without dimensions (an empty dimension set): for counts that are not about one tier, such as
 * WebhookDeliveryFailed, so one alarm covers them.
 */
export function buildEmfDocument(
  namespace: string,
  timestamp: number,
  tier: Tier | null,
  values: Partial<Record<MetricName, number>>,
  extra: { readonly jobId?: string } = {},
): Record<string, unknown> | null {
  const metrics: Array<{ Name: MetricName; Unit: string }> = [];
  const members: Record<string, number> = {};
  for (const [name, value] of Object.entries(values)) {
    // CloudWatch rejects the whole document for a NaN/Infinity value; drop the bad member, keep the rest.
    if (!isMetricName(name) || typeof value !== 'number' || !Number.isFinite(value)) continue;
    metrics.push({ Name: name, Unit: METRIC_UNITS[name] });
    members[name] = value;
  }
  if (metrics.length === 0) return null;
  return {
    _aws: {
      Timestamp: Math.round(timestamp),
      CloudWatchMetrics: [{ Namespace: namespace, Dimensions: [tier === null ? [] : [TIER_DIMENSION]], Metrics: metrics }],
    },
    ...(tier === null ? {} : { [TIER_DIMENSION]: tier }),
    ...(extra.jobId ? { jobId: extra.jobId } : {}),
    ...members,
  };
}

export function createEmfMetrics(options: EmfOptions): MetricsSink {
  const namespace = options.namespace ?? METRICS_NAMESPACE;
  const now = options.now ?? Date.now;
  return {
    emit(tier, values, extra) {
      const doc = buildEmfDocument(namespace, now(), tier, values, extra);
      if (!doc) return;
      try {
        options.sink(JSON.stringify(doc));
      } catch (err) {
        options.onError?.(err);
      }
    },
  };
}

/**
 * stdout sink for Lambda and Fargate. A single write per line: the Lambda runtime turns each stdout line into its own
 * log event only when the line arrives whole.
 */
export function stdoutSink(stream: NodeJS.WritableStream = process.stdout): (line: string) => void {
  return (line) => {
    stream.write(`${line}\n`);
  };
}

/** Sends each emit to several sinks (e.g. stdout and the local metrics folder). */
export function teeMetrics(...sinks: readonly MetricsSink[]): MetricsSink {
  return {
    emit(tier, values, extra) {
      for (const s of sinks) {
        try {
          s.emit(tier, values, extra);
        } catch {
          // A sink that breaks its no-throw promise still must not fail the job or starve the other sinks.
        }
      }
    },
  };
}
