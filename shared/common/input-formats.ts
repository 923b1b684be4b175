/**
 * Which ffmpeg demuxers may read an input (README "Inputs Tiercast refuses"). ffmpeg picks a demuxer by content, and
 * some demuxers read other files: a 133-byte HLS playlist renamed clip.mp4 was probed as `hls` and transcoded,
 * pulling a local .ts file it named into the job's outputs. So every read of an input (probe, frame sample, packet
 * scan, transcode, preview) names the demuxer the probe saw (`-f`) and allows only self-contained media demuxers
 * (`-format_whitelist`) over the file protocol alone (`-protocol_whitelist`). Inputs are always local files: the
 * cloud tiers download theirs before probing (cloud/lambda/handler.ts), never hand ffmpeg a URL.
 */

/** Demuxers that read one self-contained file: media containers and elementary streams, audio-only formats (so they
 * still fail as NO_VIDEO_STREAM) and single-image pipes (a still image fails the same way). Names as ffmpeg 5.1+
 * writes them; a format_name such as `mov,mp4,m4a,3gp,3g2,mj2` matches on any of its parts. */
export const MEDIA_DEMUXERS: readonly string[] = [
  // Containers.
  'mov', 'matroska', 'avi', 'mpegts', 'mpeg', 'flv', 'asf', 'mxf', 'ogg', 'nut', 'dv', 'gxf', 'wtv', 'rm', 'ivf',
  // Elementary video streams.
  'h264', 'hevc', 'm4v', 'mpegvideo', 'vc1', 'obu', 'yuv4mpegpipe', 'mjpeg',
  // Audio only.
  'mp3', 'aac', 'wav', 'w64', 'flac', 'aiff', 'ac3', 'eac3', 'dts', 'truehd', 'amr', 'caf', 'wv', 'ape', 'tta', 'au',
  // One still image.
  'png_pipe', 'jpeg_pipe', 'bmp_pipe', 'webp_pipe', 'tiff_pipe', 'gif',
];

/** What a refused demuxer is, in words an operator knows. */
const REFUSED: Readonly<Record<string, string>> = {
  hls: 'an HLS playlist (.m3u8)',
  dash: 'a DASH manifest (.mpd)',
  webm_dash_manifest: 'a WebM DASH manifest',
  concat: 'an ffconcat list of other files',
  image2: 'an image sequence (its name is a %d or wildcard pattern)',
  imf: 'an IMF composition that names other files',
  sdp: 'an SDP session description (a network stream)',
  rtsp: 'an RTSP session',
  mpl2: 'a subtitle file',
  srt: 'a subtitle file',
  webvtt: 'a subtitle file',
  ass: 'a subtitle file',
  tty: 'a text file',
  ffmetadata: 'an ffmetadata text file',
  avisynth: 'an AviSynth script',
  vapoursynth: 'a VapourSynth script',
};

/** True when a probed format_name (one or several comma-separated names) is an allowed media demuxer. */
export function isMediaDemuxer(formatName: string): boolean {
  return formatName.split(',').some((n) => MEDIA_DEMUXERS.includes(n));
}

/** The sentence of an UNSUPPORTED_INPUT error for a refused demuxer (null: ffmpeg did not say which it was). */
export function refusedInputReason(demuxer: string | null): string {
  const what = demuxer && REFUSED[demuxer] ? `this is ${REFUSED[demuxer]}` : demuxer ? `ffmpeg reads it as "${demuxer}", not as a media file` : 'not a media file';
  return `${what}; Tiercast reads media files only, never playlists, lists or sequences that point at other files`;
}

/** The demuxer ffmpeg names when its format whitelist refuses a file (`[hls @ 0x...] Format not on whitelist '...'`). */
export function refusedDemuxerIn(stderr: string): { refused: boolean; demuxer: string | null } {
  const m = /(?:\[([A-Za-z0-9_]+) @ 0x[0-9a-f]+\] )?Format not on whitelist/.exec(stderr);
  return m ? { refused: true, demuxer: m[1] ?? null } : { refused: false, demuxer: null };
}

/**
 * Options to put before an input's `-i` (ffmpeg) or file argument (ffprobe). With the probed format_name the input is
 * read by that demuxer and no other; without one (the probe itself) ffmpeg still chooses only among media demuxers.
 */
export function inputGuardArgs(probedFormat?: string | null): string[] {
  const args = probedFormat && isMediaDemuxer(probedFormat) ? ['-f', probedFormat] : [];
  args.push('-format_whitelist', MEDIA_DEMUXERS.join(','), '-protocol_whitelist', 'file');
  return args;
}
