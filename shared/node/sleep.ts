import type { AbortSignalLike } from '../common/abort.ts';

/** Waits `ms`, or less when the signal aborts (it resolves then; it never rejects, callers check the signal). */
export function sleep(ms: number, signal?: AbortSignalLike): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
