/**
 * Per-title benchmark: on sources of different complexity, the automatic ladder (`--ladder auto`) against the
 * default ladder, each a real transcodeFile, in one run:
 *  - total bits of the auto ladder against the default one (target: at least 15 % fewer over all sources, and
 *    never more on any source);
 *  - the real SSIM of every rendition of both full encodes against the source (each upscaled to the source size,
 *    like the preview scores), rungs matched by resolution: the auto rung must be at least as good (within
 *    QUALITY_TOLERANCE_DB, the noise of the measurement), or transparent (>= 24 dB, SSIM 0.996) where the default
 *    rung spends bits beyond what anyone can see;
 *  - the analysis's CPU (its ffmpeg children) as a share of the auto encode's CPU (target <= 15 %).
 * Sources (960x540 30 fps, no audio, ProRes Proxy: a mezzanine, so the ladder is not capped by the source's bitrate):
 * a static screen (SMPTE bars), a talking-head-like scene (a slow gradient with a small moving window), high
 * motion (mandelbrot zoom), animation (Big Buck Bunny from test/fixtures/media, deinterlaced and looped), and
 * film grain (the roadtrip clip from test/fixtures/media with temporal noise).
 * CPU is read from /proc/self/stat (children reaped by this process), so run nothing else in this process.
 *
 *   npx tsx bench/per-title.bench.ts [--duration 60] [--only static,grain] [--json]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fileUrl } from '../shared/common/ffmpeg-args.ts';
import { getLadder } from '../shared/common/ladders.ts';
import { METRIC_DEFAULTS, ssimToDb } from '../shared/common/per-title.ts';
import type { TranscodeReport } from '../shared/common/transcode-report.ts';
import { childCpuSeconds } from '../shared/node/child-cpu.ts';
import { resolveFfmpeg } from '../shared/node/ffmpeg-locate.ts';
import { runFfmpeg } from '../shared/node/ffmpeg-runner.ts';
import { analyzePerTitle } from '../shared/node/per-title.ts';
import { meanStat, scoringChains } from '../shared/node/preview.ts';
import { probeFile } from '../shared/node/probe.ts';
import { transcodeFile } from '../shared/node/transcode.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');
const resultsDir = path.join(here, 'results');
const QUALITY_TOLERANCE_DB = 0.2;
/** Transparent quality (SSIM 0.996, the ssim-db ceiling of shared/common/per-title.ts): above it no viewer sees a difference. */
const TRANSPARENT_DB = METRIC_DEFAULTS['ssim-db'].ceiling;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const duration = Number(arg('duration', '60'));
const W = 960;
const H = 540;
const media = (name: string) => path.join(repo, 'test/fixtures/media', name);
const SIZE = `${W}x${H}`;

/** ffmpeg inputs and filter for each source; every one ends as `[v]` at 960x540, 30 fps. */
const SOURCES: Record<string, { inputs: string[]; filter: string }> = {
  static: { inputs: ['-f', 'lavfi', '-i', `smptehdbars=size=${SIZE}:rate=30`], filter: '[0:v]format=yuv420p[v]' },
  talking: {
    inputs: ['-f', 'lavfi', '-i', `gradients=size=${SIZE}:rate=30:speed=0.002:seed=7`, '-f', 'lavfi', '-i', 'testsrc2=size=240x180:rate=30'],
    filter: "[0:v][1:v]overlay=x='360+40*sin(t)':y=150[o];[o]format=yuv420p[v]",
  },
  motion: { inputs: ['-f', 'lavfi', '-i', `mandelbrot=size=${SIZE}:rate=30`], filter: '[0:v]format=yuv420p[v]' },
  animation: {
    inputs: ['-stream_loop', '-1', '-i', media('bbb_1080i30_mpeg2_ac3-5.1_tff_DERIVED.ts')],
    filter: `[0:v]bwdif=mode=send_frame:parity=auto:deint=all,fps=30,scale=${W}:${H}:flags=lanczos,setsar=1,format=yuv420p[v]`,
  },
  grain: {
    inputs: ['-stream_loop', '-1', '-i', media('roadtrip_426x240_vp9-profile2_10bit_noaudio.webm')],
    filter: `[0:v]fps=30,scale=${W}:${H}:flags=lanczos,setsar=1,noise=alls=18:allf=t+u,format=yuv420p[v]`,
  },
};

function makeSource(dir: string, name: string): string {
  const out = path.join(dir, `${name}.mov`);
  if (existsSync(out)) return out;
  const s = SOURCES[name]!;
  execFileSync('ffmpeg', ['-v', 'error', '-y', ...s.inputs, '-filter_complex', s.filter, '-map', '[v]', '-t', String(duration),
    '-c:v', 'prores_ks', '-profile:v', '0', '-an', out], { stdio: ['ignore', 'ignore', 'inherit'] });
  return out;
}

/** Real SSIM of every rendition of an output folder against the source, each upscaled to the source's size. */
async function measure(source: string, outDir: string, report: TranscodeReport): Promise<number[]> {
  const install = await resolveFfmpeg();
  const src = await probeFile(source);
  const video = src.video!;
  const n = report.renditions.length;
  const rate = { num: 30, den: 1 };
  const { refChain, distChain } = scoringChains(video, install, rate, video.displayWidth, video.displayHeight);
  const args: string[] = [];
  const graph = [`[${n}:${video.index}]${refChain},split=${n}${report.renditions.map((_, i) => `[r${i}]`).join('')}`];
  report.renditions.forEach((r, i) => {
    args.push('-i', fileUrl(path.join(outDir, r.playlist)));
    graph.push(`[${i}:v:0]${distChain}[d${i}]`, `[d${i}][r${i}]ssim=stats_file=ssim-${i}.log[o${i}]`);
  });
  args.push('-i', fileUrl(source), '-filter_complex', graph.join(';'));
  for (let i = 0; i < n; i++) args.push('-map', `[o${i}]`, '-f', 'null', '-');
  await runFfmpeg(args, { bin: install.ffmpeg, cwd: outDir });
  return report.renditions.map((_, i) => ssimToDb(meanStat(readFileSync(path.join(outDir, `ssim-${i}.log`), 'utf8'), /All:([\d.]+)/)));
}

async function cpu<T>(fn: () => Promise<T>): Promise<{ value: T; cpuSec: number }> {
  const c0 = (await childCpuSeconds()) ?? 0;
  const value = await fn();
  return { value, cpuSec: ((await childCpuSeconds()) ?? 0) - c0 };
}

interface Row {
  source: string;
  defaultBits: number;
  autoBits: number;
  saving: number;
  analysisCpuSec: number;
  autoEncodeCpuSec: number;
  defaultEncodeCpuSec: number;
  analysisShare: number;
  rungs: { default: string[]; auto: string[] };
  matched: { size: string; defaultDb: number; autoDb: number; deltaDb: number }[];
  worstDeltaDb: number | null;
  qualityOk: boolean;
}

async function benchOne(dir: string, name: string): Promise<Row> {
  const source = makeSource(dir, name);
  const work = path.join(dir, name);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const def = await cpu(() => transcodeFile({ input: source, outDir: path.join(work, 'default'), ladder: getLadder('default'), formats: ['hls'], thumbnails: false }));
  const analysis = await cpu(() => analyzePerTitle({ input: source, workDir: work }));
  const auto = await cpu(() =>
    transcodeFile({ input: source, outDir: path.join(work, 'auto'), ladder: analysis.value.ladder, formats: ['hls'], thumbnails: false, perTitle: analysis.value.analysis }),
  );
  const dq = await measure(source, path.join(work, 'default'), def.value);
  const aq = await measure(source, path.join(work, 'auto'), auto.value);
  const bits = (r: TranscodeReport) => r.renditions.reduce((s, x) => s + x.sizeBytes * 8, 0);
  const size = (x: { width: number; height: number }) => `${x.width}x${x.height}`;
  const matched = auto.value.renditions.flatMap((a, i) => {
    const j = def.value.renditions.findIndex((d) => size(d) === size(a));
    return j < 0 ? [] : [{ size: size(a), defaultDb: r2(dq[j]!), autoDb: r2(aq[i]!), deltaDb: r2(aq[i]! - dq[j]!) }];
  });
  const label = (r: TranscodeReport, q: number[]) => r.renditions.map((x, i) => `${x.height}p ${Math.round(x.bitrateAvg / 1000)}k ${q[i]!.toFixed(2)}dB`);
  return {
    source: name,
    defaultBits: bits(def.value),
    autoBits: bits(auto.value),
    saving: r3(1 - bits(auto.value) / bits(def.value)),
    analysisCpuSec: r2(analysis.cpuSec),
    autoEncodeCpuSec: r2(auto.cpuSec),
    defaultEncodeCpuSec: r2(def.cpuSec),
    analysisShare: r3(analysis.cpuSec / auto.cpuSec),
    rungs: { default: label(def.value, dq), auto: label(auto.value, aq) },
    matched,
    worstDeltaDb: matched.length ? Math.min(...matched.map((m) => m.deltaDb)) : null,
    qualityOk: matched.every((m) => m.autoDb >= Math.min(m.defaultDb, TRANSPARENT_DB) - QUALITY_TOLERANCE_DB),
  };
}

const r2 = (n: number) => Math.round(n * 100) / 100;
const r3 = (n: number) => Math.round(n * 1000) / 1000;

async function main(): Promise<void> {
  const only = arg('only', '').split(',').filter(Boolean);
  const names = only.length ? only : Object.keys(SOURCES);
  const dir = path.join(os.tmpdir(), `tiercast-bench-per-title-${duration}s`);
  mkdirSync(dir, { recursive: true });
  const rows: Row[] = [];
  for (const name of names) {
    process.stderr.write(`per-title: ${name}...\n`);
    const row = await benchOne(dir, name);
    rows.push(row);
    process.stdout.write(
      `${name.padEnd(10)} bits auto/default ${(row.autoBits / 1e6).toFixed(2)}/${(row.defaultBits / 1e6).toFixed(2)} Mb (saving ${(row.saving * 100).toFixed(1)} %), ` +
        `analysis ${row.analysisCpuSec} CPU s = ${(row.analysisShare * 100).toFixed(1)} % of the auto encode (${row.autoEncodeCpuSec} s; default encode ${row.defaultEncodeCpuSec} s), ` +
        `quality ${row.qualityOk ? 'ok' : 'WORSE'}\n    default: ${row.rungs.default.join(', ')}\n    auto:    ${row.rungs.auto.join(', ')}\n` +
        `    matched: ${row.matched.map((m) => `${m.size} ${m.deltaDb >= 0 ? '+' : ''}${m.deltaDb} dB`).join(', ') || 'none'} (worst ${row.worstDeltaDb ?? '-'} dB)\n`,
    );
  }
  const totalDefault = rows.reduce((s, r) => s + r.defaultBits, 0);
  const totalAuto = rows.reduce((s, r) => s + r.autoBits, 0);
  const saving = 1 - totalAuto / totalDefault;
  const share = rows.reduce((s, r) => s + r.analysisCpuSec, 0) / rows.reduce((s, r) => s + r.autoEncodeCpuSec, 0);
  const shareOfDefault = rows.reduce((s, r) => s + r.analysisCpuSec, 0) / rows.reduce((s, r) => s + r.defaultEncodeCpuSec, 0);
  const summary = {
    totalSaving: r3(saving),
    savingTargetMet: saving >= 0.15,
    neverMoreBits: rows.every((r) => r.autoBits <= r.defaultBits),
    qualityOk: rows.every((r) => r.qualityOk),
    analysisShare: r3(share),
    analysisShareOfDefaultEncode: r3(shareOfDefault),
    analysisShareTargetMet: share <= 0.15,
  };
  const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
  process.stdout.write(
    `\nper-title (${duration} s sources): total bits ${(saving * 100).toFixed(1)} % below the default ladder: ${verdict(summary.savingTargetMet)} (target >= 15 %); ` +
      `never more bits on a source: ${verdict(summary.neverMoreBits)}; quality per matched rung: ${verdict(summary.qualityOk)}; ` +
      `analysis CPU ${(share * 100).toFixed(1)} % of the auto encode: ${verdict(summary.analysisShareTargetMet)} (target <= 15 %; ${(shareOfDefault * 100).toFixed(1)} % of the default encode)\n`,
  );
  process.stdout.write(`per-title: ${JSON.stringify(summary)}\n`);
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(path.join(resultsDir, `per-title-${new Date().toISOString().replace(/[:.]/g, '-')}.json`), JSON.stringify({ duration, rows, summary }, null, 2));
  if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify({ rows, summary })}\n`);
}

await main();
