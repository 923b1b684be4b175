import type { SubtitleStreamInfo } from './subtitles.ts';

/** What Tiercast knows about a source after probing it. Durations in seconds, sizes in bytes, bitrates in b/s. */

export interface Rational {
  readonly num: number;
  readonly den: number;
}

export type ColorTransfer = 'sdr' | 'pq' | 'hlg';
export type FieldOrder = 'progressive' | 'tff' | 'bff' | 'unknown';

export interface VideoStreamInfo {
  /** ffprobe stream index (use as `0:<index>` in ffmpeg maps). */
  readonly index: number;
  readonly codec: string;
  readonly profile: string | null;
  /** Stored (coded) dimensions, before rotation. */
  readonly width: number;
  readonly height: number;
  /** Rotation to apply for display, clockwise degrees: 0, 90, 180 or 270. */
  readonly rotation: 0 | 90 | 180 | 270;
  /** Display dimensions: rotation and sample aspect ratio applied. */
  readonly displayWidth: number;
  readonly displayHeight: number;
  readonly sampleAspectRatio: Rational;
  /** Display aspect ratio as a number (width / height, after rotation). */
  readonly displayAspectRatio: number;
  readonly rFrameRate: Rational;
  readonly avgFrameRate: Rational;
  /** Best estimate of the frame rate in frames per second. */
  readonly fps: number;
  readonly variableFrameRate: boolean;
  readonly pixelFormat: string;
  readonly bitDepth: number;
  readonly colorTransfer: ColorTransfer;
  readonly colorPrimaries: string | null;
  readonly colorSpace: string | null;
  readonly colorRange: 'tv' | 'pc' | null;
  readonly fieldOrder: FieldOrder;
  readonly interlaced: boolean;
  readonly frameCount: number | null;
  readonly bitrate: number | null;
  readonly durationSec: number | null;
  /** Frames the container header declares (nb_frames), when it says. */
  readonly headerFrameCount?: number | null;
  /** Dolby Vision configuration present (the base layer is what Tiercast decodes). */
  readonly dolbyVision?: boolean;
  /** What a short decode of the first packets showed (probeFile only; parseProbe alone leaves it undefined). */
  readonly sample?: FrameSample;
}

/** A short read of the main video stream's first packets, decoding them. */
export interface FrameSample {
  /** Packets read (at most the sample limit). */
  readonly packets: number;
  /** Frames that decoded from those packets. */
  readonly decodedFrames: number;
  /** The whole stream was read (it has fewer packets than the limit). */
  readonly complete: boolean;
  /** Decoded frames flagged interlaced. */
  readonly interlacedFrames: number;
  /** Shortest and longest gap between consecutive presentation timestamps, seconds. */
  readonly minFrameGapSec: number | null;
  readonly maxFrameGapSec: number | null;
  /** First distinct decoder complaints (ffprobe stderr), for error messages. */
  readonly decoderErrors: readonly string[];
}

export interface AudioStreamInfo {
  readonly index: number;
  readonly codec: string;
  readonly channels: number;
  readonly channelLayout: string | null;
  readonly sampleRate: number;
  readonly bitrate: number | null;
  readonly language: string | null;
  /** Commentary, audio description, karaoke or an impaired-audience mix: never the main track nor an alternate language. */
  readonly secondary?: boolean;
}

export interface MediaInfo {
  readonly container: string;
  readonly containerLongName: string | null;
  readonly durationSec: number;
  readonly sizeBytes: number;
  readonly bitrate: number | null;
  /** The main video stream (not a cover image or a one-frame still), or null. */
  readonly video: VideoStreamInfo | null;
  readonly videoStreamCount: number;
  readonly audio: readonly AudioStreamInfo[];
  /** Subtitle streams in file order (text and bitmap); undefined where an older probe did not read them. */
  readonly subtitles?: readonly SubtitleStreamInfo[];
  /** The video carries CEA-608/708 captions (A53 side data), as far as ffprobe's first frames show. */
  readonly closedCaptions?: boolean;
  readonly warnings: readonly string[];
}
