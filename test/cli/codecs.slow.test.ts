import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openSqliteJobStore } from '../../shared/node/sqlite-job-store.ts';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveFfmpeg } from '../../shared/node/ffmpeg-locate.ts';
import { runTiercast, type CliRun } from '../helpers/cli.ts';
import { makeClip } from '../helpers/clips.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-cli-codecs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tiercast(env: Record<string, string>, ...args: string[]): Promise<CliRun> {
  const base: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: dir, NO_COLOR: '1', TIERCAST_LOG_LEVEL: 'warn', TIERCAST_HOME: path.join(dir, 'home') };
  return runTiercast(args, { cwd: dir, env: { ...base, ...env } });
}

describe('--codecs', () => {
  const clip = makeClip({ durationSec: 1, width: 320, height: 180 });

  it('an unknown codec is a usage error naming it, on transcode, ladder and dispatch, before any input is touched', async () => {
    for (const verb of ['transcode', 'ladder', 'submit']) {
      const args = verb === 'transcode' ? [verb, clip, '--out', path.join(dir, 'never'), '--codecs', 'h264,vp9'] : [verb, clip, '--codecs', 'h264,vp9'];
      const r = await tiercast({}, ...args);
      expect(r.code, verb).toBe(2);
      expect(r.stderr, verb).toContain('CONFIG_INVALID: unknown codec "vp9" in --codecs; choose from h264, hevc, av1');
    }
    expect(existsSync(path.join(dir, 'never'))).toBe(false);
  });

  it('ladder --codecs av1,h264 fits the AV1 family first, then its H.264 fallback', async () => {
    const r = await tiercast({}, 'ladder', clip, '--codecs', 'av1,h264', '--json');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    const rungs = doc.fitted.rungs as { name: string; codec?: string; width: number; videoBitrate: number }[];
    expect(rungs.map((x) => [x.name, x.codec ?? 'h264', x.width])).toEqual([
      ['234p-av1', 'av1', 320],
      ['234p', 'h264', 320],
    ]);
    expect(rungs[0]!.videoBitrate).toBeLessThan(rungs[1]!.videoBitrate);
    const table = await tiercast({}, 'ladder', clip, '--codecs', 'hevc');
    expect(table.stdout).toMatch(/^RUNG\s+CODEC\s+SIZE/m);
    expect(table.stdout).toMatch(/^234p-hevc\s+hevc\s+320x180/m);
  });

  it('submit --codecs puts the overridden ladder in the job', async () => {
    const r = await tiercast({}, 'submit', clip, '--tier', 'local', '--codecs', 'hevc', '--json');
    expect(r.code, r.stderr).toBe(0);
    const jobId = JSON.parse(r.stdout).jobs[0].jobId as string;
    const store = openSqliteJobStore(path.join(dir, 'home', 'jobs.db'));
    const job = (await store.get(jobId)).spec;
    await store.close();
    expect(new Set(job.ladder.rungs.map((x: { codec?: string }) => x.codec))).toEqual(new Set(['hevc']));
  });

  it('an ffmpeg without libsvtav1: every input fails alone with ENCODER_MISSING naming the encoder and the fix', async () => {
    const real = await resolveFfmpeg();
    // The build Tiercast finds lists no libsvtav1 encoder; everything else is the real ffmpeg.
    const wrapper = path.join(dir, 'ffmpeg-no-svt');
    writeFileSync(
      wrapper,
      `#!/bin/sh\nfor a in "$@"; do if [ "$a" = "-encoders" ]; then "${real.ffmpeg}" "$@" | grep -v libsvtav1; exit 0; fi; done\nexec "${real.ffmpeg}" "$@"\n`,
    );
    chmodSync(wrapper, 0o755);
    const env = { TIERCAST_FFMPEG: wrapper, TIERCAST_FFPROBE: real.ffprobe };
    const second = makeClip({ durationSec: 1, width: 320, height: 240 });
    const out = path.join(dir, 'out');
    const r = await tiercast(env, 'transcode', clip, second, '--out', out, '--codecs', 'av1,h264', '--json');
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(doc.inputs).toHaveLength(2);
    for (const input of doc.inputs) {
      expect(input.ok).toBe(false);
      expect(input.error.code).toBe('ENCODER_MISSING');
      expect(input.error.message).toMatch(/this ffmpeg build has no libsvtav1 \(AV1\) encoder; install an ffmpeg built with it/);
    }
    expect(r.stderr).toMatch(/^ENCODER_MISSING: clip_320x180_25fps_1s_a\.mp4: this ffmpeg build has no libsvtav1/m);
    // Nothing half-written; and the same build still encodes the codecs it has.
    expect(existsSync(path.join(out, 'clip_320x180_25fps_1s_a'))).toBe(false);
    const ok = await tiercast(env, 'transcode', clip, '--out', out, '--codecs', 'h264', '--preset', 'ultrafast', '--json');
    expect(ok.code).toBe(0);
  });
});
