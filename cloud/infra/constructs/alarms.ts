import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as snsSubs from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { Tier } from '../../../shared/common/job.ts';
import { METRICS_NAMESPACE, TIER_DIMENSION } from '../../../shared/common/metrics-query.ts';

export const CLOUD_TIERS: readonly Tier[] = ['lambda', 'lambda-enhanced', 'fargate', 'fargate-spot', 'ec2'];
const DEFAULT_P95_ALARM_SEC: Record<Tier, number> = { local: 3600, lambda: 100, 'lambda-enhanced': 540, fargate: 3600, 'fargate-spot': 3600, ec2: 3600 };
/** The job-events function's EMF metric for a webhook that failed after its retries (namespace Tiercast, no dimensions). */
export const WEBHOOK_FAILED_METRIC = 'WebhookDeliveryFailed';

export const cfnId = (tier: Tier) => tier.replace(/(^|-)(\w)/g, (_m, _d, c: string) => c.toUpperCase());
export const jobMetric = (metricName: string, tier: Tier, statistic: string, period: Duration) =>
  new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { [TIER_DIMENSION]: tier }, statistic, period });

export interface AlarmsProps {
  readonly clusterName: string;
  readonly transcodeFunctions: lambda.IFunction[];
  /** The escalation function: its sweep runs every minute. */
  readonly sweep: lambda.IFunction;
  readonly deadLetterQueue: sqs.IQueue;
  /** The job-events function's on-failure queue. */
  readonly eventFailures: sqs.IQueue;
  readonly alarmEmail?: string;
  /** Also POST alarms to the job webhook (an SNS HTTPS subscription the receiver must confirm). */
  readonly alarmWebhookUrl?: string;
  readonly latencyP95AlarmSec?: Partial<Record<Tier, number>>;
  readonly failureRateAlarm?: number;
}

/** Every alarm publishes to one SNS topic (email and/or the webhook subscribe to it). */
export class Alarms extends Construct {
  readonly topic: sns.Topic;
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly ecsCpu: cloudwatch.MathExpression;

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id);
    this.topic = new sns.Topic(scope, 'AlarmTopic', { displayName: 'Tiercast alarms', enforceSSL: true });
    if (props.alarmEmail) this.topic.addSubscription(new snsSubs.EmailSubscription(props.alarmEmail));
    if (props.alarmWebhookUrl) this.topic.addSubscription(new snsSubs.UrlSubscription(props.alarmWebhookUrl, { protocol: sns.SubscriptionProtocol.HTTPS }));
    const fiveMinutes = Duration.minutes(5);
    this.ecsCpu = new cloudwatch.MathExpression({
      expression: '100 * used / reserved',
      label: 'ECS CPU %',
      period: fiveMinutes,
      usingMetrics: {
        used: new cloudwatch.Metric({ namespace: 'ECS/ContainerInsights', metricName: 'CpuUtilized', dimensionsMap: { ClusterName: props.clusterName }, statistic: 'Sum', period: fiveMinutes }),
        reserved: new cloudwatch.Metric({ namespace: 'ECS/ContainerInsights', metricName: 'CpuReserved', dimensionsMap: { ClusterName: props.clusterName }, statistic: 'Sum', period: fiveMinutes }),
      },
    });
    const atLeastOne = { threshold: 1, comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD, evaluationPeriods: 1 };
    this.add('EcsCpuHigh', {
      alarmDescription: 'Fargate workers above 80% of their reserved CPU for 15 minutes',
      metric: this.ecsCpu,
      threshold: 80,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
    });
    const [standard, enhanced] = props.transcodeFunctions;
    for (const [cid, fn] of [['LambdaStandardErrors', standard!], ['LambdaEnhancedErrors', enhanced!]] as const) {
      this.add(cid, { alarmDescription: 'Lambda invocations failing (handler crashed or timed out, not a classified job failure)', metric: fn.metricErrors({ period: fiveMinutes, statistic: 'Sum' }), ...atLeastOne });
    }
    this.add('EscalationErrors', {
      alarmDescription: 'The escalation function (the every-minute sweep, destination records) is failing: due retries, stuck and queued jobs may not move',
      metric: props.sweep.metricErrors({ period: fiveMinutes, statistic: 'Sum' }),
      ...atLeastOne,
    });
    this.add('DeadLetterQueueNotEmpty', {
      alarmDescription: 'Jobs gave up after 3 receives: look at them before they expire (14 days)',
      metric: props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: fiveMinutes, statistic: 'Maximum' }),
      ...atLeastOne,
    });
    this.add('WebhookDeliveryFailed', {
      alarmDescription: 'Webhook deliveries failed after their retries (job-events function, metric WebhookDeliveryFailed)',
      metric: new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName: WEBHOOK_FAILED_METRIC, statistic: 'Sum', period: fiveMinutes }),
      ...atLeastOne,
    });
    this.add('JobEventsFailed', {
      alarmDescription: 'Job table stream batches the job-events function gave up on: their events and webhooks were not delivered',
      metric: props.eventFailures.metricApproximateNumberOfMessagesVisible({ period: fiveMinutes, statistic: 'Maximum' }),
      ...atLeastOne,
    });
    const fifteenMinutes = Duration.minutes(15);
    const rate = props.failureRateAlarm ?? 0.2;
    for (const tier of CLOUD_TIERS) {
      this.add(`FailureRate${cfnId(tier)}`, {
        alarmDescription: `More than ${Math.round(rate * 100)}% of ${tier} jobs failed in 15 minutes`,
        metric: new cloudwatch.MathExpression({
          expression: 'IF((FILL(ok, 0) + FILL(failed, 0)) > 0, FILL(failed, 0) / (FILL(ok, 0) + FILL(failed, 0)), 0)',
          label: `${tier} failure rate`,
          period: fifteenMinutes,
          usingMetrics: { ok: jobMetric('JobsSucceeded', tier, 'Sum', fifteenMinutes), failed: jobMetric('JobsFailed', tier, 'Sum', fifteenMinutes) },
        }),
        threshold: rate,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
      });
      const p95 = props.latencyP95AlarmSec?.[tier] ?? DEFAULT_P95_ALARM_SEC[tier];
      this.add(`LatencyP95${cfnId(tier)}`, {
        alarmDescription: `p95 job latency on ${tier} above ${p95} s for 30 minutes`,
        metric: jobMetric('JobLatencySeconds', tier, 'p95', fifteenMinutes),
        threshold: p95,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 2,
      });
    }
  }

  private add(cid: string, alarmProps: cloudwatch.AlarmProps): cloudwatch.Alarm {
    // Alarms keep their logical IDs (stack scope): a rename would drop their history.
    const alarm = new cloudwatch.Alarm(this.node.scope!, cid, { treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING, ...alarmProps });
    alarm.addAlarmAction(new cwActions.SnsAction(this.topic));
    this.alarms.push(alarm);
    return alarm;
  }
}
