import type { Command } from 'commander';
import type { FittedLadder } from '../../shared/common/ladder-schema.ts';
import type { MediaInfo } from '../../shared/common/media.ts';
import type { PerTitleAnalysis } from '../../shared/common/per-title.ts';
import { LADDER_HELP, ladderOption } from './ladder-option.ts';
import { formatBitrate, reportFailure } from './probe.ts';

function formatAnalysis(a: PerTitleAnalysis): string {
  const unit = a.metric === 'vmaf' ? 'VMAF' : 'dB SSIM';
  const pt = (p: { width: number; height: number; bitrate: number; quality: number }) => `${p.width}x${p.height} ${formatBitrate(p.bitrate)} ${p.quality} ${unit}`;
  const lines = [
    `Per-title analysis: ${a.windows.length} windows (${a.windows.map((w) => `${w.startSec}s+${w.durationSec}s`).join(', ')}), ${a.points.length} trials (${a.trialPreset}), ` +
      `${a.cpuSec ?? '?'} CPU s, ${a.elapsedSec} s`,
    `Hull: ${a.hull.map(pt).join(' | ')}`,
    ...a.chosen.map((c) => `Chosen: ${pt(c)} (${c.why})`),
  ];
  return lines.join('\n');
}

function formatFitted(file: string, info: MediaInfo, fitted: FittedLadder): string {
  const v = info.video!;
  const lines: string[] = [];
  lines.push(
    `Ladder "${fitted.ladder}" fitted to ${file} (${v.displayWidth}x${v.displayHeight}, ${Math.round(v.fps * 1000) / 1000} fps` +
      `${v.variableFrameRate ? ' VFR' : ''}, ${formatBitrate(v.bitrate)}, ${info.durationSec.toFixed(2)} s)`,
  );
  lines.push(`Preset ${fitted.preset} (${fitted.presetReason}); segments ${fitted.segmentSeconds} s`);
  lines.push('');
  const header = ['RUNG', 'CODEC', 'SIZE', 'FPS', 'BITRATE', 'MAXRATE', 'BUFSIZE', 'PROFILE', 'NOTES'];
  const rows = fitted.rungs.map((r) => [
    r.name,
    r.codec ?? 'h264',
    `${r.width}x${r.height}`,
    String(r.fps),
    formatBitrate(r.videoBitrate),
    formatBitrate(r.maxrate),
    formatBitrate(r.bufsize),
    (r.codec ?? 'h264') === 'h264' ? r.profile : 'main',
    r.notes.join('; '),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  for (const row of [header, ...rows]) lines.push(row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
  lines.push('');
  lines.push(`Audio: ${fitted.audio ? `AAC stereo ${formatBitrate(fitted.audio.bitrate)}, ${fitted.audio.sampleRate} Hz` : 'none (the source has no audio; video-only ladder)'}`);
  for (const d of fitted.dropped) lines.push(`Dropped ${d.name}: ${d.reason}`);
  for (const w of info.warnings) lines.push(`Warning: ${w}`);
  return lines.join('\n');
}

export function register(program: Command): void {
  program
    .command('ladder')
    .description('Show the ABR ladder fitted to a file: rung sizes, rates, fps, preset, and why rungs were dropped')
    .argument('[file]', 'the media file (use -- before a name that starts with a dash)')
    .option('--list', 'list the built-in and saved ladders instead')
    .option('--ladder <name|file|auto>', LADDER_HELP, 'default')
    .option('--preset <preset>', 'x264 preset instead of the one chosen by duration')
    .option('--codecs <list>', 'video codecs, comma-separated, in order of preference: h264, hevc, av1 (overrides the ladder\'s; e.g. av1,h264 for AV1 with an H.264 fallback)')
    .option('--json', 'print one JSON document on stdout')
    .addHelpText('after', '\nExamples:\n  tiercast ladder input.mp4\n  tiercast ladder input.mp4 --ladder reference --json\n  tiercast ladder input.mp4 --ladder ./my-ladder.json\n  tiercast ladder --list\n\nExit codes: 0 fitted, 1 the file cannot be used, 2 usage or configuration error (unknown ladder, invalid ladder file).')
    .action(async (file: string | undefined, opts: { json?: boolean; ladder: string; preset?: string; codecs?: string; list?: boolean }, cmd: Command) => {
      const json = opts.json === true;
      if (opts.list) {
        const { listLadders } = await import('../../shared/node/ladder-files.ts');
        const ladders = await listLadders();
        if (json) process.stdout.write(`${JSON.stringify({ schemaVersion: 1, verb: 'ladder', ok: true, ladders }, null, 2)}\n`);
        else for (const l of ladders) process.stdout.write(`${l.name.padEnd(12)} ${l.origin.padEnd(8)} ${l.rungs.join(' ')}  ${l.description}\n`);
        process.exitCode = 0;
        return;
      }
      if (file === undefined) cmd.error("error: missing required argument 'file' (or use --list)", { exitCode: 2 });
      try {
        const [{ fitLadder }, { probeFile }, { LadderSchema }] = await Promise.all([
          import('../../shared/common/ladders.ts'),
          import('../../shared/node/probe.ts'),
          import('../../shared/common/ladder-schema.ts'),
        ]);
        // Configuration first: a bad --ladder or --preset is a usage error whatever the file is.
        const ladderFor = await ladderOption(opts.ladder, opts.codecs);
        let preset: string | null = null;
        if (opts.preset !== undefined) {
          const parsed = LadderSchema.shape.preset.safeParse(opts.preset);
          if (!parsed.success || parsed.data === null) {
            const { TiercastError } = await import('../../shared/common/errors.ts');
            throw new TiercastError('CONFIG_INVALID', `--preset "${opts.preset}" is not an x264 preset (ultrafast ... veryslow)`);
          }
          preset = parsed.data;
        }
        const info = await probeFile(file);
        const { ladder, analysis } = await ladderFor(file);
        const fitted = fitLadder(info, ladder, { preset });
        if (json) {
          const v = info.video!;
          const source = { width: v.displayWidth, height: v.displayHeight, fps: v.fps, variableFrameRate: v.variableFrameRate, videoBitrate: v.bitrate, durationSec: info.durationSec, audio: info.audio.length > 0 };
          process.stdout.write(`${JSON.stringify({ schemaVersion: 1, verb: 'ladder', file, ok: true, source, fitted, ...(analysis ? { ladder, perTitle: analysis } : {}), warnings: info.warnings }, null, 2)}\n`);
        } else {
          process.stdout.write(`${formatFitted(file, info, fitted)}\n`);
          if (analysis) process.stdout.write(`\n${formatAnalysis(analysis)}\n`);
        }
        process.exitCode = 0;
      } catch (err) {
        reportFailure(err, file, json, 'ladder');
      }
    });
}
