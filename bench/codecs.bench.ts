/**
 * Codec benchmark: HEVC (libx265) and AV1 (libsvtav1) rungs against H.264 (libx264), per source, in one run:
 *  (a) bits at equal quality: each codec encodes the source at a few rates with Tiercast's own rung arguments
 *      (shared/common/codecs.ts: capped VBR, one-segment closed GOPs); SSIM (in dB) against the source is measured
 *      for each; the HEVC/AV1 rate that reaches H.264's SSIM at each H.264 rate is interpolated (log rate against
 *      SSIM dB, between the two nearest points) and printed as a share of the H.264 rate;
 *  (b) encode speed: CPU seconds per encode (ffmpeg children reaped, /proc/self/stat), as a ratio to H.264's.
 * Sources (10 s each, in a 640x360 box): ffmpeg test sources (testsrc2 animation, a mandelbrot zoom, testsrc2 with
 * film grain, a nearly static slide) and the real clips of test/fixtures/media (looped to the length: a 426x240
 * road trip and a portrait rooftop scene).
 * The figures feed CODEC_INFO (speed, bitsVsH264) in shared/common/codecs.ts.
 *
 *   npx tsx bench/codecs.bench.ts [--seconds 10] [--preset veryfast] [--sources testsrc2,grain] [--json]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CODEC_INFO, rungEncoderArgs, VIDEO_CODECS, type VideoCodec } from '../shared/common/codecs.ts';
import { resolveFfmpeg } from '../shared/node/ffmpeg-locate.ts';
import { arg, cpuSeconds } from './cli-args.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const resultsDir = path.join(here, 'results');
const media = path.join(here, '..', 'test', 'fixtures', 'media');


const seconds = Number(arg('seconds', '10'));
const preset = arg('preset', 'veryfast');
const fps = 30;
const box = 'scale=w=640:h=360:force_original_aspect_ratio=decrease:force_divisible_by=2';

/** Each source as ffmpeg input arguments plus the filters that bring it to an 8-bit 4:2:0 clip of `seconds`. */
const SOURCES: Record<string, { input: string[]; filter: string }> = {
  testsrc2: { input: ['-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=${fps}`], filter: 'null' },
  mandelbrot: { input: ['-f', 'lavfi', '-i', `mandelbrot=size=640x360:rate=${fps}`], filter: 'null' },
  grain: { input: ['-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=${fps}`], filter: 'noise=alls=14:allf=t+u' },
  slide: { input: ['-f', 'lavfi', '-i', `smptehdbars=size=640x360:rate=${fps}`], filter: "drawtext=text='%{eif\\:t\\:d}':fontsize=20:x=20:y=20:fontcolor=white" },
  roadtrip: { input: ['-stream_loop', '-1', '-i', path.join(media, 'roadtrip_426x240_vp9-profile2_10bit_noaudio.webm')], filter: box },
  rooftop: { input: ['-stream_loop', '-1', '-i', path.join(media, 'rooftop_portrait_720x1280_av1_10bit_hdr10.mp4')], filter: box },
};

/** H.264 rates; HEVC and AV1 go one step lower too, so H.264's quality falls inside their range. */
const H264_RATES = [300_000, 600_000, 1_200_000];
const OTHER_RATES = [150_000, 300_000, 600_000, 1_200_000];

interface Point {
  codec: VideoCodec;
  rate: number;
  bitsPerSec: number;
  ssim: number;
  ssimDb: number;
  cpuSec: number;
}

function makeSource(ffmpeg: string, name: string, dir: string): string {
  const out = path.join(dir, `${name}.mkv`);
  if (existsSync(out)) return out;
  const s = SOURCES[name]!;
  // Lossless FFV1 mezzanine: every encoder reads the same frames and SSIM compares against them.
  execFileSync(ffmpeg, ['-hide_banner', '-v', 'error', ...s.input, '-t', String(seconds), '-vf', `${s.filter},fps=${fps},format=yuv420p`, '-an', '-c:v', 'ffv1', '-y', out]);
  return out;
}

function encode(ffmpeg: string, src: string, codec: VideoCodec, rate: number, out: string): number {
  const gop = fps * 2;
  const args = [
    '-hide_banner', '-v', 'error', '-i', src, '-an', '-c:v', 'libx264', '-preset', preset,
    ...rungEncoderArgs({ codec, videoBitrate: rate, maxrate: Math.round(rate * 1.1), bufsize: Math.round(rate * 1.5), profile: 'high', level: '3.1', gop }, 0, preset),
    '-force_key_frames:v', `expr:gte(t,n_forced*2)`, '-sc_threshold:v', '0', '-flags:v', '+cgop', '-pix_fmt:v', 'yuv420p', '-y', out,
  ];
  const c0 = cpuSeconds();
  const r = spawnSync(ffmpeg, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${codec} ${rate}: ${r.stderr.trim().split('\n').at(-1)}`);
  return cpuSeconds() - c0;
}

function ssimOf(ffmpeg: string, encoded: string, src: string): { ssim: number; ssimDb: number } {
  const r = spawnSync(ffmpeg, ['-hide_banner', '-i', encoded, '-i', src, '-lavfi', '[0:v][1:v]ssim', '-f', 'null', '-'], { encoding: 'utf8' });
  const m = /All:([\d.]+) \(([\d.]+|inf)\)/.exec(r.stderr);
  if (!m) throw new Error(`no SSIM for ${encoded}`);
  return { ssim: Number(m[1]), ssimDb: m[2] === 'inf' ? 100 : Number(m[2]) };
}

/** The rate at which `points` reach `db` (log rate linear in SSIM dB between the two nearest points; extrapolated at the ends). */
export function rateAtQuality(points: readonly { bitsPerSec: number; ssimDb: number }[], db: number): { rate: number; extrapolated: boolean } {
  const p = [...points].sort((a, b) => a.ssimDb - b.ssimDb);
  const extrapolated = db < p[0]!.ssimDb || db > p[p.length - 1]!.ssimDb;
  const k = Math.min(p.length - 1, Math.max(1, p.findIndex((x) => x.ssimDb >= db) === -1 ? p.length - 1 : p.findIndex((x) => x.ssimDb >= db)));
  const a = p[k - 1]!;
  const b = p[k]!;
  const t = b.ssimDb === a.ssimDb ? 0 : (db - a.ssimDb) / (b.ssimDb - a.ssimDb);
  return { rate: Math.exp(Math.log(a.bitsPerSec) + t * (Math.log(b.bitsPerSec) - Math.log(a.bitsPerSec))), extrapolated };
}

async function main(): Promise<void> {
  const install = await resolveFfmpeg();
  const codecs = VIDEO_CODECS.filter((c) => install.encoders.has(CODEC_INFO[c].encoder));
  const names = arg('sources', Object.keys(SOURCES).join(',')).split(',');
  const dir = path.join(os.tmpdir(), `tiercast-bench-codecs-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const rows: Record<string, unknown>[] = [];
  try {
    for (const name of names) {
      const src = makeSource(install.ffmpeg, name, dir);
      const points: Point[] = [];
      for (const codec of codecs) {
        for (const rate of codec === 'h264' ? H264_RATES : OTHER_RATES) {
          const out = path.join(dir, `${name}-${codec}-${rate}.mp4`);
          const cpuSec = encode(install.ffmpeg, src, codec, rate, out);
          const bitsPerSec = (statSync(out).size * 8) / seconds;
          points.push({ codec, rate, bitsPerSec, cpuSec, ...ssimOf(install.ffmpeg, out, src) });
          rmSync(out);
        }
      }
      const h264 = points.filter((p) => p.codec === 'h264');
      const h264Cpu = h264.reduce((s, p) => s + p.cpuSec, 0) / h264.length;
      for (const codec of codecs) {
        const mine = points.filter((p) => p.codec === codec);
        const shares = h264.map((h) => {
          const at = rateAtQuality(mine, h.ssimDb);
          return { h264Kbps: Math.round(h.bitsPerSec / 1000), ssimDb: h.ssimDb, kbps: Math.round(at.rate / 1000), share: at.rate / h.bitsPerSec, extrapolated: at.extrapolated };
        });
        const inside = shares.filter((s) => !s.extrapolated);
        const used = inside.length ? inside : shares;
        const bitsShare = used.reduce((s, x) => s + x.share, 0) / used.length;
        const cpu = mine.reduce((s, p) => s + p.cpuSec, 0) / mine.length;
        rows.push({
          source: name,
          codec,
          bitsVsH264: Math.round(bitsShare * 1000) / 1000,
          speedVsH264: Math.round((h264Cpu / cpu) * 1000) / 1000,
          fpsPerCpu: Math.round(((seconds * fps) / cpu) * 10) / 10,
          points: mine.map((p) => ({ kbps: Math.round(p.bitsPerSec / 1000), ssim: p.ssim, ssimDb: p.ssimDb, cpuSec: Math.round(p.cpuSec * 100) / 100 })),
          atH264Quality: shares,
        });
        process.stderr.write(
          `${name.padEnd(10)} ${codec.padEnd(5)} bits vs H.264 at equal SSIM ${(bitsShare * 100).toFixed(0).padStart(4)} %` +
            `${inside.length < shares.length ? ` (${shares.length - inside.length} of ${shares.length} points extrapolated)` : ''}` +
            `   speed vs x264 ${(h264Cpu / cpu).toFixed(2)}x   ${((seconds * fps) / cpu).toFixed(1)} frames per CPU second\n`,
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const summary = VIDEO_CODECS.filter((c) => c !== 'h264' && codecs.includes(c)).map((codec) => {
    const mine = rows.filter((r) => r.codec === codec);
    const mean = (k: string) => mine.reduce((s, r) => s + (r[k] as number), 0) / mine.length;
    return { codec, bitsVsH264: Math.round(mean('bitsVsH264') * 1000) / 1000, speedVsH264: Math.round(mean('speedVsH264') * 1000) / 1000 };
  });
  for (const s of summary) process.stderr.write(`mean ${s.codec}: ${(s.bitsVsH264 * 100).toFixed(0)} % of H.264's bits at equal SSIM, ${s.speedVsH264.toFixed(2)}x x264's speed (preset ${preset})\n`);
  const doc = { bench: 'codecs', preset, seconds, ffmpeg: install.version, sources: names, summary, rows };
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(path.join(resultsDir, `codecs-${Date.now()}.json`), JSON.stringify(doc, null, 2));
  if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
}

await main();
