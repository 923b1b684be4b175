import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  avcCodecString,
  buildLadderCommand,
  fpsToRational,
  h264Level,
  hlsMasterPlaylist,
  keyframeRules,
  planThumbnails,
  thumbnailsVtt,
  vodMediaPlaylist,
  type FfmpegCaps,
} from '../../../shared/common/ffmpeg-args.ts';
import { MEDIA_DEMUXERS, refusedDemuxerIn } from '../../../shared/common/input-formats.ts';
import { LadderSchema, type FittedLadder } from '../../../shared/common/ladder-schema.ts';
import { fitLadder } from '../../../shared/common/ladders.ts';
import type { MediaInfo } from '../../../shared/common/media.ts';
import { applyFrameSample, parseFrameSample, parseProbe } from '../../../shared/common/probe-parse.ts';
import { fixtureClips, type FixtureClip } from '../../helpers/media.ts';

const fixtures = path.resolve(import.meta.dirname, '../../fixtures/ffprobe');
function media(clip: FixtureClip): MediaInfo {
  const base = fixtureClips[clip].replace(/\.[^.]+$/, '');
  const json = JSON.parse(readFileSync(path.join(fixtures, `${base}.json`), 'utf8')) as { format: { size: string } };
  const info = parseProbe(json, Number(json.format.size));
  const frames = JSON.parse(readFileSync(path.join(fixtures, `${base}.frames.json`), 'utf8'));
  return applyFrameSample(info, parseFrameSample(frames, 60, readFileSync(path.join(fixtures, `${base}.frames.stderr.txt`), 'utf8')));
}

const zscale: FfmpegCaps = { canTonemap: true, tonemapMethod: 'zscale' };
const noTonemap: FfmpegCaps = { canTonemap: false, tonemapMethod: 'none' };

const testLadder = LadderSchema.parse({
  name: 'test',
  segmentSeconds: 2,
  preset: 'ultrafast',
  rungs: [
    { name: '360p', shortEdge: 360, videoBitrate: 800_000, maxrate: 900_000, bufsize: 1_600_000 },
    { name: '240p', shortEdge: 240, videoBitrate: 300_000, maxrate: 350_000, bufsize: 600_000, maxFps: 30, profile: 'main' },
  ],
});

function build(clip: FixtureClip, caps: FfmpegCaps = zscale) {
  const m = media(clip);
  const fitted = fitLadder(m, testLadder);
  return { m, fitted, cmd: buildLadderCommand({ source: '/in/src file.mp4', media: m, ladder: fitted, outDir: '/work/out', formats: ['hls', 'dash'], caps }) };
}

function argAfter(args: readonly string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

describe('buildLadderCommand', () => {
  it('decodes once: one input, one split feeding every rung plus poster and sprite', () => {
    const { cmd, fitted } = build('rooftopHdr10');
    expect(cmd.args.filter((a) => a === '-i')).toHaveLength(1);
    expect(argAfter(cmd.args, '-i')).toBe('file:/in/src file.mp4');
    expect(cmd.filterGraph).toContain(`split=${fitted.rungs.length + 2}`);
    expect(cmd.filterGraph.match(/split=/g)).toHaveLength(1);
  });

  it('HDR10 (PQ) with zscale: linear light, hable tone-map, BT.709 limited 8-bit, tagged bt709', () => {
    const { cmd } = build('rooftopHdr10');
    expect(cmd.filterGraph).toContain('zscale=tin=smpte2084:min=bt2020nc:pin=bt2020:rin=limited:t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=tonemap=hable:desat=0,zscale=t=bt709:m=bt709:r=limited,format=yuv420p');
    expect(argAfter(cmd.args, '-color_trc:v')).toBe('bt709');
    expect(cmd.warnings).toEqual([]);
  });

  it('HLG uses the arib-std-b67 input transfer', () => {
    const { cmd } = build('iphoneHlg');
    expect(cmd.filterGraph).toContain('zscale=tin=arib-std-b67');
  });

  it('HDR without zscale: converted with swscale and a warning, no tonemap filter', () => {
    const { cmd } = build('rooftopHdr10', noTonemap);
    expect(cmd.filterGraph).not.toContain('tonemap');
    expect(cmd.filterGraph).toContain('scale=out_color_matrix=bt709:out_range=tv,format=yuv420p');
    expect(cmd.warnings.join(' ')).toMatch(/without tone-mapping/);
  });

  it('interlaced: bwdif before anything else, frame rate kept', () => {
    const { cmd } = build('bbbInterlaced');
    expect(cmd.filterGraph.startsWith('[0:0]bwdif=mode=send_frame:parity=auto:deint=all,')).toBe(true);
    expect(cmd.sourceFixes.join(' ')).toMatch(/deinterlaced \(tff\)/);
  });

  it('5.1 audio is downmixed once to AAC stereo at the ladder rate', () => {
    const { cmd } = build('bbbInterlaced');
    expect(argAfter(cmd.args, '-c:a')).toBe('aac');
    expect(argAfter(cmd.args, '-ac')).toBe('2');
    expect(argAfter(cmd.args, '-ar')).toBe('48000');
    expect(cmd.args.filter((a) => a === '-c:a')).toHaveLength(1);
  });

  it('rotated phone video: autorotate explicit, portrait rungs, one aspect for every rung', () => {
    const { cmd } = build('portrait4k60');
    expect(cmd.args.slice(0, 2)).toEqual(['-autorotate', '1']);
    for (const r of cmd.outputs.renditions) expect(r.height).toBeGreaterThan(r.width);
    expect(cmd.filterGraph).toContain('scale=w=360:h=640:flags=lanczos');
  });

  it('60 fps source: the 30 fps-capped rung gets its own fps filter and GOP, the other keeps 60', () => {
    const { cmd } = build('portrait4k60');
    const [top, low] = cmd.outputs.renditions;
    expect(top!.fps).toEqual({ num: 60, den: 1 });
    expect(low!.fps).toEqual({ num: 30, den: 1 });
    expect(cmd.filterGraph).toMatch(/\[s1\]fps=30\/1,scale=/);
    expect(cmd.filterGraph).not.toMatch(/\[s0\]fps=/);
    // The source rate is made exact once, before the split, so frame counts are times.
    expect(cmd.filterGraph).toMatch(/fps=60\/1,split=/);
    expect(argAfter(cmd.args, '-g:v:0')).toBe('120');
    expect(argAfter(cmd.args, '-g:v:1')).toBe('60');
    expect(argAfter(cmd.args, '-force_key_frames:v:0')).toBe('expr:gte(n*1,n_forced*120)');
    expect(argAfter(cmd.args, '-force_key_frames:v:1')).toBe('expr:gte(n*1,n_forced*60)');
    expect(cmd.args).not.toContain('-force_key_frames:v');
  });

  it('full-range source is converted to limited range', () => {
    const { cmd } = build('portrait4k60');
    expect(cmd.filterGraph).toContain('scale=out_range=tv,format=yuv420p');
  });

  it('no audio: video-only adaptation set, no audio map or encoder', () => {
    const { cmd } = build('roadtrip10bit');
    expect(cmd.outputs.audio).toBeNull();
    expect(cmd.args).not.toContain('-c:a');
    expect(argAfter(cmd.args, '-adaptation_sets')).toBe('id=0,streams=v');
    expect(cmd.args.filter((a) => a === '-map' ).length).toBe(cmd.outputs.renditions.length + 2);
  });

  it('VFR: made constant once, at the fitted rate, before the split', () => {
    const { cmd, fitted } = build('pixelVfr');
    expect(fitted.rungs[0]!.fps).toBe(30);
    expect(cmd.filterGraph.startsWith('[0:0]fps=30/1,')).toBe(true);
  });

  it('reads the source with the demuxer its probe saw, media demuxers only, file protocol only (issue 9)', () => {
    const { cmd, m } = build('rooftopHdr10');
    const i = cmd.args.indexOf('-i');
    expect(cmd.args.slice(i - 6, i)).toEqual(['-f', m.container, '-format_whitelist', MEDIA_DEMUXERS.join(','), '-protocol_whitelist', 'file']);
    expect(m.container).toBe('mov,mp4,m4a,3gp,3g2,mj2');
    expect(MEDIA_DEMUXERS).not.toContain('hls');
    expect(MEDIA_DEMUXERS).not.toContain('concat');
    expect(MEDIA_DEMUXERS).not.toContain('image2');
  });

  it('picks the main video stream by index and strips source metadata', () => {
    const { cmd, m } = build('pixelVfr');
    expect(cmd.filterGraph.startsWith(`[0:${m.video!.index}]`)).toBe(true);
    expect(argAfter(cmd.args, '-map_metadata')).toBe('-1');
  });

  it('capped VBR, closed GOPs, no scene-cut keyframes, per-rung profile and level', () => {
    const { cmd } = build('rooftopHdr10');
    const r = cmd.outputs.renditions;
    expect(argAfter(cmd.args, '-b:v:0')).toBe(String(r[0]!.videoBitrate));
    expect(argAfter(cmd.args, '-maxrate:v:1')).toBe(String(r[1]!.maxrate));
    expect(argAfter(cmd.args, '-bufsize:v:1')).toBe(String(r[1]!.bufsize));
    expect(argAfter(cmd.args, '-profile:v:1')).toBe('main');
    expect(argAfter(cmd.args, '-sc_threshold:v')).toBe('0');
    expect(argAfter(cmd.args, '-flags:v')).toBe('+cgop');
    expect(argAfter(cmd.args, '-level:v:0')).toBe(r[0]!.level);
  });

  it('packages CMAF once with the dash muxer writing HLS playlists too', () => {
    const { cmd } = build('rooftopHdr10');
    expect(argAfter(cmd.args.slice(cmd.args.indexOf('-i')), '-f')).toBe('dash');
    expect(argAfter(cmd.args, '-hls_playlist')).toBe('1');
    expect(argAfter(cmd.args, '-seg_duration')).toBe('2');
    expect(argAfter(cmd.args, '-use_template')).toBe('1');
    expect(argAfter(cmd.args, '-use_timeline')).toBe('1');
    expect(argAfter(cmd.args, '-single_file')).toBe('0');
    expect(cmd.args).toContain('file:/work/out/manifest.mpd');
    expect(cmd.args).toContain('file:/work/out/poster.jpg');
    expect(cmd.args).toContain('file:/work/out/sprite.jpg');
  });

  it('rungs whose even sizes differ in shape share one display aspect (dash needs it)', () => {
    const { cmd } = build('rooftopHdr10');
    // 360x640 and 240x426 are not the same exact ratio.
    expect(cmd.filterGraph).toContain('setdar=dar=9/16:max=100000');
  });

  it('rejects a source without video', () => {
    const m = { ...media('roadtrip10bit'), video: null };
    const fitted = { rungs: [{}] } as unknown as FittedLadder;
    expect(() => buildLadderCommand({ source: 'x', media: m, ladder: fitted, outDir: '/o', formats: ['hls'], caps: zscale })).toThrow(/no video/);
  });
});

describe('helpers', () => {
  it('fpsToRational restores NTSC rates', () => {
    expect(fpsToRational(29.97)).toEqual({ num: 30000, den: 1001 });
    expect(fpsToRational(23.976)).toEqual({ num: 24000, den: 1001 });
    expect(fpsToRational(59.94)).toEqual({ num: 60000, den: 1001 });
    expect(fpsToRational(25)).toEqual({ num: 25, den: 1 });
    expect(fpsToRational(12.5)).toEqual({ num: 25, den: 2 });
  });

  it.each([
    [640, 360, 30, 900_000, 1_800_000, 'main', '3'],
    [1280, 720, 30, 5_000_000, 10_000_000, 'high', '3.1'],
    [1920, 1080, 30, 8_000_000, 16_000_000, 'high', '4'],
    [1920, 1080, 60, 8_000_000, 16_000_000, 'high', '4.2'],
    [3840, 2160, 30, 20_000_000, 40_000_000, 'high', '5.1'],
    [426, 240, 24, 400_000, 800_000, 'high', '2.1'],
  ] as const)('h264Level %ix%i@%i -> %s', (w, h, fps, maxrate, buf, profile, level) => {
    expect(h264Level(w, h, fps, maxrate, buf, profile)).toBe(level);
  });

  it('avcCodecString', () => {
    expect(avcCodecString('high', '3.1')).toBe('avc1.64001f');
    expect(avcCodecString('main', '3')).toBe('avc1.4d401e');
    expect(avcCodecString('baseline', '3')).toBe('avc1.42c01e');
  });

  it('thumbnails: tiles every interval, grid with a spare slot, VTT cues point at tiles', () => {
    const plan = planThumbnails(9, 16 / 9);
    expect(plan).toMatchObject({ intervalSec: 2, tileWidth: 160, tileHeight: 90, count: 5, columns: 6, rows: 1 });
    const long = planThumbnails(7200, 16 / 9);
    expect(long.intervalSec).toBe(36);
    expect(long.columns).toBe(10);
    const vtt = thumbnailsVtt(plan, 9);
    expect(vtt.startsWith('WEBVTT\n')).toBe(true);
    expect(vtt).toContain('00:00:00.000 --> 00:00:02.000\nsprite.jpg#xywh=0,0,160,90');
    expect(vtt).toContain('00:00:08.000 --> 00:00:09.000\nsprite.jpg#xywh=640,0,160,90');
    expect(vtt.match(/-->/g)).toHaveLength(5);
  });

  it('master playlist: measured BANDWIDTH = video + audio peak, AVERAGE-BANDWIDTH, CODECS, RESOLUTION, FRAME-RATE, audio group', () => {
    const text = hlsMasterPlaylist({
      renditions: [
        { playlist: 'media_1.m3u8', width: 426, height: 240, fps: { num: 30000, den: 1001 }, codecs: 'avc1.4d401e', bitratePeak: 400_000, bitrateAvg: 300_000 },
        { playlist: 'media_0.m3u8', width: 640, height: 360, fps: { num: 30, den: 1 }, codecs: 'avc1.64001f', bitratePeak: 900_000, bitrateAvg: 700_000 },
      ],
      audio: { playlist: 'media_2.m3u8', codecs: 'mp4a.40.2', bitratePeak: 130_000, bitrateAvg: 128_000, channels: 2 },
    });
    const lines = text.split('\n');
    expect(lines).toContain('#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="Audio",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="media_2.m3u8"');
    const first = lines.findIndex((l) => l.startsWith('#EXT-X-STREAM-INF'));
    expect(lines[first]).toBe('#EXT-X-STREAM-INF:BANDWIDTH=1030000,AVERAGE-BANDWIDTH=828000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=640x360,FRAME-RATE=30.000,AUDIO="audio",CLOSED-CAPTIONS=NONE');
    expect(lines[first + 1]).toBe('media_0.m3u8');
    expect(text).toContain('FRAME-RATE=29.970');
  });

  it('VOD media playlist: no wall-clock dates, PLAYLIST-TYPE VOD, target duration at least 1', () => {
    const src = '#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:0\n#EXT-X-MEDIA-SEQUENCE:1\n#EXT-X-MAP:URI="init-0.m4s"\n#EXTINF:0.133333,\n#EXT-X-PROGRAM-DATE-TIME:2026-11-22T03:02:21.000+0000\nseg-0-00001.m4s\n#EXT-X-ENDLIST\n';
    const out = vodMediaPlaylist(src);
    expect(out).not.toContain('PROGRAM-DATE-TIME');
    expect(out).toContain('#EXT-X-TARGETDURATION:1\n#EXT-X-PLAYLIST-TYPE:VOD');
    expect(out).toContain('#EXTINF:0.133333,\nseg-0-00001.m4s\n#EXT-X-ENDLIST\n');
  });
});

/**
 * Runs a rule the way ffmpeg does (fftools: the expression is evaluated per frame sent to the encoder, n counts those
 * frames, n_forced the keyframes forced so far) and returns the keyframes' frame numbers.
 */
function simulate(expr: string, frames: number): number[] {
  const m = /^expr:gte\(n\*(\d+),n_forced\*(\d+)\)$/.exec(expr);
  if (!m) throw new Error(`not a frame-count rule: ${expr}`);
  const [b, a] = [Number(m[1]), Number(m[2])];
  const keys: number[] = [];
  for (let n = 0; n < frames; n++) if (n * b >= keys.length * a) keys.push(n);
  return keys;
}

describe('keyframeRules: a keyframe grid counted in frames (issue 9)', () => {
  const rate = (s: string) => {
    const [num, den] = s.split('/').map(Number);
    return { num: num!, den: den ?? 1 };
  };
  const cases: [string, string[], number][] = [
    ['20 fps, 4 s', ['20'], 4],
    ['23.976 fps, 4 s', ['24000/1001'], 4],
    ['29.97 fps, 1 s', ['30000/1001'], 1],
    ['59.94 with a halved 29.97 rung, 4 s', ['60000/1001', '30000/1001'], 4],
    ['59.94 with a 30 fps cap, 2 s', ['60000/1001', '30'], 2],
    ['50 with a 30 fps cap, 6 s', ['50', '30'], 6],
    ['25 fps, 2.5 s segments', ['25'], 2.5],
  ];

  it.each(cases)('%s: two hours without a short, long or misaligned segment', (_name, rates, seg) => {
    const rs = rates.map(rate);
    const rules = keyframeRules(rs, seg);
    const twoHours = 7200;
    const times = rules.map((rule, i) => {
      const fps = rs[i]!.num / rs[i]!.den;
      const keys = simulate(rule.expr, Math.floor(twoHours * fps));
      // x264 never adds one of its own between forced ones.
      const gaps = keys.slice(1).map((k, j) => k - keys[j]!);
      expect(Math.max(...gaps)).toBeLessThanOrEqual(rule.gop);
      // Exact in frames: the dash muxer cuts only at a keyframe at least one segment after the last cut.
      for (const g of gaps) {
        expect(g * rs[i]!.den * 1000).toBeGreaterThanOrEqual(Math.round(seg * 1000) * rs[i]!.num);
        expect(g / fps).toBeLessThan(seg + 2 / fps + 1e-9);
      }
      return { keys: keys.map((k) => k / fps), frame: 1 / fps };
    });
    const [top, ...rest] = times;
    for (const t of rest) {
      const n = Math.min(t.keys.length, top!.keys.length);
      expect(Math.abs(t.keys.length - top!.keys.length)).toBeLessThanOrEqual(1);
      for (let k = 0; k < n; k++) expect(Math.abs(t.keys[k]! - top!.keys[k]!)).toBeLessThan(Math.max(t.frame, top!.frame) + 1e-9);
    }
  });

  it('integer rates get exactly the segment length; 29.97 and 59.94 the same 4.004 s', () => {
    expect(keyframeRules([rate('20')], 4)).toEqual([{ expr: 'expr:gte(n*1,n_forced*80)', gop: 80 }]);
    expect(keyframeRules([rate('60000/1001'), rate('30000/1001')], 4)).toEqual([
      { expr: 'expr:gte(n*1,n_forced*240)', gop: 240 },
      { expr: 'expr:gte(n*1,n_forced*120)', gop: 120 },
    ]);
  });

  it('the old time-based rule would have cut one segment a frame short at 29.97 fps', () => {
    // ceil(29.97 k) frames: keyframe 34 comes 29 frames (0.968 s) after keyframe 33, under the 1 s segment.
    const old = Array.from({ length: 40 }, (_, k) => Math.ceil((k * 30000) / 1001));
    expect(old[34]! - old[33]!).toBe(29);
    expect(simulate(keyframeRules([rate('30000/1001')], 1)[0]!.expr, 1300).slice(33, 35)).toEqual([990, 1020]);
  });
});

describe('refusedDemuxerIn', () => {
  it("reads the demuxer from ffmpeg's whitelist refusal, and nothing from other errors", () => {
    expect(refusedDemuxerIn("[hls @ 0x5591c09af500] Format not on whitelist 'mov,matroska'\nfile:/x/clip.mp4: Invalid argument\n")).toEqual({ refused: true, demuxer: 'hls' });
    expect(refusedDemuxerIn("Format not on whitelist 'mov'")).toEqual({ refused: true, demuxer: null });
    expect(refusedDemuxerIn('[mov,mp4,m4a,3gp,3g2,mj2 @ 0x1] moov atom not found')).toEqual({ refused: false, demuxer: null });
  });
});
