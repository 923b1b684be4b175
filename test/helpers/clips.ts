import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
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
