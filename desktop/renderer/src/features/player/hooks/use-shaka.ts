import { useEffect, useRef, useState } from 'react';
import shaka from 'shaka-player/dist/shaka-player.compiled.js';
import type { UiError } from '../../../shared/errors.ts';
import { statsView, textTrackViews, variantViews, type PlaybackStats, type TextTrackView, type VariantView } from './shaka-views.ts';

export type { PlaybackStats, TextTrackView, VariantView };

export interface ThumbnailView {
  readonly uri: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly sheetWidth: number;
  readonly sheetHeight: number;
}

export interface ShakaControls {
  readonly variants: readonly VariantView[];
  readonly abr: boolean;
  readonly stats: PlaybackStats | null;
  readonly ready: boolean;
  /** The manifest the player has loaded (null while one loads): what is on screen, not what was asked for. */
  readonly loadedUrl: string | null;
  /** Audio languages the job carries (more than one when the source had several). */
  readonly audioLanguages: readonly string[];
  /** Language of the audio playing now. */
  readonly audioLanguage: string | null;
  /** Subtitle tracks of the job; the one shown has `active`. */
  readonly textTracks: readonly TextTrackView[];
  setAbr(enabled: boolean): void;
  selectVariant(id: number): void;
  selectAudioLanguage(language: string): void;
  /** Shows that subtitle track, or hides subtitles with null. */
  selectTextTrack(id: number | null): void;
  thumbnailAt(time: number): Promise<ThumbnailView | null>;
}

let polyfilled = false;
/**
 * The previous Player's destroy(): a new Player attaches only after it finished, or the old one's detach would tear
 * down the new one's MediaSource on the same <video> (React StrictMode remounts effects exactly like that).
 */
let destroying: Promise<void> = Promise.resolve();

function uiError(err: unknown): UiError {
  const e = err as { code?: number; category?: number; message?: string } | null;
  if (e && typeof e.code === 'number') {
    // shaka's numeric codes: 1xxx network, 3xxx media, 4xxx manifest (see shaka.util.Error.Code).
    const cls = Math.floor(e.code / 1000);
    return {
      code: cls === 1 ? 'STORE_ERROR' : cls === 3 ? 'DECODE_FAILED' : 'INTERNAL',
      message: `playback failed (shaka error ${e.code}${cls === 1 ? ': a manifest or segment could not be fetched' : cls === 4 ? ': the manifest could not be parsed' : ''})`,
    };
  }
  return { code: 'INTERNAL', message: e?.message ?? String(err) };
}

/**
 * One shaka Player bound to a <video>: loads `url`, lists variants, switches between ABR and a fixed variant,
 * samples stats every second and serves seek-bar thumbnails from the job's WebVTT sprite track.
 */
export function useShaka(
  video: HTMLVideoElement | null,
  source: { url: string; thumbnailsVttUrl: string | null } | null,
  mediaHeaders: () => Record<string, string>,
  onError: (e: UiError | null) => void,
): ShakaControls {
  const playerRef = useRef<shaka.Player | null>(null);
  const thumbTrack = useRef<number | null>(null);
  const attachRef = useRef<Promise<void> | null>(null);
  const [variants, setVariants] = useState<VariantView[]>([]);
  const [abr, setAbrState] = useState(true);
  const [stats, setStats] = useState<PlaybackStats | null>(null);
  const [ready, setReady] = useState(false);
  const [loadedUrl, setLoadedUrl] = useState<string | null>(null);
  const [audioLanguages, setAudioLanguages] = useState<string[]>([]);
  const [audioLanguage, setAudioLanguage] = useState<string | null>(null);
  const [textTracks, setTextTracks] = useState<TextTrackView[]>([]);
  const headersRef = useRef(mediaHeaders);
  headersRef.current = mediaHeaders;
  const errRef = useRef(onError);
  errRef.current = onError;

  /**
   * Variants and stats read together: both describe the variant StreamingEngine is on now (getStats() takes its
   * width/height from the active variant track), so the list's "playing" mark and the stats never disagree. Reading
   * them at different moments (list on events, stats on a 1 s timer) is what showed one rung as playing and the
   * other's size.
   */
  const snapshot = () => {
    const p = playerRef.current;
    if (!p) return;
    const tracks = p.getVariantTracks();
    setVariants(variantViews(tracks));
    setAudioLanguages(p.getAudioLanguages());
    setAudioLanguage(tracks.find((t) => t.active)?.language ?? null);
    setTextTracks(textTrackViews(p.getTextTracks(), p.isTextTrackVisible()));
    const v = video;
    if (!v || p.getLoadMode() !== shaka.Player.LoadMode.MEDIA_SOURCE) return;
    setStats(statsView(p.getStats(), v));
  };
  const snapshotRef = useRef(snapshot);
  snapshotRef.current = snapshot;

  // One Player for the screen's lifetime: switching job or format loads into it, so two players never fight over
  // the same <video> while one is still detaching.
  useEffect(() => {
    if (!video) return;
    if (!polyfilled) {
      shaka.polyfill.installAll();
      polyfilled = true;
    }
    if (!shaka.Player.isBrowserSupported()) {
      errRef.current({ code: 'UNSUPPORTED_INPUT', message: 'this browser lacks Media Source Extensions; shaka-player cannot play here' });
      return;
    }
    const player = new shaka.Player();
    playerRef.current = player;
    player.getNetworkingEngine()?.registerRequestFilter((_type, request) => {
      // Only our own origin gets the token.
      if (request.uris.every((u) => new URL(u, window.location.href).origin === window.location.origin)) Object.assign(request.headers, headersRef.current());
    });
    player.addEventListener('error', (e) => errRef.current(uiError((e as unknown as { detail: unknown }).detail)));
    const onTracks = () => snapshotRef.current();
    player.addEventListener('variantchanged', onTracks);
    player.addEventListener('adaptation', onTracks);
    player.addEventListener('trackschanged', onTracks);
    player.addEventListener('textchanged', onTracks);
    player.addEventListener('texttrackvisibility', onTracks);
    // The decoded picture's size changes a little after the variant does (once its first frame is shown).
    video.addEventListener('resize', onTracks);
    attachRef.current = destroying.then(() => player.attach(video));
    return () => {
      video.removeEventListener('resize', onTracks);
      playerRef.current = null;
      attachRef.current = null;
      destroying = player.destroy().catch(() => undefined);
    };
  }, [video]);

  useEffect(() => {
    const player = playerRef.current;
    thumbTrack.current = null;
    setReady(false);
    setLoadedUrl(null);
    setVariants([]);
    setStats(null);
    setAbrState(true);
    setAudioLanguages([]);
    setAudioLanguage(null);
    setTextTracks([]);
    if (!player || !video) return;
    if (!source) {
      // Nothing to show (job switch in flight): stop the previous job's playback rather than leave it running.
      void player.unload().catch(() => undefined);
      return;
    }
    let stale = false;
    player.configure({ abr: { enabled: true } });
    (async () => {
      try {
        await attachRef.current;
        await player.load(new URL(source.url, window.location.href).toString());
        if (stale) return;
        errRef.current(null);
        snapshotRef.current();
        setReady(true);
        setLoadedUrl(source.url);
        // Muted autoplay: an operator opening a job wants to see it play.
        void video.play().catch(() => undefined);
        if (source.thumbnailsVttUrl) {
          try {
            const t = await player.addThumbnailsTrack(new URL(source.thumbnailsVttUrl, window.location.href).toString(), 'text/vtt');
            if (!stale) thumbTrack.current = t.id;
          } catch {
            // Thumbnails are a nicety: playback goes on without them.
          }
        }
      } catch (err) {
        // A newer load interrupts this one (shaka error 7000 LOAD_INTERRUPTED): not a failure.
        if (!stale && (err as { code?: number } | null)?.code !== 7000) errRef.current(uiError(err));
      }
    })();
    return () => {
      stale = true;
    };
  }, [video, source?.url, source?.thumbnailsVttUrl]);

  useEffect(() => {
    if (!ready) return;
    const timer = setInterval(() => snapshotRef.current(), 1000);
    return () => clearInterval(timer);
  }, [ready, video]);

  return {
    variants,
    abr,
    stats,
    ready,
    loadedUrl,
    audioLanguages,
    audioLanguage,
    textTracks,
    setAbr(enabled) {
      playerRef.current?.configure({ abr: { enabled } });
      setAbrState(enabled);
      snapshotRef.current();
    },
    selectVariant(id) {
      const p = playerRef.current;
      const tracks = p?.getVariantTracks() ?? [];
      const picked = tracks.find((t) => t.id === id);
      if (!p || !picked) return;
      // The list shows each picture once; the variant of that picture in the language playing now keeps the sound.
      const language = tracks.find((t) => t.active)?.language;
      const track = tracks.find((t) => t.videoId === picked.videoId && t.language === language) ?? picked;
      p.configure({ abr: { enabled: false } });
      setAbrState(false);
      // clearBuffer: the picked rung shows from the next frames, not after the already-buffered seconds.
      p.selectVariantTrack(track, true);
      snapshotRef.current();
    },
    selectAudioLanguage(language) {
      const p = playerRef.current;
      if (!p) return;
      p.selectAudioLanguage(language);
      snapshotRef.current();
    },
    selectTextTrack(id) {
      const p = playerRef.current;
      if (!p) return;
      const track = id === null ? undefined : p.getTextTracks().find((t) => t.id === id);
      if (track) p.selectTextTrack(track);
      void p.setTextTrackVisibility(track !== undefined);
      snapshotRef.current();
    },
    async thumbnailAt(time) {
      const p = playerRef.current;
      if (!p || thumbTrack.current === null) return null;
      const t = await p.getThumbnails(thumbTrack.current, time);
      const uri = t?.uris[0];
      if (!t || !uri) return null;
      return { uri, x: t.positionX, y: t.positionY, width: t.width, height: t.height, sheetWidth: t.imageWidth, sheetHeight: t.imageHeight };
    },
  };
}
