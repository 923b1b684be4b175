import type { Readable } from 'node:stream';
import type { TiercastConfig } from '../../../shared/common/config-schema.ts';
import type { MetricsSource } from '../../../shared/common/metrics-query.ts';
import type { Dispatchers } from '../../../shared/common/tier-dispatch.ts';
import type { Logger } from '../../../shared/node/log.ts';
import type { ExecuteJobFn } from '../../../shared/node/worker.ts';
import type { EventBus, Handlers } from '../api-calls.ts';
import type { MediaResolver } from '../media.ts';
import type { PreviewFn } from './preview.ts';

/** What a transport needs from the console's services (desktop/main/services/index.ts builds it). */
export interface ConsoleServices {
  readonly handlers: Handlers;
  readonly events: EventBus;
  readonly media: MediaResolver;
  /**
   * Web transport only: stores the bytes of a file dropped in a browser in the staging folder and returns the
   * server-side path to pass to files.add. `relativeDir` keeps a dropped folder's structure.
   */
  stageUpload(input: { name: string; relativeDir: string; body: Readable; declaredSize: number | null }): Promise<{ path: string }>;
  /** Stops the local worker, pauses uploads (they resume on the next start), cancels previews. Idempotent. */
  close(): Promise<void>;
}

/** What createServices (desktop/main/services/index.ts) is built from. */
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
  /** Milliseconds between polls of the job store's change index (jobs.updated); default 1000. */
  readonly jobsPollMs?: number;
  readonly preview?: PreviewFn;
  readonly metricsSource?: (config: TiercastConfig) => MetricsSource;
}
