import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { z } from 'zod';
import {
  CREDENTIAL_KEY,
  TiercastConfigSchema,
  defaultEnabledTiers,
  redactConfig,
  tierReadiness,
  type ConfigOverrides,
  type TiercastConfig,
} from '../common/config-schema.ts';
import { TiercastError } from '../common/errors.ts';
import { isAtomicTemp, sweepStaleFiles, writeFileAtomic } from './atomic-file.ts';
import { dataHome, homePaths } from './data-home.ts';

export { redactConfig };
export type { TiercastConfig, ConfigOverrides };

/**
 * Configuration with the precedence of CONVENTIONS.md: flags, then environment, then the config file (config.json in
 * the data home, or --config FILE), then defaults. Every value remembers where it came from, so a validation error
 * names the field and its source (the env var, the file, the flag) and the operator knows what to fix.
 */

export interface LoadConfigOptions {
  /** --config FILE; when given the file must exist. Default: <home>/config.json, optional. */
  configPath?: string;
  env?: NodeJS.ProcessEnv;
  /** Values from command-line flags (highest precedence). */
  flags?: ConfigOverrides;
  /** Data home; default dataHome(env). */
  home?: string;
}

type Json = Record<string, unknown>;
/** Source label per dotted path, for error messages. */
type Sources = Map<string, string>;

type EnvKind = 'string' | 'number' | 'bool' | 'list';
/** Environment names: TIERCAST_* for our own settings, the operators' established names for AWS resources. */
export const ENV_VARS: ReadonlyArray<readonly [name: string, path: string, kind: EnvKind]> = [
  ['TIERCAST_STORE', 'store.kind', 'string'],
  ['TIERCAST_STORE_ROOT', 'store.root', 'string'],
  ['TIERCAST_BUCKET', 'store.bucket', 'string'],
  ['TIERCAST_PREFIX', 'store.prefix', 'string'],
  ['TIERCAST_S3_ENDPOINT', 'store.endpoint', 'string'],
  ['TIERCAST_S3_FORCE_PATH_STYLE', 'store.forcePathStyle', 'bool'],
  ['TIERCAST_S3_PART_SIZE_MB', 'store.partSizeMb', 'number'],
  ['TIERCAST_S3_UPLOAD_CONCURRENCY', 'store.uploadConcurrency', 'number'],
  ['AWS_REGION', 'aws.region', 'string'],
  ['AWS_PROFILE', 'aws.profile', 'string'],
  ['TIERCAST_QUEUE', 'queue.kind', 'string'],
  ['TIERCAST_QUEUE_DIR', 'queue.dir', 'string'],
  ['TIERCAST_QUEUE_URL', 'queue.url', 'string'],
  ['TIERCAST_QUEUE_URL_HIGH', 'queue.highPriorityUrl', 'string'],
  ['TIERCAST_QUEUE_HIGH_LATENCY_SEC', 'queue.highPriorityLatencySec', 'number'],
  ['TIERCAST_SQS_ENDPOINT', 'queue.endpoint', 'string'],
  ['TIERCAST_TIERS', 'tiers.enabled', 'list'],
  ['LAMBDA_FUNCTION_NAME', 'tiers.lambda.functionName', 'string'],
  ['LAMBDA_FUNCTION_NAME_ENHANCED', 'tiers.lambda.enhancedFunctionName', 'string'],
  ['TIERCAST_LAMBDA_MEMORY_MB', 'tiers.lambda.memoryMb', 'number'],
  ['TIERCAST_LAMBDA_TIMEOUT_SEC', 'tiers.lambda.timeoutSec', 'number'],
  ['TIERCAST_LAMBDA_ENHANCED_MEMORY_MB', 'tiers.lambda.enhancedMemoryMb', 'number'],
  ['TIERCAST_LAMBDA_ENHANCED_TIMEOUT_SEC', 'tiers.lambda.enhancedTimeoutSec', 'number'],
  ['TIERCAST_LAMBDA_EPHEMERAL_MB', 'tiers.lambda.ephemeralMb', 'number'],
  ['TIERCAST_LAMBDA_ARCH', 'tiers.lambda.arch', 'string'],
  ['ECS_CLUSTER_NAME', 'tiers.fargate.cluster', 'string'],
  ['ECS_TASK_DEFINITION', 'tiers.fargate.taskDefinition', 'string'],
  ['ECS_SUBNETS', 'tiers.fargate.subnets', 'list'],
  ['ECS_SECURITY_GROUPS', 'tiers.fargate.securityGroups', 'list'],
  ['TIERCAST_ECS_ASSIGN_PUBLIC_IP', 'tiers.fargate.assignPublicIp', 'bool'],
  ['TIERCAST_ECS_CONTAINER_NAME', 'tiers.fargate.containerName', 'string'],
  ['TIERCAST_FARGATE_EPHEMERAL_GB', 'tiers.fargate.ephemeralGb', 'number'],
  ['TIERCAST_FARGATE_SPOT_SHARE', 'tiers.fargate.spotShare', 'number'],
  ['TIERCAST_EC2_INSTANCE_TYPE', 'tiers.ec2.instanceType', 'string'],
  ['TIERCAST_EC2_HOURLY_USD', 'tiers.ec2.hourlyUsd', 'number'],
  ['TIERCAST_EC2_JOBS_PER_HOST', 'tiers.ec2.jobsPerHost', 'number'],
  ['TIERCAST_LOCAL_CONCURRENCY', 'tiers.local.concurrency', 'number'],
  ['TIERCAST_METRICS', 'metrics.source', 'string'],
  ['TIERCAST_JOB_STORE', 'jobs.store', 'string'],
  ['TIERCAST_JOB_DB', 'jobs.file', 'string'],
  ['TIERCAST_JOB_TABLE', 'jobs.table', 'string'],
  ['TIERCAST_DYNAMODB_ENDPOINT', 'jobs.endpoint', 'string'],
  ['TIERCAST_JOB_RETENTION_DAYS', 'jobs.retentionDays', 'number'],
  ['TIERCAST_JOB_LEASE_SEC', 'jobs.leaseSec', 'number'],
  ['TIERCAST_JOB_RETRY_BASE_SEC', 'jobs.retryBaseSec', 'number'],
  ['TIERCAST_WEBHOOK_URL', 'notifications.webhookUrl', 'string'],
];

export async function loadConfig(options: LoadConfigOptions = {}): Promise<TiercastConfig> {
  const env = options.env ?? process.env;
  const home = options.home ?? dataHome(env);
  const filePath = options.configPath ? path.resolve(options.configPath) : homePaths(home).config;

  const sources: Sources = new Map();
  let merged: Json = {};
  const file = await readConfigFile(filePath, options.configPath !== undefined);
  if (file) {
    refuseCredentials(file, `config file ${filePath}`);
    merged = mergeLayer(merged, file, sources, (p) => `config file ${filePath} (${p})`);
  }
  const envLayer = fromEnv(env);
  merged = mergeLayer(merged, envLayer.values, sources, (p) => envLayer.names.get(p) ?? 'environment');
  if (options.flags) {
    refuseCredentials(options.flags as Json, 'flags');
    merged = mergeLayer(merged, options.flags as Json, sources, (p) => `flag (${p})`);
  }
  return finish(merged, sources);
}

/** Validates a merged document and fills in `tiers.enabled`. */
function finish(merged: Json, sources: Sources): TiercastConfig {
  // Fields given without a kind (TIERCAST_PREFIX alone) meet the default kind, so the error names that field.
  for (const key of ['store', 'queue']) {
    const section = merged[key];
    if (isPlainObject(section) && section.kind === undefined) merged[key] = { ...section, kind: 'local' };
  }
  const parsed = TiercastConfigSchema.safeParse(merged);
  if (!parsed.success) throw configError(parsed.error, sources);
  const value = parsed.data;
  const ready = tierReadiness(value);
  let enabled = value.tiers.enabled;
  if (enabled) {
    for (const tier of enabled) {
      const why = ready[tier];
      if (why) {
        throw new TiercastError('CONFIG_INVALID', `tiers.enabled (from ${sourceOf('tiers.enabled', sources)}): ${tier} cannot be enabled: ${why}`, {
          details: { field: 'tiers.enabled', source: sourceOf('tiers.enabled', sources), tier },
        });
      }
    }
    enabled = [...new Set(enabled)];
  } else {
    enabled = defaultEnabledTiers(value);
  }
  if (value.queue.kind === 'sqs' && value.queue.highPriorityUrl === value.queue.url) {
    throw new TiercastError('CONFIG_INVALID', `queue.highPriorityUrl (from ${sourceOf('queue.highPriorityUrl', sources)}): must differ from queue.url`, {
      details: { field: 'queue.highPriorityUrl' },
    });
  }
  if (value.jobs.store === 'dynamodb' && !value.jobs.table) {
    throw new TiercastError('CONFIG_INVALID', `jobs.table (from ${sourceOf('jobs.store', sources)}): the DynamoDB job store needs a table: set TIERCAST_JOB_TABLE or jobs.table (the CDK stack's TIERCASTJOBTABLE output)`, {
      details: { field: 'jobs.table' },
    });
  }
  const store = value.store.kind === 's3' && !value.store.region && value.aws.region ? { ...value.store, region: value.aws.region } : value.store;
  return { ...value, store, tiers: { ...value.tiers, enabled } };
}

/**
 * Merges `patch` into the config file (the data home's config.json, or the file the process was started with via
 * --config), validating before an atomic write; `null` removes a key. Returns the file's settings as loaded
 * without the environment (the caller reloads with its own environment and flags).
 */
export async function saveConfig(home: string, patch: Record<string, unknown>, options: { configPath?: string } = {}): Promise<TiercastConfig> {
  const filePath = options.configPath ? path.resolve(options.configPath) : homePaths(home).config;
  refuseCredentials(patch, 'settings');
  const current = (await readConfigFile(filePath, false)) ?? {};
  const sources: Sources = new Map();
  const next = mergeLayer(current, patch, sources, (p) => `settings (${p})`, true);
  finish(structuredClone(next), sources);
  await mkdir(path.dirname(filePath), { recursive: true });
  // Temporaries of an earlier save that crashed before its rename (a live save holds one for milliseconds).
  await sweepStaleFiles(path.dirname(filePath), { match: isAtomicTemp, olderThanMs: 15 * 60 * 1000 });
  await writeFileAtomic(filePath, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
  return loadConfig({ home, env: {}, ...(options.configPath ? { configPath: filePath } : {}) });
}

async function readConfigFile(filePath: string, required: boolean): Promise<Json | null> {
  let text: string;
  try {
    text = await readFile(filePath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !required) return null;
    throw new TiercastError('CONFIG_INVALID', `config file ${filePath}: cannot be read (${(err as Error).message})`, {
      cause: err,
      details: { source: filePath },
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new TiercastError('CONFIG_INVALID', `config file ${filePath}: not valid JSON (${(err as Error).message})`, {
      cause: err,
      details: { source: filePath },
    });
  }
  if (!isPlainObject(value)) {
    throw new TiercastError('CONFIG_INVALID', `config file ${filePath}: must hold a JSON object`, { details: { source: filePath } });
  }
  return value;
}

function fromEnv(env: NodeJS.ProcessEnv): { values: Json; names: Map<string, string> } {
  const values: Json = {};
  const names = new Map<string, string>();
  const setPath = (dotted: string, value: unknown, label: string) => {
    const keys = dotted.split('.');
    let node = values;
    for (const k of keys.slice(0, -1)) node = (node[k] ??= {}) as Json;
    node[keys.at(-1)!] = value;
    names.set(dotted, label);
  };
  for (const [name, dotted, kind] of ENV_VARS) {
    let raw = env[name];
    if (name === 'AWS_REGION' && !raw) raw = env.AWS_DEFAULT_REGION;
    if (raw === undefined || raw.trim() === '') continue;
    const text = raw.trim();
    setPath(dotted, parseEnv(text, kind), `env ${name}=${JSON.stringify(text)}`);
  }
  // A bucket or queue URL alone says which kind is meant; an explicit TIERCAST_STORE/TIERCAST_QUEUE still wins.
  const store = values.store as Json | undefined;
  if (store?.bucket !== undefined && store.kind === undefined) setPath('store.kind', 's3', 'env TIERCAST_BUCKET');
  const queue = values.queue as Json | undefined;
  if (queue?.url !== undefined && queue.kind === undefined) setPath('queue.kind', 'sqs', 'env TIERCAST_QUEUE_URL');
  return { values, names };
}

function parseEnv(text: string, kind: EnvKind): unknown {
  switch (kind) {
    case 'number': {
      const n = Number(text);
      // Left as the string so validation reports "expected number" against the env var's name.
      return Number.isFinite(n) ? n : text;
    }
    case 'bool':
      if (/^(1|true|yes|on)$/i.test(text)) return true;
      if (/^(0|false|no|off)$/i.test(text)) return false;
      return text;
    case 'list':
      return text
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    default:
      return text;
  }
}

/**
 * Deep merge of one layer over the lower ones. Arrays replace. A `store` or `queue` whose `kind` changes replaces the
 * lower layer's object wholesale (an S3 bucket from the file must not leak into a local store chosen by env).
 */
function mergeLayer(base: Json, patch: Json, sources: Sources, label: (p: string) => string, nullDeletes = false): Json {
  const walk = (target: Json, src: Json, prefix: string): Json => {
    const out: Json = { ...target };
    for (const [key, value] of Object.entries(src)) {
      const p = prefix ? `${prefix}.${key}` : key;
      if (value === undefined) continue;
      if (value === null && nullDeletes) {
        delete out[key];
        continue;
      }
      const lower = out[key];
      const kindChanged =
        (p === 'store' || p === 'queue') &&
        isPlainObject(value) &&
        isPlainObject(lower) &&
        value.kind !== undefined &&
        value.kind !== lower.kind;
      if (isPlainObject(value) && isPlainObject(lower) && !kindChanged) {
        out[key] = walk(lower, value, p);
      } else {
        if (kindChanged) for (const k of [...sources.keys()]) if (k.startsWith(`${p}.`)) sources.delete(k);
        out[key] = isPlainObject(value) ? walk({}, value, p) : value;
      }
      if (!isPlainObject(value)) sources.set(p, label(p));
    }
    return out;
  };
  return walk(base, patch, '');
}

function refuseCredentials(doc: Json, where: string): void {
  const walk = (value: unknown, p: string): void => {
    if (!isPlainObject(value)) return;
    for (const [k, v] of Object.entries(value)) {
      const here = p ? `${p}.${k}` : k;
      if (CREDENTIAL_KEY.test(k)) {
        throw new TiercastError(
          'CONFIG_INVALID',
          `${here} (in ${where}): credentials are never part of Tiercast's configuration; use an AWS profile, SSO, environment credentials or an instance role`,
          { details: { field: here, source: where } },
        );
      }
      walk(v, here);
    }
  };
  walk(doc, '');
}

function sourceOf(dotted: string, sources: Sources): string {
  for (let p = dotted; p; p = p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : '') {
    const s = sources.get(p);
    if (s) return s;
  }
  // A nested field may be wrong because of a sibling set lower in the tree (e.g. store.kind from env).
  const child = [...sources.entries()].find(([k]) => k.startsWith(`${dotted}.`));
  return child ? child[1] : 'defaults';
}

function configError(error: z.ZodError, sources: Sources): TiercastError {
  const problems = error.issues.slice(0, 5).map((issue) => {
    const base = issue.path.map(String).join('.');
    const keys = issue.code === 'unrecognized_keys' ? (issue as { keys: string[] }).keys : [];
    const field = keys.length === 1 ? (base ? `${base}.${keys[0]}` : keys[0]!) : base || '(root)';
    const source = sourceOf(field, sources);
    return { field, source, message: issue.message };
  });
  const text = problems.map((p) => `${p.field} (from ${p.source}): ${p.message}`).join('; ');
  return new TiercastError('CONFIG_INVALID', text, {
    cause: error,
    details: { field: problems[0]?.field, source: problems[0]?.source, problems },
  });
}

function isPlainObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
