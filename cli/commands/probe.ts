import path from 'node:path';
import type { Command } from 'commander';
import type { MediaInfo } from '../../shared/common/media.ts';

/** Exit codes (CONVENTIONS.md): 1 the input failed, 2 usage or configuration (a missing ffmpeg is configuration). */
export function exitCodeFor(code: string | undefined): 1 | 2 {
  return code === 'CONFIG_INVALID' || code === 'FFMPEG_MISSING' ? 2 : 1;
}

/**
 * Reports a failure of one input: `CODE: file: sentence` on stderr and, with --json, the one JSON document on
 * stdout still appears, carrying the error, so scripts never parse an empty stdout.
 */
export function reportFailure(err: unknown, file: string, json: boolean, verb: string): void {
  const code = (err as { code?: string }).code ?? 'INTERNAL';
  const raw = err instanceof Error ? err.message : String(err);
  const name = path.basename(file);
  // Input errors name the input; configuration errors (ffmpeg missing, bad ladder) are not about it.
  const message = raw.startsWith(`${name}: `) || exitCodeFor(code) === 2 ? raw : `${name}: ${raw}`;
  process.stderr.write(`${code}: ${message}\n`);
  if (json) process.stdout.write(`${JSON.stringify({ schemaVersion: 1, verb, file, ok: false, error: { code, message } }, null, 2)}\n`);
  process.exitCode = exitCodeFor(code);
}

export const formatBitrate = (b: number | null | undefined): string =>
  b === null || b === undefined ? '?' : b >= 1_000_000 ? `${(b / 1_000_000).toFixed(2)} Mb/s` : `${Math.round(b / 1000)} kb/s`;

export const formatBytes = (n: number): string =>
  n >= 1 << 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : n >= 1 << 20 ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`;

const fpsText = (fps: number) => String(Math.round(fps * 1000) / 1000);

/** A readable description, one fact group per line, labels aligned. */
export function formatMedia(file: string, info: MediaInfo): string {
  const rows: [string, string][] = [];
  rows.push(['File', file]);
  rows.push(['Container', `${info.container}${info.containerLongName ? ` (${info.containerLongName})` : ''}`]);
  rows.push(['Duration', `${info.durationSec.toFixed(3)} s`]);
  rows.push(['Size', `${formatBytes(info.sizeBytes)} (${info.sizeBytes} bytes), ${formatBitrate(info.bitrate)}`]);
  const v = info.video;
  if (v) {
    const sar = v.sampleAspectRatio.num !== v.sampleAspectRatio.den ? `, SAR ${v.sampleAspectRatio.num}:${v.sampleAspectRatio.den}` : '';
    rows.push(['Video', `#${v.index} ${v.codec}${v.profile ? ` (${v.profile})` : ''}, ${formatBitrate(v.bitrate)}${info.videoStreamCount > 1 ? ` [main of ${info.videoStreamCount} video streams]` : ''}`]);
    rows.push(['  Size', `stored ${v.width}x${v.height}, rotation ${v.rotation}, display ${v.displayWidth}x${v.displayHeight} (${v.displayAspectRatio.toFixed(3)}:1${sar})`]);
    rows.push(['  Rate', `${fpsText(v.fps)} fps (r ${v.rFrameRate.num}/${v.rFrameRate.den}, avg ${v.avgFrameRate.num}/${v.avgFrameRate.den}), ${v.variableFrameRate ? 'variable' : 'constant'}`]);
    rows.push(['  Pixels', `${v.pixelFormat}, ${v.bitDepth}-bit, ${v.colorRange ?? 'range ?'}, ${v.colorTransfer.toUpperCase()}${v.colorPrimaries ? `, ${v.colorPrimaries}` : ''}${v.dolbyVision ? ', Dolby Vision' : ''}`]);
    rows.push(['  Scan', v.interlaced ? `interlaced (${v.fieldOrder === 'tff' ? 'top field first' : v.fieldOrder === 'bff' ? 'bottom field first' : 'field order unknown'})` : v.fieldOrder === 'progressive' ? 'progressive' : 'progressive (not flagged)']);
    if (v.frameCount !== null) rows.push(['  Frames', `${v.frameCount}${v.sample ? `, ${v.sample.decodedFrames} of the first ${v.sample.packets} packets decoded` : ''}`]);
  } else {
    rows.push(['Video', 'none']);
  }
  if (info.audio.length === 0) rows.push(['Audio', 'none']);
  for (const a of info.audio) {
    rows.push(['Audio', `#${a.index} ${a.codec}, ${a.channels} ch (${a.channelLayout ?? 'layout ?'}), ${a.sampleRate} Hz, ${formatBitrate(a.bitrate)}${a.language ? `, ${a.language}` : ''}`]);
  }
  for (const w of info.warnings) rows.push(['Warning', w]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, val]) => `${k.padEnd(width)}  ${val}`).join('\n');
}

export function register(program: Command): void {
  program
    .command('probe')
    .description('Describe a media file: container, main video stream (size, rotation, rate, HDR, interlacing), audio')
    .argument('<file>', 'the media file (use -- before a name that starts with a dash)')
    .option('--json', 'print one JSON document on stdout')
    .addHelpText('after', '\nExamples:\n  tiercast probe input.mp4\n  tiercast probe --json -- "-odd name.mov"\n\nExit codes: 0 described, 1 the file cannot be used, 2 usage or configuration error.')
    .action(async (file: string, opts: { json?: boolean }) => {
      try {
        const { probeFile } = await import('../../shared/node/probe.ts');
        const info = await probeFile(file);
        if (opts.json) process.stdout.write(`${JSON.stringify({ schemaVersion: 1, verb: 'probe', file, ok: true, media: info }, null, 2)}\n`);
        else process.stdout.write(`${formatMedia(file, info)}\n`);
        process.exitCode = 0;
      } catch (err) {
        reportFailure(err, file, opts.json === true, 'probe');
      }
    });
}
