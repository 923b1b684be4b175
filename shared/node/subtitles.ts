import { execFile } from 'node:child_process';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TiercastError } from '../common/errors.ts';
import { fileUrl, joinPath } from '../common/ffmpeg-args.ts';
import { countVttCues, isBcp47, subtitlePlaylist, withDashClosedCaptions, withDashSubtitles, withHlsClosedCaptions, withHlsSubtitles, type SidecarSubtitle, type SubtitleTrack } from '../common/subtitles.ts';

const SIDECAR_EXTENSIONS = ['.srt', '.vtt'];

function invalid(file: string, message: string, details: Record<string, unknown> = {}): TiercastError {
  return new TiercastError('SUBTITLE_INVALID', `${path.basename(file)}: ${message}`, { details: { file, ...details } });
}

/**
 * Subtitle files next to the input: `<stem>.srt`/`.vtt` (untagged) and `<stem>.<lang>.srt`/`.vtt`, whose middle
 * part must be a BCP 47 tag (`movie.fr.srt`, `movie.pt-BR.vtt`). Sorted by name, so the order is stable.
 */
export async function findSidecars(input: string): Promise<SidecarSubtitle[]> {
  const dir = path.dirname(path.resolve(input));
  const stem = path.basename(input, path.extname(input));
  const names = await readdir(dir).catch(() => [] as string[]);
  const out: SidecarSubtitle[] = [];
  for (const name of names.sort()) {
    const ext = path.extname(name);
    if (!SIDECAR_EXTENSIONS.includes(ext.toLowerCase())) continue;
    const base = name.slice(0, -ext.length);
    if (base === stem) out.push({ path: path.join(dir, name), language: null });
    else if (base.startsWith(`${stem}.`)) out.push({ path: path.join(dir, name), language: base.slice(stem.length + 1) });
  }
  return out;
}

/** `FILE[:lang]` of `--subtitles`: the language is what follows the last colon, when that holds no path separator. */
export function parseSubtitleArg(arg: string): SidecarSubtitle {
  const at = arg.lastIndexOf(':');
  const tail = at > 0 ? arg.slice(at + 1) : '';
  if (at > 0 && tail && !/[\\/]/.test(tail)) return { path: path.resolve(arg.slice(0, at)), language: tail };
  return { path: path.resolve(arg), language: null };
}

/** Every sidecar's language must be BCP 47; the error names the file and the fix. */
export function checkSidecarLanguages(sidecars: readonly SidecarSubtitle[]): void {
  for (const s of sidecars) {
    if (s.language !== null && !isBcp47(s.language)) {
      throw invalid(
        s.path,
        `"${s.language}" is not a BCP 47 language tag; use a tag such as en, fr, pt-BR or zh-Hant (file name <name>.<lang>.srt, or --subtitles FILE:<lang>)`,
        { language: s.language },
      );
    }
  }
}

function run(ffmpeg: string, args: readonly string[], signal?: AbortSignal): Promise<{ ok: boolean; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(ffmpeg, [...args], { maxBuffer: 16 * 1024 * 1024, windowsHide: true, ...(signal ? { signal } : {}) }, (err, _out, stderr) => {
      if (signal?.aborted) return reject(new TiercastError('CANCELLED', 'subtitle extraction cancelled', { cause: signal.reason }));
      if (err && typeof (err as { code?: unknown }).code !== 'number') return reject(new TiercastError('FFMPEG_MISSING', `ffmpeg could not be started (${err.message})`, { cause: err }));
      resolve({ ok: !err, stderr });
    });
  });
}

function reason(stderr: string): string {
  return stderr.split('\n').map((l) => l.replace(/^\[[^\]]*\]\s*/, '').trim()).filter(Boolean).at(-1) ?? 'no reason given';
}

/**
 * Writes each track's WebVTT file into `dir`. The source's text streams come out of one demux pass (no decoding of
 * video); each sidecar is converted on its own so a broken one is named: SUBTITLE_INVALID when ffmpeg cannot read
 * it or it holds no cue. An embedded stream with no cue is left out with a warning. Returns the tracks written.
 */
export async function extractSubtitles(
  ffmpeg: string,
  source: string,
  tracks: readonly SubtitleTrack[],
  dir: string,
  signal?: AbortSignal,
): Promise<{ tracks: SubtitleTrack[]; warnings: string[] }> {
  const base = ['-nostdin', '-hide_banner', '-nostats', '-loglevel', 'error'];
  const out = (t: SubtitleTrack) => ['-c:s', 'webvtt', '-f', 'webvtt', '-y', fileUrl(joinPath(dir, t.file))];
  const embedded = tracks.filter((t) => t.source.kind === 'stream');
  const warnings: string[] = [];
  if (embedded.length) {
    const args = [...base, '-i', fileUrl(source)];
    for (const t of embedded) args.push('-map', `0:${(t.source as { index: number }).index}`, ...out(t));
    const r = await run(ffmpeg, args, signal);
    if (!r.ok) throw new TiercastError('DECODE_FAILED', `${path.basename(source)}: its subtitle streams could not be read (${reason(r.stderr)})`);
  }
  for (const t of tracks) {
    if (t.source.kind !== 'file') continue;
    const file = t.source.path;
    const r = await run(ffmpeg, [...base, '-i', fileUrl(file), '-map', '0:s:0', ...out(t)], signal);
    if (!r.ok) {
      const why = /No such file/i.test(r.stderr) ? 'no such file' : `not a valid SubRip or WebVTT file (${reason(r.stderr)})`;
      throw invalid(file, `${why}; fix or remove the subtitle file and run again`);
    }
  }
  const written: SubtitleTrack[] = [];
  for (const t of tracks) {
    const cues = countVttCues(await readFile(path.join(dir, t.file), 'utf8').catch(() => ''));
    if (cues > 0) {
      written.push(t);
      continue;
    }
    if (t.source.kind === 'file') throw invalid(t.source.path, 'holds no subtitle cue ffmpeg could read; fix or remove the subtitle file and run again');
    warnings.push(`subtitle stream ${t.source.index} (${t.source.codec}) has no cue and was left out`);
    await rm(path.join(dir, t.file), { force: true });
  }
  return { tracks: written, warnings };
}

/**
 * Points the packaging at the WebVTT files: a one-segment HLS playlist per track and the SUBTITLES group in the
 * master (when HLS is written), a text adaptation set per track in the MPD (when DASH is written).
 */
export async function packageSubtitles(
  dir: string,
  tracks: readonly SubtitleTrack[],
  durationSec: number,
  files: { readonly hlsMaster: string | null; readonly dashManifest: string | null },
  closedCaptions = false,
): Promise<void> {
  if (tracks.length === 0 && !closedCaptions) return;
  if (files.hlsMaster) {
    for (const t of tracks) await writeFile(path.join(dir, t.playlist), subtitlePlaylist(t, durationSec));
    const master = path.join(dir, files.hlsMaster);
    const text = withHlsSubtitles(await readFile(master, 'utf8'), tracks);
    await writeFile(master, closedCaptions ? withHlsClosedCaptions(text) : text);
  }
  if (files.dashManifest) {
    const mpd = path.join(dir, files.dashManifest);
    const text = withDashSubtitles(await readFile(mpd, 'utf8'), tracks);
    await writeFile(mpd, closedCaptions ? withDashClosedCaptions(text) : text);
  }
}
