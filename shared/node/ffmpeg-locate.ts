import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import { TiercastError } from '../common/errors.ts';

const execFileAsync = promisify(execFile);

/** One ffmpeg/ffprobe pair and what that build can do. */
export interface FfmpegInstall {
  readonly ffmpeg: string;
  readonly ffprobe: string;
  /** Where the pair was found (resolution order: env, ffmpeg-static, PATH). */
  readonly source: 'env' | 'ffmpeg-static' | 'path';
  /** Version string as ffmpeg prints it, e.g. "5.1.9-0+deb12u1" or "N-112000-g..." for git builds. */
  readonly version: string;
  /** Major version, or 0 when it cannot be read (git snapshots). */
  readonly major: number;
  readonly encoders: ReadonlySet<string>;
  readonly filters: ReadonlySet<string>;
  readonly hasLibvmaf: boolean;
  /** HDR PQ/HLG can be tone-mapped to SDR: zscale + tonemap, or libplacebo. */
  readonly canTonemap: boolean;
  readonly tonemapMethod: 'zscale' | 'libplacebo' | 'none';
}

export const INSTALL_HINT =
  'install ffmpeg (Debian/Ubuntu: apt-get install -y ffmpeg; macOS: brew install ffmpeg) ' +
  'or set TIERCAST_FFMPEG and TIERCAST_FFPROBE to the full paths of the binaries';

let cached: Promise<FfmpegInstall> | null = null;

/**
 * Finds ffmpeg and ffprobe, in this order:
 * 1. TIERCAST_FFMPEG / TIERCAST_FFPROBE (ffprobe defaults to the ffprobe beside TIERCAST_FFMPEG, then PATH);
 * 2. the ffmpeg-static package, only when its binary file exists (its download fails offline, leaving the package
 *    without a binary); it ships no ffprobe, so ffprobe comes from beside it or PATH;
 * 3. PATH.
 * Cached per process; `refresh` forces a new look (tests, or after the operator installs ffmpeg).
 */
export function resolveFfmpeg(
  options: {
    env?: NodeJS.ProcessEnv;
    refresh?: boolean;
    /** Where ffmpeg-static's binary would be (tests); default: what the installed package says. */
    ffmpegStatic?: string | null;
  } = {},
): Promise<FfmpegInstall> {
  // A custom env or static path is a different question, so it never reads or fills the process-wide cache.
  if (options.env !== undefined || options.ffmpegStatic !== undefined) {
    return locate(options.env ?? process.env, options.ffmpegStatic === undefined ? ffmpegStaticPath() : options.ffmpegStatic);
  }
  if (cached && !options.refresh) return cached;
  const attempt = locate(process.env, ffmpegStaticPath());
  cached = attempt;
  // A failed look is not cached: the operator may install ffmpeg and retry in a long-lived process (agent, console).
  attempt.catch(() => {
    if (cached === attempt) cached = null;
  });
  return attempt;
}

async function locate(env: NodeJS.ProcessEnv, staticBinary: string | null): Promise<FfmpegInstall> {
  const pair = findPair(env, staticBinary);
  const [versionOut, encodersOut, filtersOut] = await Promise.all([
    run(pair.ffmpeg, ['-hide_banner', '-version']),
    run(pair.ffmpeg, ['-hide_banner', '-encoders']),
    run(pair.ffmpeg, ['-hide_banner', '-filters']),
    // ffprobe must run too: a broken ffprobe would otherwise surface later as NOT_MEDIA for every input.
    run(pair.ffprobe, ['-hide_banner', '-version']),
  ]);
  const { version, major } = parseVersion(versionOut);
  const encoders = parseCapabilityList(encodersOut);
  const filters = parseCapabilityList(filtersOut);
  const tonemapMethod = filters.has('zscale') && filters.has('tonemap') ? 'zscale' : filters.has('libplacebo') ? 'libplacebo' : 'none';
  return {
    ...pair,
    version,
    major,
    encoders,
    filters,
    hasLibvmaf: filters.has('libvmaf'),
    canTonemap: tonemapMethod !== 'none',
    tonemapMethod,
  };
}

function findPair(env: NodeJS.ProcessEnv, staticCandidate: string | null): { ffmpeg: string; ffprobe: string; source: FfmpegInstall['source'] } {
  const pathDirs = (env.PATH ?? '').split(path.delimiter).filter(Boolean);
  const exe = process.platform === 'win32' ? '.exe' : '';
  const onPath = (name: string): string | null => {
    for (const dir of pathDirs) {
      const candidate = path.join(dir, name + exe);
      if (isExecutable(candidate)) return candidate;
    }
    return null;
  };

  if (env.TIERCAST_FFMPEG) {
    const ffmpeg = path.resolve(env.TIERCAST_FFMPEG);
    if (!isExecutable(ffmpeg)) {
      throw new TiercastError('FFMPEG_MISSING', `TIERCAST_FFMPEG points to ${ffmpeg}, which is not an executable file; ${INSTALL_HINT}`, {
        details: { ffmpeg },
      });
    }
    const ffprobe = env.TIERCAST_FFPROBE ? path.resolve(env.TIERCAST_FFPROBE) : besideOrPath(ffmpeg, 'ffprobe' + exe, onPath);
    if (!ffprobe || !isExecutable(ffprobe)) {
      throw new TiercastError('FFMPEG_MISSING', `ffprobe not found (TIERCAST_FFPROBE=${env.TIERCAST_FFPROBE ?? 'unset'}, nothing beside ${ffmpeg} or on PATH); ${INSTALL_HINT}`);
    }
    return { ffmpeg, ffprobe, source: 'env' };
  }

  const staticBinary = staticCandidate && isExecutable(staticCandidate) ? staticCandidate : null;
  if (staticBinary) {
    const ffprobe = env.TIERCAST_FFPROBE ? path.resolve(env.TIERCAST_FFPROBE) : besideOrPath(staticBinary, 'ffprobe' + exe, onPath);
    if (ffprobe && isExecutable(ffprobe)) return { ffmpeg: staticBinary, ffprobe, source: 'ffmpeg-static' };
    // Without an ffprobe to pair with it, the static ffmpeg is unusable; a full install on PATH may still serve.
    if (!onPath('ffmpeg')) {
      throw new TiercastError('FFMPEG_MISSING', `ffmpeg-static provides ${staticBinary} but no ffprobe was found beside it or on PATH; ${INSTALL_HINT}`);
    }
  }

  const ffmpeg = onPath('ffmpeg');
  const ffprobe = env.TIERCAST_FFPROBE ? path.resolve(env.TIERCAST_FFPROBE) : onPath('ffprobe');
  if (ffmpeg && ffprobe && isExecutable(ffprobe)) return { ffmpeg, ffprobe, source: 'path' };
  const missing = [ffmpeg ? null : 'ffmpeg', ffprobe ? null : 'ffprobe'].filter(Boolean).join(' and ');
  throw new TiercastError('FFMPEG_MISSING', `${missing || 'ffprobe'} not found on PATH or via TIERCAST_FFMPEG; ${INSTALL_HINT}`);
}

function besideOrPath(binary: string, name: string, onPath: (n: string) => string | null): string | null {
  const beside = path.join(path.dirname(binary), name);
  return isExecutable(beside) ? beside : onPath(name.replace(/\.exe$/, ''));
}

function ffmpegStaticPath(): string | null {
  try {
    const resolved = createRequire(import.meta.url)('ffmpeg-static') as unknown;
    return typeof resolved === 'string' && isExecutable(resolved) ? resolved : null;
  } catch {
    // Optional dependency: absent, or present without its binary.
    return null;
  }
}

function isExecutable(file: string): boolean {
  try {
    if (!existsSync(file) || !statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function run(binary: string, args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync(binary, [...args], { maxBuffer: 16 * 1024 * 1024, timeout: 30_000, windowsHide: true });
    return stdout;
  } catch (err) {
    throw new TiercastError('FFMPEG_MISSING', `${binary} did not run (${(err as Error).message.split('\n')[0]}); ${INSTALL_HINT}`, {
      cause: err,
      details: { binary, args },
    });
  }
}

/** `ffmpeg version 5.1.9-0+deb12u1 Copyright ...` -> { version: '5.1.9-0+deb12u1', major: 5 }. */
export function parseVersion(output: string): { version: string; major: number } {
  const m = /^\S+ version (\S+)/m.exec(output);
  const version = m?.[1] ?? 'unknown';
  const major = /^n?(\d+)\./.exec(version);
  return { version, major: major ? Number(major[1]) : 0 };
}

/**
 * Names from `-encoders` / `-filters` listings: the lines after the legend, each `FLAGS name ...`.
 * The legend lines (`V..... = Video`, `T.. = Timeline support`) have `=` as their second token and are skipped.
 */
export function parseCapabilityList(output: string): ReadonlySet<string> {
  const names = new Set<string>();
  for (const line of output.split('\n')) {
    const m = /^\s*([A-Z.|]{3,6})\s+(\S+)\s+(\S+)/.exec(line);
    if (!m || m[2] === '=' || m[3] === '=') continue;
    names.add(m[2]!);
  }
  return names;
}
