import type { PerTitleAnalysis } from './per-title.ts';

/** report.json of one transcode job: what was made, measured, and how long each stage took. */
import type { TrackLoudness } from './loudness.ts';
import type { LeftOutSubtitle } from './subtitles.ts';

export const TRANSCODE_REPORT_SCHEMA_VERSION = 1 as const;

export interface RenditionReport {
  readonly name: string;
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  /** Codec family (absent in reports written before HEVC and AV1 rungs existed: H.264). */
  readonly codec?: 'h264' | 'hevc' | 'av1';
  /** RFC 6381 codecs string ffprobe reads back from the rendition, e.g. avc1.64001f, hvc1.1.6.L93.90, av01.0.05M.08. */
  readonly codecs: string;
  readonly profile: string;
  readonly level: string;
  /** Bits per second: what the ladder asked for, and what the segments measure. */
  readonly targetBitrate: number;
  readonly maxrate: number;
  readonly bitrateAvg: number;
  readonly bitratePeak: number;
  readonly sizeBytes: number;
  readonly durationSec: number;
  readonly segments: number;
  /** HLS media playlist (relative to the output folder). */
  readonly playlist: string;
  readonly representationId: number;
}

export interface AudioReport {
  /** ISO 639 code of the source track (null when untagged) and the name players show. */
  readonly language?: string | null;
  readonly name?: string;
  readonly codecs: string;
  readonly channels: number;
  readonly sampleRate: number;
  readonly targetBitrate: number;
  readonly bitrateAvg: number;
  readonly bitratePeak: number;
  readonly sizeBytes: number;
  readonly durationSec: number;
  readonly segments: number;
  readonly playlist: string;
  readonly representationId: number;
  /** EBU R128 of the source track and, when the ladder normalises, the target and the encoded output. */
  readonly loudness?: TrackLoudness | null;
}

export interface SubtitleReport {
  /** BCP 47 tag, null when the source does not say. */
  readonly language: string | null;
  readonly name: string;
  /** `stream N (codec)` of the source, or the sidecar file's name. */
  readonly source: string;
  readonly default: boolean;
  readonly forced: boolean;
  /** The WebVTT file and its HLS playlist (null without HLS), relative to the output folder. */
  readonly file: string;
  readonly playlist: string | null;
  readonly cues: number;
}

export interface StageTimes {
  readonly analyzingSec: number;
  readonly encodingSec: number;
  /** Verification and playlist writing (packaging itself happens inside the encode). */
  readonly packagingSec: number;
  readonly finalizingSec: number;
  readonly totalSec: number;
}

export interface TranscodeReport {
  readonly schemaVersion: typeof TRANSCODE_REPORT_SCHEMA_VERSION;
  readonly createdAt: string;
  readonly input: {
    readonly name: string;
    readonly sizeBytes: number;
    readonly container: string;
    readonly durationSec: number;
    readonly video: {
      readonly codec: string;
      readonly width: number;
      readonly height: number;
      readonly displayWidth: number;
      readonly displayHeight: number;
      readonly rotation: number;
      readonly fps: number;
      readonly variableFrameRate: boolean;
      readonly pixelFormat: string;
      readonly bitDepth: number;
      readonly colorTransfer: string;
      readonly interlaced: boolean;
    };
    readonly audio: { readonly codec: string; readonly channels: number; readonly channelLayout: string | null } | null;
  };
  readonly ladder: {
    readonly name: string;
    readonly preset: string;
    readonly presetReason: string;
    readonly segmentSeconds: number;
    readonly dropped: readonly { readonly name: string; readonly reason: string }[];
  };
  readonly formats: readonly ('hls' | 'dash')[];
  /** File names relative to the output folder; null when that format or asset was not asked for. */
  readonly files: {
    readonly hlsMaster: string | null;
    readonly dashManifest: string | null;
    readonly poster: string | null;
    readonly sprite: string | null;
    readonly thumbnailsVtt: string | null;
  };
  readonly renditions: readonly RenditionReport[];
  /** The main audio track. */
  readonly audio: AudioReport | null;
  /** Other languages of the source, each an HLS audio rendition and a DASH adaptation set. */
  readonly alternateAudio?: readonly AudioReport[];
  /** WebVTT tracks made from the source's text subtitles and sidecar files, and the streams left out (bitmap). */
  readonly subtitles?: { readonly tracks: readonly SubtitleReport[]; readonly leftOut: readonly LeftOutSubtitle[] };
  /** Wall seconds of the loudness measurement decodes before encoding (one per audio track). */
  readonly loudnessSec?: number;
  readonly verification: {
    /** Duration the source header declares, and what the encode decoded. */
    readonly expectedDurationSec: number;
    readonly decodedDurationSec: number;
    readonly toleranceSec: number;
    readonly keyframesAligned: boolean;
    readonly maxSegmentSec: number;
  };
  readonly stages: StageTimes;
  /** Encode speed relative to real time. */
  readonly speed: number | null;
  readonly sourceFixes: readonly string[];
  readonly warnings: readonly string[];
  readonly ffmpeg: { readonly version: string; readonly tonemapMethod: string };
  /** The ffmpeg argument array that produced the outputs (work-folder paths shown as <out>). */
  readonly command: readonly string[];
  /** With `--ladder auto`: the trials, their rate-quality hull and the rungs chosen on it. */
  readonly perTitle?: PerTitleAnalysis;
}

/** One rung of a ladder preview (a short window encoded and scored against the source). */
export interface PreviewRungResult {
  readonly name: string;
  /** Codec family of the rung: a ladder with several is scored per family at the same reference size. */
  readonly codec: 'h264' | 'hevc' | 'av1';
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  readonly targetBitrate: number;
  /** Bits per second of the encoded window's segments. */
  readonly bitrateMeasured: number;
  readonly sizeBytes: number;
  readonly encodeSeconds: number;
  /** Window duration / encode time (2 = twice real time) for this rung on its own. */
  readonly encodeSpeed: number;
  /** Mean SSIM (All, 0..1) and PSNR (average, dB) against the source window at the reference size. */
  readonly ssim: number;
  readonly psnr: number;
  /** Mean VMAF, when the ffmpeg build has libvmaf; otherwise null. */
  readonly vmaf: number | null;
  /** JPEG of the middle frame of this rung, scaled to the reference size (absolute path). */
  readonly frameJpeg: string;
  /** JPEG of the same source frame at the reference size (absolute path; the same file for every rung). */
  readonly sourceFrameJpeg: string;
}

export interface PreviewResult {
  readonly input: string;
  readonly startSec: number;
  readonly durationSec: number;
  /** Size the scores and frames are compared at: the top rung's size. */
  readonly referenceWidth: number;
  readonly referenceHeight: number;
  readonly preset: string;
  readonly rungs: readonly PreviewRungResult[];
  readonly warnings: readonly string[];
}
