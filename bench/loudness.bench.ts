/**
 * Loudness benchmark, in one run:
 *  (a) accuracy: sources at very different levels (a sine at -35 and at -10 dBFS, pink noise, a speech-like
 *      modulated tone with pauses, the audio of a real clip) transcoded with each preset (broadcast -23 LUFS,
 *      streaming -16 LUFS, -1 dBTP). Target: every output within 1 LU of its target, true peak under the ceiling
 *      (measured on the published AAC by an independent ebur128 pass).
 *  (b) cost: the CPU of the loudness measurement decode (ebur128 with true peak; with loudnorm's first pass when
 *      normalising) and of the output check, as a share of the whole job's CPU, on a 720p30 source with the
 *      default ladder. CPU seconds of this process and its reaped children (/proc/self/stat), Linux only.
 *
 *   npx tsx bench/loudness.bench.ts [--duration 10] [--json]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LadderSchema } from '../shared/common/ladder-schema.ts';
import { getLadder } from '../shared/common/ladders.ts';
import { LOUDNESS_TOLERANCE_LU, loudnessTarget, type LoudnessPreset } from '../shared/common/loudness.ts';
import { measureLoudness } from '../shared/node/loudness.ts';
import { transcodeFile } from '../shared/node/transcode.ts';
import { arg, cpuSeconds } from './cli-args.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const resultsDir = path.join(here, 'results');
const repoRoot = path.resolve(here, '..');


async function cpuOf(fn: () => Promise<unknown>): Promise<number> {
  const c0 = cpuSeconds();
  await fn();
  return cpuSeconds() - c0;
}

const duration = Number(arg('duration', '10'));
const json = process.argv.includes('--json');
const work = path.join(os.tmpdir(), `tiercast-bench-loudness-${process.pid}`);
mkdirSync(work, { recursive: true });

function ffmpeg(args: string[]): void {
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** A small video with the given lavfi audio source. */
function source(name: string, audio: string): string {
  const out = path.join(work, `${name}.mp4`);
  ffmpeg(['-f', 'lavfi', '-i', `testsrc2=size=160x90:rate=25:duration=${duration}`, '-f', 'lavfi', '-i', `${audio}`, '-t', String(duration),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-b:a', '192k', '-ac', '2', out]);
  return out;
}

function realClip(): string {
  return path.join(repoRoot, 'test/fixtures/media/rooftop_portrait_720x1280_av1_10bit_hdr10.mp4');
}

function independentR128(file: string): { i: number; tp: number } {
  const res = spawnSync('ffmpeg', ['-hide_banner', '-nostats', '-i', file, '-map', '0:a:0', '-af', 'ebur128=peak=true:framelog=verbose', '-f', 'null', '-'], { encoding: 'utf8' });
  const s = res.stderr.slice(res.stderr.lastIndexOf('Summary:'));
  return { i: Number(/I:\s+(-?[\d.]+) LUFS/.exec(s)![1]), tp: Number(/Peak:\s+(-?[\d.]+) dBFS/.exec(s)![1]) };
}

const tiny = LadderSchema.parse({
  name: 'loudness-bench',
  segmentSeconds: 2,
  preset: 'ultrafast',
  rungs: [{ name: '90p', shortEdge: 90, videoBitrate: 100_000, maxrate: 120_000, bufsize: 200_000 }],
});

const sources: { name: string; file: string }[] = [
  { name: 'sine -35 dBFS', file: source('sine-35', `aevalsrc=0.01778*sin(2*PI*1000*t):s=48000:d=${duration}`) },
  { name: 'sine -10 dBFS', file: source('sine-10', `aevalsrc=0.3162*sin(2*PI*1000*t):s=48000:d=${duration}`) },
  { name: 'pink noise', file: source('noise', `anoisesrc=color=pink:amplitude=0.5:sample_rate=48000:duration=${duration}:seed=7`) },
  { name: 'speech-like', file: source('speech', `aevalsrc=0.25*sin(2*PI*220*t)*max(0\\,sin(2*PI*2.5*t))*(0.5+0.5*sin(2*PI*0.3*t))+0.05*sin(2*PI*660*t)*max(0\\,sin(2*PI*2.5*t)):s=48000:d=${duration}`) },
  { name: 'real clip (rooftop, 4.2 s)', file: realClip() },
];

interface Row {
  source: string;
  preset: LoudnessPreset;
  sourceI: number | null;
  sourceTp: number | null;
  mode: string | null;
  outI: number;
  outTp: number;
  offLu: number;
  pass: boolean;
}

const rows: Row[] = [];
for (const s of sources) {
  for (const preset of ['broadcast', 'streaming'] as const) {
    const outDir = path.join(work, `${path.basename(s.file, '.mp4')}-${preset}`);
    const report = await transcodeFile({ input: s.file, outDir, ladder: tiny, thumbnails: false, loudness: preset });
    const l = report.audio!.loudness!;
    const target = loudnessTarget(preset)!;
    const out = independentR128(path.join(outDir, report.audio!.playlist));
    const offLu = Math.abs(out.i - target.integratedLufs);
    rows.push({
      source: s.name, preset, sourceI: l.source.integratedLufs, sourceTp: l.source.truePeakDbtp, mode: l.normalization,
      outI: out.i, outTp: out.tp, offLu, pass: offLu <= LOUDNESS_TOLERANCE_LU && out.tp <= target.truePeakDbtp,
    });
  }
}

// (b) cost on a 720p30 source with the default ladder.
const big = path.join(work, 'big.mp4');
ffmpeg(['-f', 'lavfi', '-i', `testsrc2=size=1280x720:rate=30:duration=${duration}`, '-f', 'lavfi', '-i', `anoisesrc=color=pink:amplitude=0.3:sample_rate=48000:duration=${duration}`,
  '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-ac', '2', big]);
const ladder = getLadder('default')!;
const jobOff = await cpuOf(() => transcodeFile({ input: big, outDir: path.join(work, 'big-off'), ladder, thumbnails: false, loudness: 'off' }));
const measureOnly = await cpuOf(() => measureLoudness('ffmpeg', big, {}));
let audioPlaylist = '';
const jobStreaming = await cpuOf(async () => {
  const r = await transcodeFile({ input: big, outDir: path.join(work, 'big-streaming'), ladder, thumbnails: false, loudness: 'streaming' });
  audioPlaylist = path.join(work, 'big-streaming', r.audio!.playlist);
});
const measureFirstPass = await cpuOf(() => measureLoudness('ffmpeg', big, { target: loudnessTarget('streaming') }));
const outputCheck = await cpuOf(() => measureLoudness('ffmpeg', audioPlaylist, {}));

const fmt = (n: number | null) => (n === null ? '   -  ' : n.toFixed(1).padStart(6));
const lines = [
  `loudness accuracy (${duration} s sources; output measured on the published AAC)`,
  'source                       preset      src I  src TP  mode     out I  out TP  |dLU|  ok',
  ...rows.map((r) => `${r.source.padEnd(28)} ${r.preset.padEnd(10)} ${fmt(r.sourceI)} ${fmt(r.sourceTp)}  ${(r.mode ?? '-').padEnd(7)} ${fmt(r.outI)} ${fmt(r.outTp)} ${r.offLu.toFixed(2).padStart(5)}  ${r.pass ? 'yes' : 'NO'}`),
  '',
  `cost on 1280x720p30 ${duration} s, default ladder (CPU seconds, this process and children):`,
  `  job, loudness off (includes the ebur128 measurement): ${jobOff.toFixed(2)} s; the measurement decode alone ${measureOnly.toFixed(2)} s = ${((measureOnly / jobOff) * 100).toFixed(1)} % of the job`,
  `  job, streaming: ${jobStreaming.toFixed(2)} s; first pass (ebur128 + loudnorm) ${measureFirstPass.toFixed(2)} s = ${((measureFirstPass / jobStreaming) * 100).toFixed(1)} %, output check ${outputCheck.toFixed(2)} s = ${((outputCheck / jobStreaming) * 100).toFixed(1)} %`,
  `  all ${rows.length} normalised outputs within ${LOUDNESS_TOLERANCE_LU} LU and under the ceiling: ${rows.every((r) => r.pass) ? 'yes' : 'NO'}`,
];
const result = { duration, rows, cost: { jobOff, measureOnly, jobStreaming, measureFirstPass, outputCheck, measureShare: measureOnly / jobOff, normaliseShare: (measureFirstPass + outputCheck) / jobStreaming } };
mkdirSync(resultsDir, { recursive: true });
writeFileSync(path.join(resultsDir, 'loudness.json'), JSON.stringify(result, null, 2) + '\n');
process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : `${lines.join('\n')}\n`);
rmSync(work, { recursive: true, force: true });
if (!rows.every((r) => r.pass)) process.exitCode = 1;
