/**
 * Placeholder so the stack synthesises: the job table's stream consumer (webhook delivery and EventBridge events,
 * issue 8 §6) is written elsewhere and replaces this file. Deployed as it is, every batch fails and goes to the
 * on-failure queue, which alarms.
 */
export async function handler(_event: unknown): Promise<never> {
  throw new Error('not built yet');
}
