import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LadderSchema } from '../../../shared/common/ladder-schema.ts';
import { loudnessTarget } from '../../../shared/common/loudness.ts';
import { verifyLoudness } from '../../../shared/node/loudness.ts';
import { transcodeFile } from '../../../shared/node/transcode.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-loud-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ladder = LadderSchema.parse({
  name: 'loud',
  segmentSeconds: 2,
  preset: 'ultrafast',
  rungs: [{ name: '90p', shortEdge: 90, videoBitrate: 100_000, maxrate: 120_000, bufsize: 200_000 }],
});

/** 6 s of a tone whose level wanders (a speech-like envelope) at about -30 dBFS, with a small video. */
function quietClip(): string {
  const out = path.join(dir, 'quiet.mp4');
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=25:duration=6',
    '-f', 'lavfi', '-i', "aevalsrc=0.03*sin(2*PI*300*t)*(0.6+0.4*sin(2*PI*3*t)):s=48000:d=6",
    '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-ac', '2', out], { stdio: ['ignore', 'ignore', 'pipe'] });
  return out;
}

/** EBU R128 of a file, read with ffmpeg's ebur128 here rather than through Tiercast's parser. */
function measureIndependently(file: string): { i: number; tp: number } {
  const res = spawnSync('ffmpeg', ['-hide_banner', '-nostats', '-i', file, '-map', '0:a:0', '-af', 'ebur128=peak=true:framelog=verbose', '-f', 'null', '-'], { encoding: 'utf8' });
  const summary = res.stderr.slice(res.stderr.lastIndexOf('Summary:'));
  return { i: Number(/I:\s+(-?[\d.]+) LUFS/.exec(summary)![1]), tp: Number(/Peak:\s+(-?[\d.]+) dBFS/.exec(summary)![1]) };
}

describe('loudness', () => {
  const input = quietClip();

  it('every job measures EBU R128 of its audio track into report.json (no normalisation by default)', async () => {
    const report = await transcodeFile({ input, outDir: path.join(dir, 'off'), ladder, thumbnails: false });
    const l = report.audio?.loudness;
    const src = measureIndependently(input);
    expect(l?.target).toBeNull();
    expect(l?.output).toBeNull();
    expect(l?.source.integratedLufs).toBeCloseTo(src.i, 0);
    expect(l?.source.truePeakDbtp).toBeCloseTo(src.tp, 0);
    expect(l!.source.integratedLufs!).toBeLessThan(-25);
    expect(report.loudnessSec).toBeGreaterThan(0);
  });

  it('streaming normalises to -16 LUFS within 1 LU under the -1 dBTP ceiling, measured on the published AAC', async () => {
    const outDir = path.join(dir, 'streaming');
    const report = await transcodeFile({ input, outDir, ladder, thumbnails: false, loudness: 'streaming' });
    const l = report.audio!.loudness!;
    expect(l.target).toEqual({ preset: 'streaming', integratedLufs: -16, truePeakDbtp: -1 });
    expect(l.normalization).toBe('linear');
    const out = measureIndependently(path.join(outDir, report.audio!.playlist));
    expect(Math.abs(out.i - -16)).toBeLessThanOrEqual(1);
    expect(out.tp).toBeLessThanOrEqual(-1);
    expect(l.output!.integratedLufs!).toBeCloseTo(out.i, 0);
  });

  it('a silent track is measured as silent and left as it is, with a warning, when normalising', async () => {
    const silent = path.join(dir, 'silent.mp4');
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=25:duration=3',
      '-f', 'lavfi', '-i', 'anullsrc=r=48000:cl=stereo', '-t', '3', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', silent], { stdio: ['ignore', 'ignore', 'pipe'] });
    const report = await transcodeFile({ input: silent, outDir: path.join(dir, 'silent-out'), ladder, thumbnails: false, loudness: 'broadcast' });
    expect(report.audio?.loudness).toMatchObject({ source: { integratedLufs: null, truePeakDbtp: null }, output: null, normalization: null });
    expect(report.warnings).toContain('audio stream 1 is silent or too short to measure (R128 integrates 0.4 s blocks): not normalised');
  });

  it('an output off its target fails verification with OUTPUT_VERIFY_FAILED', async () => {
    const outDir = path.join(dir, 'streaming');
    const playlist = path.join(outDir, 'media_1.m3u8');
    // The -16 LUFS output checked against the broadcast target (-23) is 7 LU off.
    await expect(verifyLoudness('ffmpeg', loudnessTarget('broadcast')!, [{ sourceIndex: 1, file: playlist }])).rejects.toMatchObject({
      code: 'OUTPUT_VERIFY_FAILED',
      message: expect.stringMatching(/media_1\.m3u8: the output measures -1[56]\.\d LUFS, [67]\.\d LU from the -23 LUFS target/),
    });
  });
});
