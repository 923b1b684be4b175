import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invokeCall } from '../../../../desktop/main/api-calls.ts';
import { createServices } from '../../../../desktop/main/services/index.ts';
import type { ConsoleServices } from '../../../../desktop/main/services/types.ts';
import type { ApiResponse, ApiResult } from '../../../../shared/common/api-contract.ts';
import { loadConfig } from '../../../../shared/node/config.ts';
import { createLogger } from '../../../../shared/node/log.ts';

/** Dashboards read CloudWatch when the configuration says so (the CloudWatch client has no local server: mocked). */
describe('console dashboards from CloudWatch', () => {
  const cw = mockClient(CloudWatchClient);
  let home: string;
  let services: ConsoleServices;

  beforeAll(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-cw-'));
    const config = await loadConfig({
      home,
      env: { TIERCAST_METRICS: 'cloudwatch', AWS_REGION: 'us-east-1', LAMBDA_FUNCTION_NAME: 'tc-transcode' },
    });
    services = await createServices({ home, config, log: createLogger({ name: 't', format: 'json', level: 'silent' }), localWorker: false });
  });
  afterAll(async () => {
    await services.close();
    cw.restore();
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('answers metrics.query with GetMetricData and says the source is cloudwatch', async () => {
    const t0 = '2026-11-20T00:00:00.000Z';
    cw.on(GetMetricDataCommand).callsFake((input: { MetricDataQueries?: { Id?: string }[] }) => ({
      MetricDataResults: (input.MetricDataQueries ?? []).map((q) => ({ Id: q.Id, Timestamps: [new Date(t0)], Values: [42], StatusCode: 'Complete' })),
    }));
    const info = (await invokeCall(services.handlers, 'app.info', {}, { transport: 'web' })) as ApiResult<ApiResponse<'app.info'>>;
    expect(info.ok && info.value.metricsSource).toBe('cloudwatch');
    const res = (await invokeCall(
      services.handlers,
      'metrics.query',
      { from: t0, to: '2026-11-21T00:00:00.000Z', periodSec: 3600, panels: ['latency'] },
      { transport: 'web' },
    )) as ApiResult<ApiResponse<'metrics.query'>>;
    expect(res.ok).toBe(true);
    if (!res.ok) return;
    expect(res.value.source).toBe('cloudwatch');
    const calls = cw.commandCalls(GetMetricDataCommand);
    expect(calls.length).toBeGreaterThan(0);
    const queries = calls[0]!.args[0].input.MetricDataQueries ?? [];
    expect(queries.some((q) => q.MetricStat?.Metric?.MetricName === 'JobLatencySeconds' && q.MetricStat.Metric.Namespace === 'Tiercast')).toBe(true);
    const points = res.value.panels[0]!.series.flatMap((s) => s.points);
    expect(points.length).toBeGreaterThan(0);
  });
});
