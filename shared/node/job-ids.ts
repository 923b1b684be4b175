import { randomBytes } from 'node:crypto';

/**
 * New job ids, for every submitter (the CLI's submit, the console): sortable by time (base-36 milliseconds) and
 * unique (random suffix); they satisfy JobIdSchema, so they are safe as path and key segments.
 */
export function newJobId(now = Date.now()): string {
  return `j${now.toString(36)}-${randomBytes(4).toString('hex')}`;
}
