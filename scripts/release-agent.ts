/**
 * `npm run release:agent [-- --out DIR]`: build a versioned agent release for the EC2 hosts (issue 9 §3).
 *
 * The tarball `tiercast-agent-<version>-linux-<arch>.tgz` holds one folder with:
 *   bin/node                  the Node binary that built it (its major must satisfy package.json "engines")
 *   tiercast.mjs              the whole CLI bundled by esbuild (`tiercast agent`, `tiercast doctor`, ...); the console
 *                             verb needs vite and electron, which are left out
 *   node_modules/             only what a bundle cannot carry: better-sqlite3 (native, built for that same Node by
 *                             `npm ci`) with `bindings`, and m3u8-parser with its dependencies (loaded with
 *                             createRequire at run time)
 *   tiercast-agent.service    the systemd unit
 *   release.json              version, commit, Node version and ABI, platform
 * Beside it `<tarball>.sha256` (sha256sum format) and `latest.json` ({ file, sha256 }), which the CDK stack reads
 * to publish the tarball as an asset and give its hash to user-data. No tsx, esbuild or npm runs on the host.
 * The build is reproducible: sorted entries, fixed owner and mtime, gzip without a timestamp.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

const repoRoot = path.resolve(import.meta.dirname, '..');
const BANNER =
  "import { createRequire as __tcReq } from 'node:module'; import { fileURLToPath as __tcPath } from 'node:url'; import { dirname as __tcDir } from 'node:path'; const require = __tcReq(import.meta.url); const __filename = __tcPath(import.meta.url); const __dirname = __tcDir(__filename);";
/** Packages the bundle requires at run time, and the files of each that run (no sources, no build scripts). */
const RUNTIME_PACKAGES: Record<string, { files?: string[]; skipDeps?: string[] }> = {
  'better-sqlite3': { files: ['package.json', 'LICENSE', 'lib', 'build/Release/better_sqlite3.node'], skipDeps: ['prebuild-install'] },
  'm3u8-parser': {},
};
/** Verbs that need the development tool chain (vite, electron): not part of an agent host. */
const EXTERNAL = ['better-sqlite3', 'vite', 'electron', 'electron-vite'];

export interface AgentRelease {
  readonly file: string;
  readonly sha256: string;
  readonly name: string;
}

const sha256Of = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

function requiredNodeMajor(): number {
  const engines = (JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { engines?: { node?: string } }).engines?.node ?? '';
  const m = /(\d+)/.exec(engines);
  return m ? Number(m[1]) : 0;
}

/** The package's folder and the names it depends on at run time, transitively, from the installed node_modules. */
function closure(name: string, from: string, out: Map<string, string>): void {
  let dir = from;
  for (;;) {
    const candidate = path.join(dir, 'node_modules', name);
    if (existsSync(path.join(candidate, 'package.json'))) break;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`release: ${name} is not installed (run npm ci)`);
    dir = up;
  }
  const pkgDir = path.join(dir, 'node_modules', name);
  const rel = path.relative(repoRoot, pkgDir);
  if (out.has(rel)) return;
  out.set(rel, name);
  const pkg = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  const skip = RUNTIME_PACKAGES[name]?.skipDeps ?? [];
  for (const dep of Object.keys(pkg.dependencies ?? {})) if (!skip.includes(dep)) closure(dep, pkgDir, out);
}

export function buildAgentRelease(outDir: string): AgentRelease {
  const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  const nodeMajor = Number(process.versions.node.split('.')[0]);
  if (nodeMajor < requiredNodeMajor()) {
    throw new Error(`release: built with Node ${process.versions.node}, but package.json engines needs ${requiredNodeMajor()}+: the release ships this Node`);
  }
  const arch = process.arch === 'x64' ? 'x86_64' : process.arch;
  const name = `tiercast-agent-${pkg.version}-linux-${arch}`;
  const stage = path.join(outDir, 'stage');
  const root = path.join(stage, name);
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(path.join(root, 'bin'), { recursive: true });

  cpSync(process.execPath, path.join(root, 'bin/node'));
  execFileSync(
    path.join(repoRoot, 'node_modules/.bin/esbuild'),
    ['cli/main.ts', '--bundle', '--platform=node', '--target=node22', '--format=esm', `--outfile=${path.join(root, 'tiercast.mjs')}`,
      '--legal-comments=none', '--log-level=error', ...EXTERNAL.map((e) => `--external:${e}`), `--banner:js=${BANNER}`],
    { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const packages = new Map<string, string>();
  for (const top of Object.keys(RUNTIME_PACKAGES)) closure(top, repoRoot, packages);
  for (const [rel, pkgName] of packages) {
    // Keep the nesting npm chose (a nested copy is a different version from the hoisted one).
    const target = path.join(root, rel.split(path.sep).slice(rel.split(path.sep).indexOf('node_modules')).join(path.sep));
    const files = RUNTIME_PACKAGES[pkgName]?.files;
    if (files) for (const f of files) cpSync(path.join(repoRoot, rel, f), path.join(target, f), { recursive: true });
    else cpSync(path.join(repoRoot, rel), target, { recursive: true, filter: (src) => !/[/\\]node_modules$/.test(src) || src === path.join(repoRoot, rel) });
  }
  cpSync(path.join(repoRoot, 'agent/deploy/tiercast-agent.service'), path.join(root, 'tiercast-agent.service'));
  const commit = (() => {
    try {
      return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim();
    } catch {
      return 'unknown';
    }
  })();
  writeFileSync(
    path.join(root, 'release.json'),
    `${JSON.stringify({ name, version: pkg.version, commit, node: process.versions.node, nodeAbi: process.versions.modules, platform: process.platform, arch: process.arch }, null, 2)}\n`,
  );
  // The shipped Node must load the shipped native module, and the bundle must start: fail here, not on a host.
  execFileSync(path.join(root, 'bin/node'), ['-e', "const D = require('better-sqlite3'); new D(':memory:').prepare('select 1').get();"], { cwd: root, stdio: 'inherit' });
  execFileSync(path.join(root, 'bin/node'), [path.join(root, 'tiercast.mjs'), '--version'], { cwd: root, stdio: 'ignore' });

  const tarPath = path.join(outDir, `${name}.tar`);
  execFileSync('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-cf', tarPath, '-C', stage, name]);
  const file = path.join(outDir, `${name}.tgz`);
  writeFileSync(file, gzipSync(readFileSync(tarPath), { level: 6 }));
  rmSync(tarPath);
  rmSync(stage, { recursive: true, force: true });
  const sha256 = sha256Of(file);
  writeFileSync(`${file}.sha256`, `${sha256}  ${path.basename(file)}\n`);
  writeFileSync(path.join(outDir, 'latest.json'), `${JSON.stringify({ file: path.basename(file), sha256 }, null, 2)}\n`);
  return { file, sha256, name };
}

if (process.argv[1] && path.resolve(process.argv[1]) === import.meta.filename) {
  const at = process.argv.indexOf('--out');
  const outDir = path.resolve(at > 0 && process.argv[at + 1] ? process.argv[at + 1]! : path.join(repoRoot, 'dist/agent-release'));
  mkdirSync(outDir, { recursive: true });
  const release = buildAgentRelease(outDir);
  process.stdout.write(`${release.file}\nsha256 ${release.sha256}\n`);
}
