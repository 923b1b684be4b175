import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Small synthetic clips made with the system's ffmpeg (testsrc2 + sine), cached per run in the temp folder
 * so many test files can share them. Keep them tiny: CI has two cores.
 */
export interface ClipOptions {
  durationSec?: number;
  width?: number;
  height?: number;
  fps?: number;
  audio?: boolean;
  /** Container extension; the codec follows (mp4 -> h264/aac, webm -> vp9/opus). */
  ext?: 'mp4' | 'webm' | 'mov' | 'mkv';
}

const cacheDir = path.join(os.tmpdir(), `tiercast-test-clips-${process.getuid?.() ?? 0}`);

export function makeClip(options: ClipOptions = {}): string {
  const { durationSec = 2, width = 320, height = 180, fps = 25, audio = true, ext = 'mp4' } = options;
  mkdirSync(cacheDir, { recursive: true });
  const name = `clip_${width}x${height}_${fps}fps_${durationSec}s_${audio ? 'a' : 'na'}.${ext}`;
  const out = path.join(cacheDir, name);
  if (existsSync(out)) return out;
  const tmp = path.join(cacheDir, `.${process.pid}.${Date.now()}.${name}`);
  const args = ['-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${fps}:duration=${durationSec}`];
  if (audio) args.push('-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${durationSec}`);
  if (ext === 'webm') args.push('-c:v', 'libvpx-vp9', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '500k');
  else args.push('-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p');
  if (audio) args.push('-c:a', ext === 'webm' ? 'libopus' : 'aac', '-ac', '2');
  args.push('-f', ext === 'mkv' ? 'matroska' : ext === 'mov' ? 'mov' : ext, tmp);
  execFileSync('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  renameSync(tmp, out);
  return out;
}

/** How a timing clip's streams are laid out in time (each one is a way real files start somewhere other than 0). */
export type TimingOffset =
  /** Both streams start at 0. */
  | 'none'
  /** The video starts 50 ms after the audio: an empty edit in the video track (a camera that starts audio first). */
  | 'video-late'
  /** Cut with `-ss` and stream copy off a keyframe: an edit list that starts inside a GOP (an editor's trim). */
  | 'cut'
  /** Every timestamp shifted by 1.4 s (`-output_ts_offset`): the file does not start at zero at all. */
  | 'shifted';

export interface TimingClipOptions {
  /** Frame rate as ffmpeg writes it: 20, 24000/1001, 25, 30000/1001, 30, 50, 60000/1001. */
  readonly rate: string;
  readonly audio: 'none' | 'aac' | 'mp3';
  readonly offset: TimingOffset;
  /** x264 B-frames (3) or none. */
  readonly bframes: boolean;
  /** moov before the media (`+faststart`) or the index at the end (ffmpeg's default). */
  readonly faststart: boolean;
  /** High 4:4:4 Predictive like the camera clip of issue 9; default 4:2:0. */
  readonly yuv444?: boolean;
  readonly durationSec?: number;
  readonly width?: number;
  readonly height?: number;
}

/**
 * A small MP4 (160x90 by default) whose timestamps start the way real files do: AAC or MP3 priming (both written
 * by ffmpeg as edit lists), a late video track, a trim inside a GOP, a shifted timeline; B-frames; index at either
 * end. Made in steps with stream copies so the muxer keeps each quirk instead of normalising it. Cached like makeClip.
 */
export function makeTimingClip(o: TimingClipOptions): string {
  const { durationSec = 9, width = 160, height = 90 } = o;
  mkdirSync(cacheDir, { recursive: true });
  const tag = [o.rate.replace('/', '_'), o.audio, o.offset, o.bframes ? 'bf' : 'nobf', o.faststart ? 'fs' : 'end', o.yuv444 ? '444' : '420', `${width}x${height}`, `${durationSec}s`].join('-');
  const out = path.join(cacheDir, `timing-${tag}.mp4`);
  if (existsSync(out)) return out;
  const stamp = `${process.pid}.${Date.now()}`;
  const tmp = (name: string) => path.join(cacheDir, `.${stamp}.${tag}.${name}`);
  const run = (args: string[]) => execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  // A cut needs material before the cut point.
  const lead = o.offset === 'cut' ? 0.37 : 0;
  const total = durationSec + lead;
  const video = tmp('v.mp4');
  run([
    '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${o.rate}:duration=${total}`,
    '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', o.yuv444 ? 'yuv444p' : 'yuv420p',
    '-x264-params', `bframes=${o.bframes ? 3 : 0}:keyint=48:min-keyint=48:scenecut=0`, video,
  ]);
  const inputs: string[] = [];
  if (o.offset === 'video-late') inputs.push('-itsoffset', '0.05');
  inputs.push('-i', video);
  if (o.audio !== 'none') {
    const audio = tmp(o.audio === 'aac' ? 'a.m4a' : 'a.mp3');
    run(['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=44100:duration=${total}`, '-c:a', o.audio === 'aac' ? 'aac' : 'libmp3lame', '-b:a', '96k', audio]);
    inputs.push('-i', audio);
  }
  const muxed = tmp('m.mp4');
  run([
    ...(lead ? ['-ss', String(lead)] : []),
    ...inputs,
    '-map', '0:v', ...(o.audio !== 'none' ? ['-map', '1:a'] : []),
    '-c', 'copy',
    ...(o.offset === 'shifted' ? ['-output_ts_offset', '1.4'] : []),
    ...(o.faststart ? ['-movflags', '+faststart'] : []),
    muxed,
  ]);
  renameSync(muxed, out);
  for (const f of [video, tmp('a.m4a'), tmp('a.mp3')]) rmSync(f, { force: true });
  return out;
}
