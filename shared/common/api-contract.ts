/**
 * The console's API: ONE typed contract between the renderer and the main process, a zod schema per call.
 *
 * Every transport is generated from this table, so they cannot drift apart:
 * - Electron IPC: desktop/main/ipc.ts registers each call through one wrapper (sender check, request and response
 *   validation); desktop/preload/index.ts exposes exactly one method per call as `window.tiercast`.
 * - HTTP (`tiercast console --web`): desktop/main/web-server.ts serves `POST /api/<call>` with the same schemas,
 *   `GET /api/events` (server-sent events) for the event channels, `PUT /api/stage` for dropped files' bytes.
 *
 * Both transports answer with the same envelope (`ApiResult`): `{ ok: true, value }` or `{ ok: false, error }`, so a
 * TiercastError's stable code reaches the renderer intact (Electron's invoke() would otherwise flatten it into a
 * message string). `createRendererApi` turns an envelope transport into plain async methods that throw `ApiCallError`.
 *
 * The renderer never sees credentials: settings come back redacted, and nothing here carries a secret.
 * Pure: no Node, no DOM (shared/common).
 */
import { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from './errors.ts';
import { STAGES, TIERS } from './job.ts';
import { VIDEO_CODECS } from './codecs.ts';
import { LadderNameSchema, LadderSchema } from './ladder-schema.ts';
import { PANELS } from './metrics-query.ts';

// ---------------------------------------------------------------------------------------------------------------
// Building blocks

const MAX_BATCH = 20_000;
const Text = (max = 1024) => z.string().max(max);
const Id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'id: 1-64 of A-Z a-z 0-9 _ -');
const IsoDate = z.iso.datetime({ offset: true });
const Bytes = z.number().int().nonnegative();
const Usd = z.number().nonnegative();

export const TierSchema = z.enum(TIERS);
export const StageSchema = z.enum(STAGES);
export const TierChoiceSchema = z.union([z.literal('auto'), TierSchema]);

export const ApiErrorSchema = z.strictObject({
  code: z.enum(ERROR_CODES),
  message: Text(4000),
});
export type ApiErrorBody = z.infer<typeof ApiErrorSchema>;

/** What a probe found, flattened for a table row. Sizes in bytes, durations in seconds, bitrates in b/s. */
export const MediaSummarySchema = z.strictObject({
  container: Text(128),
  durationSec: z.number().nonnegative(),
  /** Display size (rotation applied). */
  width: z.number().int().nonnegative(),
  height: z.number().int().nonnegative(),
  fps: z.number().nonnegative(),
  videoCodec: Text(64),
  audioCodec: Text(64).nullable(),
  bitrate: z.number().nonnegative().nullable(),
  colorTransfer: z.enum(['sdr', 'pq', 'hlg']),
  interlaced: z.boolean(),
  bitDepth: z.number().int().nonnegative(),
  warnings: z.array(Text(500)).max(50),
});
export type MediaSummary = z.infer<typeof MediaSummarySchema>;

export const RouteSummarySchema = z.strictObject({
  tier: TierSchema,
  /** Why the router chose it, for humans. */
  reason: Text(2000),
  estimatedCostUsd: Usd.nullable(),
  /** Date of the price table the estimate comes from. */
  priceDate: Text(32).nullable(),
  /** Predicted encode time on that tier, seconds. */
  estimatedSeconds: z.number().nonnegative().nullable(),
});
export type RouteSummary = z.infer<typeof RouteSummarySchema>;

export const FILE_STATES = ['probing', 'ready', 'problem'] as const;

/** One file the operator added. `problem` files are flagged and left out of uploads and dispatch. */
export const FileItemSchema = z.strictObject({
  id: Id,
  /** Absolute path on the console's machine (for the web transport: the staging copy). */
  path: Text(4096),
  /** File name for display; never used as a path. */
  name: Text(1024),
  /** Folder the file came from relative to what was dropped ('' for a file dropped on its own). */
  relativeDir: Text(4096),
  sizeBytes: Bytes,
  state: z.enum(FILE_STATES),
  media: MediaSummarySchema.nullable(),
  problem: ApiErrorSchema.nullable(),
  route: RouteSummarySchema.nullable(),
  addedAt: IsoDate,
});
export type FileItem = z.infer<typeof FileItemSchema>;

export const UPLOAD_STATES = ['queued', 'uploading', 'paused', 'done', 'failed', 'cancelled'] as const;
export type UploadState = (typeof UPLOAD_STATES)[number];

export const UploadItemSchema = z.strictObject({
  fileId: Id,
  name: Text(1024),
  path: Text(4096),
  /** Destination key in the object store (inputs/...). */
  key: Text(1024),
  state: z.enum(UPLOAD_STATES),
  loadedBytes: Bytes,
  totalBytes: Bytes,
  /** The last attempt continued an interrupted upload instead of starting over. */
  resumed: z.boolean(),
  attempts: z.number().int().nonnegative(),
  error: ApiErrorSchema.nullable(),
  updatedAt: IsoDate,
});
export type UploadItem = z.infer<typeof UploadItemSchema>;

export const UploadTotalsSchema = z.strictObject({
  loadedBytes: Bytes,
  totalBytes: Bytes,
  queued: z.number().int().nonnegative(),
  uploading: z.number().int().nonnegative(),
  paused: z.number().int().nonnegative(),
  done: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
  cancelled: z.number().int().nonnegative(),
  /** Files uploaded at once (bounded concurrency). */
  concurrency: z.number().int().positive(),
});
export type UploadTotals = z.infer<typeof UploadTotalsSchema>;

export const LadderSummarySchema = z.strictObject({
  name: Text(64),
  description: Text(500),
  /** Shipped with Tiercast (read-only) or saved by an operator. */
  builtin: z.boolean(),
  rungs: z.array(z.strictObject({ name: Text(32), shortEdge: z.number().int(), videoBitrate: z.number().int() })).max(12),
});
export type LadderSummary = z.infer<typeof LadderSummarySchema>;

export const PreviewRungSchema = z.strictObject({
  name: Text(32),
  /** Codec family (absent: H.264); each family's rungs are scored against the same source window. */
  codec: z.enum(VIDEO_CODECS).optional(),
  width: z.number().int().nonnegative(),
  height: z.number().int().nonnegative(),
  /** Achieved video bitrate over the window, b/s. */
  bitrate: z.number().nonnegative(),
  sizeBytes: Bytes,
  /** Encode speed as a multiple of real time (2 = twice as fast as playback). */
  speed: z.number().nonnegative().nullable(),
  ssim: z.number().nullable(),
  psnr: z.number().nullable(),
  /** Null when the ffmpeg build has no libvmaf. */
  vmaf: z.number().nullable(),
  /** Console-relative URL (`/media/preview/...`) of this rung's frame at the window's chosen moment. */
  frameUrl: Text(2048),
  /** The source frame at the same moment. */
  sourceFrameUrl: Text(2048),
});
export type PreviewRung = z.infer<typeof PreviewRungSchema>;

const RatePointSchema = z.strictObject({
  width: z.number().int().nonnegative(),
  height: z.number().int().nonnegative(),
  /** Bits per second. */
  bitrate: z.number().nonnegative(),
  /** VMAF (0-100) or SSIM in dB, as `metric` says. */
  quality: z.number(),
  /** A trial's target rate (it may spend less); a chosen rung's bitrate is its target. */
  target: z.number().nonnegative().optional(),
});

/** The per-title analysis of an "Automatic" preview: every trial, their rate-quality hull and the rungs chosen on it. */
export const PerTitleViewSchema = z.strictObject({
  metric: z.enum(['vmaf', 'ssim-db']),
  points: z.array(RatePointSchema).max(200),
  hull: z.array(RatePointSchema).max(200),
  chosen: z.array(RatePointSchema.extend({ why: Text(500) })).max(12),
  cpuSec: z.number().nonnegative().nullable(),
  elapsedSec: z.number().nonnegative(),
});
export type PerTitleView = z.infer<typeof PerTitleViewSchema>;

export const JobRowSchema = z.strictObject({
  id: Id,
  /** The source's original file name. */
  name: Text(1024),
  stage: StageSchema,
  progress: z.number().min(0).max(1),
  tier: TierSchema.nullable(),
  tierReason: Text(2000).nullable(),
  attempts: z.number().int().nonnegative(),
  /** The attempt budget (the spec's maxAttempts): after the last one a retryable failure is dead-lettered. */
  maxAttempts: z.number().int().min(1).max(10),
  /** 1 (lowest) to 10: admission order is priority, then age. */
  priority: z.number().int().min(1).max(10),
  /** retry-wait: when the sweep sends it again. */
  notBefore: IsoDate.nullable(),
  /** Failed after its last attempt (shared/common/job-lifecycle.ts decides): Redrive sends it again. */
  deadLettered: z.boolean(),
  createdAt: IsoDate,
  updatedAt: IsoDate,
  startedAt: IsoDate.nullable(),
  finishedAt: IsoDate.nullable(),
  /** Wall time so far (running) or in total (finished), seconds. */
  elapsedSec: z.number().nonnegative().nullable(),
  estimatedCostUsd: Usd.nullable(),
  costUsd: Usd.nullable(),
  priceDate: Text(32).nullable(),
  ladder: Text(64),
  error: ApiErrorSchema.nullable(),
});
export type JobRow = z.infer<typeof JobRowSchema>;

/** Jobs per stage, plus the dead-lettered ones among the failed (the Jobs screen's chips). */
export const JobCountsSchema = z.partialRecord(z.union([StageSchema, z.literal('deadLettered')]), z.number().int().nonnegative());
export type JobCounts = z.infer<typeof JobCountsSchema>;
/** The Jobs screen's filters beyond one stage: every unfinished stage, the running stages, the dead-lettered jobs. */
export const JobFilterSchema = z.union([StageSchema, z.enum(['active', 'running', 'deadLettered'])]);
export type JobFilter = z.infer<typeof JobFilterSchema>;

const JsonObject = z.record(z.string(), z.json());

export const JobDetailSchema = z.strictObject({
  job: JobRowSchema,
  history: z
    .array(z.strictObject({ at: IsoDate, stage: StageSchema, tier: TierSchema.nullable(), note: Text(2000).optional() }))
    .max(1000),
  input: z.strictObject({ key: Text(1024), name: Text(1024), sizeBytes: Bytes }),
  formats: z.array(z.enum(['hls', 'dash'])).max(2),
  /** report.json of a finished job (renditions, timings, warnings); null until published. */
  report: JsonObject.nullable(),
  /** Published outputs (console-relative media URLs); null until the manifest exists. */
  outputs: z
    .strictObject({
      hlsUrl: Text(2048).nullable(),
      dashUrl: Text(2048).nullable(),
      posterUrl: Text(2048).nullable(),
      files: z.number().int().nonnegative(),
      totalBytes: Bytes,
    })
    .nullable(),
});
export type JobDetail = z.infer<typeof JobDetailSchema>;

// Dashboards: mirrors shared/common/metrics-query.ts (PanelResult), which stays the source of truth.
/** The dashboard panels: the query contract's list (shared/common/metrics-query.ts) is the source of truth. */
export const PANEL_KINDS = PANELS;
const SeriesUnitSchema = z.enum(['Seconds', 'Milliseconds', 'Count', 'Bytes', 'Percent', 'None', 'USD', 'Ratio']);
const MetricsRangeSchema = z.strictObject({
  from: IsoDate,
  to: IsoDate,
  periodSec: z.number().int().min(60).max(86_400 * 31),
});
export const PanelResultSchema = z.strictObject({
  panel: z.enum(PANEL_KINDS),
  query: MetricsRangeSchema,
  series: z
    .array(
      z.strictObject({
        id: Text(256),
        label: Text(256),
        tier: TierSchema.nullable(),
        stat: z.enum(['p50', 'p95', 'p99', 'Sum', 'Average', 'Maximum', 'Ratio']),
        unit: SeriesUnitSchema,
        points: z.array(z.strictObject({ t: IsoDate, v: z.number() })).max(10_080),
      }),
    )
    .max(200),
  thresholds: z.array(z.strictObject({ label: Text(256), value: z.number(), unit: SeriesUnitSchema })).max(50),
  available: z.boolean(),
  note: Text(2000).optional(),
});
export type PanelResultView = z.infer<typeof PanelResultSchema>;

export const VariantSchema = z.strictObject({
  name: Text(64),
  width: z.number().int().nonnegative(),
  height: z.number().int().nonnegative(),
  /** Declared peak bandwidth, b/s. */
  bandwidth: z.number().nonnegative(),
  codecs: Text(256),
});

/**
 * Settings as the renderer sees and edits them: never a credential. AWS credentials come from the SDK's provider
 * chain (profile, SSO, environment, instance role); the console stores only the profile's name.
 */
export const SettingsViewSchema = z.strictObject({
  /** Where the config lives (data home config.json, or --config). */
  configPath: Text(4096),
  store: z.discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('local'), path: Text(4096) }),
    z.strictObject({
      kind: z.literal('s3'),
      bucket: z.string().min(3).max(63),
      prefix: Text(512),
      /** Custom endpoint (S3-compatible stores); null for AWS. */
      endpoint: Text(2048).nullable(),
    }),
  ]),
  aws: z.strictObject({ profile: Text(128).nullable(), region: Text(64).nullable() }),
  tiers: z.strictObject({
    /** Tiers the router may choose. */
    enabled: z.array(TierSchema).max(TIERS.length),
    lambdaFunctionName: Text(256).nullable(),
    lambdaFunctionNameEnhanced: Text(256).nullable(),
    ecsClusterName: Text(256).nullable(),
    ecsTaskDefinition: Text(512).nullable(),
    ecsSubnets: z.array(Text(64)).max(16),
    ecsSecurityGroups: z.array(Text(64)).max(16),
    queueUrl: Text(2048).nullable(),
    /** Local tier: jobs run at once in the console's in-process worker. */
    localConcurrency: z.number().int().min(1).max(16),
  }),
  thresholds: z.strictObject({
    lambdaMaxBytes: Bytes,
    lambdaEnhancedMaxBytes: Bytes,
    /** Files at least this large always go on-demand. */
    onDemandMinBytes: Bytes,
    /** Share of eligible Fargate jobs sent to Spot, 0..1. */
    spotShare: z.number().min(0).max(1),
    /** Files larger than this are flagged in the upload table and left out. */
    maxInputBytes: Bytes,
  }),
  prices: z.strictObject({ region: Text(64), date: Text(32), overridden: z.boolean() }),
});
export type SettingsView = z.infer<typeof SettingsViewSchema>;

/** Editable part of the settings (configPath and prices are read-only here). */
export const SettingsPatchSchema = z.strictObject({
  store: SettingsViewSchema.shape.store.optional(),
  aws: SettingsViewSchema.shape.aws.partial().optional(),
  tiers: SettingsViewSchema.shape.tiers.partial().optional(),
  thresholds: SettingsViewSchema.shape.thresholds.partial().optional(),
});
export type SettingsPatch = z.infer<typeof SettingsPatchSchema>;

const Empty = z.strictObject({});
const Ids = z.strictObject({ ids: z.array(Id).min(1).max(MAX_BATCH) });
const OptionalIds = z.strictObject({ ids: z.array(Id).max(MAX_BATCH).optional() });
const UploadsState = z.strictObject({ uploads: z.array(UploadItemSchema).max(MAX_BATCH), totals: UploadTotalsSchema });

// ---------------------------------------------------------------------------------------------------------------
// The calls

export const contract = {
  'app.info': {
    request: Empty,
    response: z.strictObject({
      version: Text(64),
      transport: z.enum(['ipc', 'web']),
      platform: Text(32),
      ffmpeg: z.discriminatedUnion('found', [
        z.strictObject({
          found: z.literal(true),
          version: Text(256),
          source: z.enum(['env', 'ffmpeg-static', 'path']),
          hasLibvmaf: z.boolean(),
          canTonemap: z.boolean(),
          encoders: z.array(Text(64)).max(64),
        }),
        z.strictObject({ found: z.literal(false), error: ApiErrorSchema }),
      ]),
      /** Redacted: `s3://bucket/prefix` or the local folder; never a credential. */
      store: z.strictObject({ kind: z.enum(['local', 's3']), location: Text(4096) }),
      metricsSource: z.enum(['local', 'cloudwatch']),
      tiersEnabled: z.array(TierSchema).max(TIERS.length),
      dataHome: Text(4096),
    }),
  },

  /**
   * Adds files and folders (folders are walked recursively). Answers at once with every file found in state
   * `probing` (or `problem` for empty files, too large, unreadable); probe and route results then arrive on the
   * `files.updated` channel in batches, so 5,000 files never block anything.
   */
  'files.add': {
    request: z.strictObject({ paths: z.array(Text(4096).min(1)).min(1).max(MAX_BATCH) }),
    response: z.strictObject({
      items: z.array(FileItemSchema).max(MAX_BATCH),
      /** Paths that could not be read at all (missing, permission), with why. */
      rejected: z.array(z.strictObject({ path: Text(4096), error: ApiErrorSchema })).max(MAX_BATCH),
      /** More files than one add takes: the rest were not added. */
      truncated: z.boolean(),
    }),
  },
  'files.list': {
    request: Empty,
    response: z.strictObject({ items: z.array(FileItemSchema).max(MAX_BATCH * 5) }),
  },
  'files.remove': {
    request: Ids,
    response: z.strictObject({ removed: z.number().int().nonnegative() }),
  },
  /** Re-route the ready files (after a settings or ladder change). */
  'files.reroute': {
    request: z.strictObject({ ids: z.array(Id).max(MAX_BATCH).optional(), ladder: LadderNameSchema.optional() }),
    response: z.strictObject({ items: z.array(FileItemSchema).max(MAX_BATCH * 5) }),
  },

  'uploads.start': { request: Ids, response: UploadsState },
  'uploads.pause': { request: OptionalIds, response: UploadsState },
  'uploads.resume': { request: OptionalIds, response: UploadsState },
  'uploads.cancel': { request: Ids, response: UploadsState },
  'uploads.retry': { request: Ids, response: UploadsState },
  'uploads.list': { request: Empty, response: UploadsState },

  'ladders.list': {
    request: Empty,
    response: z.strictObject({ ladders: z.array(LadderSummarySchema).max(500), defaultLadder: Text(64) }),
  },
  'ladders.get': {
    request: z.strictObject({ name: LadderNameSchema }),
    response: z.strictObject({ ladder: LadderSchema, builtin: z.boolean() }),
  },
  'ladders.save': {
    request: z.strictObject({ ladder: LadderSchema }),
    response: z.strictObject({ ladder: LadderSchema }),
  },
  'ladders.delete': {
    request: z.strictObject({ name: LadderNameSchema }),
    response: z.strictObject({ deleted: z.boolean() }),
  },

  /**
   * Encodes a short window of the source with every rung locally, with the same core, and answers with the
   * per-rung results. `runId` is chosen by the caller so it can follow `preview.progress` and cancel.
   */
  'preview.run': {
    request: z
      .strictObject({
        runId: Id,
        fileId: Id.optional(),
        path: Text(4096).optional(),
        ladder: LadderSchema,
        /** "Automatic": build a per-title ladder from `ladder` (the base) for this file first, then preview that. */
        auto: z.boolean().optional(),
        startSec: z.number().nonnegative().max(86_400 * 2),
        durationSec: z.number().min(0.5).max(30),
      })
      .refine((r) => (r.fileId === undefined) !== (r.path === undefined), { message: 'give exactly one of fileId or path' }),
    response: z.strictObject({
      runId: Id,
      /** The moment the frames show, seconds from the start of the source. */
      frameAtSec: z.number().nonnegative(),
      source: z.strictObject({ width: z.number().int(), height: z.number().int(), frameUrl: Text(2048) }),
      rungs: z.array(PreviewRungSchema).max(12),
      /** Rungs the ladder had that this source does not get (never upscaled), with why. */
      dropped: z.array(z.strictObject({ name: Text(32), reason: Text(500) })).max(12),
      vmafAvailable: z.boolean(),
      elapsedSec: z.number().nonnegative(),
      /** With `auto`: the ladder the analysis resolved (what was previewed) and the analysis itself. */
      ladder: LadderSchema.optional(),
      perTitle: PerTitleViewSchema.optional(),
    }),
  },
  'preview.cancel': {
    request: z.strictObject({ runId: Id }),
    response: z.strictObject({ cancelled: z.boolean() }),
  },

  /** Uploads what is not uploaded yet, creates jobs and dispatches them (auto: the router decides per file). */
  'jobs.dispatch': {
    request: z.strictObject({
      fileIds: z.array(Id).min(1).max(MAX_BATCH),
      tier: TierChoiceSchema,
      ladder: LadderNameSchema,
      formats: z.array(z.enum(['hls', 'dash'])).min(1).max(2).optional(),
      priority: z.number().int().min(1).max(10).optional(),
      /** Per file, over the batch's priority. */
      priorities: z.record(Id, z.number().int().min(1).max(10)).optional(),
    }),
    response: z.strictObject({
      results: z
        .array(
          z.strictObject({
            fileId: Id,
            jobId: Id.nullable(),
            tier: TierSchema.nullable(),
            reason: Text(2000).nullable(),
            error: ApiErrorSchema.nullable(),
          }),
        )
        .max(MAX_BATCH),
    }),
  },
  'jobs.list': {
    request: z.strictObject({
      stage: JobFilterSchema.optional(),
      tier: TierSchema.optional(),
      /** Matches job id or file name, case-insensitive. */
      search: Text(256).optional(),
      limit: z.number().int().min(1).max(1000).default(200),
      /** Opaque; from the previous page's nextCursor. */
      cursor: Text(1024).optional(),
    }),
    response: z.strictObject({
      jobs: z.array(JobRowSchema).max(1000),
      nextCursor: Text(1024).nullable(),
      /** Jobs matching the filters, all pages. */
      total: z.number().int().nonnegative(),
      /** Jobs per stage, all jobs (filter chips). */
      counts: JobCountsSchema,
    }),
  },
  'jobs.get': {
    request: z.strictObject({ id: Id }),
    response: JobDetailSchema,
  },
  'jobs.retry': {
    request: z.strictObject({ id: Id }),
    response: z.strictObject({ job: JobRowSchema }),
  },
  'jobs.cancel': {
    request: z.strictObject({ id: Id }),
    response: z.strictObject({ job: JobRowSchema }),
  },
  /**
   * What changed after a cursor from the job store's change index (no cursor: a cursor for "from now on"), oldest
   * change first; counts per stage when anything changed. A refresh costs what changed.
   */
  'jobs.changes': {
    request: z.strictObject({ cursor: Text(1024).nullable(), limit: z.number().int().min(1).max(1000).default(1000) }),
    response: z.strictObject({
      rows: z.array(JobRowSchema).max(1000),
      cursor: Text(1024),
      counts: JobCountsSchema.nullable(),
    }),
  },
  /** Finished jobs (done, failed, cancelled) with their outputs; each id on its own. */
  'jobs.delete': {
    request: z.strictObject({ ids: z.array(Id).min(1).max(MAX_BATCH) }),
    response: z.strictObject({ results: z.array(z.strictObject({ id: Id, error: ApiErrorSchema.nullable() })).max(MAX_BATCH) }),
  },
  /** Dead-lettered jobs sent again (no ids: every dead-lettered job). */
  'jobs.redrive': {
    request: z.strictObject({ ids: z.array(Id).max(MAX_BATCH).optional() }),
    response: z.strictObject({ results: z.array(z.strictObject({ id: Id, job: JobRowSchema.nullable(), error: ApiErrorSchema.nullable() })).max(MAX_BATCH) }),
  },

  'metrics.query': {
    request: z.strictObject({
      from: IsoDate,
      to: IsoDate,
      periodSec: z.number().int().min(60).max(86_400),
      panels: z.array(z.enum(PANEL_KINDS)).min(1).max(PANEL_KINDS.length).optional(),
    }),
    response: z.strictObject({
      source: z.enum(['local', 'cloudwatch']),
      panels: z.array(PanelResultSchema).max(PANEL_KINDS.length),
    }),
  },

  'player.sources': {
    request: z.strictObject({ jobId: Id }),
    response: z.strictObject({
      jobId: Id,
      hlsUrl: Text(2048).nullable(),
      dashUrl: Text(2048).nullable(),
      thumbnailsVttUrl: Text(2048).nullable(),
      posterUrl: Text(2048).nullable(),
      variants: z.array(VariantSchema).max(20),
      durationSec: z.number().nonnegative().nullable(),
    }),
  },

  'settings.get': {
    request: Empty,
    response: z.strictObject({ settings: SettingsViewSchema }),
  },
  'settings.save': {
    request: z.strictObject({ patch: SettingsPatchSchema }),
    response: z.strictObject({ settings: SettingsViewSchema }),
  },
  /** Checks the store (and the queue/functions when configured) with the given settings, without saving them. */
  'settings.testConnection': {
    request: z.strictObject({ patch: SettingsPatchSchema.optional() }),
    response: z.strictObject({
      ok: z.boolean(),
      checks: z
        .array(z.strictObject({ name: Text(128), ok: z.boolean(), message: Text(2000), elapsedMs: z.number().nonnegative() }))
        .max(20),
    }),
  },
} as const;

export type Contract = typeof contract;
export type CallName = keyof Contract;
export const CALL_NAMES = Object.keys(contract) as CallName[];

/** What a caller passes (defaults optional). */
export type ApiRequest<K extends CallName> = z.input<Contract[K]['request']>;
/** What a handler receives (defaults applied). */
export type ApiParsedRequest<K extends CallName> = z.output<Contract[K]['request']>;
export type ApiResponse<K extends CallName> = z.output<Contract[K]['response']>;

export function isCallName(value: unknown): value is CallName {
  return typeof value === 'string' && Object.hasOwn(contract, value);
}

// ---------------------------------------------------------------------------------------------------------------
// Events: main -> renderer pushes

export const events = {
  /** Probe/route results as they arrive (batched), and removals. */
  'files.updated': z.strictObject({
    items: z.array(FileItemSchema).max(MAX_BATCH),
    removedIds: z.array(Id).max(MAX_BATCH),
    /** Files still being probed, all batches. */
    pending: z.number().int().nonnegative(),
  }),
  /** Upload progress: changed items only, plus totals (throttled, a few per second at most). */
  'uploads.progress': z.strictObject({ uploads: z.array(UploadItemSchema).max(MAX_BATCH), totals: UploadTotalsSchema }),
  /** Jobs whose status changed (from the ledger; local or S3). */
  'jobs.updated': z.strictObject({
    jobs: z.array(JobRowSchema).max(1000),
    /** Fresh counts when anything changed, so the stage chips move with the rows. */
    counts: JobCountsSchema.optional(),
  }),
  'preview.progress': z.strictObject({
    runId: Id,
    phase: z.enum(['encoding', 'measuring', 'done', 'failed', 'cancelled']),
    /** 0..1 over the whole run. */
    progress: z.number().min(0).max(1),
    rung: Text(32).nullable(),
    error: ApiErrorSchema.nullable(),
  }),
} as const;

export type Events = typeof events;
export type EventChannel = keyof Events;
export type EventPayload<C extends EventChannel> = z.output<Events[C]>;
export const EVENT_CHANNELS = Object.keys(events) as EventChannel[];

export function isEventChannel(value: unknown): value is EventChannel {
  return typeof value === 'string' && Object.hasOwn(events, value);
}

// ---------------------------------------------------------------------------------------------------------------
// Envelopes and clients

export type ApiResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ApiErrorBody };

export const ApiResultSchema = z.union([
  z.strictObject({ ok: z.literal(true), value: z.unknown() }),
  z.strictObject({ ok: z.literal(false), error: ApiErrorSchema }),
]);

/** What the preload exposes as `window.tiercast` (and what the HTTP transport's client mirrors). */
export type BridgeCalls = { [K in CallName]: (request: ApiRequest<K>) => Promise<ApiResult<ApiResponse<K>>> };
export interface BridgeApi extends BridgeCalls {
  readonly transport: 'ipc';
  /** Subscribe to one of the contract's event channels; returns the unsubscribe function. */
  on<C extends EventChannel>(channel: C, listener: (payload: EventPayload<C>) => void): () => void;
  /** Electron only: the absolute path of a dropped or picked File (webUtils.getPathForFile); '' when it has none. */
  getPathForFile(file: unknown): string;
}

/** The renderer's view: plain async methods that throw ApiCallError. */
export type RendererCalls = { [K in CallName]: (request: ApiRequest<K>) => Promise<ApiResponse<K>> };
export interface RendererApi extends RendererCalls {
  on<C extends EventChannel>(channel: C, listener: (payload: EventPayload<C>) => void): () => void;
}

/** A failed call, with the TiercastError code from the main process. */
export class ApiCallError extends Error {
  readonly code: ErrorCode;
  readonly call: string;
  constructor(call: string, body: ApiErrorBody) {
    super(body.message);
    this.name = 'ApiCallError';
    this.code = body.code;
    this.call = call;
  }
}

/** A transport as createRendererApi needs it: send a call, get an envelope; subscribe to events. */
export interface EnvelopeTransport {
  call(name: CallName, request: unknown): Promise<unknown>;
  on(channel: EventChannel, listener: (payload: unknown) => void): () => void;
}

/** Plain methods over any transport; a malformed envelope becomes an INTERNAL ApiCallError. */
export function createRendererApi(transport: EnvelopeTransport): RendererApi {
  const api: Record<string, unknown> = {};
  for (const name of CALL_NAMES) {
    api[name] = async (request: unknown) => {
      const raw = await transport.call(name, request);
      const parsed = ApiResultSchema.safeParse(raw);
      if (!parsed.success) throw new ApiCallError(name, { code: 'INTERNAL', message: `${name}: malformed answer from the console` });
      if (!parsed.data.ok) throw new ApiCallError(name, parsed.data.error);
      return parsed.data.value;
    };
  }
  api.on = (channel: EventChannel, listener: (payload: unknown) => void) => transport.on(channel, listener);
  return api as unknown as RendererApi;
}

/** The preload's bridge as an EnvelopeTransport. */
export function bridgeTransport(bridge: BridgeApi): EnvelopeTransport {
  return {
    call: (name, request) => (bridge[name] as (r: unknown) => Promise<unknown>)(request),
    on: (channel, listener) => bridge.on(channel, listener as never),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The web transport's conventions (desktop/main/web-server.ts)

export const WEB = {
  /** POST `${apiPrefix}<call>` with the JSON request; answers an ApiResult with status 200, or 4xx/5xx on error. */
  apiPrefix: '/api/',
  /** Server-sent events: `event: <channel>` and `data: <json payload>`; authenticated by the cookie or ?token=. */
  eventsPath: '/api/events',
  /**
   * PUT the raw bytes of a dropped File here with `?name=<file name>&relativeDir=<folder>`; answers
   * `{ ok: true, value: { path } }`, a server-side path to pass to files.add. Web transport only.
   */
  stagePath: '/api/stage',
  /** Preview frames and job outputs: `/media/preview/...`, `/media/outputs/<jobId>/...` (cookie-authenticated). */
  mediaPrefix: '/media/',
  /** The page carries the per-run token in `<meta name="tiercast-token" content="...">`, injected at serve time. */
  tokenMeta: 'tiercast-token',
  /** HttpOnly cookie set when the page is opened with ?token=; sent automatically with media and SSE requests. */
  cookiePrefix: 'tiercast_token_',
} as const;

export const StageResponseSchema = z.strictObject({ path: Text(4096) });

/** The minimal fetch this module needs (no DOM types in shared/common). */
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string },
) => Promise<{ status: number; json(): Promise<unknown> }>;

/** The minimal EventSource (DOM's, or a test double). */
export interface EventSourceLike {
  addEventListener(type: string, listener: (event: { data: string }) => void): void;
  close(): void;
}

/**
 * The HTTP transport's client: `POST /api/<call>` with `Authorization: Bearer <token>`, events over one shared
 * EventSource (opened on first subscription).
 */
export function createHttpTransport(options: {
  baseUrl: string;
  token: string;
  fetch: FetchLike;
  openEventSource?: (url: string) => EventSourceLike;
}): EnvelopeTransport {
  const base = options.baseUrl.replace(/\/+$/, '');
  let source: EventSourceLike | null = null;
  const listeners = new Map<string, Set<(payload: unknown) => void>>();
  const attached = new Set<string>();
  return {
    async call(name, request) {
      let res: { status: number; json(): Promise<unknown> };
      try {
        res = await options.fetch(`${base}${WEB.apiPrefix}${name}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${options.token}` },
          body: JSON.stringify(request ?? {}),
        });
      } catch (err) {
        return { ok: false, error: { code: 'INTERNAL', message: `${name}: the console did not answer (${String(err)})` } };
      }
      try {
        return await res.json();
      } catch {
        return { ok: false, error: { code: 'INTERNAL', message: `${name}: HTTP ${res.status} without a JSON body` } };
      }
    },
    on(channel, listener) {
      if (!options.openEventSource) throw new Error('this transport was created without an EventSource');
      source ??= options.openEventSource(`${base}${WEB.eventsPath}`);
      let set = listeners.get(channel);
      if (!set) listeners.set(channel, (set = new Set()));
      set.add(listener);
      if (!attached.has(channel)) {
        attached.add(channel);
        source.addEventListener(channel, (event) => {
          let payload: unknown;
          try {
            payload = JSON.parse(event.data);
          } catch {
            return;
          }
          for (const l of listeners.get(channel) ?? []) l(payload);
        });
      }
      return () => {
        set.delete(listener);
      };
    },
  };
}
