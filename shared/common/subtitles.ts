import { parse as parseBcp47 } from 'bcp-47';

/**
 * Subtitles and captions: which tracks a job carries and how HLS and DASH point at them (pure).
 *
 * Every text track becomes one WebVTT file per language, referenced from a one-segment HLS media playlist and from
 * a DASH text adaptation set (`mimeType="text/vtt"`, one BaseURL). Shaka and hls.js both accept a single-file track
 * and it avoids ffmpeg 5.1's webvtt segmenter, which cannot cut cues at the video's segment boundaries nor write
 * X-TIMESTAMP-MAP; cues keep the source's timeline, which is the timeline the video is encoded on.
 * Bitmap subtitles (PGS, DVB, DVD) cannot become text without OCR: they are listed in the report and left out.
 */

/** Text codecs ffmpeg converts to WebVTT. */
export const TEXT_SUBTITLE_CODECS: readonly string[] = ['mov_text', 'subrip', 'srt', 'ass', 'ssa', 'webvtt', 'text', 'microdvd', 'subviewer', 'jacosub', 'sami', 'realtext', 'stl', 'mpl2', 'pjs', 'vplayer'];
export const BITMAP_SUBTITLE_CODECS: readonly string[] = ['hdmv_pgs_subtitle', 'dvb_subtitle', 'dvd_subtitle', 'xsub', 'dvb_teletext', 'arib_caption'];

/** A subtitle stream of the source, as ffprobe describes it. */
export interface SubtitleStreamInfo {
  readonly index: number;
  readonly codec: string;
  readonly language: string | null;
  readonly title: string | null;
  readonly default: boolean;
  readonly forced: boolean;
  readonly hearingImpaired: boolean;
}

/** A subtitle file given with the input (next to it, or `--subtitles FILE[:lang]`). */
export interface SidecarSubtitle {
  readonly path: string;
  readonly language: string | null;
}

export type SubtitleSource = { readonly kind: 'stream'; readonly index: number; readonly codec: string } | { readonly kind: 'file'; readonly path: string };

export interface SubtitleTrack {
  readonly source: SubtitleSource;
  /** BCP 47 tag, null when the source does not say. */
  readonly language: string | null;
  /** Name players show; unique among the tracks. */
  readonly name: string;
  readonly default: boolean;
  readonly forced: boolean;
  /** WebVTT file and its one-segment HLS playlist, relative to the output folder. */
  readonly file: string;
  readonly playlist: string;
}

export interface LeftOutSubtitle {
  readonly index: number;
  readonly codec: string;
  readonly language: string | null;
  readonly reason: string;
}

export interface SubtitlePlan {
  readonly tracks: readonly SubtitleTrack[];
  readonly leftOut: readonly LeftOutSubtitle[];
  readonly warnings: readonly string[];
}

/** At most this many subtitle tracks per job. */
export const MAX_SUBTITLE_TRACKS = 16;

/** Well-formed BCP 47 (RFC 5646) tag with a primary language subtag; private-use-only tags are refused. */
export function isBcp47(tag: string): boolean {
  return tag.length <= 64 && parseBcp47(tag).language !== null;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Whether a video stream carries CEA-608/708 captions (ffprobe sets `closed_captions` when the decoder saw A53
 * caption data in the first frames).
 */
export function hasClosedCaptions(streams: readonly unknown[]): boolean {
  return streams.filter(isObj).some((s) => s.codec_type === 'video' && s.closed_captions === 1);
}

/** Subtitle streams from ffprobe's `-show_streams` list. `und` and malformed language tags read as untagged. */
export function parseSubtitleStreams(streams: readonly unknown[]): SubtitleStreamInfo[] {
  return streams.filter(isObj).filter((s) => s.codec_type === 'subtitle').map((s) => {
    const tags = isObj(s.tags) ? s.tags : {};
    const disp = isObj(s.disposition) ? s.disposition : {};
    const lang = typeof tags.language === 'string' ? tags.language.trim() : '';
    return {
      index: Number(s.index),
      codec: typeof s.codec_name === 'string' ? s.codec_name : 'unknown',
      language: lang && lang !== 'und' && isBcp47(lang) ? lang : null,
      title: typeof tags.title === 'string' && tags.title.trim() ? tags.title.trim() : null,
      default: disp.default === 1,
      forced: disp.forced === 1,
      hearingImpaired: disp.hearing_impaired === 1,
    };
  });
}

function describe(codec: string): string {
  const names: Record<string, string> = { hdmv_pgs_subtitle: 'PGS', dvb_subtitle: 'DVB', dvd_subtitle: 'DVD (VobSub)', dvb_teletext: 'DVB teletext', xsub: 'XSUB', arib_caption: 'ARIB' };
  return names[codec] ?? codec;
}

/**
 * The subtitle tracks of a job: the source's text streams in file order, then the sidecar files. Bitmap and
 * unknown streams are left out with a warning each. Names are the title, else the language, else "Subtitles N",
 * made unique; at most one track is DEFAULT (the first the source flags default or forced).
 */
export function planSubtitles(streams: readonly SubtitleStreamInfo[], sidecars: readonly SidecarSubtitle[]): SubtitlePlan {
  const leftOut: LeftOutSubtitle[] = [];
  const warnings: string[] = [];
  const wanted: Omit<SubtitleTrack, 'name' | 'file' | 'playlist' | 'default'>[] = [];
  const defaults: boolean[] = [];
  const titles: (string | null)[] = [];
  for (const s of streams) {
    const text = TEXT_SUBTITLE_CODECS.includes(s.codec);
    if (!text) {
      const bitmap = BITMAP_SUBTITLE_CODECS.includes(s.codec);
      const reason = bitmap ? `${describe(s.codec)} subtitles are pictures and cannot become WebVTT text without OCR` : `subtitle codec ${s.codec} is not supported`;
      leftOut.push({ index: s.index, codec: s.codec, language: s.language, reason });
      warnings.push(`subtitle stream ${s.index} (${describe(s.codec)}${s.language ? `, ${s.language}` : ''}) left out: ${reason}`);
      continue;
    }
    wanted.push({ source: { kind: 'stream', index: s.index, codec: s.codec }, language: s.language, forced: s.forced });
    defaults.push(s.default || s.forced);
    titles.push(s.title);
  }
  for (const f of sidecars) {
    wanted.push({ source: { kind: 'file', path: f.path }, language: f.language, forced: false });
    defaults.push(false);
    titles.push(null);
  }
  if (wanted.length > MAX_SUBTITLE_TRACKS) {
    warnings.push(`${wanted.length} subtitle tracks; only the first ${MAX_SUBTITLE_TRACKS} are kept`);
  }
  const used = new Set<string>();
  const defaultAt = defaults.indexOf(true);
  const tracks = wanted.slice(0, MAX_SUBTITLE_TRACKS).map((w, k) => {
    const base = titles[k] ?? w.language ?? `Subtitles ${k + 1}`;
    let name = base;
    for (let n = 2; used.has(name); n++) name = `${base} (${n})`;
    used.add(name);
    return { ...w, name, default: k === defaultAt, file: `subs_${k}.vtt`, playlist: `subs_${k}.m3u8` };
  });
  return { tracks, leftOut, warnings };
}

/** The HLS media playlist of a single-file WebVTT track: one segment spanning the whole programme. */
export function subtitlePlaylist(track: SubtitleTrack, durationSec: number): string {
  const d = Math.max(0.001, durationSec);
  return [
    '#EXTM3U',
    '#EXT-X-VERSION:7',
    `#EXT-X-TARGETDURATION:${Math.max(1, Math.ceil(d - 0.001))}`,
    '#EXT-X-MEDIA-SEQUENCE:0',
    '#EXT-X-PLAYLIST-TYPE:VOD',
    `#EXTINF:${d.toFixed(3)},`,
    track.file,
    '#EXT-X-ENDLIST',
    '',
  ].join('\n');
}

export const SUBTITLE_GROUP = 'subs';

function quoted(v: string): string {
  return v.replace(/["\r\n]/g, "'");
}

/**
 * Adds the SUBTITLES renditions to a master playlist: one `TYPE=SUBTITLES` EXT-X-MEDIA per track before the first
 * variant, and `SUBTITLES="subs"` on every variant (a group a variant does not name is invisible to players).
 */
export function withHlsSubtitles(master: string, tracks: readonly SubtitleTrack[]): string {
  if (tracks.length === 0) return master;
  const media = tracks.map((t) =>
    [
      'TYPE=SUBTITLES',
      `GROUP-ID="${SUBTITLE_GROUP}"`,
      `NAME="${quoted(t.name)}"`,
      ...(t.language ? [`LANGUAGE="${quoted(t.language)}"`] : []),
      `DEFAULT=${t.default ? 'YES' : 'NO'}`,
      'AUTOSELECT=YES',
      `FORCED=${t.forced ? 'YES' : 'NO'}`,
      `URI="${t.playlist}"`,
    ].join(','),
  );
  const lines = master.split('\n');
  const first = lines.findIndex((l) => l.startsWith('#EXT-X-STREAM-INF:'));
  const out: string[] = [];
  lines.forEach((l, i) => {
    if (i === first) out.push(...media.map((m) => `#EXT-X-MEDIA:${m}`), '');
    out.push(l.startsWith('#EXT-X-STREAM-INF:') ? `${l},SUBTITLES="${SUBTITLE_GROUP}"` : l);
  });
  return out.join('\n');
}

function xmlAttr(v: string): string {
  return v.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Adds one text adaptation set per track (`text/vtt`, `lang`, a subtitle Role, the .vtt as BaseURL) to the MPD's Period. */
export function withDashSubtitles(mpd: string, tracks: readonly SubtitleTrack[]): string {
  if (tracks.length === 0) return mpd;
  const close = mpd.lastIndexOf('</Period>');
  if (close < 0) throw new Error('MPD has no Period');
  const end = mpd.lastIndexOf('\n', close) + 1;
  const ids = [...mpd.matchAll(/<AdaptationSet\b[^>]*\bid="(\d+)"/g)].map((m) => Number(m[1]));
  let next = ids.length ? Math.max(...ids) + 1 : 0;
  const sets = tracks.map((t, k) => {
    const lang = t.language ? ` lang="${xmlAttr(t.language)}"` : '';
    const role = t.forced ? 'forced-subtitle' : 'subtitle';
    return [
      `\t\t<AdaptationSet id="${next++}" contentType="text" mimeType="text/vtt"${lang}>`,
      `\t\t\t<Label>${xmlAttr(t.name)}</Label>`,
      `\t\t\t<Role schemeIdUri="urn:mpeg:dash:role:2011" value="${role}"/>`,
      `\t\t\t<Representation id="subs-${k}" bandwidth="256">`,
      `\t\t\t\t<BaseURL>${xmlAttr(t.file)}</BaseURL>`,
      '\t\t\t</Representation>',
      '\t\t</AdaptationSet>',
    ].join('\n');
  });
  return `${mpd.slice(0, end)}${sets.join('\n')}\n${mpd.slice(end)}`;
}

/** Cues in a WebVTT document (lines with a `-->` timing). */
export function countVttCues(vtt: string): number {
  return vtt.split(/\r?\n/).filter((l) => /^\s*(\d+:)?\d{2}:\d{2}\.\d{3}\s+-->\s+(\d+:)?\d{2}:\d{2}\.\d{3}/.test(l)).length;
}

export const CAPTION_GROUP = 'cc';

/**
 * CEA-608 captions kept inside the video (x264 writes the source's A53 caption data back): the HLS master names
 * them as a CLOSED-CAPTIONS rendition (INSTREAM-ID CC1) instead of CLOSED-CAPTIONS=NONE, so players look for them.
 */
export function withHlsClosedCaptions(master: string): string {
  const lines = master.split('\n');
  const first = lines.findIndex((l) => l.startsWith('#EXT-X-STREAM-INF:'));
  if (first < 0) return master;
  const media = `#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="${CAPTION_GROUP}",NAME="CC1",DEFAULT=NO,AUTOSELECT=YES,INSTREAM-ID="CC1"`;
  const out: string[] = [];
  lines.forEach((l, i) => {
    if (i === first) out.push(media, '');
    out.push(l.startsWith('#EXT-X-STREAM-INF:') ? l.replace('CLOSED-CAPTIONS=NONE', `CLOSED-CAPTIONS="${CAPTION_GROUP}"`) : l);
  });
  return out.join('\n');
}

/** The DASH counterpart: a CEA-608 Accessibility descriptor on the video adaptation set. */
export function withDashClosedCaptions(mpd: string): string {
  const m = /<AdaptationSet\b[^>]*contentType="video"[^>]*>\n?/.exec(mpd);
  if (!m) return mpd;
  const at = m.index + m[0].length;
  return `${mpd.slice(0, at)}\t\t\t<Accessibility schemeIdUri="urn:scte:dash:cc:cea-608:2015" value="CC1"/>\n${mpd.slice(at)}`;
}
