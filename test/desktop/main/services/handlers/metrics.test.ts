import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricsHandlers } from '../../../../../desktop/main/services/handlers/metrics.ts';
import { createMetricsSources } from '../../../../../desktop/main/services/metrics-source.ts';
import { PANELS } from '../../../../../shared/common/metrics-query.ts';
import { loadConfig } from '../../../../../shared/node/config.ts';
import { homePaths } from '../../../../../shared/node/data-home.ts';
import { createLocalMetricsSink } from '../../../../../shared/node/local-metrics.ts';
import { callHandler } from '../../../../helpers/handlers.ts';

/** metrics.query over the data home's local metrics (what the local worker writes), with no AWS account. */
describe('metrics handlers', () => {
  let home: string;
  const T0 = Date.parse('2026-05-10T10:00:00Z');

  beforeAll(() => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-metrics-handlers-'));
  });
  afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

  it('answers every panel from the local source by default, and the panels asked for', async () => {
    const dir = homePaths(home).metrics;
    let now = T0;
    const sink = createLocalMetricsSink(dir, { now: () => now });
    for (const [i, seconds] of [10, 20, 30].entries()) {
      now = T0 + i * 60_000;
      sink.emit('local', { JobLatencySeconds: seconds, JobsSucceeded: 1 });
    }
    const config = await loadConfig({ home, env: {} });
    const sources = createMetricsSources({ metricsDir: dir, config: () => config });
    expect(sources.kind()).toBe('local');
    const handlers = metricsHandlers({ source: sources.source });
    const range = { from: '2026-05-10T00:00:00Z', to: '2026-05-11T00:00:00Z', periodSec: 86_400 };

    const all = await callHandler(handlers, 'metrics.query', range);
    expect(all.source).toBe('local');
    expect(all.panels.map((p) => p.panel)).toEqual([...PANELS]);

    const [latency] = (await callHandler(handlers, 'metrics.query', { ...range, panels: ['latency'] })).panels;
    expect(latency!.series.find((s) => s.id === 'latency_local_p50')!.points).toEqual([{ t: '2026-05-10T00:00:00.000Z', v: 20 }]);
  });
});
