/**
 * Console benchmark (issue 5): how soon the web console is usable, how big the renderer is, and whether showing
 * dropped files scales linearly (5,000 against 50 files, as a ratio within one run).
 *
 *   npx tsx bench/console.bench.ts            (or: npm run bench -- console)
 *
 * - interactive: from spawning `tiercast console --web` to the first screen rendered in Chromium and answering a
 *   click (the Jobs screen appears). Split into server start (URL printed) and page load to interactive.
 * - bundle: bytes and gzip bytes of what the first screen loads (entry JS, CSS, index.html) and of everything
 *   (the lazily loaded dashboards and player chunks included).
 * - drop: time from a drop event carrying N files to the table's file count showing them (rows rendered), measured in
 *   the page with performance.now(); ratio per file of 5,000 against 50.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(repoRoot, 'out/renderer');

function bundleSizes(): { initial: { bytes: number; gzip: number }; total: { bytes: number; gzip: number }; files: number } {
  const html = readFileSync(path.join(outDir, 'index.html'), 'utf8');
  const initialFiles = new Set(['index.html', ...[...html.matchAll(/(?:src|href)="\.\/([^"]+)"/g)].map((m) => m[1]!)]);
  const initial = { bytes: 0, gzip: 0 };
  const total = { bytes: 0, gzip: 0 };
  let files = 0;
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const abs = path.join(dir, name);
      if (statSync(abs).isDirectory()) walk(abs);
      else if (!name.endsWith('.map')) {
        const buf = readFileSync(abs);
        const gz = gzipSync(buf, { level: 9 }).length;
        const rel = path.relative(outDir, abs).split(path.sep).join('/');
        files++;
        total.bytes += buf.length;
        total.gzip += gz;
        if (initialFiles.has(rel)) {
          initial.bytes += buf.length;
          initial.gzip += gz;
        }
      }
    }
  };
  walk(outDir);
  return { initial, total, files };
}

async function build(): Promise<void> {
  const { build: viteBuild } = await import('vite');
  await viteBuild({ configFile: path.join(repoRoot, 'desktop/renderer/vite.config.ts'), logLevel: 'error' });
}

function startConsole(home: string): Promise<{ child: ChildProcess; url: string; ms: number }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [path.join(repoRoot, 'bin/tiercast.js'), 'console', '--web', '--port', '0', '--no-build'], {
    cwd: repoRoot,
    env: { ...process.env, TIERCAST_HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /(http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/.exec(out);
      if (m) resolve({ child, url: m[1]!, ms: performance.now() - t0 });
    });
    child.once('exit', (code) => reject(new Error(`console exited ${code}: ${err}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

const fmt = (n: number) => n.toLocaleString('en-US');

async function main(): Promise<void> {
  const t = performance.now();
  await build();
  const buildMs = performance.now() - t;
  const sizes = bundleSizes();

  const home = mkdtempSync(path.join(os.tmpdir(), 'tiercast-bench-console-'));
  const userData = mkdtempSync(path.join(os.tmpdir(), 'tiercast-bench-chromium-'));
  const context = await chromium.launchPersistentContext(userData, {
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1400, height: 900 },
  });
  let child: ChildProcess | null = null;
  try {
    const t0 = performance.now();
    const started = await startConsole(home);
    child = started.child;
    const page = context.pages()[0] ?? (await context.newPage());
    const tPage = performance.now();
    await page.goto(started.url);
    await page.locator('#upload-title').waitFor();
    await page.locator('nav [data-screen="jobs"]').click();
    await page.locator('#jobs-title').waitFor();
    const interactive = { serverMs: started.ms, pageMs: performance.now() - tPage, totalMs: performance.now() - t0 };
    await page.locator('nav [data-screen="upload"]').click();
    await page.locator('#upload-title').waitFor();

    // tsx compiles with keepNames, which wraps named functions in a `__name` helper the page does not have.
    await page.evaluate('globalThis.__name = (f) => f');
    // Drops: a DataTransfer of N small files dispatched on the drop zone; the clock runs in the page.
    const drop = (n: number, already: number) =>
      page.evaluate(
        async ({ n, already }) => {
          const g = globalThis as unknown as { document: any; DataTransfer: any; File: any; DragEvent: any; MutationObserver: any; requestAnimationFrame(cb: () => void): void; performance: { now(): number } };
          const dt = new g.DataTransfer();
          for (let i = 0; i < n; i++) dt.items.add(new g.File([`not a video ${i}`], `drop-${already + i}.mp4`));
          const zone = g.document.querySelector('[data-testid=dropzone]');
          const want = `${already + n} files`;
          const count = () => g.document.querySelector('[data-testid=file-count]')?.textContent ?? '';
          const start = g.performance.now();
          const done = new Promise<number>((resolve) => {
            const check = () => {
              if (count().startsWith(want) && g.document.querySelector('[role=row][data-name]')) {
                obs.disconnect();
                // One more frame: the rows are painted, not only in the DOM.
                g.requestAnimationFrame(() => resolve(g.performance.now() - start));
                return true;
              }
              return false;
            };
            const obs = new g.MutationObserver(check);
            obs.observe(g.document.body, { childList: true, subtree: true, characterData: true });
            check();
          });
          zone.dispatchEvent(new g.DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
          return done;
        },
        { n, already },
      );
    // A first small drop warms up the code paths (JIT, lazy chunks) so 50 vs 5,000 compares the rows, not the warm-up.
    await drop(10, 0);
    const small = await drop(50, 10);
    const large = await drop(5000, 60);
    const perFileRatio = large / 5000 / (small / 50);

    const result = {
      buildMs: Math.round(buildMs),
      bundle: sizes,
      interactive: Object.fromEntries(Object.entries(interactive).map(([k, v]) => [k, Math.round(v)])),
      drop: { files50Ms: Math.round(small), files5000Ms: Math.round(large), timeRatio: +(large / small).toFixed(1), perFileRatio: +perFileRatio.toFixed(2) },
    };
    process.stdout.write(
      [
        `renderer bundle: first screen ${fmt(sizes.initial.bytes)} B (${fmt(sizes.initial.gzip)} B gzip); all ${sizes.files} files ${fmt(sizes.total.bytes)} B (${fmt(sizes.total.gzip)} B gzip)`,
        `interactive: server ${result.interactive.serverMs} ms + page ${result.interactive.pageMs} ms = ${result.interactive.totalMs} ms from spawn to a working click`,
        `drop: 50 files shown in ${result.drop.files50Ms} ms, 5,000 in ${result.drop.files5000Ms} ms (x${result.drop.timeRatio} time for x100 files; per-file cost ratio ${result.drop.perFileRatio})`,
        '',
      ].join('\n'),
    );
    const resultsDir = path.join(repoRoot, 'bench/results');
    mkdirSync(resultsDir, { recursive: true });
    writeFileSync(path.join(resultsDir, 'console.json'), `${JSON.stringify({ at: new Date().toISOString(), ...result }, null, 2)}\n`);
  } finally {
    await context.close().catch(() => undefined);
    if (child) await stop(child);
    rmSync(home, { recursive: true, force: true });
    rmSync(userData, { recursive: true, force: true });
  }
}

await main();
