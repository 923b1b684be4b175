import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ExecuteJobFn, Worker } from '../../../shared/node/worker.ts';
import { createJobsFromConfig, openJobStore, type JobsSetup } from '../../../cloud/jobs-from-config.ts';
import type { Dispatchers } from '../../../shared/common/tier-dispatch.ts';
import { createStoreFromConfig } from '../../../cloud/store-from-config.ts';
import type { JobDetail, JobRow, LadderSummary, RouteSummary } from '../../../shared/common/api-contract.ts';
import type { TiercastConfig } from '../../../shared/common/config-schema.ts';
import { TiercastError, toTiercastError, type ErrorCode } from '../../../shared/common/errors.ts';
import { TERMINAL_STAGES, type Stage, type Tier } from '../../../shared/common/job.ts';
import type { Ladder } from '../../../shared/common/ladder-schema.ts';
import { DEFAULT_LADDER_NAME, fitLadder } from '../../../shared/common/ladders.ts';
import type { MediaInfo } from '../../../shared/common/media.ts';
import { PANELS, type MetricsSource } from '../../../shared/common/metrics-query.ts';
import { routeJob } from '../../../shared/common/router.ts';
import { loadConfig, saveConfig } from '../../../shared/node/config.ts';
import { homePaths } from '../../../shared/node/data-home.ts';
import { resolveFfmpeg } from '../../../shared/node/ffmpeg-locate.ts';
import { listLadders, loadNamedLadder, saveLadder } from '../../../shared/node/ladder-files.ts';
import { createJobOutputs } from '../../../shared/node/job-outputs.ts';
import { createLocalMetricsSink, createLocalMetricsSource } from '../../../shared/node/local-metrics.ts';
import { createLocalWorker, localQueueFor } from '../../../shared/node/local-worker.ts';
import type { Logger } from '../../../shared/node/log.ts';
import type { ObjectStore } from '../../../shared/node/object-store.ts';
import { probeFile } from '../../../shared/node/probe.ts';
import { createEventBus, type Handlers } from '../api-calls.ts';
import { createMediaResolver } from '../media.ts';
import { createFileRegistry } from './files.ts';
import { createConsoleJobs, type ActionResult } from './jobs.ts';
import { createPreviewService, type PreviewFn } from './preview.ts';
import { configPatchOf, consoleSettings, settingsView } from './settings.ts';
import type { ConsoleServices } from './types.ts';
import { createUploadManager } from './uploads.ts';

/**
 * The console's composition root, as plain Node (no Electron): the handler for every contract call, the event bus,
 * the media resolver and the web-only staging of dropped files. Both transports (IPC and HTTP) use exactly this.
 *
 * The local tier runs the agent's own worker loop (agent/worker.ts) in-process over the local queue and the
 * configured store; there is no second worker implementation.
 */

export interface ServicesOptions {
  readonly home: string;
  readonly config: TiercastConfig;
  readonly log: Logger;
  readonly configPath?: string;
  readonly version?: string;
  /** Run the in-process local worker (default true). */
  readonly localWorker?: boolean;
  readonly uploadConcurrency?: number;
  readonly probeConcurrency?: number;
  /** The job executor the local worker runs; default the shared core's executeJob. */
  readonly execute?: ExecuteJobFn;
  /** Tests: the tier adapters; default cloud/dispatch's for the enabled tiers (local: the local queue). */
  readonly dispatchers?: Dispatchers;
  /** Seconds between polls of the job store's change index (jobs.updated); default 1. */
  readonly jobsPollMs?: number;
  readonly preview?: PreviewFn;
  readonly metricsSource?: (config: TiercastConfig) => MetricsSource;
}

export function consoleDirs(home: string) {
  const root = path.join(home, 'console');
  return { root, preview: path.join(root, 'preview'), staging: path.join(root, 'staging') };
}

/** The configured store, built by the factory every composition root shares (same resume folder as the CLI). */
export function buildStore(config: TiercastConfig, home: string): { store: ObjectStore; close: () => void } {
  return createStoreFromConfig(config, { home });
}

/** Sortable by time (base-36 milliseconds) and unique (random suffix); the CLI's form (cli/commands/submit.ts). */
export function newJobId(now = Date.now()): string {
  return `j${now.toString(36)}-${randomBytes(4).toString('hex')}`;
}

const oneJob = (results: ActionResult[]): JobRow => {
  const r = results[0]!;
  if (r.error) throw new TiercastError(r.error.code as ErrorCode, r.error.message);
  return r.job!;
};

function routeSummary(decision: { tier: Tier; reason: string; estimatedCostUsd: number | null; priceDate: string | null; seconds?: number | null }): RouteSummary {
  return {
    tier: decision.tier,
    reason: decision.reason.slice(0, 2000),
    estimatedCostUsd: decision.estimatedCostUsd,
    priceDate: decision.priceDate,
    estimatedSeconds: decision.seconds ?? null,
  };
}

const sanitizeSegment = (s: string) =>
  s
    .normalize('NFC')
    .replace(/[\\/\0:*?"<>|]+/g, '_')
    .replace(/^\.+/, '_')
    .slice(0, 200);

/** The shared core's previewLadder in the shape the preview service uses. */
export const corePreview: PreviewFn = async ({ input, media, ladder, startSec, durationSec, outDir, signal, onProgress }) => {
  // Loaded on first use: the preview's encoder and scorer are only needed when an operator opens the preview screen.
  const { previewLadder } = await import('../../../shared/node/preview.ts');
  const result = await previewLadder({ input, ladder, startSec, durationSec, outDir, signal, preset: ladder.preset, ...(onProgress ? { onProgress } : {}) });
  const { hasLibvmaf } = await resolveFfmpeg();
  const first = result.rungs[0];
  return {
    frameAtSec: result.startSec + result.durationSec / 2,
    source: { width: result.referenceWidth, height: result.referenceHeight, frame: first?.sourceFrameJpeg ?? path.join(outDir, 'source.jpg') },
    rungs: result.rungs.map((r) => ({
      name: r.name,
      codec: r.codec,
      width: r.width,
      height: r.height,
      bitrate: r.bitrateMeasured,
      sizeBytes: r.sizeBytes,
      speed: Number.isFinite(r.encodeSpeed) ? r.encodeSpeed : null,
      ssim: Number.isFinite(r.ssim) ? r.ssim : null,
      psnr: Number.isFinite(r.psnr) ? r.psnr : null,
      vmaf: r.vmaf,
      frame: r.frameJpeg,
    })),
    dropped: media.video ? fitLadder(media, ladder).dropped : [],
    vmafAvailable: hasLibvmaf,
  };
};

/** Files a browser dropped are copies; a week after staging, whatever was not dispatched is removed. */
const STAGING_KEEP_MS = 7 * 24 * 3600 * 1000;

async function sweepStaging(dir: string, log: Pick<Logger, 'warn'>): Promise<void> {
  const entries = await fsp.readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const full = path.join(dir, e.name);
    try {
      const st = await fsp.stat(full);
      if (Date.now() - st.mtimeMs > STAGING_KEEP_MS) await fsp.rm(full, { recursive: true, force: true });
    } catch (err) {
      log.warn({ err, dir: full }, 'could not sweep a staging folder');
    }
  }
}

export async function createServices(options: ServicesOptions): Promise<ConsoleServices> {
  const { home, log } = options;
  const paths = homePaths(home);
  const dirs = consoleDirs(home);
  await Promise.all([dirs.preview, dirs.staging, paths.uploads].map((d) => fsp.mkdir(d, { recursive: true })));
  await sweepStaging(dirs.staging, log);
  let config = options.config;
  let built = buildStore(config, home);
  let store = built.store;
  const events = createEventBus(log);
  const queue = localQueueFor(config, home);
  // The one jobs service and job store (SQLite in the data home by default), as the CLI builds it.
  // The job store stays open for the console's life; the service is rebuilt when Settings change the tiers or store.
  const jobStore = openJobStore(config, { home });
  const makeJobs = (): JobsSetup =>
    createJobsFromConfig(config, { home, store, jobStore, localQueue: queue, ...(options.dispatchers ? { dispatchers: options.dispatchers } : {}), log: log.child({ component: 'jobs' }) });
  let jobsSetup = makeJobs();
  const metricsSink = createLocalMetricsSink(paths.metrics);
  let selectedLadder = DEFAULT_LADDER_NAME;

  // Names only: the console never reads a ladder from a path (README "The command line").
  const ladderFor = async (name: string): Promise<Ladder> => loadNamedLadder(name, { home });

  function decide(input: { sizeBytes: number; media: MediaInfo | null; ladder: Ladder; requested: 'auto' | Tier; jobId?: string }) {
    const fitted = input.media?.video ? fitLadder(input.media, input.ladder) : input.ladder;
    const v = input.media?.video;
    const route = routeJob(
      {
        sizeBytes: input.sizeBytes,
        media: input.media && v ? { durationSec: input.media.durationSec, width: v.displayWidth, height: v.displayHeight, fps: v.fps } : null,
        ladder: fitted,
        requestedTier: input.requested,
        ...(input.jobId ? { jobId: input.jobId } : {}),
      },
      config,
    );
    return {
      tier: route.tier,
      reason: route.reason,
      estimatedCostUsd: route.estimate.costUsd,
      priceDate: route.estimate.priceDate,
      seconds: route.estimate.seconds,
      route,
    };
  }

  const files = createFileRegistry({
    probe: (file, o) => probeFile(file, o),
    route: async ({ sizeBytes, media, name }) =>
      // The router hashes a job id to split Spot and on-demand; a stable key per file keeps the table's answer stable.
      routeSummary(decide({ sizeBytes, media, ladder: await ladderFor(selectedLadder), requested: 'auto', jobId: `r${name.length}${sizeBytes}` })),
    maxInputBytes: () => consoleSettings(config).maxInputBytes,
    ...(options.probeConcurrency ? { concurrency: options.probeConcurrency } : {}),
    onUpdate: (update) => events.emit('files.updated', update),
    log,
  });

  const uploads = await createUploadManager({
    store: () => store,
    stateDir: paths.uploads,
    concurrency: options.uploadConcurrency ?? 3,
    onChange: (changed, totals) => events.emit('uploads.progress', { uploads: changed, totals }),
    log,
  });

  const jobs = createConsoleJobs({
    jobs: () => jobsSetup.jobs,
    route: (input) => decide(input).route,
    newJobId,
    onUpdate: (rows) => events.emit('jobs.updated', { jobs: rows }),
    log,
    ...(options.jobsPollMs ? { pollMs: options.jobsPollMs } : {}),
  });
  jobs.start();

  let worker: Worker | null = null;
  async function startWorker(): Promise<void> {
    if (options.localWorker === false) return;
    // The console's own local worker, the same set-up as `tiercast agent --local`: a cancel is a compare-and-set
    // that the running job finds at its next write (shared/common/jobs-service.ts), so nothing is tracked here.
    worker = createLocalWorker({
      config,
      home,
      queue,
      store,
      jobs: jobsSetup.jobs,
      log: log.child({ component: 'local-worker' }),
      metrics: metricsSink,
      waitSeconds: 1,
      ...(options.execute ? { execute: options.execute } : {}),
    }).worker;
    await worker.start();
  }
  await startWorker();

  const preview = createPreviewService({ dir: dirs.preview, run: options.preview ?? corePreview, onProgress: (p) => events.emit('preview.progress', p) });
  const media = createMediaResolver({ store: () => store, previewDir: dirs.preview });

  // CloudWatch when the configuration asks for it (built lazily, rebuilt when Settings change the config),
  // otherwise the local metrics in the data home, so dashboards work with no AWS account.
  let cloudWatch: { config: TiercastConfig; source: Promise<MetricsSource & { close(): void }> } | null = null;
  const metricsKind = (): MetricsSource['kind'] =>
    options.metricsSource ? options.metricsSource(config).kind : config.metrics.source === 'cloudwatch' ? 'cloudwatch' : 'local';
  async function metricsSource(): Promise<MetricsSource> {
    if (options.metricsSource) return options.metricsSource(config);
    if (config.metrics.source !== 'cloudwatch') return createLocalMetricsSource(paths.metrics);
    if (!cloudWatch || cloudWatch.config !== config) {
      const previous = cloudWatch;
      const forConfig = config;
      cloudWatch = {
        config: forConfig,
        source: import('../../../cloud/cloudwatch-metrics.ts').then((m) => m.createCloudWatchMetricsSourceFromConfig(forConfig)),
      };
      previous?.source.then((s) => s.close(), () => {});
    }
    return cloudWatch.source;
  }

  async function playerOf(jobId: string) {
    const manifest = await createJobOutputs(store).readManifest(jobId);
    if (!manifest) throw new TiercastError('JOB_NOT_FOUND', `job ${jobId} has no published outputs yet`);
    const url = (rel: string | null) => (rel ? `/media/outputs/${encodeURIComponent(jobId)}/${rel.split('/').map(encodeURIComponent).join('/')}` : null);
    let report: Record<string, unknown> | null = null;
    try {
      report = JSON.parse((await store.getBuffer(`outputs/${jobId}/${manifest.report}`)).toString('utf8')) as Record<string, unknown>;
    } catch {
      report = null;
    }
    return { manifest, report, url };
  }

  /** The files to dispatch, once any probing still under way has finished (a just-dropped file can be dispatched). */
  async function ready(fileIds: readonly string[]) {
    await files.idle();
    return fileIds.map((id) => ({ id, item: files.get(id) }));
  }

  const handlers: Handlers = {
    async 'app.info'(_req, ctx) {
      let ffmpeg;
      try {
        const f = await resolveFfmpeg();
        ffmpeg = {
          found: true as const,
          version: f.version.slice(0, 256),
          source: f.source,
          hasLibvmaf: f.hasLibvmaf,
          canTonemap: f.canTonemap,
          encoders: ['libx264', 'libx265', 'libvpx-vp9', 'libsvtav1', 'aac', 'libopus'].filter((e) => f.encoders.has(e)),
        };
      } catch (err) {
        const e = toTiercastError(err, 'FFMPEG_MISSING');
        ffmpeg = { found: false as const, error: { code: e.code, message: e.message.slice(0, 4000) } };
      }
      return {
        version: options.version ?? '0.1.0',
        transport: ctx.transport,
        platform: process.platform,
        ffmpeg,
        store: { kind: store.kind, location: store.location },
        metricsSource: metricsKind(),
        tiersEnabled: [...config.tiers.enabled],
        dataHome: home,
      };
    },

    async 'files.add'(req) {
      return files.add(req.paths);
    },
    async 'files.list'() {
      return { items: files.list() };
    },
    async 'files.remove'(req) {
      return { removed: files.remove(req.ids) };
    },
    async 'files.reroute'(req) {
      if (req.ladder) {
        await ladderFor(req.ladder);
        selectedLadder = req.ladder;
      }
      return { items: await files.reroute(req.ids) };
    },

    async 'uploads.start'(req) {
      const sources = [];
      for (const id of req.ids) {
        const item = files.get(id);
        if (!item) throw new TiercastError('INPUT_NOT_FOUND', `no file with id ${id}`);
        if (item.state !== 'ready') continue;
        sources.push({ fileId: id, path: item.path, name: item.name, sizeBytes: item.sizeBytes });
      }
      uploads.start(sources);
      return uploads.list();
    },
    async 'uploads.pause'(req) {
      uploads.pause(req.ids);
      return uploads.list();
    },
    async 'uploads.resume'(req) {
      uploads.resume(req.ids);
      return uploads.list();
    },
    async 'uploads.cancel'(req) {
      uploads.cancel(req.ids);
      return uploads.list();
    },
    async 'uploads.retry'(req) {
      uploads.retry(req.ids);
      return uploads.list();
    },
    async 'uploads.list'() {
      return uploads.list();
    },

    async 'ladders.list'() {
      const listing = await listLadders({ home });
      const ladders: LadderSummary[] = [];
      for (const l of listing) {
        let rungs: LadderSummary['rungs'] = [];
        try {
          rungs = (await ladderFor(l.name)).rungs.map((r) => ({ name: r.name, shortEdge: r.shortEdge, videoBitrate: r.videoBitrate }));
        } catch {
          rungs = [];
        }
        ladders.push({ name: l.name, description: l.description.slice(0, 500), builtin: l.origin === 'builtin', rungs });
      }
      return { ladders, defaultLadder: DEFAULT_LADDER_NAME };
    },
    async 'ladders.get'(req) {
      const listing = await listLadders({ home });
      const entry = listing.find((l) => l.name === req.name);
      if (!entry) throw new TiercastError('CONFIG_INVALID', `unknown ladder "${req.name}"`);
      return { ladder: await ladderFor(req.name), builtin: entry.origin === 'builtin' };
    },
    async 'ladders.save'(req) {
      await saveLadder(req.ladder, { home, overwrite: true });
      return { ladder: await ladderFor(req.ladder.name) };
    },
    async 'ladders.delete'(req) {
      const listing = await listLadders({ home });
      const entry = listing.find((l) => l.name === req.name);
      if (!entry) return { deleted: false };
      if (entry.origin === 'builtin' || !entry.file) throw new TiercastError('CONFIG_INVALID', `"${req.name}" is a built-in ladder and cannot be deleted`);
      await fsp.rm(entry.file, { force: true });
      return { deleted: true };
    },

    async 'preview.run'(req) {
      let input: string;
      let info: MediaInfo | undefined;
      if (req.fileId) {
        const item = files.get(req.fileId);
        if (!item) throw new TiercastError('INPUT_NOT_FOUND', `no file with id ${req.fileId}`);
        if (item.state === 'problem') throw new TiercastError(item.problem!.code, item.problem!.message);
        input = item.path;
        info = files.media(req.fileId);
      } else {
        input = path.resolve(req.path!);
      }
      info ??= await probeFile(input);
      return preview.run({ runId: req.runId, input, media: info, ladder: req.ladder, ...(req.auto ? { auto: true } : {}), startSec: req.startSec, durationSec: req.durationSec });
    },
    async 'preview.cancel'(req) {
      return { cancelled: preview.cancel(req.runId) };
    },

    async 'jobs.dispatch'(req) {
      const ladder = await ladderFor(req.ladder);
      const entries = await ready(req.fileIds);
      const results: Array<Awaited<ReturnType<typeof jobs.submit>>[number]> = [];
      const toUpload = [];
      for (const e of entries) {
        if (!e.item) {
          results.push({ fileId: e.id, jobId: null, tier: null, reason: null, error: { code: 'INPUT_NOT_FOUND', message: `no file with id ${e.id}` } });
        } else if (e.item.state !== 'ready' || !files.media(e.id)) {
          results.push({ fileId: e.id, jobId: null, tier: null, reason: null, error: e.item.problem ?? { code: 'INVALID_REQUEST', message: `${e.item.name} is not ready` } });
        } else {
          toUpload.push(e.item);
        }
      }
      uploads.start(toUpload.map((i) => ({ fileId: i.id, path: i.path, name: i.name, sizeBytes: i.sizeBytes })));
      const uploaded = await Promise.all(
        toUpload.map(async (item) => {
          try {
            const u = await uploads.whenDone(item.id);
            return { item, key: u.key, error: null };
          } catch (err) {
            const e = toTiercastError(err, 'STORE_ERROR');
            return { item, key: null, error: { code: e.code, message: e.message.slice(0, 4000) } };
          }
        }),
      );
      for (const u of uploaded) if (u.error) results.push({ fileId: u.item.id, jobId: null, tier: null, reason: null, error: u.error });
      const inputs = uploaded
        .filter((u) => u.key !== null)
        .map((u) => ({ fileId: u.item.id, name: u.item.name, key: u.key!, sizeBytes: u.item.sizeBytes, media: files.media(u.item.id)! }));
      results.push(
        ...(await jobs.submit(inputs, {
          tier: req.tier,
          ladder,
          ...(req.formats ? { formats: req.formats } : {}),
          ...(req.priority ? { priority: req.priority } : {}),
          ...(req.priorities ? { priorities: req.priorities } : {}),
        })),
      );
      return { results };
    },
    async 'jobs.list'(req) {
      const page = await jobs.page({ ...(req.stage ? { stage: req.stage } : {}), ...(req.tier ? { tier: req.tier } : {}), limit: req.limit, cursor: req.cursor ?? null });
      const search = req.search?.trim().toLowerCase();
      const rows = search ? page.rows.filter((r) => r.id.toLowerCase().includes(search) || r.name.toLowerCase().includes(search)) : page.rows;
      const inFilter = (stage: string) => (req.stage === 'active' ? !TERMINAL_STAGES.includes(stage as Stage) : !req.stage || req.stage === stage);
      const total = search ? rows.length : Object.entries(page.counts).reduce((n, [stage, c]) => (inFilter(stage) ? n + c : n), 0);
      return { jobs: rows, nextCursor: page.cursor, total: req.tier ? Math.max(rows.length, 0) : total, counts: page.counts };
    },
    async 'jobs.get'(req) {
      const detail = await jobs.detail(req.id);
      let outputs: JobDetail['outputs'] = null;
      let report: JobDetail['report'] = null;
      if (detail.status.stage === 'done') {
        try {
          const p = await playerOf(req.id);
          report = p.report as JobDetail['report'];
          outputs = {
            hlsUrl: p.url(p.manifest.hls),
            dashUrl: p.url(p.manifest.dash),
            posterUrl: p.url(p.manifest.poster),
            files: p.manifest.files.length,
            totalBytes: p.manifest.files.reduce((a, f) => a + f.sizeBytes, 0),
          };
        } catch {
          outputs = null;
        }
      }
      const { status: _status, ...rest } = detail;
      return { ...rest, report, outputs };
    },
    async 'jobs.retry'(req) {
      return { job: oneJob(await jobs.retry([req.id])) };
    },
    async 'jobs.cancel'(req) {
      return { job: oneJob(await jobs.cancel([req.id])) };
    },
    async 'jobs.changes'(req) {
      return jobs.changes(req.cursor, req.limit);
    },
    async 'jobs.delete'(req) {
      return { results: (await jobs.remove(req.ids)).map((r) => ({ id: r.id, error: r.error })) };
    },
    async 'jobs.redrive'(req) {
      return { results: await jobs.redrive(req.ids ?? (await jobs.deadLettered())) };
    },

    async 'metrics.query'(req) {
      const source = await metricsSource();
      const panels = req.panels ?? [...PANELS];
      const range = { from: req.from, to: req.to, periodSec: req.periodSec };
      const results = await Promise.all(panels.map((p) => source.query(p, range)));
      return {
        source: source.kind,
        panels: results.map((r) => ({
          ...r,
          series: r.series.map((s) => ({ ...s, points: [...s.points] })),
          thresholds: [...r.thresholds],
        })),
      };
    },

    async 'player.sources'(req) {
      const { manifest, report, url } = await playerOf(req.jobId);
      const renditions = Array.isArray(report?.renditions) ? (report.renditions as Array<Record<string, unknown>>) : [];
      const input = report?.input as { durationSec?: unknown } | undefined;
      return {
        jobId: req.jobId,
        hlsUrl: url(manifest.hls),
        dashUrl: url(manifest.dash),
        thumbnailsVttUrl: url(manifest.thumbnails),
        posterUrl: url(manifest.poster),
        variants: renditions.slice(0, 20).map((r) => ({
          name: String(r.name ?? '').slice(0, 64),
          width: Number(r.width) || 0,
          height: Number(r.height) || 0,
          bandwidth: Number(r.bitratePeak ?? r.maxrate ?? r.targetBitrate) || 0,
          codecs: String(r.codecs ?? '').slice(0, 256),
        })),
        durationSec: typeof input?.durationSec === 'number' ? input.durationSec : null,
      };
    },

    async 'settings.get'() {
      return { settings: settingsView(config, home, options.configPath) };
    },
    async 'settings.save'(req) {
      const before = { concurrency: config.tiers.local.concurrency };
      // Into the file the console read its settings from: the data home's config.json, or the --config file.
      const file = options.configPath ? { configPath: options.configPath } : {};
      await saveConfig(home, configPatchOf(req.patch), file);
      config = await loadConfig({ home, ...file });
      const next = buildStore(config, home);
      const storeChanged = next.store.kind !== store.kind || next.store.location !== store.location;
      if (!storeChanged) next.close();
      else {
        const previous = built;
        built = next;
        store = next.store;
        // In-flight uploads and reads of the old store finish on their own; its client goes once they are done.
        setTimeout(() => previous.close(), 60_000).unref();
      }
      const previousJobs = jobsSetup;
      jobsSetup = makeJobs();
      await previousJobs.close();
      if (worker && (storeChanged || before.concurrency !== config.tiers.local.concurrency)) {
        await worker.stop();
        worker = null;
        await startWorker();
      }
      return { settings: settingsView(config, home, options.configPath) };
    },
    async 'settings.testConnection'(req) {
      const checks = [];
      const after: Array<() => void> = [];
      const candidate: TiercastConfig = req.patch?.store
        ? ({
            ...config,
            store:
              req.patch.store.kind === 's3'
                ? {
                    kind: 's3',
                    bucket: req.patch.store.bucket,
                    prefix: req.patch.store.prefix,
                    forcePathStyle: Boolean(req.patch.store.endpoint) || (config.store.kind === 's3' && config.store.forcePathStyle),
                    partSizeMb: 16,
                    uploadConcurrency: 4,
                    ...(req.patch.store.endpoint ? { endpoint: req.patch.store.endpoint } : {}),
                    ...((req.patch.aws?.region ?? config.aws.region) ? { region: (req.patch.aws?.region ?? config.aws.region)! } : {}),
                  }
                : { kind: 'local', root: req.patch.store.path },
          } as TiercastConfig)
        : config;
      const t0 = Date.now();
      try {
        const candidateStore = buildStore(candidate, home);
        const s = candidateStore.store;
        after.push(candidateStore.close);
        const probeKey = `console-check/${randomBytes(6).toString('hex')}.txt`;
        await s.put(probeKey, 'tiercast connection test\n', { contentType: 'text/plain' });
        await s.head(probeKey);
        await s.delete(probeKey);
        checks.push({ name: 'store', ok: true, message: `wrote, read and deleted a test object in ${s.location}`, elapsedMs: Date.now() - t0 });
      } catch (err) {
        const e = toTiercastError(err, 'STORE_ERROR');
        checks.push({ name: 'store', ok: false, message: `${e.code}: ${e.message}`.slice(0, 2000), elapsedMs: Date.now() - t0 });
      }
      const t1 = Date.now();
      try {
        const f = await resolveFfmpeg();
        checks.push({ name: 'ffmpeg', ok: true, message: `ffmpeg ${f.version} (${f.source})`.slice(0, 2000), elapsedMs: Date.now() - t1 });
      } catch (err) {
        checks.push({ name: 'ffmpeg', ok: false, message: toTiercastError(err).message.slice(0, 2000), elapsedMs: Date.now() - t1 });
      }
      for (const close of after) close();
      return { ok: checks.every((c) => c.ok), checks };
    },
  };

  async function stageUpload(input: { name: string; relativeDir: string; body: Readable; declaredSize: number | null }): Promise<{ path: string }> {
    const max = consoleSettings(config).maxInputBytes;
    const name = sanitizeSegment(input.name.trim());
    if (!name) throw new TiercastError('INVALID_REQUEST', 'a staged file needs a name');
    if (input.declaredSize !== null && input.declaredSize > max) {
      throw new TiercastError('INPUT_TOO_LARGE', `${name}: ${input.declaredSize} bytes is over the ${max}-byte limit`);
    }
    const rel = input.relativeDir
      .split(/[\\/]+/)
      .filter((s) => s && s !== '.' && s !== '..')
      .map(sanitizeSegment)
      .slice(0, 32);
    const dir = path.join(dirs.staging, `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`, ...rel);
    await fsp.mkdir(dir, { recursive: true });
    const file = path.join(dir, name);
    let seen = 0;
    const cap = new Transform({
      transform(chunk: Buffer, _enc, done) {
        seen += chunk.length;
        if (seen > max) done(new TiercastError('INPUT_TOO_LARGE', `${name}: over the ${max}-byte limit`));
        else done(null, chunk);
      },
    });
    try {
      await pipeline(input.body, cap, createWriteStream(file, { flags: 'wx' }));
    } catch (err) {
      await fsp.rm(file, { force: true });
      throw toTiercastError(err, 'STORE_ERROR');
    }
    return { path: file };
  }

  let closing: Promise<void> | null = null;
  return {
    handlers,
    events,
    media,
    stageUpload,
    close() {
      closing ??= (async () => {
        const steps: Array<() => Promise<unknown> | unknown> = [
          () => preview.close(),
          () => files.close(),
          () => jobs.close(),
          () => uploads.close(),
          () => worker?.stop(),
          () => jobsSetup.close(),
          () => jobStore.close(),
          () => built.close(),
          () => cloudWatch?.source.then((s) => s.close()),
        ];
        for (const step of steps) {
          try {
            await step();
          } catch (err) {
            log.warn({ err }, 'console shutdown step failed');
          }
        }
      })();
      return closing;
    },
  };
}
