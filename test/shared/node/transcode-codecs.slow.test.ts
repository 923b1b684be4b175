import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, describe, expect, it } from 'vitest';
import { LadderSchema } from '../../../shared/common/ladder-schema.ts';
import { transcodeFile, type TranscodeReport } from '../../../shared/node/transcode.ts';
import { makeClip } from '../../helpers/clips.ts';

/**
 * HEVC and AV1 renditions end to end on a tiny NTSC-rate clip (2 cores: 320x180, SVT-AV1 preset 12, x265 and x264
 * ultrafast). Everything is checked against ffprobe run here, independently of Tiercast's verifier.
 */

const dir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-codecs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const rung = (name: string, codec: string, shortEdge: number, kbps: number) => ({
  name, codec, shortEdge, videoBitrate: kbps * 1000, maxrate: kbps * 1100, bufsize: kbps * 1500,
});
const av1WithFallback = LadderSchema.parse({
  name: 'av1-h264',
  // 29.97 fps x 1.25 s = 37.46 frames: SVT-AV1's frame-count GOP and time-based forced keyframes drift apart by a
  // frame per segment unless every rung keys on the same whole-frame period.
  segmentSeconds: 1.25,
  preset: 'ultrafast',
  rungs: [rung('180p-av1', 'av1', 180, 200), rung('120p-av1', 'av1', 120, 90), rung('180p', 'h264', 180, 300), rung('120p', 'h264', 120, 140)],
});
const hevcOnly = LadderSchema.parse({
  name: 'hevc',
  segmentSeconds: 1,
  preset: 'ultrafast',
  rungs: [rung('180p-hevc', 'hevc', 180, 220), rung('120p-hevc', 'hevc', 120, 100)],
});

const { Parser } = createRequire(import.meta.url)('m3u8-parser') as {
  Parser: new () => { push(t: string): void; end(): void; manifest: { playlists?: { uri: string; attributes: Record<string, unknown> }[]; segments: { uri: string; duration: number }[] } };
};
function m3u8(text: string) {
  const p = new Parser();
  p.push(text);
  p.end();
  return p.manifest;
}

interface Probed {
  codec_name: string;
  codec_tag_string: string;
  profile: string;
  level: number;
  pix_fmt: string;
}
function probeStream(outDir: string, playlist: string): Probed {
  const out = execFileSync('ffprobe', ['-v', 'error', '-of', 'json', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,codec_tag_string,profile,level,pix_fmt', playlist], { cwd: outDir, encoding: 'utf8' });
  return (JSON.parse(out) as { streams: Probed[] }).streams[0]!;
}

/** Keyframe times relative to the first frame (B-frame delay differs between encoders). */
function keyframes(outDir: string, playlist: string): number[] {
  const out = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,flags', '-of', 'csv=p=0', playlist], { cwd: outDir, encoding: 'utf8' });
  const rows = out.trim().split('\n').map((l) => l.split(','));
  const first = Math.min(...rows.map(([t]) => Number(t)));
  return rows.filter(([, f]) => f?.startsWith('K')).map(([t]) => Math.round((Number(t) - first) * 1000) / 1000);
}

/** What ffprobe's own fields say each part of the CODECS string must be. */
function expectMatchesProbe(codecs: string, p: Probed): void {
  const depth = /p10/.test(p.pix_fmt) ? '10' : '08';
  if (p.codec_name === 'h264') {
    const idc = { 'Constrained Baseline': '42', Baseline: '42', Main: '4d', High: '64' }[p.profile];
    expect(codecs).toMatch(new RegExp(`^avc1\\.${idc}[0-9a-f]{2}${p.level.toString(16).padStart(2, '0')}$`));
  } else if (p.codec_name === 'hevc') {
    expect(p.codec_tag_string).toBe('hvc1');
    expect(codecs).toMatch(new RegExp(`^hvc1\\.${p.profile === 'Main' ? 1 : 2}\\.[0-9A-F]+\\.L${p.level}(\\.[0-9A-F]{1,2})*$`));
  } else {
    expect(p.codec_name).toBe('av1');
    expect(codecs).toBe(`av01.${p.profile === 'Main' ? 0 : 1}.${String(p.level).padStart(2, '0')}M.${depth}`);
  }
}

function checkLadder(outDir: string, report: TranscodeReport, families: readonly string[]): void {
  expect(report.verification.keyframesAligned).toBe(true);
  const master = m3u8(readFileSync(path.join(outDir, 'master.m3u8'), 'utf8'));
  const mpd = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (n) => n === 'AdaptationSet' || n === 'Representation' }).parse(
    readFileSync(path.join(outDir, 'manifest.mpd'), 'utf8'),
  );
  const sets = mpd.MPD.Period.AdaptationSet as { contentType: string; Representation: { id: string; codecs: string }[] }[];
  // One video adaptation set per family: DASH players switch within a set.
  expect(sets.filter((s) => s.contentType === 'video')).toHaveLength(families.length);
  const mpdCodecs = new Map(sets.flatMap((s) => s.Representation.map((r) => [r.id, r.codecs] as const)));

  expect(master.playlists).toHaveLength(report.renditions.length);
  const starts: number[][] = [];
  for (const r of report.renditions) {
    const variant = master.playlists!.find((p) => p.uri === r.playlist)!;
    const [videoCodecs, audioCodecs] = String(variant.attributes.CODECS).split(',');
    const probed = probeStream(outDir, r.playlist);
    expect(probed.codec_name).toBe(r.codec ?? 'h264');
    expectMatchesProbe(videoCodecs!, probed);
    expect(videoCodecs).toBe(r.codecs);
    expect(audioCodecs).toBe('mp4a.40.2');
    expect(mpdCodecs.get(String(r.representationId))).toBe(videoCodecs);

    // Every segment starts on a keyframe, at the same instants in every rendition of every family.
    const segs = m3u8(readFileSync(path.join(outDir, r.playlist), 'utf8')).segments;
    let t = 0;
    const s: number[] = [];
    for (const seg of segs) {
      s.push(Math.round(t * 1000) / 1000);
      t += seg.duration;
    }
    const keys = keyframes(outDir, r.playlist);
    for (const at of s) expect(keys.some((k) => Math.abs(k - at) < 0.02)).toBe(true);
    starts.push(s);
  }
  expect(starts[0]!.length).toBeGreaterThanOrEqual(3);
  for (const s of starts.slice(1)) {
    expect(s.length).toBe(starts[0]!.length);
    // Within half a frame: the same frame in every rendition.
    s.forEach((v, i) => expect(Math.abs(v - starts[0]![i]!)).toBeLessThan(0.017));
  }
}

describe('HEVC and AV1 renditions', () => {
  const input = makeClip({ durationSec: 4, width: 320, height: 180, fps: 29.97 });

  it('an AV1 ladder with an H.264 fallback: aligned segments, exact CODECS in the master and the MPD', async () => {
    const outDir = path.join(dir, 'av1');
    const report = await transcodeFile({ input, outDir, ladder: av1WithFallback, thumbnails: false });
    expect(report.renditions.map((r) => [r.name, r.codec, r.width])).toEqual([
      ['180p-av1', 'av1', 320],
      ['120p-av1', 'av1', 214],
      ['180p', 'h264', 320],
      ['120p', 'h264', 214],
    ]);
    expect(report.renditions[0]!.codecs).toMatch(/^av01\.0\.\d\dM\.08$/);
    expect(report.renditions[0]!.level).toMatch(/^\d\.\d$/);
    checkLadder(outDir, report, ['av1', 'h264']);
  });

  it('an HEVC ladder is tagged hvc1 (parameter sets in the init segment, as Apple players require)', async () => {
    const outDir = path.join(dir, 'hevc');
    const report = await transcodeFile({ input, outDir, ladder: hevcOnly, thumbnails: false });
    expect(report.renditions.map((r) => r.codec)).toEqual(['hevc', 'hevc']);
    for (const r of report.renditions) {
      expect(r.codecs).toMatch(/^hvc1\.1\.6\.L\d+\.90$/);
      const init = readFileSync(path.join(outDir, `init-${r.representationId}.m4s`));
      expect(init.includes('hvc1')).toBe(true);
      expect(init.includes('hev1')).toBe(false);
    }
    checkLadder(outDir, report, ['hevc']);
  });
});
