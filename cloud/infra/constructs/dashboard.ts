import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { CLOUD_TIERS, jobMetric } from './alarms.ts';
import { LAMBDA_ENHANCED, LAMBDA_STANDARD } from './lambda-tiers.ts';

export interface DashboardProps {
  readonly functions: lambda.IFunction[];
  readonly queues: { normal: sqs.IQueue; high: sqs.IQueue; deadLetters: sqs.IQueue };
  readonly ecsCpu: cloudwatch.IMetric;
  readonly alarms: cloudwatch.IAlarm[];
}

/** Latency, cost, throughput, queue depth, ECS CPU, Lambda duration / throttles / errors, and every alarm's state. */
export class Dashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: DashboardProps) {
    super(scope, id);
    const hour = Duration.hours(1);
    const fiveMinutes = Duration.minutes(5);
    const { functions } = props;
    this.dashboard = new cloudwatch.Dashboard(scope, 'Dashboard', { defaultInterval: Duration.days(7) });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Job latency p50 / p95 / p99 (s)',
        width: 12,
        left: CLOUD_TIERS.flatMap((t) => ['p50', 'p95', 'p99'].map((s) => jobMetric('JobLatencySeconds', t, s, hour).with({ label: `${t} ${s}` }))),
      }),
      new cloudwatch.GraphWidget({
        title: 'Cost per tier per day (USD)',
        width: 12,
        stacked: true,
        left: CLOUD_TIERS.map((t) => jobMetric('JobCostUSD', t, 'Sum', Duration.days(1)).with({ label: t })),
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Jobs finished per hour',
        width: 8,
        stacked: true,
        left: CLOUD_TIERS.flatMap((t) => [jobMetric('JobsSucceeded', t, 'Sum', hour).with({ label: `${t} ok` }), jobMetric('JobsFailed', t, 'Sum', hour).with({ label: `${t} failed` })]),
      }),
      new cloudwatch.GraphWidget({
        title: 'Queue depth',
        width: 8,
        left: [props.queues.normal, props.queues.high, props.queues.deadLetters].map((q, i) =>
          q.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: fiveMinutes, label: ['normal', 'high', 'dead letters'][i]! }),
        ),
      }),
      new cloudwatch.GraphWidget({ title: 'ECS CPU % (Container Insights)', width: 8, left: [props.ecsCpu], leftAnnotations: [{ value: 80, label: 'alarm' }] }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Lambda duration against timeout (ms)',
        width: 8,
        left: functions.map((f) => f.metricDuration({ statistic: 'Maximum', period: fiveMinutes })),
        leftAnnotations: [
          { value: LAMBDA_STANDARD.timeoutSec * 1000, label: 'lambda timeout' },
          { value: LAMBDA_ENHANCED.timeoutSec * 1000, label: 'lambda-enhanced timeout' },
        ],
      }),
      new cloudwatch.GraphWidget({ title: 'Lambda throttles (admission caps reached)', width: 8, left: functions.map((f) => f.metricThrottles({ statistic: 'Sum', period: fiveMinutes })) }),
      new cloudwatch.GraphWidget({ title: 'Lambda errors', width: 8, left: functions.map((f) => f.metricErrors({ statistic: 'Sum', period: fiveMinutes })) }),
    );
    this.dashboard.addWidgets(new cloudwatch.AlarmStatusWidget({ title: 'Alarms', width: 24, alarms: props.alarms }));
  }
}
