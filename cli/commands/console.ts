import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';

/**
 * `tiercast console [--web] [--port N] [--open]`: the operator console.
 * Without --web it starts Electron when its binary is installed; otherwise (headless machines, CI, installs where the
 * Electron download was skipped) it says why and serves the same renderer over the web transport on 127.0.0.1.
 * Either way the renderer is (re)built first when its build output is missing or older than its sources.
 */

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const RENDERER_OUT = path.join(repoRoot, 'out', 'renderer');
const RENDERER_CONFIG = path.join(repoRoot, 'desktop', 'renderer', 'vite.config.ts');

/** Newest modification time of the files under these paths (skipping node_modules and dot folders). */
function newestMtime(paths: readonly string[]): number {
  let newest = 0;
  const visit = (p: string) => {
    let st;
    try {
      st = statSync(p);
    } catch {
      return;
    }
    if (st.isDirectory()) {
      for (const name of readdirSync(p)) if (!name.startsWith('.') && name !== 'node_modules') visit(path.join(p, name));
    } else {
      newest = Math.max(newest, st.mtimeMs);
    }
  };
  for (const p of paths) visit(p);
  return newest;
}

export function rendererIsStale(outDir: string = RENDERER_OUT): boolean {
  const index = path.join(outDir, 'index.html');
  if (!existsSync(index)) return true;
  const sources = newestMtime([path.join(repoRoot, 'desktop', 'renderer'), path.join(repoRoot, 'shared', 'common')]);
  return statSync(index).mtimeMs < sources;
}

/** Builds the renderer with vite's API and the renderer's own config (desktop/renderer/vite.config.ts). */
export async function buildRenderer(options: { force?: boolean; quiet?: boolean } = {}): Promise<string> {
  if (!options.force && !rendererIsStale()) return RENDERER_OUT;
  process.stderr.write('tiercast console: building the renderer...\n');
  const { build } = await import('vite');
  await build({ configFile: RENDERER_CONFIG, logLevel: options.quiet ? 'error' : 'warn' });
  if (!existsSync(path.join(RENDERER_OUT, 'index.html'))) {
    throw Object.assign(new Error(`the renderer build did not produce ${path.join(RENDERER_OUT, 'index.html')}`), { code: 'INTERNAL' });
  }
  return RENDERER_OUT;
}

/**
 * The Electron binary's path, or why there is none. Electron 42+ downloads its binary lazily on the first
 * `require('electron')` (printing to stdout and hanging where there is no network), so this reads the package's
 * path.txt and checks dist/ itself instead of requiring the package.
 */
export function findElectron(packageDir?: string): { path: string } | { missing: string } {
  let dir: string;
  try {
    dir = packageDir ?? path.dirname(createRequire(import.meta.url).resolve('electron/package.json'));
  } catch (err) {
    return { missing: (err as Error).message.split('\n')[0] ?? 'electron is not installed' };
  }
  const override = process.env.ELECTRON_OVERRIDE_DIST_PATH;
  let executable: string;
  try {
    executable = readFileSync(path.join(dir, 'path.txt'), 'utf8').trim();
  } catch {
    if (!override) return { missing: `the Electron binary was never downloaded (no ${path.join(dir, 'path.txt')})` };
    executable = 'electron';
  }
  const p = override ? path.join(override, executable) : path.join(dir, 'dist', executable);
  return existsSync(p) ? { path: p } : { missing: `the electron package points at ${p}, which does not exist` };
}

function openInBrowser(url: string): void {
  const [cmd, args] =
    process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '', url]] : ['xdg-open', [url]];
  try {
    const child = spawn(cmd, args as string[], { stdio: 'ignore', detached: true });
    child.on('error', () => process.stderr.write(`tiercast console: could not open a browser (${cmd}); open the URL above yourself\n`));
    child.unref();
  } catch {
    process.stderr.write('tiercast console: could not open a browser; open the URL above yourself\n');
  }
}

interface ConsoleOptions {
  web?: boolean;
  port?: string;
  open?: boolean;
  config?: string;
  build?: boolean;
}

async function runWeb(options: ConsoleOptions): Promise<void> {
  const port = options.port === undefined ? 0 : Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`CONFIG_INVALID: --port must be 0-65535, got ${options.port}\n`);
    process.exitCode = 2;
    return;
  }
  const rendererDir = options.build === false ? RENDERER_OUT : await buildRenderer();
  const { createLogger } = await import('../../shared/node/log.ts');
  const { startConsoleServices } = await import('../../desktop/main/runtime.ts');
  const { startWebConsole } = await import('../../desktop/main/web-server.ts');
  const log = createLogger({ name: 'tiercast-console' });
  const { services } = await startConsoleServices({ log, ...(options.config ? { configPath: options.config } : {}) });
  let web;
  try {
    web = await startWebConsole({ services, rendererDir, port, host: '127.0.0.1', log });
  } catch (err) {
    await services.close();
    throw err;
  }
  // The URL carries the per-run token: stdout, so scripts and the e2e tests can read it; nothing else goes there.
  process.stdout.write(`${web.url}\n`);
  process.stderr.write(`tiercast console: serving on ${web.origin} (Ctrl+C to stop)\n`);
  if (options.open) openInBrowser(web.url);

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        process.stderr.write(`tiercast console: ${signal} again, exiting now\n`);
        process.exit(130);
      }
      stopping = true;
      process.stderr.write('tiercast console: stopping (uploads resume on the next start)...\n');
      void Promise.allSettled([web.close(), services.close()]).then(() => resolve());
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  process.exitCode = 0;
}

async function runElectron(options: ConsoleOptions, electron: string): Promise<void> {
  if (options.build !== false) {
    await buildRenderer();
    const mainOut = path.join(repoRoot, 'out', 'main', 'index.js');
    const sources = newestMtime([path.join(repoRoot, 'desktop', 'main'), path.join(repoRoot, 'desktop', 'preload'), path.join(repoRoot, 'shared')]);
    if (!existsSync(mainOut) || statSync(mainOut).mtimeMs < sources) {
      process.stderr.write('tiercast console: building the Electron main and preload...\n');
      const { build } = await import('electron-vite');
      await build({ configFile: path.join(repoRoot, 'electron.vite.config.ts') });
    }
  }
  const args = [repoRoot];
  if (options.config) args.push(`--tiercast-config=${path.resolve(options.config)}`);
  const child = spawn(electron, args, { stdio: 'inherit', env: { ...process.env, ELECTRON_RUN_AS_NODE: undefined } });
  await new Promise<void>((resolve) => {
    child.on('exit', (code) => {
      process.exitCode = code ?? 1;
      resolve();
    });
    child.on('error', (err) => {
      process.stderr.write(`tiercast console: could not start Electron (${err.message})\n`);
      process.exitCode = 1;
      resolve();
    });
  });
}

export function register(program: Command): void {
  program
    .command('console')
    .description('Open the operator console (Electron), or serve it to a browser with --web')
    .option('--web', 'serve the console on 127.0.0.1 for a browser instead of opening the desktop app')
    .option('--port <n>', 'port for --web (default: a free one)')
    .option('--open', 'with --web: open the URL in the default browser')
    .option('--config <file>', 'configuration file (default: config.json in the data home)')
    .option('--no-build', 'do not rebuild the renderer even if its sources are newer')
    .addHelpText(
      'after',
      '\nThe --web URL carries a random per-run token; it is printed on stdout. Anyone with the URL can use the console,\n' +
        'so do not share it. Only 127.0.0.1 is served.',
    )
    .action(async (options: ConsoleOptions) => {
      if (options.web) return runWeb(options);
      const electron = findElectron();
      if ('path' in electron) return runElectron(options, electron.path);
      process.stderr.write(
        `tiercast console: the Electron binary is not available (${electron.missing}).\n` +
          'Falling back to the web console; run `tiercast console --web` to choose this directly.\n',
      );
      return runWeb(options);
    });
}
