import type { Readable } from 'node:stream';
import type { EventBus, Handlers } from '../api-calls.ts';
import type { MediaResolver } from '../media.ts';

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
