import { z } from 'zod';
import { ERROR_CODES } from './errors.ts';
import { LadderSchema } from './ladder-schema.ts';

/** The job model every tier shares: the CLI, the agent, Lambda, Fargate and the console. */

export const JOB_SCHEMA_VERSION = 1 as const;

/** The stages of a job; which moves are allowed between them is shared/common/job-lifecycle.ts. */
export const STAGES = [
  'queued',
  'dispatched',
  'downloading',
  'analyzing',
  'encoding',
  'packaging',
  'uploading',
  'finalizing',
  'retry-wait',
  'done',
  'failed',
  'cancelled',
] as const;
export type Stage = (typeof STAGES)[number];
export const TERMINAL_STAGES: readonly Stage[] = ['done', 'failed', 'cancelled'];
/** done, failed or cancelled: nothing will run the job again unless an operator retries it. */
export const isTerminal = (stage: Stage): boolean => TERMINAL_STAGES.includes(stage);

export const TIERS = ['local', 'lambda', 'lambda-enhanced', 'fargate', 'fargate-spot', 'ec2'] as const;
export type Tier = (typeof TIERS)[number];

export const OUTPUT_FORMATS = ['hls', 'dash'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Job ids are safe as path and key segments everywhere. */
export const JobIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'job id: 1-64 of A-Z a-z 0-9 _ -, not starting with - or _');

const IsoDate = z.iso.datetime();

export const JobSpecSchema = z.object({
  schemaVersion: z.literal(JOB_SCHEMA_VERSION),
  id: JobIdSchema,
  createdAt: IsoDate,
  input: z.object({
    /** Key of the source in the object store. */
    key: z.string().min(1).max(1024),
    /** The operator's original file name (display only; never used as a path). */
    name: z.string().min(1).max(1024),
    sizeBytes: z.number().int().nonnegative(),
  }),
  /** What the router used; filled at dispatch from a probe when available. */
  media: z
    .object({
      durationSec: z.number().nonnegative(),
      width: z.number().int().nonnegative(),
      height: z.number().int().nonnegative(),
      fps: z.number().nonnegative(),
    })
    .nullable()
    .default(null),
  /** The resolved ladder (not a name), so every worker encodes exactly what was dispatched. */
  ladder: LadderSchema,
  formats: z.array(z.enum(OUTPUT_FORMATS)).min(1).default(['hls', 'dash']),
  priority: z.number().int().min(1).max(10).default(5),
  requestedTier: z.union([z.literal('auto'), z.enum(TIERS)]).default('auto'),
  maxAttempts: z.number().int().min(1).max(10).default(3),
  /** Where this job's done/failed/cancelled events are also posted (besides the configured webhook). */
  webhookUrl: z.url({ protocol: /^https?$/ }).max(2048).nullable().default(null),
});
export type JobSpec = z.infer<typeof JobSpecSchema>;
export type JobSpecInput = z.input<typeof JobSpecSchema>;

export const JobErrorSchema = z.object({
  code: z.enum(ERROR_CODES),
  message: z.string(),
});
export type JobError = z.infer<typeof JobErrorSchema>;

export const LeaseSchema = z.object({
  /** The run holding the job: `<worker>#<run token>`, unique per run. */
  owner: z.string().min(1).max(512),
  expiresAt: IsoDate,
});
export type Lease = z.infer<typeof LeaseSchema>;

export const JobStatusSchema = z.object({
  schemaVersion: z.literal(JOB_SCHEMA_VERSION),
  id: JobIdSchema,
  /** Goes up by exactly one per write; every write is a compare-and-set on it (shared/common/job-store.ts). */
  version: z.number().int().nonnegative().default(0),
  stage: z.enum(STAGES),
  /** 1 (lowest) to 10: admission order is priority, then age. */
  priority: z.number().int().min(1).max(10).default(5),
  /** 0..1 within the whole job. */
  progress: z.number().min(0).max(1),
  tier: z.enum(TIERS).nullable(),
  /** Human-readable routing reason for the current tier. */
  tierReason: z.string().nullable().default(null),
  attempts: z.number().int().nonnegative(),
  createdAt: IsoDate,
  updatedAt: IsoDate,
  startedAt: IsoDate.nullable(),
  finishedAt: IsoDate.nullable(),
  /** Who is working on it (host/pid, Lambda request id, ECS task ARN). */
  worker: z.string().nullable().default(null),
  /** The running attempt's lease; a lapsed lease may be reclaimed by exactly one other runner. */
  lease: LeaseSchema.nullable().default(null),
  /** retry-wait: not to be sent again before this time. */
  notBefore: IsoDate.nullable().default(null),
  /** When the job was last handed to its tier (stage dispatched); the sweep re-sends one that never started. */
  dispatchedAt: IsoDate.nullable().default(null),
  /** Failed after its last attempt of a retryable error: `tiercast redrive` sends it again. */
  deadLettered: z.boolean().default(false),
  error: JobErrorSchema.nullable(),
  estimatedCostUsd: z.number().nonnegative().nullable().default(null),
  costUsd: z.number().nonnegative().nullable().default(null),
  /** Date of the price table the cost figures come from. */
  priceDate: z.string().nullable().default(null),
  history: z
    .array(
      z.object({
        at: IsoDate,
        stage: z.enum(STAGES),
        tier: z.enum(TIERS).nullable(),
        note: z.string().optional(),
      }),
    )
    .default([]),
});
export type JobStatus = z.infer<typeof JobStatusSchema>;

/** The body of a queue message: only a pointer, the ledger holds the truth. */
export const JobMessageSchema = z.object({
  schemaVersion: z.literal(JOB_SCHEMA_VERSION),
  jobId: JobIdSchema,
});
export type JobMessage = z.infer<typeof JobMessageSchema>;

/** outputs/<id>/manifest.json, written last: its presence is what "published" means. */
export const OutputManifestSchema = z.object({
  schemaVersion: z.literal(JOB_SCHEMA_VERSION),
  jobId: JobIdSchema,
  publishedAt: IsoDate,
  /** Attempt that produced it; a re-run writes a new manifest only after a complete new set of files. */
  attempt: z.number().int().nonnegative(),
  files: z.array(z.object({ path: z.string(), sizeBytes: z.number().int().nonnegative(), sha256: z.string() })),
  hls: z.string().nullable(),
  dash: z.string().nullable(),
  poster: z.string().nullable(),
  thumbnails: z.string().nullable(),
  report: z.string(),
});
export type OutputManifest = z.infer<typeof OutputManifestSchema>;

/** Object-store keys of inputs and outputs (job state lives in the job store). One place, so every tier agrees. */
export const storeKeys = {
  outputPrefix: (id: string) => `outputs/${id}/`,
  manifest: (id: string) => `outputs/${id}/manifest.json`,
  inputPrefix: 'inputs/',
} as const;
