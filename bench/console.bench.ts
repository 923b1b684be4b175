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
 * - jobs (issue 8 §7): 25,000 jobs in the SQLite job store of a data home; the console's main-process handlers
 *   (createServices, the same handlers both transports use) answer the Jobs screen's first page + counts, and a
 *   refresh (jobs.changes) after 100 jobs changed. Wall time and main-process CPU time (process.cpuUsage around the
 *   calls). Targets: first page + counts under 1 s, a refresh with 100 changes under 50 ms of CPU.
 *   `npx tsx bench/console.bench.ts --jobs-only` runs just this part.
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

const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;

async function jobsBench(): Promise<Record<string, number>> {
  const [{ loadConfig }, { createJobsFromConfig }, { createLocalStore }, { homePaths }, { createLogger }, { createServices }, { invokeCall }, { getLadder }] = await Promise.all([
    import('../shared/node/config.ts'),
    import('../cloud/jobs-from-config.ts'),
    import('../shared/node/local-store.ts'),
    import('../shared/node/data-home.ts'),
    import('../shared/node/log.ts'),
    import('../desktop/main/services/index.ts'),
    import('../desktop/main/api-calls.ts'),
    import('../shared/common/ladders.ts'),
  ]);
  const home = mkdtempSync(path.join(os.tmpdir(), 'tiercast-bench-console-jobs-'));
  // No admission (cap 0 on every tier): the 25,000 jobs stay queued where the bench puts them.
  // (In memory: the config file's schema asks for at least 1.)
  const loaded = await loadConfig({ home, env: {} });
  const config = { ...loaded, jobs: { ...loaded.jobs, maxInFlight: { local: 0, lambda: 0, 'lambda-enhanced': 0, fargate: 0, 'fargate-spot': 0, ec2: 0 } } };
  const seed = createJobsFromConfig(config, { home, store: createLocalStore(homePaths(home).store) });
  const ladder = getLadder('default');
  const t0 = Date.now();
  const N = 25_000;
  const ids: string[] = [];
  for (let i = 0; i < N; i += 5000) {
    const batch = Array.from({ length: Math.min(5000, N - i) }, (_, k) => {
      const n = i + k;
      const id = `jbench${n.toString(36).padStart(5, '0')}`;
      ids.push(id);
      return {
        spec: { schemaVersion: 1 as const, id, createdAt: new Date(Date.now() - N + n).toISOString(), input: { key: `inputs/${id}/clip.mp4`, name: `clip ${n}.mp4`, sizeBytes: 1_000_000 + n }, ladder, priority: 1 + (n % 10) },
        route: { tier: 'local' as const, reason: 'bench' },
      };
    });
    await seed.jobs.submit(batch, { admit: false });
  }
  const seedMs = Date.now() - t0;
  const log = createLogger({ name: 'bench', format: 'json', level: 'silent' });
  const services = await createServices({ home, config, log, localWorker: false, jobsPollMs: 3_600_000 });
  const call = async (name: 'jobs.list' | 'jobs.changes', req: unknown) => {
    const r = await invokeCall(services.handlers, name, req as never, { transport: 'web' });
    if (!r.ok) throw new Error(`${name}: ${r.error.code} ${r.error.message}`);
    return r.value as { cursor?: string; rows?: unknown[]; jobs?: unknown[] };
  };
  try {
    // What the Jobs screen asks for when it opens: the first page (200 rows) with counts per stage, and a cursor.
    let c = process.cpuUsage();
    let w = performance.now();
    const [first, start] = await Promise.all([call('jobs.list', { limit: 200 }), call('jobs.changes', { cursor: null })]);
    const firstPageMs = performance.now() - w;
    const firstPageCpuMs = cpuMs(process.cpuUsage(c));
    if ((first.jobs ?? []).length !== 200) throw new Error('first page is not 200 rows');
    // 100 jobs change elsewhere (cancelled by an operator through the same service), then one refresh.
    for (const id of ids.slice(1000, 1100)) await seed.jobs.cancel(id, 'the bench');
    c = process.cpuUsage();
    w = performance.now();
    const changed = await call('jobs.changes', { cursor: start.cursor });
    const refreshMs = performance.now() - w;
    const refreshCpuMs = cpuMs(process.cpuUsage(c));
    if ((changed.rows ?? []).length !== 100) throw new Error(`refresh carried ${(changed.rows ?? []).length} rows, not 100`);
    // An idle refresh (nothing changed): what a timer tick costs.
    c = process.cpuUsage();
    await call('jobs.changes', { cursor: changed.cursor });
    const idleRefreshCpuMs = cpuMs(process.cpuUsage(c));
    return {
      jobs: N,
      seedMs,
      firstPageMs: Math.round(firstPageMs),
      firstPageCpuMs: Math.round(firstPageCpuMs),
      refresh100Ms: +refreshMs.toFixed(1),
      refresh100CpuMs: +refreshCpuMs.toFixed(1),
      idleRefreshCpuMs: +idleRefreshCpuMs.toFixed(2),
    };
  } finally {
    await services.close();
    await seed.close();
    rmSync(home, { recursive: true, force: true });
  }
}

function printJobs(j: Record<string, number>): void {
  process.stdout.write(
    `jobs: ${j.jobs} in the job store (seeded in ${j.seedMs} ms); first page + counts ${j.firstPageMs} ms (${j.firstPageCpuMs} ms CPU); ` +
      `refresh with 100 changes ${j.refresh100Ms} ms (${j.refresh100CpuMs} ms main-process CPU); idle refresh ${j.idleRefreshCpuMs} ms CPU\n`,
  );
}

async function main(): Promise<void> {
  if (process.argv.includes('--jobs-only')) {
    printJobs(await jobsBench());
    return;
  }
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

    const jobs = await jobsBench();
    printJobs(jobs);
    const result = {
      jobs,
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
