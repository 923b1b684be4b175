import { createReadStream } from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { ObjectStore } from '../../shared/node/object-store.ts';

/**
 * Media the renderer loads by URL: preview frames and job outputs (HLS/DASH playlists and segments, poster,
 * thumbnails). Both transports serve the same URL space, `/media/<root>/<path>`:
 *   /media/outputs/<jobId>/...   read through the ObjectStore (local folder or S3), only under outputs/
 *   /media/preview/<runId>/...   the preview scratch folder
 * Anything else, and any path with an empty, `.` or `..` segment, a backslash or a NUL, is refused before it
 * comes near a file system or a store key.
 */

export const MEDIA_ROOTS = ['outputs', 'preview'] as const;
export type MediaRoot = (typeof MEDIA_ROOTS)[number];

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.mpd': 'application/dash+xml',
  '.m4s': 'video/iso.segment',
  '.mp4': 'video/mp4',
  '.m4v': 'video/mp4',
  '.m4a': 'audio/mp4',
  '.ts': 'video/mp2t',
  '.aac': 'audio/aac',
  '.vtt': 'text/vtt; charset=utf-8',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.json': 'application/json; charset=utf-8',
  '.webm': 'video/webm',
};

export function contentTypeOf(name: string): string {
  return CONTENT_TYPES[path.extname(name).toLowerCase()] ?? 'application/octet-stream';
}

const SAFE_SEGMENT = /^[^/\\\0]+$/;

/** `/media/<root>/<a>/<b>` (already without query) to its root and segments; null when not acceptable. */
export function parseMediaPath(urlPath: string, prefix = '/media/'): { root: MediaRoot; segments: string[] } | null {
  if (!urlPath.startsWith(prefix)) return null;
  const parts = urlPath.slice(prefix.length).split('/');
  let decoded: string[];
  try {
    decoded = parts.map((p) => decodeURIComponent(p));
  } catch {
    return null;
  }
  const [root, ...segments] = decoded;
  if (!root || !(MEDIA_ROOTS as readonly string[]).includes(root)) return null;
  if (segments.length < 2) return null;
  for (const s of segments) {
    if (s === '' || s === '.' || s === '..' || !SAFE_SEGMENT.test(s)) return null;
  }
  return { root: root as MediaRoot, segments };
}

export interface MediaBody {
  readonly size: number;
  readonly contentType: string;
  /** Inclusive byte range; whole body when omitted. */
  open(range?: { start: number; end: number }): Promise<Readable>;
}

export interface MediaResolver {
  resolve(root: MediaRoot, segments: readonly string[]): Promise<MediaBody | null>;
}

/** Media from the object store's outputs/ and the preview scratch folder. */
export function createMediaResolver(options: { store: () => ObjectStore; previewDir: string }): MediaResolver {
  const previewBase = path.resolve(options.previewDir);
  return {
    async resolve(root, segments) {
      const name = segments.at(-1)!;
      if (root === 'outputs') {
        const store = options.store();
        const key = `outputs/${segments.join('/')}`;
        const meta = await store.head(key).catch(() => null);
        if (!meta) return null;
        return {
          size: meta.size,
          contentType: contentTypeOf(name),
          open: (range) => store.get(key, range ? { range } : {}),
        };
      }
      const file = path.resolve(previewBase, ...segments);
      if (!file.startsWith(previewBase + path.sep)) return null;
      // A symlink planted in the scratch folder must not lead out of it.
      const real = await fsp.realpath(file).catch(() => null);
      const realBase = await fsp.realpath(previewBase).catch(() => previewBase);
      if (!real || !real.startsWith(realBase + path.sep)) return null;
      const st = await fsp.stat(real).catch(() => null);
      if (!st?.isFile()) return null;
      return {
        size: st.size,
        contentType: contentTypeOf(name),
        open: async (range) => createReadStream(real, range ? { start: range.start, end: range.end } : {}),
      };
    },
  };
}

export type RangeResult = { kind: 'full' } | { kind: 'partial'; start: number; end: number } | { kind: 'unsatisfiable' };

/** One `bytes=` range (what media players send); several ranges or other units get the whole body. */
export function parseRange(header: string | undefined | null, size: number): RangeResult {
  if (!header) return { kind: 'full' };
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return { kind: 'full' };
  const [, a, b] = m;
  if (a === '' && b === '') return { kind: 'full' };
  let start: number;
  let end: number;
  if (a === '') {
    const suffix = Number(b);
    if (suffix === 0) return { kind: 'unsatisfiable' };
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  }
  if (!Number.isSafeInteger(start) || start >= size || end < start) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end };
}
