import path from 'node:path';
import type { Command } from 'commander';
import type { TranscodeProgress, TranscodeReport } from '../../shared/node/transcode.ts';
import { LOUDNESS_SETTINGS, type LoudnessSetting } from '../../shared/common/loudness.ts';
import { LADDER_HELP, ladderOption } from './ladder-option.ts';
import { formatBitrate } from './probe.ts';

interface InputOutcome {
  input: string;
  ok: boolean;
  outDir: string | null;
  renditions: { name: string; width: number; height: number; fps: number; codecs: string; bitrateAvg: number; bitratePeak: number; sizeBytes: number }[];
  audio: boolean;
  warnings: string[];
  error: { code: string; message: string } | null;
  durationSec: number | null;
}

const FORMATS = ['hls', 'dash'] as const;

function parseFormats(v: string): ('hls' | 'dash')[] | null {
  const list = v.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  if (list.length === 0 || list.some((f) => !(FORMATS as readonly string[]).includes(f))) return null;
  return [...new Set(list)] as ('hls' | 'dash')[];
}

/** Progress on stderr: a bar on a TTY, a plain line per stage and per 10% otherwise (CI logs, pipes). */
async function createProgress(label: string): Promise<{ update: (p: TranscodeProgress) => void; stop: () => void }> {
  if (process.stderr.isTTY) {
    const { SingleBar, Presets } = await import('cli-progress');
    const bar = new SingleBar(
      { stream: process.stderr, format: `{label} |{bar}| {percentage}% {stage} {speed}`, hideCursor: true, clearOnComplete: false, etaBuffer: 20 },
      Presets.shades_classic,
    );
    bar.start(100, 0, { label, stage: 'analyzing', speed: '' });
    return {
      update: (p) => bar.update(Math.floor(p.percent), { stage: p.stage, speed: p.speed ? `${p.speed.toFixed(2)}x` : '' }),
      stop: () => bar.stop(),
    };
  }
  let lastStage = '';
  let lastTenth = -1;
  return {
    update: (p) => {
      const tenth = Math.floor(p.percent / 10);
      if (p.stage === lastStage && tenth === lastTenth) return;
      lastStage = p.stage;
      lastTenth = tenth;
      process.stderr.write(`${label}: ${p.stage} ${Math.floor(p.percent)}%${p.speed ? ` (${p.speed.toFixed(2)}x)` : ''}\n`);
    },
    stop: () => undefined,
  };
}

function summary(r: TranscodeReport): string {
  const rungs = r.renditions.map((x) => `${x.name} ${x.width}x${x.height} ${formatBitrate(x.bitrateAvg)}`).join(', ');
  const tracks = r.audio ? [r.audio, ...(r.alternateAudio ?? [])] : [];
  const langs = tracks.map((a) => a.language).filter((l): l is string => Boolean(l));
  const audio = tracks.length === 0 ? ' (no audio)' : ` + AAC stereo${langs.length > 0 ? ` (${langs.join(', ')})` : ''}`;
  return `${rungs}${audio}; ${r.stages.totalSec.toFixed(1)} s`;
}

export function register(program: Command): void {
  program
    .command('transcode')
    .description('Transcode files into verified ABR ladders (H.264, CMAF segments with HLS and DASH, poster, thumbnails)')
    .argument('<inputs...>', 'media files (put -- before names that start with a dash, after the options)')
    .requiredOption('--out <dir>', 'output folder; each input goes to <dir>/<safe name>/')
    .option('--ladder <name|file|auto>', LADDER_HELP, 'default')
    .option('--formats <list>', 'hls, dash or both, comma-separated', 'hls,dash')
    .option('--preset <preset>', 'x264 preset instead of the one chosen by duration')
    .option('--subtitles <file[:lang]>', 'a .srt or .vtt file to add as a WebVTT track, with its BCP 47 language (repeatable; <name>[.<lang>].srt|vtt next to an input are added too)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--loudness <mode>', 'EBU R128 normalisation of every audio track: broadcast (-23 LUFS), streaming (-16 LUFS) or off (default: the ladder\'s)')
    .option('--codecs <list>', 'video codecs, comma-separated, in order of preference: h264, hevc, av1 (overrides the ladder\'s; e.g. av1,h264 for AV1 with an H.264 fallback)')
    .option('--json', 'print one JSON document on stdout listing every input')
    .addHelpText(
      'after',
      '\nExamples:\n  tiercast transcode movie.mp4 --out ./out\n  tiercast transcode a.mov b.mkv --out ./out --ladder mobile --formats hls\n' +
        '  tiercast transcode movie.mp4 --out ./out --codecs av1,h264\n' +
        '  tiercast transcode --out ./out --json -- "-odd name.mp4"\n\n' +
        'Each output folder holds master.m3u8, manifest.mpd, poster.jpg, sprite.jpg, thumbnails.vtt and report.json;\n' +
        'it appears only once verified. Exit codes: 0 all succeeded, 1 any input failed (the rest still done), 2 usage or configuration error.',
    )
    .action(async (inputs: string[], opts: { out: string; ladder: string; formats: string; preset?: string; codecs?: string; json?: boolean; subtitles: string[]; loudness?: string }) => {
      const json = opts.json === true;
      const usage = (message: string) => {
        process.stderr.write(`CONFIG_INVALID: ${message}\n`);
        if (json) process.stdout.write(`${JSON.stringify({ schemaVersion: 1, verb: 'transcode', ok: false, error: { code: 'CONFIG_INVALID', message }, inputs: [] }, null, 2)}\n`);
        process.exitCode = 2;
      };
      const formats = parseFormats(opts.formats);
      if (!formats) return usage(`--formats "${opts.formats}": use hls, dash or hls,dash`);
      if (!opts.out.trim()) return usage('--out needs a folder');
      if (opts.loudness !== undefined && !(LOUDNESS_SETTINGS as readonly string[]).includes(opts.loudness)) return usage(`--loudness "${opts.loudness}": use broadcast, streaming or off`);
      const loudness = opts.loudness as LoudnessSetting | undefined;

      const [{ LadderSchema }, { transcodeFile }, { uniqueSafeNames, outputDirFor }, { resolveFfmpeg }] = await Promise.all([
        import('../../shared/common/ladder-schema.ts'),
        import('../../shared/node/transcode.ts'),
        import('../../shared/node/safe-name.ts'),
        import('../../shared/node/ffmpeg-locate.ts'),
      ]);
      const { parseSubtitleArg } = await import('../../shared/node/subtitles.ts');
      const subtitles = opts.subtitles.map(parseSubtitleArg);
      // Configuration first, so a bad --ladder or a missing ffmpeg fails before any input is touched.
      let ladderFor;
      let preset: string | null = null;
      try {
        ladderFor = await ladderOption(opts.ladder, opts.codecs);
        if (opts.preset !== undefined) {
          const parsed = LadderSchema.shape.preset.safeParse(opts.preset);
          if (!parsed.success || parsed.data === null) return usage(`--preset "${opts.preset}" is not an x264 preset (ultrafast ... veryslow)`);
          preset = parsed.data;
        }
        await resolveFfmpeg();
      } catch (err) {
        const code = (err as { code?: string }).code ?? 'CONFIG_INVALID';
        const message = err instanceof Error ? err.message : String(err);
        process.stderr.write(`${code}: ${message}\n`);
        if (json) process.stdout.write(`${JSON.stringify({ schemaVersion: 1, verb: 'transcode', ok: false, error: { code, message }, inputs: [] }, null, 2)}\n`);
        process.exitCode = 2;
        return;
      }

      const outRoot = path.resolve(opts.out);
      const names = uniqueSafeNames(inputs);
      const controller = new AbortController();
      const onSignal = () => controller.abort(new Error('interrupted'));
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const outcomes: InputOutcome[] = [];
      try {
        for (const [i, input] of inputs.entries()) {
          const label = path.basename(input);
          const outDir = outputDirFor(outRoot, names[i]!);
          if (controller.signal.aborted) {
            outcomes.push({ input, ok: false, outDir: null, renditions: [], audio: false, warnings: [], error: { code: 'CANCELLED', message: `${label}: not started (interrupted)` }, durationSec: null });
            continue;
          }
          const progress = await createProgress(label);
          try {
            const { ladder, analysis } = await ladderFor(input, { signal: controller.signal, workDir: outRoot, onProgress: (f) => progress.update({ stage: 'analyzing', percent: f * 5 }) });
            const r = await transcodeFile({ input, outDir, ladder, formats, preset, subtitles, ...(loudness ? { loudness } : {}), signal: controller.signal, onProgress: progress.update, perTitle: analysis });
            progress.stop();
            process.stderr.write(`OK ${label} -> ${outDir}: ${summary(r)}\n`);
            for (const w of r.warnings) process.stderr.write(`  warning: ${w}\n`);
            outcomes.push({
              input,
              ok: true,
              outDir,
              renditions: r.renditions.map((x) => ({ name: x.name, width: x.width, height: x.height, fps: x.fps, codecs: x.codecs, bitrateAvg: x.bitrateAvg, bitratePeak: x.bitratePeak, sizeBytes: x.sizeBytes })),
              audio: r.audio !== null,
              warnings: [...r.warnings],
              error: null,
              durationSec: r.stages.totalSec,
            });
          } catch (err) {
            progress.stop();
            const code = (err as { code?: string }).code ?? 'INTERNAL';
            const raw = err instanceof Error ? err.message : String(err);
            const message = raw.startsWith(`${label}: `) ? raw : `${label}: ${raw}`;
            process.stderr.write(`${code}: ${message}\n`);
            outcomes.push({ input, ok: false, outDir: null, renditions: [], audio: false, warnings: [], error: { code, message }, durationSec: null });
          }
        }
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      const failed = outcomes.filter((o) => !o.ok).length;
      if (json) {
        process.stdout.write(`${JSON.stringify({ schemaVersion: 1, verb: 'transcode', ok: failed === 0, out: outRoot, inputs: outcomes }, null, 2)}\n`);
      } else if (inputs.length > 1) {
        process.stderr.write(`${inputs.length - failed} of ${inputs.length} succeeded\n`);
      }
      process.exitCode = failed === 0 ? 0 : 1;
    });
}
