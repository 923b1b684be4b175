import type { TiercastConfig } from '../../../shared/common/config-schema.ts';
import type { MetricsSource } from '../../../shared/common/metrics-query.ts';
import { createLocalMetricsSource } from '../../../shared/node/local-metrics.ts';

/**
 * Where the dashboards read: CloudWatch when the configuration asks for it (built lazily, rebuilt when Settings
 * change the config), otherwise the local metrics in the data home, so dashboards work with no AWS account.
 */
export function createMetricsSources(options: {
  readonly metricsDir: string;
  readonly config: () => TiercastConfig;
  /** Tests: the source for a config. */
  readonly override?: (config: TiercastConfig) => MetricsSource;
}) {
  let cloudWatch: { config: TiercastConfig; source: Promise<MetricsSource & { close(): void }> } | null = null;

  function cloudWatchFor(config: TiercastConfig): Promise<MetricsSource> {
    if (!cloudWatch || cloudWatch.config !== config) {
      const previous = cloudWatch;
      cloudWatch = {
        config,
        source: import('../../../cloud/cloudwatch-metrics.ts').then((m) => m.createCloudWatchMetricsSourceFromConfig(config)),
      };
      previous?.source.then((s) => s.close(), () => {});
    }
    return cloudWatch.source;
  }

  return {
    kind(): MetricsSource['kind'] {
      const config = options.config();
      if (options.override) return options.override(config).kind;
      return config.metrics.source === 'cloudwatch' ? 'cloudwatch' : 'local';
    },
    async source(): Promise<MetricsSource> {
      const config = options.config();
      if (options.override) return options.override(config);
      if (config.metrics.source !== 'cloudwatch') return createLocalMetricsSource(options.metricsDir);
      return cloudWatchFor(config);
    },
    close: () => cloudWatch?.source.then((s) => s.close()),
  };
}
