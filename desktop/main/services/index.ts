import fsp from 'node:fs/promises';
import path from 'node:path';
import { homePaths } from '../../../shared/node/data-home.ts';
import { newJobId } from '../../../shared/node/job-ids.ts';
import type { Logger } from '../../../shared/node/log.ts';
import { probeFile } from '../../../shared/node/probe.ts';
import { createEventBus, type EventBus, type Handlers } from '../api-calls.ts';
import { createMediaResolver } from '../media.ts';
import { createBackend, type Backend } from './backend.ts';
import { corePreview } from './core-preview.ts';
import { createFileRegistry } from './files.ts';
import { appHandlers } from './handlers/app.ts';
import { filesHandlers } from './handlers/files.ts';
import { jobsHandlers } from './handlers/jobs.ts';
import { laddersHandlers } from './handlers/ladders.ts';
import { metricsHandlers } from './handlers/metrics.ts';
import { playerHandlers } from './handlers/player.ts';
import { previewHandlers } from './handlers/preview.ts';
import { settingsHandlers } from './handlers/settings.ts';
import { uploadsHandlers } from './handlers/uploads.ts';
import { createConsoleJobs } from './jobs.ts';
import { createMetricsSources } from './metrics-source.ts';
import { createOutputsReader } from './outputs.ts';
import { createPreviewService } from './preview.ts';
import { createConsoleRouting } from './routing.ts';
import { consoleSettings } from './settings.ts';
import { createStaging } from './staging.ts';
import type { ConsoleServices, ServicesOptions } from './types.ts';
import { createUploadManager } from './uploads.ts';

/**
 * The console's composition root, as plain Node (no Electron): builds the parts, spreads each contract namespace's
 * handlers (handlers/<namespace>.ts) into one Handlers object, starts and closes things in order. Both transports
 * (IPC and HTTP) use exactly this (desktop/README.md "The console's services").
 */
export type { ServicesOptions } from './types.ts';

/** Sortable by time (base-36 milliseconds) and unique (random suffix); the CLI's form (cli/commands/submit.ts). */

export async function createServices(options: ServicesOptions): Promise<ConsoleServices> {
  const { home, log } = options;
  const dirs = { preview: path.join(home, 'console', 'preview'), staging: path.join(home, 'console', 'staging') };
  await Promise.all([dirs.preview, dirs.staging, homePaths(home).uploads].map((d) => fsp.mkdir(d, { recursive: true })));
  const backend = createBackend(options);
  const staging = createStaging({ dir: dirs.staging, maxInputBytes: () => consoleSettings(backend.config()).maxInputBytes, log });
  await staging.sweep();
  const events = createEventBus(log);
  const parts = await startParts(options, backend, events, dirs.preview);
  const { preview, files, jobs, uploads, metrics } = parts;
  return {
    handlers: composeHandlers(options, backend, parts),
    events,
    media: createMediaResolver({ store: backend.store, previewDir: dirs.preview }),
    stageUpload: staging.stage,
    close: closeOnce([() => preview.close(), () => files.close(), () => jobs.close(), () => uploads.close(), ...backend.closeSteps(), () => metrics.close()], log),
  };
}

/** The parts the handlers use, each told where its events go; the jobs poll and the local worker are started. */
async function startParts(options: ServicesOptions, backend: Backend, events: EventBus, previewDir: string) {
  const { home, log } = options;
  const { config, store } = backend;
  const routing = createConsoleRouting({ home, config });
  const files = createFileRegistry({
    probe: (file, o) => probeFile(file, o),
    route: routing.routeFile,
    maxInputBytes: () => consoleSettings(config()).maxInputBytes,
    ...(options.probeConcurrency ? { concurrency: options.probeConcurrency } : {}),
    onUpdate: (update) => events.emit('files.updated', update),
    log,
  });
  const uploads = await createUploadManager({
    store,
    stateDir: homePaths(home).uploads,
    concurrency: options.uploadConcurrency ?? 3,
    onChange: (changed, totals) => events.emit('uploads.progress', { uploads: changed, totals }),
    log,
  });
  const jobs = createConsoleJobs({
    jobs: backend.jobs,
    route: routing.route,
    newJobId,
    onUpdate: (rows, counts) => events.emit('jobs.updated', { jobs: rows, counts }),
    log,
    ...(options.jobsPollMs ? { pollMs: options.jobsPollMs } : {}),
  });
  jobs.start();
  await backend.startWorker();
  const preview = createPreviewService({ dir: previewDir, run: options.preview ?? corePreview, onProgress: (p) => events.emit('preview.progress', p) });
  const metrics = createMetricsSources({ metricsDir: homePaths(home).metrics, config, ...(options.metricsSource ? { override: options.metricsSource } : {}) });
  return { routing, files, uploads, jobs, preview, metrics, outputs: createOutputsReader(store) };
}

/** Every contract namespace's handlers in one object: a namespace left out does not compile. */
function composeHandlers(options: ServicesOptions, backend: Backend, parts: Awaited<ReturnType<typeof startParts>>): Handlers {
  const { config, store } = backend;
  const { routing, files, uploads, jobs, preview, metrics, outputs } = parts;
  return {
    ...appHandlers({ home: options.home, version: options.version ?? '0.1.0', config, store, metricsKind: metrics.kind }),
    ...filesHandlers({ files, selectLadder: routing.selectLadder }),
    ...uploadsHandlers({ files, uploads }),
    ...laddersHandlers({ home: options.home, ladderFor: routing.ladderFor }),
    ...previewHandlers({ files, preview }),
    ...jobsHandlers({ files, uploads, jobs, ladderFor: routing.ladderFor, outputs }),
    ...metricsHandlers({ source: metrics.source }),
    ...playerHandlers({ outputs }),
    ...settingsHandlers({ home: options.home, ...(options.configPath ? { configPath: options.configPath } : {}), config, apply: backend.apply }),
  };
}

/** An idempotent close: every step runs, in order, even when one before it failed. */
function closeOnce(steps: ReadonlyArray<() => unknown>, log: Pick<Logger, 'warn'>): () => Promise<void> {
  let closing: Promise<void> | null = null;
  return () =>
    (closing ??= (async () => {
      for (const step of steps) await Promise.resolve().then(step).catch((err: unknown) => log.warn({ err }, 'console shutdown step failed'));
    })());
}
