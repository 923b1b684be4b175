/**
 * Transcode benchmark, on one generated 1080p source (default 20 s, 30 fps, H.264 + AAC), in one run:
 *  (a) transcodeFile (one ffmpeg process: decode once, split, every rung) against the naive approach of one
 *      ffmpeg process per rung, each decoding the source itself (HLS fMP4 per rung). Target: >= 1.15x faster.
 *  (b) transcodeFile's whole job (probe, encode, verify, playlists, report, publish) against the bare ffmpeg
 *      command it generates. Target: overhead <= 10%.
 *  (c) what the in-process poster and sprite branches cost, against a second process that would make them.
 * Figures are ratios within this run. Each step is measured in CPU seconds (this process plus the ffmpeg/ffprobe
 * children it reaped, from /proc/self/stat) as well as wall-clock seconds: on a shared machine wall time swings
 * with other people's load, CPU time does not, and CPU time is what a job costs on any tier. The targets are judged
 * on CPU time; wall time is printed beside it. Linux only for CPU time (elsewhere the CPU figures fall back to wall).
 *
 *   npx tsx bench/transcode.bench.ts [--duration 20] [--ladder default] [--rounds 1] [--json]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildLadderCommand, fileUrl } from '../shared/common/ffmpeg-args.ts';
import { fitLadder, getLadder } from '../shared/common/ladders.ts';
import { resolveFfmpeg } from '../shared/node/ffmpeg-locate.ts';
import { runFfmpeg } from '../shared/node/ffmpeg-runner.ts';
import { probeFile } from '../shared/node/probe.ts';
import { transcodeFile } from '../shared/node/transcode.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const resultsDir = path.join(here, 'results');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

/** CPU seconds used so far by this process and its reaped children (utime, stime, cutime, cstime). */
function cpuSeconds(): number | null {
  try {
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
    // Fields 14-17 of proc(5), counted from 1; the split above starts at field 3.
    const ticks = [14, 15, 16, 17].reduce((sum, n) => sum + Number(fields[n - 3]), 0);
    return ticks / 100;
  } catch {
    return null;
  }
}

interface Timing {
  wall: number;
  cpu: number;
}

async function timed(fn: () => Promise<unknown>): Promise<Timing> {
  const c0 = cpuSeconds();
  const t0 = performance.now();
  await fn();
  const wall = (performance.now() - t0) / 1000;
  const c1 = cpuSeconds();
  return { wall, cpu: c0 === null || c1 === null ? wall : c1 - c0 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** A 1080p source with detail and motion (testsrc2 plus noise), so decoding it costs what a real upload does. */
function makeSource(durationSec: number, scratch: string): string {
  const file = path.join(os.tmpdir(), `tiercast-bench-1080p-${durationSec}s.mp4`);
  if (existsSync(file)) return file;
  const tmp = path.join(scratch, 'source.tmp.mp4');
  process.stderr.write(`generating ${durationSec} s 1080p30 source...\n`);
  execFileSync('ffmpeg', [
    '-v', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=1920x1080:rate=30:duration=${durationSec},noise=alls=12:allf=t`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${durationSec}`,
    '-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '12M', '-maxrate', '14M', '-bufsize', '24M', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '192k', '-movflags', '+faststart', tmp,
  ]);
  execFileSync('mv', [tmp, file]);
  return file;
}

interface Steps {
  readonly tiercast: number;
  readonly bare: number;
  readonly naive: number;
  readonly bareWithoutThumbnails: number;
  readonly thumbnailsSecondProcess: number;
}

export interface TranscodeBenchResult {
  readonly source: { durationSec: number; width: number; height: number };
  readonly ladder: string;
  readonly preset: string;
  readonly rungs: readonly string[];
  readonly rounds: number;
  /** CPU seconds (this process and its children) per step. */
  readonly cpuSeconds: Steps;
  /** Wall-clock seconds per step (noisy on a shared machine). */
  readonly wallSeconds: Steps;
  /** naive / tiercast CPU time: how much less work the single process does (target >= 1.15). */
  readonly speedupVsNaive: number;
  readonly speedupVsNaiveWall: number;
  /** (tiercast - bare) / bare CPU time (target <= 0.10). */
  readonly overheadVsBare: number;
  readonly overheadVsBareWall: number;
  /** Extra time the poster and sprite branches add inside the one process, versus a second process making them. */
  readonly thumbnailsInProcessSec: number;
  readonly thumbnailsSecondProcessSec: number;
}

export async function runTranscodeBench(options: { durationSec: number; ladder: string; rounds: number }): Promise<TranscodeBenchResult> {
  const scratch = path.join(os.tmpdir(), `tiercast-bench-transcode-${process.pid}`);
  mkdirSync(scratch, { recursive: true });
  try {
    const source = makeSource(options.durationSec, scratch);
    const install = await resolveFfmpeg();
    const media = await probeFile(source);
    const ladder = getLadder(options.ladder);
    const fitted = fitLadder(media, ladder);
    const seg = fitted.segmentSeconds;
    const times = { tiercast: [] as Timing[], bare: [] as Timing[], naive: [] as Timing[], bareWithoutThumbnails: [] as Timing[], thumbnailsSecondProcess: [] as Timing[] };

    for (let round = 0; round < options.rounds; round++) {
      // (b) the bare command transcodeFile generates, run directly.
      const bareDir = path.join(scratch, `bare-${round}`);
      mkdirSync(bareDir, { recursive: true });
      const bare = buildLadderCommand({ source, media, ladder: fitted, outDir: bareDir, formats: ['hls', 'dash'], caps: install });
      process.stderr.write(`round ${round + 1}: bare ffmpeg command...\n`);
      times.bare.push(await timed(() => runFfmpeg(bare.args, { bin: install.ffmpeg })));

      process.stderr.write(`round ${round + 1}: transcodeFile...\n`);
      const outDir = path.join(scratch, `tiercast-${round}`);
      times.tiercast.push(await timed(() => transcodeFile({ input: source, outDir, ladder })));

      // (a) one process per rung, each decoding the source (a typical first implementation).
      process.stderr.write(`round ${round + 1}: naive, one process per rung...\n`);
      times.naive.push(
        await timed(async () => {
          for (const [i, r] of fitted.rungs.entries()) {
            const dir = path.join(scratch, `naive-${round}`, String(i));
            mkdirSync(dir, { recursive: true });
            const gop = String(Math.round(r.fps * seg));
            await runFfmpeg(
              [
                '-i', fileUrl(source),
                '-vf', `fps=${r.fps},scale=${r.width}:${r.height}:flags=lanczos,format=yuv420p`,
                '-c:v', 'libx264', '-preset', fitted.preset, '-profile:v', r.profile,
                '-b:v', String(r.videoBitrate), '-maxrate', String(r.maxrate), '-bufsize', String(r.bufsize),
                '-g', gop, '-keyint_min', gop, '-sc_threshold', '0', '-force_key_frames', `expr:gte(t,n_forced*${seg})`,
                '-c:a', 'aac', '-b:a', String(fitted.audio?.bitrate ?? 128000), '-ac', '2',
                '-f', 'hls', '-hls_time', String(seg), '-hls_playlist_type', 'vod', '-hls_segment_type', 'fmp4',
                '-hls_segment_filename', fileUrl(path.join(dir, 'seg-%05d.m4s')), fileUrl(path.join(dir, 'index.m3u8')),
              ],
              { bin: install.ffmpeg },
            );
          }
        }),
      );

      // (c) the poster and sprite: inside the one process versus a second process that decodes again.
      process.stderr.write(`round ${round + 1}: bare command without poster and sprite...\n`);
      const noThumbDir = path.join(scratch, `nothumb-${round}`);
      mkdirSync(noThumbDir, { recursive: true });
      const noThumbs = buildLadderCommand({ source, media, ladder: fitted, outDir: noThumbDir, formats: ['hls', 'dash'], caps: install, poster: false, thumbnails: false });
      times.bareWithoutThumbnails.push(await timed(() => runFfmpeg(noThumbs.args, { bin: install.ffmpeg })));
      const thumbDir = path.join(scratch, `thumbs-${round}`);
      mkdirSync(thumbDir, { recursive: true });
      const plan = bare.outputs.thumbnails!;
      times.thumbnailsSecondProcess.push(
        await timed(() =>
          runFfmpeg(
            [
              '-i', fileUrl(source),
              '-filter_complex',
              `[0:v:0]format=yuv420p,split=2[a][b];[a]select=gte(t\\,selected_n*${plan.intervalSec}),scale=${plan.tileWidth}:${plan.tileHeight},tile=layout=${plan.columns}x${plan.rows}[sprite];` +
                `[b]trim=start=${bare.outputs.poster!.atSec}:duration=2,scale=${bare.outputs.poster!.width}:${bare.outputs.poster!.height},thumbnail=n=60[poster]`,
              '-map', '[sprite]', '-frames:v', '1', '-update', '1', fileUrl(path.join(thumbDir, 'sprite.jpg')),
              '-map', '[poster]', '-frames:v', '1', '-update', '1', fileUrl(path.join(thumbDir, 'poster.jpg')),
            ],
            { bin: install.ffmpeg },
          ),
        ),
      );
      rmSync(path.join(scratch, `naive-${round}`), { recursive: true, force: true });
    }

    const r3 = (n: number) => Math.round(n * 1000) / 1000;
    const pick = (k: 'wall' | 'cpu'): Steps => ({
      tiercast: r3(median(times.tiercast.map((t) => t[k]))),
      bare: r3(median(times.bare.map((t) => t[k]))),
      naive: r3(median(times.naive.map((t) => t[k]))),
      bareWithoutThumbnails: r3(median(times.bareWithoutThumbnails.map((t) => t[k]))),
      thumbnailsSecondProcess: r3(median(times.thumbnailsSecondProcess.map((t) => t[k]))),
    });
    const cpu = pick('cpu');
    const wall = pick('wall');
    return {
      source: { durationSec: media.durationSec, width: media.video!.displayWidth, height: media.video!.displayHeight },
      ladder: fitted.ladder,
      preset: fitted.preset,
      rungs: fitted.rungs.map((r) => `${r.name} ${r.width}x${r.height}@${r.fps}`),
      rounds: options.rounds,
      cpuSeconds: cpu,
      wallSeconds: wall,
      speedupVsNaive: r3(cpu.naive / cpu.tiercast),
      speedupVsNaiveWall: r3(wall.naive / wall.tiercast),
      overheadVsBare: r3((cpu.tiercast - cpu.bare) / cpu.bare),
      overheadVsBareWall: r3((wall.tiercast - wall.bare) / wall.bare),
      thumbnailsInProcessSec: r3(cpu.bare - cpu.bareWithoutThumbnails),
      thumbnailsSecondProcessSec: cpu.thumbnailsSecondProcess,
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

const isMain = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const result = await runTranscodeBench({ durationSec: Number(arg('duration', '20')), ladder: arg('ladder', 'default'), rounds: Number(arg('rounds', '1')) });
  mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `transcode-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  if (process.argv.includes('--json')) {
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  } else {
    const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
    process.stdout.write(
      [
        `transcode bench: ${result.source.width}x${result.source.height} ${result.source.durationSec.toFixed(1)} s, ladder ${result.ladder} (${result.rungs.join(', ')}), preset ${result.preset}`,
        `  (a) one process ${result.cpuSeconds.tiercast.toFixed(2)} CPU s vs one process per rung ${result.cpuSeconds.naive.toFixed(2)} CPU s: ${result.speedupVsNaive.toFixed(2)}x (target >= 1.15x) ${result.speedupVsNaive >= 1.15 ? 'OK' : 'MISSED'}; wall ${result.wallSeconds.tiercast.toFixed(1)} s vs ${result.wallSeconds.naive.toFixed(1)} s (${result.speedupVsNaiveWall.toFixed(2)}x)`,
        `  (b) whole job ${result.cpuSeconds.tiercast.toFixed(2)} CPU s vs bare ffmpeg ${result.cpuSeconds.bare.toFixed(2)} CPU s: overhead ${pct(result.overheadVsBare)} (target <= 10%) ${result.overheadVsBare <= 0.1 ? 'OK' : 'MISSED'}; wall ${result.wallSeconds.tiercast.toFixed(1)} s vs ${result.wallSeconds.bare.toFixed(1)} s (${pct(result.overheadVsBareWall)})`,
        `  (c) poster + sprite inside the one process ${result.thumbnailsInProcessSec.toFixed(2)} CPU s${result.thumbnailsInProcessSec <= 0 ? ' (below run-to-run noise: the with/without difference is smaller than two runs of the same command differ)' : ''} vs a second process ${result.thumbnailsSecondProcessSec.toFixed(2)} CPU s`,
        `  written to ${path.relative(process.cwd(), file)}`,
      ].join('\n') + '\n',
    );
  }
}
