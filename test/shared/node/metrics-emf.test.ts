import { describe, expect, it } from 'vitest';
import { buildEmfDocument, createEmfMetrics, teeMetrics } from '../../../shared/node/metrics-emf.ts';
import { METRIC_NAMES, METRIC_UNITS, parseEmfLine } from '../../../shared/common/metrics-query.ts';

describe('createEmfMetrics', () => {
  it('writes one EMF document per emit with the spec shape: _aws.Timestamp, one directive, Tier dimension, units', () => {
    const lines: string[] = [];
    const m = createEmfMetrics({ sink: (l) => lines.push(l), now: () => 1_767_225_600_123 });
    m.emit('lambda-enhanced', { JobLatencySeconds: 42.5, JobsSucceeded: 1, BytesIn: 1024, JobCostUSD: 0.0123 }, { jobId: 'job-1' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('\n');
    const doc = JSON.parse(lines[0]!);
    expect(doc).toEqual({
      _aws: {
        Timestamp: 1_767_225_600_123,
        CloudWatchMetrics: [
          {
            Namespace: 'Tiercast',
            Dimensions: [['Tier']],
            Metrics: [
              { Name: 'JobLatencySeconds', Unit: 'Seconds' },
              { Name: 'JobsSucceeded', Unit: 'Count' },
              { Name: 'BytesIn', Unit: 'Bytes' },
              { Name: 'JobCostUSD', Unit: 'None' },
            ],
          },
        ],
      },
      Tier: 'lambda-enhanced',
      jobId: 'job-1',
      JobLatencySeconds: 42.5,
      JobsSucceeded: 1,
      BytesIn: 1024,
      JobCostUSD: 0.0123,
    });
    // Every member a directive references must exist on the root (spec: target members).
    for (const metric of doc._aws.CloudWatchMetrics[0].Metrics) expect(typeof doc[metric.Name]).toBe('number');
    for (const dims of doc._aws.CloudWatchMetrics[0].Dimensions) for (const d of dims) expect(typeof doc[d]).toBe('string');
  });

  it('uses the unit table for all eight job metrics', () => {
    expect(METRIC_UNITS).toMatchObject({
      JobLatencySeconds: 'Seconds', QueueWaitSeconds: 'Seconds', EncodeSeconds: 'Seconds', JobCostUSD: 'None',
      JobsSucceeded: 'Count', JobsFailed: 'Count', BytesIn: 'Bytes', BytesOut: 'Bytes',
    });
    const values = Object.fromEntries(METRIC_NAMES.map((n, i) => [n, i + 1]));
    const doc = buildEmfDocument('Tiercast', 0, 'local', values)!;
    const directive = (doc._aws as { CloudWatchMetrics: Array<{ Metrics: Array<{ Name: string; Unit: string }> }> }).CloudWatchMetrics[0]!;
    expect(directive.Metrics.map((m) => m.Name)).toEqual([...METRIC_NAMES]);
    expect(directive.Metrics.every((m) => m.Unit === METRIC_UNITS[m.Name as keyof typeof METRIC_UNITS])).toBe(true);
  });

  it('writes a metric without dimensions (an empty dimension set, no Tier member) for a null tier', () => {
    const doc = buildEmfDocument('Tiercast', 5, null, { WebhookDeliveryFailed: 1 }, { jobId: 'j1' })!;
    expect(doc).toEqual({
      _aws: { Timestamp: 5, CloudWatchMetrics: [{ Namespace: 'Tiercast', Dimensions: [[]], Metrics: [{ Name: 'WebhookDeliveryFailed', Unit: 'Count' }] }] },
      jobId: 'j1',
      WebhookDeliveryFailed: 1,
    });
  });

  it('drops non-finite values and unknown names, and writes nothing when no value is left', () => {
    const lines: string[] = [];
    const m = createEmfMetrics({ sink: (l) => lines.push(l), namespace: 'Test' });
    m.emit('fargate', { EncodeSeconds: Number.NaN, BytesOut: Infinity });
    expect(lines).toHaveLength(0);
    m.emit('fargate', { EncodeSeconds: Number.NaN, BytesOut: 10, ...({ Bogus: 3 } as object) });
    const doc = JSON.parse(lines[0]!);
    expect(doc._aws.CloudWatchMetrics[0].Namespace).toBe('Test');
    expect(doc._aws.CloudWatchMetrics[0].Metrics).toEqual([{ Name: 'BytesOut', Unit: 'Bytes' }]);
    expect(doc).not.toHaveProperty('EncodeSeconds');
    expect(doc).not.toHaveProperty('Bogus');
  });

  it('never throws when a sink fails, and tee keeps feeding the other sinks', () => {
    const errors: unknown[] = [];
    const broken = createEmfMetrics({ sink: () => { throw new Error('disk full'); }, onError: (e) => errors.push(e) });
    const lines: string[] = [];
    const ok = createEmfMetrics({ sink: (l) => lines.push(l) });
    const both = teeMetrics(broken, { emit: () => { throw new Error('bad sink'); } }, ok);
    expect(() => both.emit('ec2', { JobsFailed: 1 })).not.toThrow();
    expect(errors).toHaveLength(1);
    expect(lines).toHaveLength(1);
  });

  it('round-trips through parseEmfLine', () => {
    const lines: string[] = [];
    createEmfMetrics({ sink: (l) => lines.push(l), now: () => 5000 }).emit('fargate-spot', { QueueWaitSeconds: 3, JobsFailed: 1 }, { jobId: 'a1' });
    expect(parseEmfLine(lines[0]!)).toEqual({ timestamp: 5000, tier: 'fargate-spot', values: { QueueWaitSeconds: 3, JobsFailed: 1 }, jobId: 'a1' });
    expect(parseEmfLine(lines[0]!, 'OtherNamespace')).toBeNull();
    expect(parseEmfLine('{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"Tiercast","Dimensions":[["Tier"]],"Metr')).toBeNull();
    expect(parseEmfLine('plain log line')).toBeNull();
  });
});
