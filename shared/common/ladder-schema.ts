import { z } from 'zod';
import { VIDEO_CODECS, type VideoCodec } from './codecs.ts';

/**
 * A rung is named by its nominal size: the short edge of the picture (1080p means 1920x1080 for landscape
 * and 1080x1920 for portrait sources). Bitrates are bits per second.
 */
export const RungSchema = z
  .object({
    name: z.string().min(1).max(32).regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, . _ - only'),
    /** Nominal short-edge size in pixels. */
    shortEdge: z.number().int().min(64).max(4320),
    videoBitrate: z.number().int().min(50_000).max(100_000_000),
    maxrate: z.number().int().min(50_000).max(150_000_000),
    bufsize: z.number().int().min(50_000).max(300_000_000),
    profile: z.enum(['baseline', 'main', 'high']).default('high'),
    /** Cap the frame rate of this rung (e.g. 30 for the smallest rungs); null keeps the source's rate. */
    maxFps: z.number().positive().max(120).nullable().default(null),
    /** Video codec family of this rung (shared/common/codecs.ts); `profile` applies to H.264 only. */
    codec: z.enum(VIDEO_CODECS).default('h264'),
  })
  .refine((r) => r.maxrate >= r.videoBitrate, { message: 'maxrate must be >= videoBitrate', path: ['maxrate'] })
  .refine((r) => r.bufsize >= r.videoBitrate, { message: 'bufsize must be >= videoBitrate', path: ['bufsize'] });

export type Rung = z.infer<typeof RungSchema>;

/** A ladder's name: also its file name in the data home's ladders/, so never a path. */
export const LADDER_NAME_PATTERN = /^[A-Za-z0-9_.-]+$/;
export const LadderNameSchema = z.string().min(1).max(64).regex(LADDER_NAME_PATTERN, 'ladder name: letters, digits, . _ - only');

export const LadderSchema = z.object({
  name: LadderNameSchema,
  description: z.string().max(500).default(''),
  /** Segment length in seconds; every rung has a keyframe at every boundary. */
  segmentSeconds: z.number().min(1).max(10).default(4),
  audio: z
    .object({
      bitrate: z.number().int().min(32_000).max(512_000).default(128_000),
      channels: z.literal(2).default(2),
      sampleRate: z.number().int().default(48_000),
    })
    .default({ bitrate: 128_000, channels: 2, sampleRate: 48_000 }),
  /** x264 preset override; null means "choose by duration". */
  preset: z
    .enum(['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium', 'slow', 'slower', 'veryslow'])
    .nullable()
    .default(null),
  /** EBU R128 normalisation of every audio track (shared/common/loudness.ts): off, broadcast (-23 LUFS) or streaming (-16 LUFS). */
  loudness: z.enum(['off', 'broadcast', 'streaming']).default('off'),
  rungs: z.array(RungSchema).min(1).max(12),
});

export type Ladder = z.infer<typeof LadderSchema>;
export type LadderInput = z.input<typeof LadderSchema>;

/** A rung fitted to one source: the real output size and rates. */
export interface FittedRung {
  readonly name: string;
  readonly width: number;
  readonly height: number;
  readonly videoBitrate: number;
  readonly maxrate: number;
  readonly bufsize: number;
  readonly profile: 'baseline' | 'main' | 'high';
  readonly fps: number;
  /** Absent means H.264 (rungs fitted before codecs existed). */
  readonly codec?: VideoCodec;
  /** Why this rung looks the way it does (capped bitrate, kept below source, ...). */
  readonly notes: readonly string[];
}

export interface FittedLadder {
  readonly ladder: string;
  readonly segmentSeconds: number;
  readonly preset: string;
  readonly presetReason: string;
  readonly audio: { readonly bitrate: number; readonly channels: 2; readonly sampleRate: number } | null;
  readonly rungs: readonly FittedRung[];
  /** Rungs of the ladder left out for this source, with the reason. */
  readonly dropped: readonly { readonly name: string; readonly reason: string }[];
}
