import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, describe, expect, it } from 'vitest';
import { LadderSchema } from '../../../shared/common/ladder-schema.ts';
import { transcodeFile, type TranscodeProgress } from '../../../shared/node/transcode.ts';
import { makeClip } from '../../helpers/clips.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-transcode-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tinyLadder = LadderSchema.parse({
  name: 'tiny',
  segmentSeconds: 1,
  preset: 'ultrafast',
  rungs: [
    { name: '240p', shortEdge: 240, videoBitrate: 400_000, maxrate: 450_000, bufsize: 800_000 },
    { name: '144p', shortEdge: 144, videoBitrate: 150_000, maxrate: 170_000, bufsize: 300_000, profile: 'main' },
  ],
});

const { Parser } = createRequire(import.meta.url)('m3u8-parser') as {
  Parser: new () => { push(t: string): void; end(): void; manifest: { playlists?: { uri: string; attributes: Record<string, unknown> }[]; mediaGroups?: Record<string, Record<string, Record<string, { uri?: string }>>>; segments: { uri: string; duration: number }[] } };
};
function m3u8(text: string) {
  const p = new Parser();
  p.push(text);
  p.end();
  return p.manifest;
}

/** Keyframe times of a rendition, read independently of Tiercast's verifier. */
function keyframes(outDir: string, playlist: string): number[] {
  const out = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,flags', '-of', 'csv=p=0', playlist], { cwd: outDir, encoding: 'utf8' });
  return out
    .trim()
    .split('\n')
    .map((l) => l.split(','))
    .filter(([, flags]) => flags?.startsWith('K'))
    .map(([t]) => Math.round(Number(t) * 1000) / 1000);
}

function leftovers(parent: string): string[] {
  return readdirSync(parent).filter((n) => n.startsWith('.tiercast-work-') || n.includes('.tiercast-old-'));
}

describe('transcodeFile on generated clips', () => {
  it('produces a verified ladder: master with CODECS/RESOLUTION/BANDWIDTH/FRAME-RATE, MPD, aligned keyframes, poster, sprite, report', async () => {
    const input = makeClip({ durationSec: 3, width: 640, height: 360, fps: 25 });
    const outDir = path.join(dir, 'basic', 'out');
    const progress: TranscodeProgress[] = [];
    const report = await transcodeFile({ input, outDir, ladder: tinyLadder, onProgress: (p) => progress.push(p) });

    expect(report.renditions.map((r) => [r.name, r.width, r.height])).toEqual([
      ['240p', 426, 240],
      ['144p', 256, 144],
    ]);
    for (const r of report.renditions) {
      expect(r.codecs).toMatch(/^avc1\.[0-9a-f]{6}$/);
      expect(r.bitrateAvg).toBeGreaterThan(0);
      expect(r.bitratePeak).toBeGreaterThanOrEqual(r.bitrateAvg);
      expect(r.durationSec).toBeCloseTo(3, 1);
      expect(r.segments).toBe(3);
    }
    expect(report.audio).toMatchObject({ codecs: 'mp4a.40.2', channels: 2 });
    expect(report.verification.keyframesAligned).toBe(true);

    const master = readFileSync(path.join(outDir, 'master.m3u8'), 'utf8');
    const parsed = m3u8(master);
    expect(parsed.playlists).toHaveLength(2);
    for (const pl of parsed.playlists!) {
      expect(pl.attributes).toHaveProperty('BANDWIDTH');
      expect(pl.attributes).toHaveProperty('AVERAGE-BANDWIDTH');
      expect(pl.attributes).toHaveProperty('RESOLUTION');
      expect(pl.attributes).toHaveProperty('FRAME-RATE', 25);
      expect(String(pl.attributes.CODECS)).toMatch(/^avc1\.[0-9a-f]{6},mp4a\.40\.2$/);
      expect(pl.attributes.AUDIO).toBe('audio');
      const media = m3u8(readFileSync(path.join(outDir, pl.uri), 'utf8'));
      for (const s of media.segments) expect(existsSync(path.join(outDir, s.uri))).toBe(true);
    }
    expect(Object.values(parsed.mediaGroups!.AUDIO!.audio!)[0]!.uri).toBe('media_2.m3u8');
    expect(master).toContain(`BANDWIDTH=${report.renditions[0]!.bitratePeak + report.audio!.bitratePeak},`);

    const mpd = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(readFileSync(path.join(outDir, 'manifest.mpd'), 'utf8'));
    expect(mpd.MPD.type).toBe('static');
    const sets = mpd.MPD.Period.AdaptationSet;
    expect(sets).toHaveLength(2);
    expect(sets[0].Representation).toHaveLength(2);

    // Independent check: every rung has keyframes at exactly the same instants, one per segment.
    const k0 = keyframes(outDir, 'media_0.m3u8');
    const k1 = keyframes(outDir, 'media_1.m3u8');
    expect(k0).toEqual([0, 1, 2]);
    expect(k1).toEqual(k0);

    expect(statSync(path.join(outDir, 'poster.jpg')).size).toBeGreaterThan(1000);
    expect(statSync(path.join(outDir, 'sprite.jpg')).size).toBeGreaterThan(1000);
    const vtt = readFileSync(path.join(outDir, 'thumbnails.vtt'), 'utf8');
    expect(vtt).toMatch(/^WEBVTT\n\n00:00:00\.000 --> 00:00:02\.000\nsprite\.jpg#xywh=0,0,160,90\n/);
    const onDisk = JSON.parse(readFileSync(path.join(outDir, 'report.json'), 'utf8'));
    expect(onDisk).toEqual(JSON.parse(JSON.stringify(report)));
    expect(onDisk.schemaVersion).toBe(1);
    expect(onDisk.command.join(' ')).not.toContain('.tiercast-work-');

    const stages = [...new Set(progress.map((p) => p.stage))];
    expect(stages).toEqual(['analyzing', 'encoding', 'packaging', 'finalizing']);
    for (let i = 1; i < progress.length; i++) expect(progress[i]!.percent).toBeGreaterThanOrEqual(progress[i - 1]!.percent);
    expect(progress.at(-1)!.percent).toBe(100);
    expect(leftovers(path.dirname(outDir))).toEqual([]);
  });

  it('a source without audio gives a video-only ladder', async () => {
    const input = makeClip({ durationSec: 2, width: 320, height: 240, audio: false });
    const outDir = path.join(dir, 'noaudio');
    const report = await transcodeFile({ input, outDir, ladder: tinyLadder });
    expect(report.audio).toBeNull();
    const master = readFileSync(path.join(outDir, 'master.m3u8'), 'utf8');
    expect(master).not.toContain('TYPE=AUDIO');
    expect(master).toMatch(/CODECS="avc1\.[0-9a-f]{6}"/);
    const mpd = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (n) => n === 'AdaptationSet' }).parse(readFileSync(path.join(outDir, 'manifest.mpd'), 'utf8'));
    expect(mpd.MPD.Period.AdaptationSet).toHaveLength(1);
    expect(report.renditions[0]).toMatchObject({ width: 320, height: 240 });
  });

  it('carries each language: main (default) track first, other languages as alternates, commentary left out', async () => {
    const input = path.join(dir, 'languages.mkv');
    // Video plus English (default), French, and an English commentary: three audio streams told apart by pitch.
    execFileSync('ffmpeg', [
      '-v', 'error', '-y',
      '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25:duration=2',
      '-f', 'lavfi', '-i', 'sine=f=440:d=2', '-f', 'lavfi', '-i', 'sine=f=660:d=2', '-f', 'lavfi', '-i', 'sine=f=880:d=2',
      '-map', '0', '-map', '1', '-map', '2', '-map', '3',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac',
      '-metadata:s:a:0', 'language=eng', '-metadata:s:a:1', 'language=fra', '-metadata:s:a:2', 'language=eng',
      '-disposition:a:0', 'default', '-disposition:a:1', '0', '-disposition:a:2', 'comment',
      input,
    ]);
    const outDir = path.join(dir, 'languages-out');
    const report = await transcodeFile({ input, outDir, ladder: tinyLadder });
    expect(report.audio).toMatchObject({ language: 'eng', name: 'eng', codecs: 'mp4a.40.2', representationId: 2 });
    expect(report.alternateAudio).toEqual([expect.objectContaining({ language: 'fra', name: 'fra', representationId: 3, playlist: 'media_3.m3u8' })]);
    for (const a of [report.audio!, ...report.alternateAudio!]) expect(a.durationSec).toBeCloseTo(2, 0);

    const master = readFileSync(path.join(outDir, 'master.m3u8'), 'utf8');
    const groups = m3u8(master).mediaGroups!.AUDIO!.audio!;
    expect(Object.keys(groups)).toEqual(['eng', 'fra']);
    expect(master).toMatch(/#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="eng",LANGUAGE="eng",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="media_2.m3u8"/);
    expect(master).toMatch(/#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="fra",LANGUAGE="fra",DEFAULT=NO,AUTOSELECT=YES,CHANNELS="2",URI="media_3.m3u8"/);
    const peak = Math.max(report.audio!.bitratePeak, report.alternateAudio![0]!.bitratePeak);
    expect(master).toContain(`BANDWIDTH=${report.renditions[0]!.bitratePeak + peak},`);

    // DASH: one adaptation set per language, carrying lang.
    const mpd = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (n) => n === 'AdaptationSet' }).parse(readFileSync(path.join(outDir, 'manifest.mpd'), 'utf8'));
    const audioSets = mpd.MPD.Period.AdaptationSet.filter((a: { contentType?: string }) => a.contentType === 'audio');
    expect(audioSets.map((a: { lang?: string }) => a.lang)).toEqual(['eng', 'fra']);

    // The French rendition really is the French stream (660 Hz), not a copy of the main one.
    const pitch = (playlist: string) => {
      const out = execFileSync('ffmpeg', ['-v', 'error', '-i', playlist, '-t', '1', '-f', 's16le', '-ac', '1', '-ar', '8000', '-'], { cwd: outDir, maxBuffer: 1 << 20 });
      let crossings = 0;
      for (let i = 2; i + 2 <= out.length; i += 2) if ((out.readInt16LE(i - 2) < 0) !== (out.readInt16LE(i) < 0)) crossings++;
      return crossings / 2; // zero crossings per second / 2 = frequency
    };
    expect(pitch('media_2.m3u8')).toBeGreaterThan(400);
    expect(pitch('media_2.m3u8')).toBeLessThan(480);
    expect(pitch('media_3.m3u8')).toBeGreaterThan(620);
    expect(pitch('media_3.m3u8')).toBeLessThan(700);
  });

  it('formats: hls only has no MPD, dash only has no playlists', async () => {
    const input = makeClip({ durationSec: 2 });
    const hls = path.join(dir, 'hls-only');
    const dash = path.join(dir, 'dash-only');
    const r1 = await transcodeFile({ input, outDir: hls, ladder: tinyLadder, formats: ['hls'] });
    expect(existsSync(path.join(hls, 'manifest.mpd'))).toBe(false);
    expect(existsSync(path.join(hls, 'master.m3u8'))).toBe(true);
    expect(r1.files).toMatchObject({ hlsMaster: 'master.m3u8', dashManifest: null });
    const r2 = await transcodeFile({ input, outDir: dash, ladder: tinyLadder, formats: ['dash'] });
    expect(readdirSync(dash).filter((n) => n.endsWith('.m3u8'))).toEqual([]);
    expect(existsSync(path.join(dash, 'manifest.mpd'))).toBe(true);
    expect(r2.files).toMatchObject({ hlsMaster: null, dashManifest: 'manifest.mpd' });
  });

  it('replaces an existing output folder as a whole', async () => {
    const input = makeClip({ durationSec: 2 });
    const outDir = path.join(dir, 'replace');
    mkdirSync(outDir, { recursive: true });
    writeFileSync(path.join(outDir, 'stale.txt'), 'old');
    await transcodeFile({ input, outDir, ladder: tinyLadder });
    expect(existsSync(path.join(outDir, 'stale.txt'))).toBe(false);
    expect(existsSync(path.join(outDir, 'report.json'))).toBe(true);
    expect(leftovers(dir)).toEqual([]);
  });

  it('cancelled mid-encode: CANCELLED, no output folder, no work folder left', async () => {
    const input = makeClip({ durationSec: 6, width: 640, height: 360 });
    const parent = path.join(dir, 'cancel');
    const outDir = path.join(parent, 'out');
    const controller = new AbortController();
    const err = await transcodeFile({
      input,
      outDir,
      ladder: tinyLadder,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.stage === 'encoding') controller.abort();
      },
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CANCELLED' });
    expect(existsSync(outDir)).toBe(false);
    expect(leftovers(parent)).toEqual([]);
  });

  it('a truncated upload (header says 6 s, data stops half way): INPUT_TRUNCATED, nothing published', async () => {
    const whole = path.join(dir, 'faststart.mp4');
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25:duration=6', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', whole]);
    const bytes = readFileSync(whole);
    const truncated = path.join(dir, 'truncated.mp4');
    writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const outDir = path.join(dir, 'truncated-out');
    const err = await transcodeFile({ input: truncated, outDir, ladder: tinyLadder }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'INPUT_TRUNCATED' });
    expect((err as Error).message).toMatch(/header declares 6\.00 s/);
    expect(existsSync(outDir)).toBe(false);
    expect(leftovers(dir)).toEqual([]);
  });

  it('a missing input: INPUT_NOT_FOUND before any folder is made', async () => {
    const outDir = path.join(dir, 'missing-out');
    const err = await transcodeFile({ input: path.join(dir, 'nope.mp4'), outDir, ladder: tinyLadder }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'INPUT_NOT_FOUND' });
    expect(existsSync(outDir)).toBe(false);
  });
});
