/** Pure views of shaka's variant tracks and stats, as the Player screen shows them. */

export interface VariantView {
  readonly id: number;
  readonly width: number | null;
  readonly height: number | null;
  readonly bandwidth: number;
  readonly codecs: string | null;
  readonly active: boolean;
}

export interface PlaybackStats {
  readonly estimatedBandwidth: number;
  readonly streamBandwidth: number;
  /** The active variant's size (what StreamingEngine fetches now). */
  readonly width: number;
  readonly height: number;
  /** The decoded picture on screen; it follows a switch once the new rung's first frame shows. */
  readonly pictureWidth: number;
  readonly pictureHeight: number;
  readonly droppedFrames: number;
  readonly decodedFrames: number;
  readonly currentTime: number;
  readonly duration: number;
}

/** The fields of shaka's Track and Stats read here (structural, so this file stays free of the player bundle). */
export interface ShakaTrackLike {
  readonly id: number;
  readonly width: number | null;
  readonly height: number | null;
  readonly bandwidth: number;
  readonly videoBandwidth: number | null;
  readonly codecs: string | null;
  readonly active: boolean;
}
export interface ShakaStatsLike {
  readonly estimatedBandwidth: number;
  readonly streamBandwidth: number;
  readonly width: number;
  readonly height: number;
  readonly droppedFrames: number;
  readonly decodedFrames: number;
}

/**
 * One entry per video rung, highest first. Tracks that differ only in audio collapse into one entry, which is
 * "active" when any of them is (keeping just the first duplicate could drop the active one).
 */
export function variantViews(tracks: readonly ShakaTrackLike[]): VariantView[] {
  const byKey = new Map<string, VariantView>();
  for (const t of tracks) {
    const k = `${t.width}x${t.height}@${t.videoBandwidth ?? t.bandwidth}`;
    const prev = byKey.get(k);
    if (!prev) byKey.set(k, { id: t.id, width: t.width, height: t.height, bandwidth: t.bandwidth, codecs: t.codecs, active: t.active });
    // The active duplicate is the one to select again, so it takes the entry's id.
    else if (t.active && !prev.active) byKey.set(k, { ...prev, id: t.id, bandwidth: t.bandwidth, codecs: t.codecs, active: true });
  }
  return [...byKey.values()].sort((a, b) => b.bandwidth - a.bandwidth);
}

export function statsView(
  s: ShakaStatsLike,
  v: { currentTime: number; duration: number; videoWidth: number; videoHeight: number },
): PlaybackStats {
  return {
    estimatedBandwidth: s.estimatedBandwidth,
    streamBandwidth: s.streamBandwidth,
    width: s.width,
    height: s.height,
    pictureWidth: v.videoWidth,
    pictureHeight: v.videoHeight,
    droppedFrames: s.droppedFrames,
    decodedFrames: s.decodedFrames,
    currentTime: v.currentTime,
    duration: Number.isFinite(v.duration) ? v.duration : 0,
  };
}


/** A subtitle track as the picker shows it. */
export interface TextTrackView {
  readonly id: number;
  /** BCP 47 as shaka normalises it (ISO 639-2 `eng` becomes `en`). */
  readonly language: string;
  readonly label: string | null;
  readonly forced: boolean;
  readonly active: boolean;
}

export interface ShakaTextTrackLike {
  readonly id: number;
  readonly language: string;
  readonly label: string | null;
  readonly forced?: boolean;
  readonly active: boolean;
}

/** Subtitle tracks in manifest order; `active` only while they are shown (shaka keeps one selected when hidden). */
export function textTrackViews(tracks: readonly ShakaTextTrackLike[], visible: boolean): TextTrackView[] {
  return tracks.map((t) => ({ id: t.id, language: t.language, label: t.label, forced: t.forced === true, active: visible && t.active }));
}
