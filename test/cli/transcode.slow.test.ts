import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeClip } from '../helpers/clips.ts';
import { fixtureClip } from '../helpers/media.ts';
import { runTiercast, type CliRun } from '../helpers/cli.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-cli-transcode-'));
const home = path.join(dir, 'home');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A two-rung ladder file keeps the CLI runs small (and exercises --ladder FILE).
const ladderFile = path.join(dir, 'tiny-ladder.json');
writeFileSync(
  ladderFile,
  JSON.stringify({
    name: 'tiny',
    segmentSeconds: 1,
    preset: 'ultrafast',
    rungs: [
      { name: '180p', shortEdge: 180, videoBitrate: 250_000, maxrate: 300_000, bufsize: 500_000 },
      { name: '120p', shortEdge: 120, videoBitrate: 120_000, maxrate: 140_000, bufsize: 240_000 },
    ],
  }),
);

function tiercast(...args: string[]): Promise<CliRun> {
  return runTiercast(args, { cwd: dir, env: { ...process.env, TIERCAST_HOME: home, NO_COLOR: '1' } });
}

describe('tiercast transcode', () => {
  it('hostile names (spaces, unicode, $(touch x), leading dash) and a corrupt file: one JSON document, exit 1, others done', async () => {
    const clip = makeClip({ durationSec: 2, width: 320, height: 180 });
    const names = ['my clip été.mp4', '$(touch pwned).mp4', '-dash start.mp4'];
    for (const n of names) copyFileSync(clip, path.join(dir, n));
    const before = readdirSync(dir).sort();
    const r = await tiercast('transcode', '--out', 'out dir', '--ladder', ladderFile, '--json', '--', ...names, fixtureClip('corruptVp9'));
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(doc.inputs.map((i: { input: string; ok: boolean }) => [i.input, i.ok])).toEqual([
      ['my clip été.mp4', true],
      ['$(touch pwned).mp4', true],
      ['-dash start.mp4', true],
      [fixtureClip('corruptVp9'), false],
    ]);
    expect(doc.inputs[3].error).toMatchObject({ code: 'DECODE_FAILED' });
    expect(doc.inputs[3].outDir).toBeNull();
    const out = path.join(dir, 'out dir');
    expect(doc.inputs.slice(0, 3).map((i: { outDir: string }) => i.outDir)).toEqual([
      path.join(out, 'my clip été'),
      path.join(out, '$(touch pwned)'),
      path.join(out, 'dash start'),
    ]);
    for (const i of doc.inputs.slice(0, 3)) {
      expect(i.renditions.map((x: { width: number; height: number }) => `${x.width}x${x.height}`)).toEqual(['320x180', '214x120']);
      for (const f of ['master.m3u8', 'manifest.mpd', 'poster.jpg', 'sprite.jpg', 'thumbnails.vtt', 'report.json']) expect(existsSync(path.join(i.outDir, f))).toBe(true);
    }
    // Nothing executed, nothing written outside --out.
    expect(existsSync(path.join(dir, 'pwned'))).toBe(false);
    expect(readdirSync(dir).sort()).toEqual([...before, 'out dir'].sort());
    expect(readdirSync(out).sort()).toEqual(['$(touch pwned)', 'dash start', 'my clip été']);
    expect(r.stderr).toContain('DECODE_FAILED: corrupt_vp9_invalid_bitstream.webm: no video frame could be decoded');
  });

  it('all succeed: exit 0, plain progress lines on stderr when not a TTY, same names twice get distinct folders', async () => {
    const clip = makeClip({ durationSec: 2, width: 320, height: 180 });
    copyFileSync(clip, path.join(dir, 'same.mp4'));
    copyFileSync(clip, path.join(dir, 'same.mov'));
    const r = await tiercast('transcode', './same.mp4', './same.mov', '--out', 'out2', '--ladder', ladderFile, '--formats', 'hls');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^same\.mp4: encoding \d+%/m);
    expect(r.stderr).toMatch(/^OK same\.mov -> .*out2\/same-2: /m);
    expect(readdirSync(path.join(dir, 'out2')).sort()).toEqual(['same', 'same-2']);
    expect(existsSync(path.join(dir, 'out2', 'same', 'manifest.mpd'))).toBe(false);
  });

  it('usage errors exit 2: no --out, bad --formats, unknown ladder', async () => {
    const clip = makeClip({ durationSec: 2, width: 320, height: 180 });
    expect((await tiercast('transcode', clip)).code).toBe(2);
    const badFormats = await tiercast('transcode', clip, '--out', 'o3', '--formats', 'hls,smooth', '--json');
    expect(badFormats.code).toBe(2);
    expect(JSON.parse(badFormats.stdout)).toMatchObject({ ok: false, error: { code: 'CONFIG_INVALID' } });
    const badLadder = await tiercast('transcode', clip, '--out', 'o3', '--ladder', 'no-such-ladder');
    expect(badLadder.code).toBe(2);
    expect(badLadder.stderr).toMatch(/CONFIG_INVALID: unknown ladder "no-such-ladder"/);
    expect(existsSync(path.join(dir, 'o3'))).toBe(false);
  });

  it('a renamed HLS playlist and an ffconcat list that name another local file: UNSUPPORTED_INPUT, nothing of that file read, the batch goes on (issue 9)', async () => {
    const sub = mkdtempSync(path.join(dir, 'lists-'));
    // The file the lists point at: a different picture size, so any output made from it would show.
    const other = path.join(sub, 'other.ts');
    copyFileSync(makeClip({ durationSec: 2, width: 160, height: 90 }), path.join(sub, 'other.mp4'));
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-i', path.join(sub, 'other.mp4'), '-c', 'copy', '-f', 'mpegts', other]);
    const playlist = path.join(sub, 'clip.mp4');
    writeFileSync(playlist, '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nother.ts\n#EXT-X-ENDLIST\n');
    const list = path.join(sub, 'list.mov');
    writeFileSync(list, `ffconcat version 1.0\nfile '${other}'\n`);
    const good = path.join(sub, 'good.mp4');
    copyFileSync(makeClip({ durationSec: 2, width: 320, height: 180 }), good);
    const r = await tiercast('transcode', '--out', path.join(sub, 'out'), '--ladder', ladderFile, '--json', '--', playlist, list, good);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(doc.inputs.map((i: { ok: boolean; error?: { code: string } }) => [i.ok, i.error?.code ?? null])).toEqual([
      [false, 'UNSUPPORTED_INPUT'],
      [false, 'UNSUPPORTED_INPUT'],
      [true, null],
    ]);
    expect(doc.inputs[0].error.message).toBe('clip.mp4: this is an HLS playlist (.m3u8); Tiercast reads media files only, never playlists, lists or sequences that point at other files');
    expect(doc.inputs[1].error.message).toMatch(/^list\.mov: this is an ffconcat list of other files;/);
    expect(readdirSync(path.join(sub, 'out'))).toEqual(['good']);
    // The good file was read by the demuxer its probe saw.
    const report = JSON.parse(readFileSync(path.join(sub, 'out', 'good', 'report.json'), 'utf8'));
    expect(report.command.join(' ')).toMatch(/-f mov,mp4,m4a,3gp,3g2,mj2 -format_whitelist \S+ -protocol_whitelist file -i file:/);
  });
});
