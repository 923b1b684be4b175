import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TiercastError, toTiercastError } from '../../../shared/common/errors.ts';
import type { Logger } from '../../../shared/node/log.ts';
import type { ConsoleServices } from './types.ts';

/**
 * Web transport only: a file dropped in a browser arrives as bytes, which are copied into the staging folder so
 * files.add can take the server-side path. Names are sanitised segment by segment (a dropped folder keeps its
 * structure, never a way out of the folder) and the size cap holds while the bytes arrive.
 */

export type StageInput = Parameters<ConsoleServices['stageUpload']>[0];

/** Files a browser dropped are copies; a week after staging, whatever was not dispatched is removed. */
const STAGING_KEEP_MS = 7 * 24 * 3600 * 1000;

const sanitizeSegment = (s: string) =>
  s
    .normalize('NFC')
    .replace(/[\\/\0:*?"<>|]+/g, '_')
    .replace(/^\.+/, '_')
    .slice(0, 200);

/** A fresh folder per drop, with the dropped folder's own structure (at most 32 levels) below it. */
function stagingDirOf(root: string, relativeDir: string): string {
  const rel = relativeDir
    .split(/[\\/]+/)
    .filter((s) => s && s !== '.' && s !== '..')
    .map(sanitizeSegment)
    .slice(0, 32);
  return path.join(root, `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`, ...rel);
}

/** Copies the body into a new file, failing with INPUT_TOO_LARGE at the first byte past `max`; nothing half-written stays. */
async function copyCapped(body: Readable, file: string, max: number, name: string): Promise<void> {
  let seen = 0;
  const cap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > max) done(new TiercastError('INPUT_TOO_LARGE', `${name}: over the ${max}-byte limit`));
      else done(null, chunk);
    },
  });
  try {
    await pipeline(body, cap, createWriteStream(file, { flags: 'wx' }));
  } catch (err) {
    await fsp.rm(file, { force: true });
    throw toTiercastError(err, 'STORE_ERROR');
  }
}

export function createStaging(options: { readonly dir: string; readonly maxInputBytes: () => number; readonly log: Pick<Logger, 'warn'> }) {
  return {
    /** Removes drops older than a week (run at start). */
    async sweep(): Promise<void> {
      const entries = await fsp.readdir(options.dir, { withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        const full = path.join(options.dir, e.name);
        try {
          const st = await fsp.stat(full);
          if (Date.now() - st.mtimeMs > STAGING_KEEP_MS) await fsp.rm(full, { recursive: true, force: true });
        } catch (err) {
          options.log.warn({ err, dir: full }, 'could not sweep a staging folder');
        }
      }
    },

    async stage(input: StageInput): Promise<{ path: string }> {
      const max = options.maxInputBytes();
      const name = sanitizeSegment(input.name.trim());
      if (!name) throw new TiercastError('INVALID_REQUEST', 'a staged file needs a name');
      if (input.declaredSize !== null && input.declaredSize > max) {
        throw new TiercastError('INPUT_TOO_LARGE', `${name}: ${input.declaredSize} bytes is over the ${max}-byte limit`);
      }
      const dir = stagingDirOf(options.dir, input.relativeDir);
      await fsp.mkdir(dir, { recursive: true });
      const file = path.join(dir, name);
      await copyCapped(input.body, file, max, name);
      return { path: file };
    },
  };
}
