import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseProbe } from '../../../shared/common/probe-parse.ts';
import { probeFile } from '../../../shared/node/probe.ts';
import { makeTimingClip } from '../../helpers/clips.ts';
import { fixtureClip, fixtureClips, type FixtureClip } from '../../helpers/media.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-probe-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ffmpeg = (args: string[]) => execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });

describe('probeFile on the shared clips (real ffprobe)', () => {
  const expected: Record<Exclude<FixtureClip, 'corruptVp9'>, { display: [number, number]; codec: string; rotation: number; depth: number; transfer: string; vfr: boolean; interlaced: boolean; audio: string[] }> = {
    roadtrip10bit: { display: [426, 240], codec: 'vp9', rotation: 0, depth: 10, transfer: 'sdr', vfr: false, interlaced: false, audio: [] },
    rooftopHdr10: { display: [720, 1280], codec: 'av1', rotation: 0, depth: 10, transfer: 'pq', vfr: false, interlaced: false, audio: ['aac:stereo'] },
    pixelVfr: { display: [768, 1024], codec: 'hevc', rotation: 90, depth: 8, transfer: 'sdr', vfr: true, interlaced: false, audio: [] },
    iphoneHlg: { display: [720, 1280], codec: 'hevc', rotation: 90, depth: 10, transfer: 'hlg', vfr: false, interlaced: false, audio: ['aac:stereo'] },
    portrait4k60: { display: [2160, 3840], codec: 'h264', rotation: 90, depth: 8, transfer: 'sdr', vfr: false, interlaced: false, audio: ['aac:stereo'] },
    bbbInterlaced: { display: [1920, 1080], codec: 'mpeg2video', rotation: 0, depth: 8, transfer: 'sdr', vfr: false, interlaced: true, audio: ['ac3:5.1(side)'] },
  };

  it.each(Object.entries(expected))('%s', async (clip, want) => {
    const file = fixtureClip(clip as FixtureClip);
    const info = await probeFile(file);
    const v = info.video!;
    expect({
      display: [v.displayWidth, v.displayHeight], codec: v.codec, rotation: v.rotation, depth: v.bitDepth, transfer: v.colorTransfer,
      vfr: v.variableFrameRate, interlaced: v.interlaced, audio: info.audio.map((a) => `${a.codec}:${a.channelLayout}`),
    }).toEqual(want);
    expect(v.sample!.decodedFrames).toBeGreaterThan(0);
    expect(info.sizeBytes).toBe(statSync(file).size);
    // The recorded fixture still describes this ffprobe's view of the clip (re-record with test/fixtures/ffprobe/record.ts).
    const fixture = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../fixtures/ffprobe', fixtureClips[clip as FixtureClip].replace(/\.[^.]+$/, '.json')), 'utf8'));
    const fromFixture = parseProbe(fixture, info.sizeBytes).video!;
    expect({ ...v, sample: undefined, variableFrameRate: fromFixture.variableFrameRate, fps: fromFixture.fps }).toEqual({ ...fromFixture, sample: undefined });
  });

  it('the iPhone clip warns that 5 frames are declared but 4 decode', async () => {
    const info = await probeFile(fixtureClip('iphoneHlg'));
    expect(info.warnings).toContain('the header declares 5 frames but only 4 decode');
  });
});

describe('probeFile on generated anamorphic and rotated clips', () => {
  it('SAR 16:15 PAL in Matroska is shown 768x576', async () => {
    const f = path.join(dir, 'pal43.mkv');
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=720x576:rate=25:duration=0.4', '-vf', 'setsar=16/15', '-c:v', 'libx264', '-preset', 'ultrafast', f]);
    const v = (await probeFile(f)).video!;
    expect(v.sampleAspectRatio).toEqual({ num: 16, den: 15 });
    expect([v.displayWidth, v.displayHeight, v.rotation]).toEqual([768, 576, 0]);
  });

  it('SAR 64:45 with a display matrix: SAR first, then the turn ffmpeg itself applies', async () => {
    const flat = path.join(dir, 'pal169.mp4');
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=720x576:rate=25:duration=0.4', '-vf', 'setsar=64/45', '-c:v', 'libx264', '-preset', 'ultrafast', flat]);
    const turned = path.join(dir, 'pal169-turned.mp4');
    ffmpeg(['-i', flat, '-c', 'copy', '-metadata:s:v:0', 'rotate=90', turned]);
    const v = (await probeFile(turned)).video!;
    expect([v.displayWidth, v.displayHeight]).toEqual([576, 1024]);
    // Our clockwise rotation, applied by hand to the unrotated frame, gives exactly what ffmpeg's autorotation shows.
    const turn = { 0: 'null', 90: 'transpose=clock', 180: 'hflip,vflip', 270: 'transpose=cclock' }[v.rotation];
    const grab = (pre: string[], vf: string) =>
      execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...pre, '-i', turned, '-vf', vf, '-frames:v', '1', '-pix_fmt', 'gray', '-f', 'rawvideo', '-'], { maxBuffer: 1 << 24 });
    const auto = grab([], 'null');
    const ours = grab(['-noautorotate'], turn);
    expect(auto.length).toBe(576 * 720);
    expect(ours.equals(auto)).toBe(true);
    expect(grab(['-noautorotate'], v.rotation === 90 ? 'transpose=cclock' : 'transpose=clock').equals(auto)).toBe(false);
  });
});

describe('probeFile reads frame rates through B-frames and edit lists', () => {
  it.each(['none', 'video-late', 'cut', 'shifted'] as const)('29.97 fps with B-frames (%s) stays constant 29.97, not VFR', async (offset) => {
    // The 60-packet sample is cut in decode order: the B-frames after the cut are missing from its last shown
    // frames, which looked like a 67 ms gap and made the clip "variable rate" (then encoded at 30 fps).
    const v = (await probeFile(makeTimingClip({ rate: '30000/1001', audio: 'aac', offset, bframes: true, faststart: offset === 'cut' }))).video!;
    expect(v.variableFrameRate).toBe(false);
    expect(v.fps).toBeCloseTo(29.97, 2);
  });
});

describe('probeFile classifies broken inputs', () => {
  it('missing file -> INPUT_NOT_FOUND', async () => {
    await expect(probeFile(path.join(dir, 'nope.mp4'))).rejects.toMatchObject({ code: 'INPUT_NOT_FOUND', message: 'nope.mp4: no such file' });
  });

  it('a folder -> INPUT_NOT_FOUND', async () => {
    await expect(probeFile(dir)).rejects.toMatchObject({ code: 'INPUT_NOT_FOUND' });
  });

  it('0 bytes -> INPUT_EMPTY', async () => {
    const f = path.join(dir, 'empty.mp4');
    writeFileSync(f, '');
    await expect(probeFile(f)).rejects.toMatchObject({ code: 'INPUT_EMPTY' });
  });

  it('a text file renamed .mp4 -> NOT_MEDIA with ffprobe\'s reason', async () => {
    const f = path.join(dir, 'notes.mp4');
    writeFileSync(f, 'these are my notes, not a video\n'.repeat(20));
    await expect(probeFile(f)).rejects.toMatchObject({ code: 'NOT_MEDIA', message: expect.stringMatching(/^notes\.mp4: ffprobe cannot read it as media \(.+\)$/) });
  });

  it('audio only -> NO_VIDEO_STREAM', async () => {
    const f = path.join(dir, 'tone.m4a');
    ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=440:duration=0.5', '-c:a', 'aac', f]);
    await expect(probeFile(f)).rejects.toMatchObject({ code: 'NO_VIDEO_STREAM', message: expect.stringMatching(/audio stream/) });
  });

  it('audio with cover art -> NO_VIDEO_STREAM (the cover is not a video)', async () => {
    const cover = path.join(dir, 'cover.png');
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=64x64:duration=0.04', '-frames:v', '1', cover]);
    const f = path.join(dir, 'song.mp3');
    ffmpeg(['-f', 'lavfi', '-i', 'sine=duration=0.5', '-i', cover, '-map', '0:a', '-map', '1:v', '-c:v', 'png', '-disposition:v', 'attached_pic', f]);
    await expect(probeFile(f)).rejects.toMatchObject({ code: 'NO_VIDEO_STREAM' });
    await expect(probeFile(cover)).rejects.toMatchObject({ code: 'NO_VIDEO_STREAM', message: expect.stringMatching(/still image/) });
  });

  it('an HLS playlist renamed .mp4, an ffconcat list and an image2 pattern name -> UNSUPPORTED_INPUT, nothing they name is opened', async () => {
    const sub = mkdtempSync(path.join(dir, 'lists-'));
    // Named files that do not exist: a demuxer that followed them would fail differently (or hang on a FIFO).
    const playlist = path.join(sub, 'clip.mp4');
    writeFileSync(playlist, '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nother.ts\n#EXT-X-ENDLIST\n');
    await expect(probeFile(playlist)).rejects.toMatchObject({ code: 'UNSUPPORTED_INPUT', message: expect.stringMatching(/^clip\.mp4: this is an HLS playlist/), details: { demuxer: 'hls' } });
    const fifo = path.join(sub, 'fifo.ts');
    execFileSync('mkfifo', [fifo]);
    const list = path.join(sub, 'list.mkv');
    writeFileSync(list, `ffconcat version 1.0\nfile '${fifo}'\n`);
    await expect(probeFile(list)).rejects.toMatchObject({ code: 'UNSUPPORTED_INPUT', details: { demuxer: 'concat' } });
    const pattern = path.join(sub, 'shot%03d.jpg');
    copyFileSync(fixtureClip('portrait4k60'), pattern);
    await expect(probeFile(pattern)).rejects.toMatchObject({ code: 'UNSUPPORTED_INPUT', details: { demuxer: 'image2' } });
  });

  it('a container whose video never decodes -> DECODE_FAILED with the decoder\'s reason', async () => {
    await expect(probeFile(fixtureClip('corruptVp9'))).rejects.toMatchObject({
      code: 'DECODE_FAILED',
      message: 'corrupt_vp9_invalid_bitstream.webm: no video frame could be decoded (ffprobe: Invalid sync code)',
    });
  });

  it('a truncated MP4 (moov at the end, cut off) -> INPUT_TRUNCATED, saying the index is missing', async () => {
    const whole = path.join(dir, 'whole.mp4');
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=10:duration=1', '-c:v', 'libx264', '-preset', 'ultrafast', whole]);
    const cut = path.join(dir, 'cut.mp4');
    writeFileSync(cut, readFileSync(whole).subarray(0, Math.floor(statSync(whole).size / 2)));
    await expect(probeFile(cut)).rejects.toMatchObject({ code: 'INPUT_TRUNCATED', message: expect.stringMatching(/^cut\.mp4: an MP4\/MOV without its index \(moov\)/) });
  });

  it('bytes that only claim to be an MP4 (no ISO box at the start) stay NOT_MEDIA', async () => {
    const f = path.join(dir, 'fake.mp4');
    writeFileSync(f, Buffer.concat([Buffer.from('not a box header'), Buffer.alloc(4096, 7)]));
    await expect(probeFile(f)).rejects.toMatchObject({ code: 'NOT_MEDIA' });
  });

  it('names with a leading dash, spaces, unicode and shell syntax are read as files', async () => {
    const odd = path.join(dir, '-i $(touch pwned) é 🎬.mp4');
    copyFileSync(fixtureClip('portrait4k60'), odd);
    const info = await probeFile(odd);
    expect(info.video!.displayHeight).toBe(3840);
    expect(() => statSync(path.join(process.cwd(), 'pwned'))).toThrow();
  });

  it('an aborted signal -> CANCELLED', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(probeFile(fixtureClip('rooftopHdr10'), { signal: ac.signal })).rejects.toMatchObject({ code: 'CANCELLED' });
  });
});
