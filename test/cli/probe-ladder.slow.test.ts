import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixtureClip } from '../helpers/media.ts';
import { runTiercast, type CliRun } from '../helpers/cli.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-cli-probe-'));
const home = path.join(dir, 'home');
afterAll(() => rmSync(dir, { recursive: true, force: true }));


/** `node bin/tiercast.js ...args` with an argument array (no shell), in a scratch cwd and data home. */
function tiercast(...args: string[]): Promise<CliRun> {
  return runTiercast(args, { cwd: dir, env: { ...process.env, TIERCAST_HOME: home, NO_COLOR: '1' } });
}

describe('tiercast probe', () => {
  it('--json prints exactly one JSON document describing the clip', async () => {
    const r = await tiercast('probe', fixtureClip('iphoneHlg'), '--json');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ schemaVersion: 1, ok: true, media: { video: { displayWidth: 720, displayHeight: 1280, colorTransfer: 'hlg', rotation: 90 } } });
    expect(doc.media.warnings).toContain('the header declares 5 frames but only 4 decode');
  });

  it('prints a human description without --json', async () => {
    const r = await tiercast('probe', fixtureClip('bbbInterlaced'));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Video\s+#0 mpeg2video/m);
    expect(r.stdout).toMatch(/interlaced \(top field first\)/);
    expect(r.stdout).toMatch(/^Audio\s+#1 ac3, 6 ch \(5\.1\(side\)\)/m);
  });

  it('a corrupt clip: exit 1, CODE: file: sentence on stderr, an error document on stdout', async () => {
    const r = await tiercast('probe', '--json', fixtureClip('corruptVp9'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('DECODE_FAILED: corrupt_vp9_invalid_bitstream.webm: no video frame could be decoded (ffprobe: Invalid sync code)');
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, error: { code: 'DECODE_FAILED' } });
  });

  it('a text file renamed .mp4 with a leading dash and shell syntax in its name: NOT_MEDIA, nothing executed', async () => {
    const name = '-$(touch pwned) notes.mp4';
    writeFileSync(path.join(dir, name), 'not a video at all\n');
    const r = await tiercast('probe', '--', name);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^NOT_MEDIA: -\$\(touch pwned\) notes\.mp4: ffprobe cannot read it as media/m);
    expect(r.stdout).toBe('');
    expect(readdirSync(dir)).not.toContain('pwned');
  });

  it('a missing argument is a usage error (exit 2)', async () => {
    const r = await tiercast('probe');
    expect(r.code).toBe(2);
  });
});

describe('tiercast ladder', () => {
  it('--json fits the reference ladder to the rotated 4K60 clip as portrait rungs', async () => {
    const r = await tiercast('ladder', fixtureClip('portrait4k60'), '--ladder', 'reference', '--json');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.source).toMatchObject({ width: 2160, height: 3840, fps: 60, audio: true });
    expect(doc.fitted.rungs.map((x: { width: number; height: number }) => `${x.width}x${x.height}`)).toEqual([
      '2160x3840', '1080x1920', '720x1280', '480x854', '360x640',
    ]);
    expect(doc.fitted.preset).toBe('veryfast');
  });

  it('a ladder JSON file by path; a small no-audio source gets one rung and no audio', async () => {
    const file = path.join(dir, 'my ladder.json');
    copyFileSync(fixtureClip('roadtrip10bit'), path.join(dir, 'road trip.webm'));
    writeFileSync(file, JSON.stringify({ name: 'two', rungs: [
      { name: 'big', shortEdge: 720, videoBitrate: 2_000_000, maxrate: 2_200_000, bufsize: 3_000_000 },
      { name: 'small', shortEdge: 240, videoBitrate: 400_000, maxrate: 440_000, bufsize: 600_000 },
    ] }));
    const r = await tiercast('ladder', 'road trip.webm', '--ladder', file);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^small\s+h264\s+426x240\s+23\.976/m);
    expect(r.stdout).toMatch(/Audio: none/);
    expect(r.stdout).toMatch(/Dropped big: would upscale/);
  });

  it('--list shows built-in and saved ladders from the data home; a bad --preset is a usage error', async () => {
    const { saveLadder } = await import('../../shared/node/ladder-files.ts');
    await saveLadder({ name: 'house', rungs: [{ name: 'only', shortEdge: 480, videoBitrate: 1_000_000, maxrate: 1_100_000, bufsize: 1_500_000 }] }, { home });
    const r = await tiercast('ladder', '--list', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).ladders.map((l: { name: string; origin: string }) => `${l.origin}:${l.name}`)).toEqual([
      'builtin:default', 'builtin:reference', 'builtin:mobile', 'saved:house',
    ]);
    const fitted = await tiercast('ladder', fixtureClip('rooftopHdr10'), '--ladder', 'house', '--preset', 'slow', '--json');
    expect(JSON.parse(fitted.stdout).fitted).toMatchObject({ ladder: 'house', preset: 'slow', rungs: [{ name: 'only', width: 480, height: 854 }] });
    const bad = await tiercast('ladder', fixtureClip('rooftopHdr10'), '--preset', 'warp9');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^CONFIG_INVALID: --preset "warp9" is not an x264 preset/m);
  });

  it('an unknown ladder or an invalid ladder file is a configuration error (exit 2) naming the problem', async () => {
    const unknown = await tiercast('ladder', fixtureClip('roadtrip10bit'), '--ladder', 'nope', '--json');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^CONFIG_INVALID: unknown ladder "nope"; known ladders: default, reference, mobile/m);
    expect(JSON.parse(unknown.stdout)).toMatchObject({ ok: false, error: { code: 'CONFIG_INVALID' } });
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ name: 'bad', rungs: [{ name: 'x', shortEdge: 720, videoBitrate: 1_000_000, maxrate: 10, bufsize: 2_000_000 }] }));
    const invalid = await tiercast('ladder', fixtureClip('roadtrip10bit'), '--ladder', bad);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toMatch(/CONFIG_INVALID: bad\.json is invalid: rungs\.0\.maxrate/);
  });
});
