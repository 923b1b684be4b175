import { PANELS, type MetricsSource } from '../../../../shared/common/metrics-query.ts';
import type { NamespaceHandlers } from '../../api-calls.ts';

/** `metrics.*`: dashboard panels from the current metrics source (services/metrics-source.ts). */

export interface MetricsDeps {
  readonly source: () => Promise<MetricsSource>;
}

export function metricsHandlers({ source }: MetricsDeps): NamespaceHandlers<'metrics'> {
  return {
    async 'metrics.query'(req) {
      const from = await source();
      const panels = req.panels ?? [...PANELS];
      const range = { from: req.from, to: req.to, periodSec: req.periodSec };
      const results = await Promise.all(panels.map((p) => from.query(p, range)));
      return {
        source: from.kind,
        panels: results.map((r) => ({
          ...r,
          series: r.series.map((s) => ({ ...s, points: [...s.points] })),
          thresholds: [...r.thresholds],
        })),
      };
    },
  };
}
