import type { SettingsPatch, SettingsView } from '../../../shared/common/api-contract.ts';
import { GIB, type TiercastConfig } from '../../../shared/common/config-schema.ts';
import { pricesFor } from '../../../shared/common/cost.ts';
import { homePaths } from '../../../shared/node/data-home.ts';

/**
 * The Settings screen's view of the config, and a patch of that view back into a config-file patch. Only names
 * reach the renderer (bucket, profile name, function names): never a credential, which the config cannot hold anyway
 * (loadConfig refuses credential-looking keys).
 */

/** Console-only settings live under `console` in config.json (the config schema keeps unknown top-level keys). */
export const DEFAULT_MAX_INPUT_BYTES = 50 * GIB;

export function consoleSettings(config: TiercastConfig): { maxInputBytes: number } {
  const raw = (config as unknown as { console?: { maxInputBytes?: unknown } }).console;
  const v = raw?.maxInputBytes;
  return { maxInputBytes: typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : DEFAULT_MAX_INPUT_BYTES };
}

export function settingsView(config: TiercastConfig, home: string, configPath?: string): SettingsView {
  const paths = homePaths(home);
  const { lambda, fargate, local } = config.tiers;
  const { table } = pricesFor(config);
  return {
    configPath: configPath ?? paths.config,
    store:
      config.store.kind === 's3'
        ? { kind: 's3', bucket: config.store.bucket, prefix: config.store.prefix, endpoint: config.store.endpoint ?? null }
        : { kind: 'local', path: config.store.root ?? paths.store },
    aws: { profile: config.aws.profile ?? null, region: config.aws.region ?? null },
    tiers: {
      enabled: [...config.tiers.enabled],
      lambdaFunctionName: lambda.functionName ?? null,
      lambdaFunctionNameEnhanced: lambda.enhancedFunctionName ?? null,
      ecsClusterName: fargate.cluster ?? null,
      ecsTaskDefinition: fargate.taskDefinition ?? null,
      ecsSubnets: [...fargate.subnets],
      ecsSecurityGroups: [...fargate.securityGroups],
      queueUrl: config.queue.kind === 'sqs' ? config.queue.url : null,
      localConcurrency: Math.min(16, local.concurrency),
    },
    thresholds: {
      lambdaMaxBytes: lambda.maxBytes,
      lambdaEnhancedMaxBytes: lambda.enhancedMaxBytes,
      onDemandMinBytes: fargate.onDemandAboveBytes,
      spotShare: fargate.spotShare,
      maxInputBytes: consoleSettings(config).maxInputBytes,
    },
    prices: { region: table.region, date: table.date, overridden: config.prices !== undefined },
  };
}

/** A settings patch as a config-file patch for saveConfig (null removes a key). */
export function configPatchOf(patch: SettingsPatch): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const nz = <T>(v: T | null | undefined) => (v === undefined ? undefined : v === null || v === '' ? null : v);
  const put = (obj: Record<string, unknown>, key: string, value: unknown) => {
    if (value !== undefined) obj[key] = value;
  };
  if (patch.store) {
    out.store =
      patch.store.kind === 's3'
        ? {
            kind: 's3',
            bucket: patch.store.bucket,
            prefix: patch.store.prefix,
            endpoint: nz(patch.store.endpoint),
            // S3-compatible servers (MinIO, s3rver, LocalStack) on a custom endpoint want path-style addressing.
            forcePathStyle: patch.store.endpoint ? true : null,
            root: null,
          }
        : { kind: 'local', root: patch.store.path || null, bucket: null, prefix: null, endpoint: null, forcePathStyle: null, partSizeMb: null, uploadConcurrency: null };
  }
  if (patch.aws) {
    const aws: Record<string, unknown> = {};
    put(aws, 'profile', nz(patch.aws.profile));
    put(aws, 'region', nz(patch.aws.region));
    out.aws = aws;
  }
  const t = patch.tiers;
  const th = patch.thresholds;
  if (t || th) {
    const tiers: Record<string, unknown> = {};
    const lambda: Record<string, unknown> = {};
    const fargate: Record<string, unknown> = {};
    if (t) {
      put(tiers, 'enabled', t.enabled);
      put(lambda, 'functionName', nz(t.lambdaFunctionName));
      put(lambda, 'enhancedFunctionName', nz(t.lambdaFunctionNameEnhanced));
      put(fargate, 'cluster', nz(t.ecsClusterName));
      put(fargate, 'taskDefinition', nz(t.ecsTaskDefinition));
      put(fargate, 'subnets', t.ecsSubnets);
      put(fargate, 'securityGroups', t.ecsSecurityGroups);
      if (t.localConcurrency !== undefined) tiers.local = { concurrency: t.localConcurrency };
      if (t.queueUrl !== undefined) out.queue = t.queueUrl ? { kind: 'sqs', url: t.queueUrl } : { kind: 'local', url: null, highPriorityUrl: null, highPriorityLatencySec: null, endpoint: null };
    }
    if (th) {
      put(lambda, 'maxBytes', th.lambdaMaxBytes);
      put(lambda, 'enhancedMaxBytes', th.lambdaEnhancedMaxBytes);
      put(fargate, 'onDemandAboveBytes', th.onDemandMinBytes);
      put(fargate, 'spotShare', th.spotShare);
      if (th.maxInputBytes !== undefined) out.console = { maxInputBytes: th.maxInputBytes };
    }
    if (Object.keys(lambda).length) tiers.lambda = lambda;
    if (Object.keys(fargate).length) tiers.fargate = fargate;
    if (Object.keys(tiers).length) out.tiers = tiers;
  }
  return out;
}
