import { CloudWatchClient, GetMetricDataCommand, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterEach, describe, expect, it } from 'vitest';
import { cloudWatchOptionsFromConfig, createCloudWatchMetricsSource, createPutMetricDataSink } from '../../cloud/cloudwatch-metrics.ts';
import { TiercastError } from '../../shared/common/errors.ts';

const cw = mockClient(CloudWatchClient);
afterEach(() => cw.reset());

const client = new CloudWatchClient({ region: 'eu-west-1', credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' } });
const range = { from: '2026-04-01T00:00:00Z', to: '2026-04-01T03:00:00Z', periodSec: 3600 };
const at = (h: number) => new Date(Date.parse(range.from) + h * 3_600_000);

describe('CloudWatch metrics source', () => {
  it('latency: p50/p95/p99 of JobLatencySeconds per Tier, paged with NextToken, merged and sorted', async () => {
    cw.on(GetMetricDataCommand)
      .resolvesOnce({
        MetricDataResults: [
          { Id: 'latency_lambda_p95', Timestamps: [at(1)], Values: [40], StatusCode: 'PartialData' },
          { Id: 'latency_lambda_enhanced_p50', Timestamps: [at(0)], Values: [200], StatusCode: 'Complete' },
        ],
        NextToken: 'page-2',
      })
      .resolvesOnce({
        MetricDataResults: [{ Id: 'latency_lambda_p95', Timestamps: [at(0)], Values: [30], StatusCode: 'Complete' }],
      });
    const source = createCloudWatchMetricsSource({ client, tiers: ['lambda', 'lambda-enhanced'] });
    const result = await source.query('latency', range);

    const calls = cw.commandCalls(GetMetricDataCommand);
    expect(calls).toHaveLength(2);
    const first = calls[0]!.args[0].input;
    expect(first).toEqual({
      StartTime: new Date('2026-04-01T00:00:00Z'),
      EndTime: new Date('2026-04-01T03:00:00Z'),
      ScanBy: 'TimestampAscending',
      MetricDataQueries: (['lambda', 'lambda-enhanced'] as const).flatMap((tier) =>
        (['p50', 'p95', 'p99'] as const).map((p) => ({
          Id: `latency_${tier.replace('-', '_')}_${p}`,
          Label: `${p} latency (${tier})`,
          ReturnData: true,
          MetricStat: {
            Metric: { Namespace: 'Tiercast', MetricName: 'JobLatencySeconds', Dimensions: [{ Name: 'Tier', Value: tier }] },
            Period: 3600,
            Stat: p,
          },
        })),
      ),
    });
    expect(calls[1]!.args[0].input).toEqual({ ...first, NextToken: 'page-2' });

    expect(result.available).toBe(true);
    expect(result.series).toHaveLength(6);
    const p95 = result.series.find((s) => s.id === 'latency_lambda_p95')!;
    expect(p95).toMatchObject({ tier: 'lambda', stat: 'p95', unit: 'Seconds' });
    expect(p95.points).toEqual([{ t: '2026-04-01T00:00:00.000Z', v: 30 }, { t: '2026-04-01T01:00:00.000Z', v: 40 }]);
    expect(result.series.find((s) => s.id === 'latency_lambda_enhanced_p50')!.points).toEqual([{ t: '2026-04-01T00:00:00.000Z', v: 200 }]);
    expect(result.series.find((s) => s.id === 'latency_lambda_p99')!.points).toEqual([]);
  });

  it('cost: Sum of JobCostUSD per tier per UTC day', async () => {
    cw.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: 'cost_fargate_spot', Timestamps: [new Date('2026-04-01T00:00:00Z')], Values: [1.25] }] });
    const result = await createCloudWatchMetricsSource({ client, namespace: 'Custom', tiers: ['fargate-spot'] }).query('cost', range);
    expect(cw).toHaveReceivedCommandExactlyOnceWith(GetMetricDataCommand, {
      StartTime: new Date('2026-04-01T00:00:00Z'),
      EndTime: new Date('2026-04-02T00:00:00Z'),
      ScanBy: 'TimestampAscending',
      MetricDataQueries: [{
        Id: 'cost_fargate_spot', Label: 'cost per day (fargate-spot)', ReturnData: true,
        MetricStat: { Metric: { Namespace: 'Custom', MetricName: 'JobCostUSD', Dimensions: [{ Name: 'Tier', Value: 'fargate-spot' }] }, Period: 86_400, Stat: 'Sum' },
      }],
    });
    expect(result.query.periodSec).toBe(86_400);
    expect(result.series).toEqual([{ id: 'cost_fargate_spot', label: 'cost per day (fargate-spot)', tier: 'fargate-spot', stat: 'Sum', unit: 'USD', points: [{ t: '2026-04-01T00:00:00.000Z', v: 1.25 }] }]);
  });

  it('error rate: failed / (succeeded + failed) from two Sum queries per tier', async () => {
    cw.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        { Id: 'ok_ec2', Timestamps: [at(0), at(1)], Values: [3, 4] },
        { Id: 'failed_ec2', Timestamps: [at(0), at(2)], Values: [1, 2] },
      ],
    });
    const result = await createCloudWatchMetricsSource({ client, tiers: ['ec2'] }).query('errorRate', range);
    const input = cw.commandCalls(GetMetricDataCommand)[0]!.args[0].input;
    expect(input.MetricDataQueries!.map((q) => [q.Id, q.MetricStat!.Metric!.MetricName, q.MetricStat!.Stat, q.ReturnData])).toEqual([
      ['ok_ec2', 'JobsSucceeded', 'Sum', true],
      ['failed_ec2', 'JobsFailed', 'Sum', true],
    ]);
    expect(result.series).toHaveLength(1);
    expect(result.series[0]!.points).toEqual([
      { t: '2026-04-01T00:00:00.000Z', v: 0.25 },
      { t: '2026-04-01T01:00:00.000Z', v: 0 },
      { t: '2026-04-01T02:00:00.000Z', v: 1 },
    ]);
  });

  it('Lambda duration with timeouts as thresholds, throttles and errors per function', async () => {
    cw.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: 'lambda_1_duration_max', Timestamps: [at(0)], Values: [590_000] }] });
    const source = createCloudWatchMetricsSource({
      client,
      lambdaFunctionNames: ['tiercast-lambda', 'tiercast-lambda-enhanced'],
      lambdaTimeoutsSec: { 'tiercast-lambda': 120, 'tiercast-lambda-enhanced': 600 },
    });
    const duration = await source.query('lambdaDuration', range);
    const q = cw.commandCalls(GetMetricDataCommand)[0]!.args[0].input.MetricDataQueries!;
    expect(q).toEqual([
      ['tiercast-lambda', 0], ['tiercast-lambda-enhanced', 1],
    ].flatMap(([fn, i]) => [
      { Id: `lambda_${i}_duration_avg`, Label: `average duration (${fn})`, ReturnData: true, MetricStat: { Metric: { Namespace: 'AWS/Lambda', MetricName: 'Duration', Dimensions: [{ Name: 'FunctionName', Value: fn }] }, Period: 3600, Stat: 'Average' } },
      { Id: `lambda_${i}_duration_max`, Label: `maximum duration (${fn})`, ReturnData: true, MetricStat: { Metric: { Namespace: 'AWS/Lambda', MetricName: 'Duration', Dimensions: [{ Name: 'FunctionName', Value: fn }] }, Period: 3600, Stat: 'Maximum' } },
    ]));
    expect(duration.thresholds).toEqual([
      { label: 'timeout (tiercast-lambda)', value: 120_000, unit: 'Milliseconds' },
      { label: 'timeout (tiercast-lambda-enhanced)', value: 600_000, unit: 'Milliseconds' },
    ]);
    expect(duration.series.find((s) => s.id === 'lambda_1_duration_max')!.points).toEqual([{ t: '2026-04-01T00:00:00.000Z', v: 590_000 }]);

    cw.resetHistory();
    await source.query('lambdaThrottles', range);
    await source.query('lambdaErrors', range);
    const [throttles, errors] = cw.commandCalls(GetMetricDataCommand).map((c) => c.args[0].input.MetricDataQueries!);
    expect(throttles!.map((x) => [x.Id, x.MetricStat!.Metric!.MetricName, x.MetricStat!.Stat])).toEqual([
      ['lambda_0_throttles', 'Throttles', 'Sum'], ['lambda_1_throttles', 'Throttles', 'Sum'],
    ]);
    expect(errors!.map((x) => [x.Id, x.MetricStat!.Metric!.MetricName])).toEqual([['lambda_0_errors', 'Errors'], ['lambda_1_errors', 'Errors']]);
  });

  it('ECS CPU: Container Insights used/reserved as a metric-math percentage; queue depth from AWS/SQS', async () => {
    cw.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: 'ecs_cpu', Timestamps: [at(0), at(1)], Values: [85, Number.NaN] }] });
    const source = createCloudWatchMetricsSource({ client, ecsCluster: 'tiercast', queueName: ['jobs-high', 'jobs'] });
    const cpu = await source.query('ecsCpu', range);
    expect(cw.commandCalls(GetMetricDataCommand)[0]!.args[0].input.MetricDataQueries).toEqual([
      { Id: 'cpu_used', ReturnData: false, MetricStat: { Metric: { Namespace: 'ECS/ContainerInsights', MetricName: 'CpuUtilized', Dimensions: [{ Name: 'ClusterName', Value: 'tiercast' }] }, Period: 3600, Stat: 'Sum' } },
      { Id: 'cpu_reserved', ReturnData: false, MetricStat: { Metric: { Namespace: 'ECS/ContainerInsights', MetricName: 'CpuReserved', Dimensions: [{ Name: 'ClusterName', Value: 'tiercast' }] }, Period: 3600, Stat: 'Sum' } },
      { Id: 'ecs_cpu', Expression: '100 * cpu_used / cpu_reserved', Label: 'CPU utilization (tiercast)', ReturnData: true },
    ]);
    expect(cpu.series).toEqual([{ id: 'ecs_cpu', label: 'CPU utilization (tiercast)', tier: null, stat: 'Average', unit: 'Percent', points: [{ t: '2026-04-01T00:00:00.000Z', v: 85 }] }]);
    expect(cpu.thresholds).toEqual([{ label: 'alarm', value: 80, unit: 'Percent' }]);

    cw.resetHistory();
    await source.query('queueDepth', range);
    expect(cw.commandCalls(GetMetricDataCommand)[0]!.args[0].input.MetricDataQueries!.map((x) => [x.Id, x.MetricStat!.Metric!.Namespace, x.MetricStat!.Metric!.MetricName, x.MetricStat!.Metric!.Dimensions, x.MetricStat!.Stat])).toEqual([
      ['queue_0_visible', 'AWS/SQS', 'ApproximateNumberOfMessagesVisible', [{ Name: 'QueueName', Value: 'jobs-high' }], 'Maximum'],
      ['queue_1_visible', 'AWS/SQS', 'ApproximateNumberOfMessagesVisible', [{ Name: 'QueueName', Value: 'jobs' }], 'Maximum'],
    ]);
  });

  it('unconfigured panels make no call; SDK errors become classified TiercastErrors', async () => {
    const bare = createCloudWatchMetricsSource({ client });
    for (const panel of ['ecsCpu', 'queueDepth', 'lambdaDuration', 'lambdaThrottles'] as const) {
      expect((await bare.query(panel, range)).available).toBe(false);
    }
    expect(cw.commandCalls(GetMetricDataCommand)).toHaveLength(0);

    cw.on(GetMetricDataCommand).rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }))
      .rejectsOnce(Object.assign(new Error('not authorized'), { name: 'AccessDenied' }));
    const e1 = await bare.query('latency', range).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(TiercastError);
    expect((e1 as TiercastError).code).toBe('THROTTLED');
    const e2 = await bare.query('latency', range).catch((e: unknown) => e);
    expect((e2 as TiercastError).code).toBe('CONFIG_INVALID');
    expect((e2 as TiercastError).message).not.toContain('AKIDTEST');
    await expect(bare.query('latency', { ...range, periodSec: 61 })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});

describe('PutMetricData sink (Fargate)', () => {
  it('buffers emits and publishes them on flush with the Tier dimension and units, 1000 data points per call', async () => {
    cw.on(PutMetricDataCommand).resolves({});
    const sink = createPutMetricDataSink({ client, now: () => Date.parse('2026-04-01T00:00:05Z') });
    sink.emit('fargate-spot', { JobLatencySeconds: 42, JobsSucceeded: 1, JobCostUSD: 0.02, EncodeSeconds: Number.NaN }, { jobId: 'j1' });
    expect(cw.commandCalls(PutMetricDataCommand)).toHaveLength(0);
    await sink.flush();
    const at = new Date('2026-04-01T00:00:05Z');
    expect(cw.commandCalls(PutMetricDataCommand).map((c) => c.args[0].input)).toEqual([{
      Namespace: 'Tiercast',
      MetricData: [
        { MetricName: 'JobLatencySeconds', Dimensions: [{ Name: 'Tier', Value: 'fargate-spot' }], Timestamp: at, Value: 42, Unit: 'Seconds' },
        { MetricName: 'JobsSucceeded', Dimensions: [{ Name: 'Tier', Value: 'fargate-spot' }], Timestamp: at, Value: 1, Unit: 'Count' },
        { MetricName: 'JobCostUSD', Dimensions: [{ Name: 'Tier', Value: 'fargate-spot' }], Timestamp: at, Value: 0.02, Unit: 'None' },
      ],
    }]);
    await sink.flush();
    expect(cw.commandCalls(PutMetricDataCommand)).toHaveLength(1);

    for (let i = 0; i < 1001; i++) sink.emit('fargate', { BytesOut: i });
    await sink.flush();
    expect(cw.commandCalls(PutMetricDataCommand).slice(1).map((c) => c.args[0].input.MetricData!.length)).toEqual([1000, 1]);
  });

  it('reports a failed flush through onError instead of throwing', async () => {
    cw.on(PutMetricDataCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDenied' }));
    const errors: TiercastError[] = [];
    const sink = createPutMetricDataSink({ client, onError: (e) => errors.push(e) });
    sink.emit('fargate', { JobsFailed: 1 });
    await expect(sink.flush()).resolves.toBeUndefined();
    expect(errors.map((e) => e.code)).toEqual(['CONFIG_INVALID']);
  });
});

describe('cloudWatchOptionsFromConfig', () => {
  it('takes function names with their timeouts, the cluster and the queue names from the configuration', async () => {
    const { loadConfig } = await import('../../shared/node/config.ts');
    const config = await loadConfig({
      home: '/nonexistent-tiercast-home',
      env: {
        LAMBDA_FUNCTION_NAME: 'tc-std',
        LAMBDA_FUNCTION_NAME_ENHANCED: 'tc-enh',
        TIERCAST_LAMBDA_TIMEOUT_SEC: '90',
        ECS_CLUSTER_NAME: 'tc-cluster',
        TIERCAST_QUEUE: 'sqs',
        TIERCAST_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/tc-jobs',
        TIERCAST_QUEUE_URL_HIGH: 'https://sqs.eu-west-1.amazonaws.com/123456789012/tc-jobs-high',
      },
    });
    expect(cloudWatchOptionsFromConfig(config)).toEqual({
      namespace: 'Tiercast',
      lambdaFunctionNames: ['tc-std', 'tc-enh'],
      lambdaTimeoutsSec: { 'tc-std': 90, 'tc-enh': 600 },
      ecsCluster: 'tc-cluster',
      queueName: ['tc-jobs', 'tc-jobs-high'],
    });
    const bare = await loadConfig({ home: '/nonexistent-tiercast-home', env: {} });
    expect(cloudWatchOptionsFromConfig(bare)).toEqual({ namespace: 'Tiercast', lambdaFunctionNames: [], lambdaTimeoutsSec: {} });
  });
});
