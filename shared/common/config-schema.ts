import { z } from 'zod';
import { TIERS, type Tier } from './job.ts';
import { PriceOverridesSchema } from './prices.ts';

/**
 * Tiercast's configuration: one validated shape for the CLI, the agent, the console and the cloud entry points.
 * Loaded by shared/node/config.ts (flags > environment > config file > defaults). Credentials are never part of
 * it: the AWS SDK's default provider chain supplies them (profile, SSO, environment, instance role).
 */

export const MIB = 1024 * 1024;
export const GIB = 1024 * MIB;

export const TierSchema = z.enum(TIERS);

export const LocalStoreConfigSchema = z.strictObject({
  kind: z.literal('local'),
  /** Folder of the local object store; default: <data home>/store. */
  root: z.string().min(1).optional(),
});

export const S3StoreConfigSchema = z.strictObject({
  kind: z.literal('s3'),
  bucket: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name: 3-63 of a-z 0-9 . -'),
  /** Key prefix inside the bucket ('' for the bucket root; otherwise ends with '/'). */
  prefix: z
    .string()
    .max(512)
    .regex(/^$|^[^/].*\/$/, "'' or a prefix that ends with '/' and does not start with '/'")
    .default(''),
  region: z.string().min(1).optional(),
  /** S3-compatible endpoint (s3rver, MinIO, LocalStack); omit for AWS. */
  endpoint: z.url().optional(),
  forcePathStyle: z.boolean().default(false),
  /** Multipart settings for uploads. */
  partSizeMb: z.number().int().min(5).max(5120).default(16),
  uploadConcurrency: z.number().int().min(1).max(64).default(4),
});

export const StoreConfigSchema = z.discriminatedUnion('kind', [LocalStoreConfigSchema, S3StoreConfigSchema]);
export type StoreConfig = z.infer<typeof StoreConfigSchema>;

export const QueueConfigSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('local'),
    /** Folder of the local queue; default: <data home>/queue. */
    dir: z.string().min(1).optional(),
  }),
  z.strictObject({
    kind: z.literal('sqs'),
    url: z.url(),
    /** Queue for priorities 8-10; without it every message goes to `url`. */
    highPriorityUrl: z.url().optional(),
    /** With highPriorityUrl: the longest a high-priority message waits behind a long poll of `url` (0-20 s). */
    highPriorityLatencySec: z.number().int().min(0).max(20).default(5),
    /** SQS-compatible endpoint (fauxqs, LocalStack); omit for AWS. */
    endpoint: z.url().optional(),
  }),
]);
export type QueueConfig = z.infer<typeof QueueConfigSchema>;

export const LambdaTierConfigSchema = z.strictObject({
  functionName: z.string().min(1).optional(),
  enhancedFunctionName: z.string().min(1).optional(),
  memoryMb: z.number().int().min(128).max(10_240).default(2048),
  timeoutSec: z.number().int().min(1).max(900).default(120),
  enhancedMemoryMb: z.number().int().min(128).max(10_240).default(3008),
  enhancedTimeoutSec: z.number().int().min(1).max(900).default(600),
  /** /tmp size of both functions (Lambda allows 512-10240 MB; beyond 512 MB is billed). */
  ephemeralMb: z.number().int().min(512).max(10_240).default(512),
  arch: z.enum(['x86_64', 'arm64']).default('x86_64'),
  /** Inputs below this size are Lambda's; below enhancedMaxBytes, the enhanced function's. */
  maxBytes: z.number().int().positive().default(50 * MIB),
  enhancedMaxBytes: z.number().int().positive().default(150 * MIB),
});

export const FargateTierConfigSchema = z.strictObject({
  cluster: z.string().min(1).optional(),
  taskDefinition: z.string().min(1).optional(),
  subnets: z.array(z.string().regex(/^subnet-[0-9a-f]+$/, 'a subnet id (subnet-...)')).default([]),
  securityGroups: z.array(z.string().regex(/^sg-[0-9a-f]+$/, 'a security group id (sg-...)')).default([]),
  assignPublicIp: z.boolean().default(false),
  /** Container in the task definition that receives TIERCAST_JOB_ID. */
  containerName: z.string().min(1).default('tiercast'),
  vcpu: z.number().positive().max(16).default(2),
  memoryGb: z.number().positive().max(120).default(8),
  /** Task ephemeral storage (Fargate: 20-200 GB; beyond 20 GB is billed). */
  ephemeralGb: z.number().int().min(20).max(200).default(20),
  arch: z.enum(['x86_64', 'arm64']).default('x86_64'),
  /** Share of eligible jobs sent to Fargate Spot (0..1). */
  spotShare: z.number().min(0).max(1).default(0.7),
  /** Inputs of this size or more always run on-demand (a Spot interruption would waste too much work). */
  onDemandAboveBytes: z.number().int().positive().default(GIB),
});

export const Ec2TierConfigSchema = z.strictObject({
  instanceType: z.string().min(1).default('c6i.xlarge'),
  /** Overrides the price table's hourly price for the instance type. */
  hourlyUsd: z.number().nonnegative().optional(),
  /** Jobs one agent host runs at once (the hourly cost is shared across them). */
  jobsPerHost: z.number().int().min(1).max(64).default(2),
  /** Share of the hosts' paid time spent running jobs (idle time is paid too). */
  utilization: z.number().min(0.05).max(1).default(0.6),
  /** Local disk per job on an agent host. */
  diskGbPerJob: z.number().positive().default(50),
});

export const LocalTierConfigSchema = z.strictObject({
  /** Jobs the local worker runs at once (2 cores here: one ffmpeg per job already uses both). */
  concurrency: z.number().int().min(1).max(64).default(1),
});

/**
 * Predicted encode speed per tier in megapixels of output per wall-clock second (all rungs together), and the tier's
 * start-up delay and transfer rate to and from the store. See DEFAULT_TIER_SPEED for how the defaults were derived.
 */
export const TierSpeedSchema = z.strictObject({
  encodeMpixPerSec: z.number().positive(),
  startupSec: z.number().nonnegative(),
  transferMBps: z.number().positive(),
});
export type TierSpeed = z.infer<typeof TierSpeedSchema>;

/**
 * Speeds at x264 preset `medium`; the router scales them by the job's preset (router.ts PRESET_SPEED: veryfast 2.18x).
 * Measured on this build machine (2 vCPU, libx264 from Debian ffmpeg 5.1, one thread, decode included): a 1080p30
 * broadcast clip (bbb_1080i30 from the team's media) encoded at 21.6 Mpix/s with -preset medium and 47 Mpix/s with
 * -preset veryfast. We take 25 Mpix/s per vCPU at medium (current cloud vCPUs are a little faster than this shared
 * host) and 0.8 parallel efficiency for each vCPU beyond the first. Lambda gets one vCPU per 1769 MB of memory (AWS
 * docs): 2048 MB = 1.16 vCPU -> 28; 3008 MB = 1.7 vCPU -> 38. Fargate 2 vCPU -> 45; an EC2 c6i.xlarge (4 vCPU) running
 * 2 jobs gives each 2 vCPU -> 45; local (this 2-vCPU machine) -> 45. Start-up: Lambda container image, warm/cold mix
 * ~3 s; Fargate task provisioning plus image pull ~60 s (Spot a little more); EC2 agents poll the queue ~5 s.
 * Transfer: S3 in-region ~60-100 MB/s per stream. Override per tier with router.speed.<tier>.
 */
export const DEFAULT_TIER_SPEED: Readonly<Record<Tier, TierSpeed>> = {
  local: { encodeMpixPerSec: 45, startupSec: 1, transferMBps: 200 },
  lambda: { encodeMpixPerSec: 28, startupSec: 3, transferMBps: 60 },
  'lambda-enhanced': { encodeMpixPerSec: 38, startupSec: 3, transferMBps: 70 },
  fargate: { encodeMpixPerSec: 45, startupSec: 60, transferMBps: 90 },
  'fargate-spot': { encodeMpixPerSec: 45, startupSec: 75, transferMBps: 90 },
  ec2: { encodeMpixPerSec: 45, startupSec: 5, transferMBps: 100 },
};

export const RouterConfigSchema = z.strictObject({
  /** A job is sent to a time-limited tier only if its predicted run time is within this share of the limit. */
  timeSafetyFactor: z.number().min(0.1).max(1).default(0.75),
  /** A job fits a tier's disk only if input + outputs + work is within this share of it. */
  diskSafetyFactor: z.number().min(0.1).max(1).default(0.85),
  /** Decode speed of the source, Mpix/s per job (decode runs once for all rungs). */
  decodeMpixPerSec: z.number().positive().default(200),
  /** Used to guess a duration from the size when a file could not be probed (bits per second). */
  assumedBitrate: z.number().positive().default(8_000_000),
  /** Per-tier overrides of DEFAULT_TIER_SPEED. */
  speed: z.partialRecord(TierSchema, TierSpeedSchema.partial()).default({}),
});

/** Jobs a tier holds at once (dispatched or running) before admission waits; see README "Job control plane". */
export const DEFAULT_MAX_IN_FLIGHT: Readonly<Record<Tier, number>> = {
  local: 1,
  lambda: 100,
  'lambda-enhanced': 25,
  fargate: 20,
  'fargate-spot': 40,
  ec2: 16,
};

export const JobsConfigSchema = z.strictObject({
  /** Where job state lives: SQLite in the data home (default), or a DynamoDB table. */
  store: z.enum(['sqlite', 'dynamodb']).default('sqlite'),
  /** SQLite file; default <data home>/jobs.db. */
  file: z.string().min(1).optional(),
  /** DynamoDB table (the CDK stack's TIERCASTJOBTABLE output). */
  table: z.string().regex(/^[A-Za-z0-9_.-]{3,255}$/, 'a DynamoDB table name').optional(),
  /** A DynamoDB-protocol endpoint other than AWS's (local development, tests). */
  endpoint: z.url({ protocol: /^https?$/ }).optional(),
  /** Finished jobs are kept this long in DynamoDB (its TTL); SQLite keeps them until deleted. */
  retentionDays: z.number().int().min(1).max(3650).default(30),
  /** Admission caps per tier; local defaults to tiers.local.concurrency. Keep Lambda's at or under its reserved concurrency. */
  maxInFlight: z.partialRecord(TierSchema, z.number().int().min(1).max(10_000)).default({}),
  /** Backoff of retryable failures: base * 2^(attempt-1), at most max, 20 % jitter. */
  retryBaseSec: z.number().min(0).max(3600).default(30),
  retryMaxSec: z.number().min(0).max(86_400).default(900),
  /** A running attempt's lease; its runner renews it about every third of this. */
  leaseSec: z.number().int().min(5).max(3600).default(60),
  /** A dispatched job that has not started after this long is sent again by the sweep. */
  dispatchTimeoutSec: z.number().int().min(10).max(86_400).default(900),
});
export type JobsConfig = z.infer<typeof JobsConfigSchema>;

export const NotificationsConfigSchema = z.strictObject({
  /** Receives job.done, job.failed and job.cancelled, signed with TIERCAST_WEBHOOK_SECRET (environment only). */
  webhookUrl: z.url({ protocol: /^https?$/ }).max(2048).optional(),
  /** Deliveries of one event before it is given up (with backoff between them). */
  webhookAttempts: z.number().int().min(1).max(20).default(6),
});

export const TiercastConfigSchema = z.strictObject({
  store: StoreConfigSchema.default({ kind: 'local' }),
  aws: z
    .strictObject({
      region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region such as us-east-1').optional(),
      profile: z.string().min(1).optional(),
    })
    .default({}),
  queue: QueueConfigSchema.default({ kind: 'local' }),
  tiers: z
    .strictObject({
      /** Tiers the router may choose. Default: local plus every AWS tier whose resources are configured. */
      enabled: z.array(TierSchema).min(1).optional(),
      lambda: LambdaTierConfigSchema.prefault({}),
      fargate: FargateTierConfigSchema.prefault({}),
      ec2: Ec2TierConfigSchema.prefault({}),
      local: LocalTierConfigSchema.prefault({}),
    })
    .prefault({}),
  router: RouterConfigSchema.prefault({}),
  metrics: z
    .strictObject({
      source: z.enum(['local', 'cloudwatch']).default('local'),
      namespace: z.string().min(1).default('Tiercast'),
    })
    .prefault({}),
  prices: PriceOverridesSchema.optional(),
  jobs: JobsConfigSchema.prefault({}),
  notifications: NotificationsConfigSchema.prefault({}),
  /** Sections owned and validated by their component (agent/main.ts reads `agent`; the console, `console`). */
  agent: z.record(z.string(), z.unknown()).optional(),
  console: z.record(z.string(), z.unknown()).optional(),
});

/** As validated; `tiers.enabled` is always filled in by loadConfig (see resolveEnabledTiers). */
export type TiercastConfigParsed = z.infer<typeof TiercastConfigSchema>;
export type TiercastConfig = Omit<TiercastConfigParsed, 'tiers'> & {
  tiers: Omit<TiercastConfigParsed['tiers'], 'enabled'> & { enabled: Tier[] };
};
export type TiercastConfigInput = z.input<typeof TiercastConfigSchema>;

type DeepPartial<T> = T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;
/** What flags, env and the file each contribute before merging. */
export type ConfigOverrides = DeepPartial<TiercastConfigInput>;

/** Why each AWS tier is or is not available: used for `enabled` defaults and for the router's reasons. */
export function tierReadiness(config: Pick<TiercastConfigParsed, 'store' | 'queue' | 'tiers'>): Record<Tier, string | null> {
  const { lambda, fargate } = config.tiers;
  const s3 = config.store.kind === 's3' ? null : 'the store is a local folder; cloud workers need an S3 store (TIERCAST_BUCKET)';
  return {
    local: null,
    lambda: s3 ?? (lambda.functionName ? null : 'no Lambda function configured (LAMBDA_FUNCTION_NAME)'),
    'lambda-enhanced':
      s3 ?? (lambda.enhancedFunctionName ? null : 'no enhanced Lambda function configured (LAMBDA_FUNCTION_NAME_ENHANCED)'),
    fargate: s3 ?? fargateMissing(fargate),
    'fargate-spot':
      s3 ?? fargateMissing(fargate) ?? (fargate.arch === 'arm64' ? 'Fargate Spot runs only x86_64 tasks (tiers.fargate.arch is arm64)' : null),
    ec2: s3 ?? (config.queue.kind === 'sqs' ? null : 'no agent queue configured (TIERCAST_QUEUE_URL)'),
  };
}

function fargateMissing(f: z.infer<typeof FargateTierConfigSchema>): string | null {
  const missing = [
    f.cluster ? null : 'ECS_CLUSTER_NAME',
    f.taskDefinition ? null : 'ECS_TASK_DEFINITION',
    f.subnets.length ? null : 'ECS_SUBNETS',
  ].filter(Boolean);
  return missing.length ? `Fargate not configured (${missing.join(', ')})` : null;
}

/** Default `tiers.enabled`: local plus every AWS tier whose resources are configured. */
export function defaultEnabledTiers(config: Parameters<typeof tierReadiness>[0]): Tier[] {
  const ready = tierReadiness(config);
  return TIERS.filter((t) => ready[t] === null);
}

/** Speed of a tier with config overrides applied. */
export function tierSpeed(config: Pick<TiercastConfig, 'router'>, tier: Tier): TierSpeed {
  return { ...DEFAULT_TIER_SPEED[tier], ...definedOnly(config.router.speed[tier]) };
}

function definedOnly<T extends object>(value: T | undefined): Partial<T> {
  if (!value) return {};
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Keys that look like secrets: refused anywhere in a config document. */
export const CREDENTIAL_KEY = /^(accessKeyId|secretAccessKey|sessionToken|credentials|password|secret|aws_access_key_id|aws_secret_access_key)$/i;

/**
 * The config with anything an operator would not want on a screenshot reduced: account-identifying URLs and ids are
 * kept (operators need them to debug), but any credential-looking key that slipped in is removed and endpoints lose
 * embedded user info.
 */
export function redactConfig<T>(config: T): T {
  const walk = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(walk);
    if (value && typeof value === 'object') {
      return Object.fromEntries(
        Object.entries(value as Record<string, unknown>)
          .filter(([k]) => !CREDENTIAL_KEY.test(k))
          .map(([k, v]) => [k, walk(v)]),
      );
    }
    if (typeof value === 'string' && /^[a-z]+:\/\/[^/@\s]+@/i.test(value)) return value.replace(/\/\/[^/@\s]+@/, '//[redacted]@');
    return value;
  };
  return walk(config) as T;
}
