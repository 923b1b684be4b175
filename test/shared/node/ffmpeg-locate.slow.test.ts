import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCapabilityList, parseVersion, resolveFfmpeg } from '../../../shared/node/ffmpeg-locate.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-locate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The system's binaries, found the way a shell would (the test machine has Debian's ffmpeg). */
const which = (name: string) => execFileSync('sh', ['-c', 'command -v "$1"', 'sh', name], { encoding: 'utf8' }).trim();
const systemFfmpeg = which('ffmpeg');
const systemFfprobe = which('ffprobe');

describe('resolveFfmpeg', () => {
  it('finds ffmpeg and ffprobe on PATH and reads the version and capabilities of that build', async () => {
    const install = await resolveFfmpeg({ env: { PATH: process.env.PATH } });
    expect(install.source).toBe('path');
    expect(install.ffmpeg).toBe(systemFfmpeg);
    expect(install.ffprobe).toBe(systemFfprobe);
    const banner = execFileSync(systemFfmpeg, ['-hide_banner', '-version'], { encoding: 'utf8' });
    expect(banner.startsWith(`ffmpeg version ${install.version}`)).toBe(true);
    expect(install.major).toBeGreaterThanOrEqual(4);
    // What the transcode pipeline needs from any build.
    for (const e of ['libx264', 'aac']) expect(install.encoders.has(e)).toBe(true);
    for (const f of ['scale', 'split', 'fps', 'yadif']) expect(install.filters.has(f)).toBe(true);
    // Legend rows of the listings are not capabilities.
    expect(install.encoders.has('=')).toBe(false);
    expect(install.hasLibvmaf).toBe(install.filters.has('libvmaf'));
    const zscale = install.filters.has('zscale') && install.filters.has('tonemap');
    expect(install.tonemapMethod).toBe(zscale ? 'zscale' : install.filters.has('libplacebo') ? 'libplacebo' : 'none');
    expect(install.canTonemap).toBe(install.tonemapMethod !== 'none');
  });

  it('prefers TIERCAST_FFMPEG / TIERCAST_FFPROBE over PATH', async () => {
    const own = path.join(dir, 'own');
    execFileSync('mkdir', ['-p', own]);
    symlinkSync(systemFfmpeg, path.join(own, 'ffmpeg'));
    symlinkSync(systemFfprobe, path.join(own, 'ffprobe'));
    const install = await resolveFfmpeg({ env: { PATH: process.env.PATH, TIERCAST_FFMPEG: path.join(own, 'ffmpeg') } });
    expect(install).toMatchObject({ source: 'env', ffmpeg: path.join(own, 'ffmpeg'), ffprobe: path.join(own, 'ffprobe') });
    const explicit = await resolveFfmpeg({ env: { PATH: '', TIERCAST_FFMPEG: systemFfmpeg, TIERCAST_FFPROBE: path.join(own, 'ffprobe') } });
    expect(explicit.ffprobe).toBe(path.join(own, 'ffprobe'));
  });

  it('uses ffmpeg-static only when its binary exists, pairing it with an ffprobe beside it or on PATH', async () => {
    const pkg = path.join(dir, 'ffmpeg-static');
    execFileSync('mkdir', ['-p', pkg]);
    const staticFfmpeg = path.join(pkg, 'ffmpeg');
    // The package without its downloaded binary (what an offline install leaves) is skipped.
    const skipped = await resolveFfmpeg({ env: { PATH: process.env.PATH }, ffmpegStatic: staticFfmpeg });
    expect(skipped.source).toBe('path');
    symlinkSync(systemFfmpeg, staticFfmpeg);
    const found = await resolveFfmpeg({ env: { PATH: process.env.PATH }, ffmpegStatic: staticFfmpeg });
    expect(found).toMatchObject({ source: 'ffmpeg-static', ffmpeg: staticFfmpeg, ffprobe: systemFfprobe });
    await expect(resolveFfmpeg({ env: { PATH: '' }, ffmpegStatic: staticFfmpeg })).rejects.toMatchObject({
      code: 'FFMPEG_MISSING', message: expect.stringMatching(/ffmpeg-static provides .* but no ffprobe/),
    });
    // The environment still wins over the package.
    const env = await resolveFfmpeg({ env: { PATH: '', TIERCAST_FFMPEG: systemFfmpeg, TIERCAST_FFPROBE: systemFfprobe }, ffmpegStatic: staticFfmpeg });
    expect(env.source).toBe('env');
  });

  it('says how to install ffmpeg when none is found', async () => {
    const err = await resolveFfmpeg({ env: { PATH: path.join(dir, 'nothing-here') }, ffmpegStatic: null }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'FFMPEG_MISSING' });
    const message = (err as Error).message;
    expect(message).toMatch(/apt-get install -y ffmpeg/);
    expect(message).toMatch(/brew install ffmpeg/);
    expect(message).toMatch(/TIERCAST_FFMPEG/);
  });

  it('rejects a TIERCAST_FFMPEG that is not an executable, and a binary that does not run', async () => {
    await expect(resolveFfmpeg({ env: { TIERCAST_FFMPEG: path.join(dir, 'missing') } })).rejects.toMatchObject({
      code: 'FFMPEG_MISSING', message: expect.stringMatching(/TIERCAST_FFMPEG points to .*missing, which is not an executable/),
    });
    const fake = path.join(dir, 'fake-ffmpeg');
    writeFileSync(fake, '#!/bin/sh\nexit 3\n');
    chmodSync(fake, 0o755);
    await expect(resolveFfmpeg({ env: { TIERCAST_FFMPEG: fake, TIERCAST_FFPROBE: systemFfprobe } })).rejects.toMatchObject({
      code: 'FFMPEG_MISSING', message: expect.stringMatching(/fake-ffmpeg did not run/),
    });
  });

  it('caches the process-wide answer until refresh', async () => {
    const a = resolveFfmpeg();
    expect(resolveFfmpeg()).toBe(a);
    const b = resolveFfmpeg({ refresh: true });
    expect(b).not.toBe(a);
    expect((await b).ffmpeg).toBe((await a).ffmpeg);
  });
});

describe('listing parsers', () => {
  it('reads versions of releases, Debian builds and git snapshots', () => {
    expect(parseVersion('ffmpeg version 5.1.9-0+deb12u1 Copyright (c) 2000-2026')).toEqual({ version: '5.1.9-0+deb12u1', major: 5 });
    expect(parseVersion('ffmpeg version n7.1 Copyright')).toEqual({ version: 'n7.1', major: 7 });
    expect(parseVersion('ffmpeg version N-112000-gabc Copyright')).toEqual({ version: 'N-112000-gabc', major: 0 });
  });

  it('skips the legend of -filters output', () => {
    const out = 'Filters:\n  T.. = Timeline support\n  | = Source or sink filter\n ... abench            A->A       Benchmark\n TSC zscale            V->V       Apply resizing\n';
    expect([...parseCapabilityList(out)]).toEqual(['abench', 'zscale']);
  });
});
