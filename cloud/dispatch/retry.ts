import pRetry, { AbortError } from 'p-retry';

export interface BackoffOptions {
  /** Retries after the first attempt. Default 5. */
  readonly retries?: number;
  /** First wait, ms (doubling, with jitter). Default 200. */
  readonly minTimeoutMs?: number;
  readonly maxTimeoutMs?: number;
}

/**
 * Runs `fn`, retrying with exponential backoff only while `retryable(err)` says so; any other error ends at once.
 * Returns the result and how many attempts it took (so callers can say "after 3 throttled attempts").
 */
export async function withBackoff<T>(
  fn: () => Promise<T>,
  retryable: (err: unknown) => boolean,
  options: BackoffOptions = {},
): Promise<{ value: T; attempts: number }> {
  let attempts = 0;
  const value = await pRetry(
    async () => {
      attempts += 1;
      try {
        return await fn();
      } catch (err) {
        // p-retry never retries TypeErrors and wraps non-Errors; mark the final ones explicitly.
        if (!retryable(err)) throw new AbortError(err instanceof Error ? err : String(err));
        throw err instanceof Error ? err : new Error(String(err));
      }
    },
    {
      retries: options.retries ?? 5,
      minTimeout: options.minTimeoutMs ?? 200,
      maxTimeout: options.maxTimeoutMs ?? 5_000,
      factor: 2,
      randomize: true,
    },
  );
  return { value, attempts };
}

export function errorName(err: unknown): string {
  return (err as { name?: string } | null)?.name ?? '';
}
