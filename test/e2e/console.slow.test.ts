import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdtempSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { makeClip } from '../helpers/clips.ts';
import { repoRoot } from '../helpers/media.ts';

/**
 * The console end to end: a real `tiercast console --web` child process (its own data home), Debian's Chromium
 * driven by playwright-core, real ffmpeg behind probe, preview, the local tier and packaging.
 * The steps share one page and run in order (vitest runs a file's tests sequentially).
 */

const shots = path.join(repoRoot, 'test/e2e/screenshots');
let home: string;
let userData: string;
let child: ChildProcess;
let url: URL;
let token: string;
let browser: BrowserContext;
let page: Page;
const pageErrors: string[] = [];
/** The page's console, quoted when a wait times out. */
const consoleLines: string[] = [];

function withoutTestEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => k !== 'NODE_ENV' && !k.startsWith('VITEST')));
}

async function startConsole(): Promise<string> {
  child = spawn(process.execPath, [path.join(repoRoot, 'bin/tiercast.js'), 'console', '--web', '--port', '0'], {
    cwd: repoRoot,
    // As an operator starts it: vitest's NODE_ENV=test would make vite build React's development bundle.
    env: { ...withoutTestEnv(process.env), TIERCAST_HOME: home, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`console did not print its URL in time; stderr:\n${stderr}`)), 150_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /(http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`console exited with ${code} before printing its URL; stderr:\n${stderr}`));
    });
  });
}

/** Polls a condition from Node (string predicates would need 'unsafe-eval', which the console's CSP refuses). */
async function until(what: string, fn: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await fn().catch(() => false)) return;
    if (Date.now() > end) {
      const alerts = await page.locator('[role=alert]').allTextContents().catch(() => []);
      await page.screenshot({ path: path.join(os.tmpdir(), `tiercast-e2e-timeout-${what.replace(/\W+/g, '_').slice(0, 40)}.png`) }).catch(() => undefined);
      throw new Error(
        `timed out waiting for ${what}${alerts.length ? `; the console shows: ${alerts.join(' | ')}` : ''}; page log: ${consoleLines.slice(-8).join(' || ')}; page errors: ${pageErrors.join(' || ')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Waits for a locator, failing early with the console's error banner if one appears instead. */
async function appear(selector: string, timeoutMs: number, nth = 0): Promise<void> {
  await until(selector, async () => (await page.locator(selector).count()) > nth, timeoutMs);
}

const nav = (screen: string) => page.locator(`nav [data-screen="${screen}"]`).click();
const shot = (name: string) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: false });

beforeAll(async () => {
  home = mkdtempSync(path.join(os.tmpdir(), 'tiercast-e2e-home-'));
  userData = mkdtempSync(path.join(os.tmpdir(), 'tiercast-e2e-chromium-'));
  mkdirSync(shots, { recursive: true });
  const printed = await startConsole();
  url = new URL(printed);
  token = url.searchParams.get('token')!;
  // A fresh profile per run (playwright takes it as launchPersistentContext's userDataDir, not as --user-data-dir).
  browser = await chromium.launchPersistentContext(userData, {
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
    viewport: { width: 1400, height: 900 },
  });
  page = browser.pages()[0] ?? (await browser.newPage());
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('response', (r) => {
    if (r.status() >= 400) consoleLines.push(`HTTP ${r.status()} ${new URL(r.url()).pathname}`);
  });
  page.on('console', (m) => {
    consoleLines.push(`${m.type()}: ${m.text()}`);
    if (m.type() === 'error' && /Content Security Policy|Refused to/.test(m.text())) pageErrors.push(m.text());
  });
});

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  rmSync(home, { recursive: true, force: true });
  rmSync(userData, { recursive: true, force: true });
});

describe('web transport guards', () => {
  const call = (headers: Record<string, string>) =>
    fetch(new URL('/api/app.info', url.origin), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{}' });

  it('refuses API calls without the token, with a wrong one, or from a foreign Origin, and serves the real one', async () => {
    const none = await call({ origin: url.origin });
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('FORBIDDEN');
    expect((await call({ origin: url.origin, authorization: 'Bearer nope' })).status).toBe(401);
    expect((await call({ origin: 'http://evil.example', authorization: `Bearer ${token}` })).status).toBe(403);
    const ok = await call({ origin: url.origin, authorization: `Bearer ${token}` });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { value: { transport: string } }).value.transport).toBe('web');
    // The page itself and the event stream need the token too.
    expect((await fetch(new URL('/', url.origin))).status).toBe(401);
    expect((await fetch(new URL('/api/events', url.origin))).status).toBe(401);
  });
});

describe('operator console in Chromium', () => {
  it('opens on the Upload screen with the token out of the address bar', async () => {
    await page.goto(url.toString());
    await page.locator('nav[aria-label="Screens"]').waitFor();
    await expect(page.locator('#upload-title').textContent()).resolves.toBe('Upload');
    expect(page.url()).not.toContain(token);
    // Keyboard: Alt+3 jumps to Jobs, Alt+1 back.
    await page.keyboard.press('Alt+3');
    await page.locator('#jobs-title').waitFor();
    await page.keyboard.press('Alt+1');
    await page.locator('#upload-title').waitFor();
  });

  it('probes and routes added files and flags a broken one without blocking the rest', async () => {
    const a = makeClip({ durationSec: 4, width: 640, height: 360, fps: 25 });
    const b = makeClip({ durationSec: 2, width: 320, height: 180, fps: 25 });
    const broken = path.join(home, 'broken.mp4');
    writeFileSync(broken, 'this is not a video, just text pretending to be one\n'.repeat(20));
    await page.locator('[data-testid=file-input]').setInputFiles([a, b, broken]);
    await page.locator('[role=row][data-state=ready]').nth(1).waitFor({ timeout: 60_000 });
    await page.locator('[role=row][data-state=problem]').first().waitFor({ timeout: 60_000 });
    const problem = page.locator('[role=row][data-state=problem]');
    await expect(problem.getAttribute('data-name')).resolves.toBe('broken.mp4');
    expect(await problem.textContent()).toMatch(/NOT_MEDIA|DECODE_FAILED|NO_VIDEO_STREAM/);
    const ready = page.locator('[role=row][data-state=ready]');
    expect(await ready.count()).toBe(2);
    for (const text of await ready.allTextContents()) {
      expect(text).toContain('local');
      expect(text).toMatch(/h264/);
    }
    expect(await page.locator(`[role=row][data-name="${path.basename(a)}"]`).textContent()).toContain('640×360');
    await shot('upload');
  });

  it('runs a ladder preview and shows every rung frame beside the source', async () => {
    await nav('preview');
    const fileSelect = page.locator('select[aria-label=File]');
    await fileSelect.waitFor();
    const options = await fileSelect.locator('option').allTextContents();
    const idx = options.findIndex((o) => o.includes('640x360'));
    expect(idx).toBeGreaterThanOrEqual(0);
    await fileSelect.selectOption({ index: idx });
    await page.locator('input[aria-label="Window length (seconds)"]').fill('1');
    await page.locator('button', { hasText: 'Run preview' }).click();
    await appear('[data-testid=rung-card]', 120_000);
    const cards = page.locator('[data-testid=rung-card]');
    expect(await cards.count()).toBeGreaterThanOrEqual(2);
    const widths = () =>
      page.locator('[data-testid=rung-card] img').evaluateAll((imgs) => imgs.map((i) => (i as unknown as { complete: boolean; naturalWidth: number }).naturalWidth));
    await until('every rung and source frame to load', async () => (await widths()).every((w) => w > 0), 30_000);
    expect((await widths()).length).toBe(2 * (await cards.count()));
    expect(await cards.first().textContent()).toMatch(/SSIM/);
    await shot('preview');
  });

  it('uploads the selected files to the store with per-file and total progress', async () => {
    await nav('upload');
    await page.locator('button', { hasText: 'Select all ready' }).click();
    await page.locator('[role=toolbar][aria-label="File actions"] button.primary').click();
    await until('both uploads to finish', async () => (await page.locator('[role=row][data-state=ready]', { hasText: 'done' }).count()) === 2, 60_000);
    expect(await page.locator('[role=progressbar][aria-label="Total upload progress"]').getAttribute('aria-valuenow')).toBe('100');
    // The flagged file was never uploaded.
    expect(await page.locator('[role=row][data-state=problem]').textContent()).toContain('not uploaded');
  });

  it('dispatches the ready files to the local tier and watches a job reach done', async () => {
    await nav('upload');
    await page.locator('button', { hasText: 'Select all ready' }).click();
    await nav('jobs');
    await expect(page.locator('[data-testid=dispatch-count]').textContent()).resolves.toBe('2 selected files');
    await page.locator('select[aria-label=Tier]').selectOption('local');
    await page.locator('form[aria-label=Dispatch] button[type=submit]').click();
    await appear('[role=row][data-job-id]', 30_000, 1);
    await appear('[role=row][data-stage=done]', 150_000);
    await page.locator('[role=row][data-stage=done]').first().click();
    await until('the detail panel to show a done job', async () => ((await page.locator('[data-testid=detail-stage]').textContent()) ?? '').startsWith('done'), 20_000);
    await shot('jobs');
  });

  it('plays a finished job: at least two variants listed and playback past one second', async () => {
    await nav('player');
    // The 640x360 clip is the one with two rungs (the 320x180 one gets a single rung: no upscaling).
    const jobSelect = page.locator('select[aria-label="Finished job"]');
    await until('the 640x360 job among the finished ones', async () => {
      const options = await jobSelect.locator('option').allTextContents();
      const idx = options.findIndex((o) => o.includes('640x360'));
      if (idx < 0) {
        await page.locator('button', { hasText: 'Refresh list' }).click();
        return false;
      }
      await jobSelect.selectOption({ index: idx });
      return true;
    }, 120_000);
    // The variants of the picked job (the list empties while a new manifest loads).
    const currentTime = () => page.locator('[data-testid=video]').evaluate((v) => (v as unknown as { currentTime: number }).currentTime);
    const variantCount = () => page.locator('[data-testid=variants] [data-variant]').count();
    await until(
      'the 640x360 job to list two variants and play past one second',
      async () =>
        ((await page.locator('[data-testid=video]').getAttribute('data-loaded')) ?? '').includes(await jobSelect.inputValue()) &&
        ((await page.locator('[data-testid=variants]').textContent()) ?? '').includes('640×360') &&
        (await variantCount()) >= 2 &&
        (await currentTime()) > 1,
      60_000,
    );
    expect(await variantCount()).toBeGreaterThanOrEqual(2);
    // Manual quality: picking a variant turns ABR off, marks that one playing, and the stats and the decoded
    // picture follow it (the picture changes once the picked rung's first frame is on screen).
    const variantButtons = page.locator('[data-testid=variants] [data-variant]');
    const automatic = page.locator('button', { hasText: 'Automatic (ABR)' });
    const text = async (sel: string) => ((await page.locator(sel).textContent()) ?? '').trim();
    for (const pick of [variantButtons.last(), variantButtons.first()]) {
      const label = ((await pick.textContent()) ?? '').split('·')[0]!.trim();
      expect(label).toMatch(/^\d+×\d+$/);
      await pick.click();
      expect(await automatic.getAttribute('aria-pressed')).toBe('false');
      await until(
        `the picked ${label} variant to be the one playing, in the list, the stats and the picture`,
        async () =>
          (await page.locator('[data-testid=variants] [data-active=true]').count()) === 1 &&
          ((await page.locator('[data-testid=variants] [data-active=true]').textContent()) ?? '').startsWith(label) &&
          (await text('[data-testid=stat-resolution]')) === label &&
          (await text('[data-testid=stat-picture]')) === label,
        20_000,
      );
      expect(await pick.getAttribute('aria-pressed')).toBe('true');
    }
    // Back to automatic: ABR on again, no variant pressed, and the one marked playing still matches the stats.
    await automatic.click();
    expect(await automatic.getAttribute('aria-pressed')).toBe('true');
    expect(await page.locator('[data-testid=variants] [data-variant][aria-pressed=true]').count()).toBe(0);
    await until(
      'the playing variant to match the reported resolution under ABR',
      async () => ((await page.locator('[data-testid=variants] [data-active=true]').textContent()) ?? '').startsWith(await text('[data-testid=stat-resolution]')),
      10_000,
    );
    // Seek-bar thumbnails come from the job's WebVTT sprite track.
    const bar = page.locator('[data-testid=seekbar]');
    const box = (await bar.boundingBox())!;
    await until('a seek-bar thumbnail under the pointer', async () => {
      await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2);
      await page.mouse.move(box.x + box.width * 0.61, box.y + box.height / 2);
      return (await page.locator('[data-testid=seek-thumb] [role=img]').count()) > 0;
    }, 20_000);
    const bg = await page.locator('[data-testid=seek-thumb] [role=img]').evaluate((d) => (d as unknown as { style: { backgroundImage: string } }).style.backgroundImage);
    const sprite = /url\("?([^")]+)"?\)/.exec(bg)?.[1];
    expect(sprite).toBeTruthy();
    // The sprite sheet itself loads (authenticated media route), so the preview is a real picture.
    const spriteWidth = await page.evaluate(async (u) => {
      const g = globalThis as unknown as { Image: new () => { src: string; decode(): Promise<void>; naturalWidth: number } };
      const img = new g.Image();
      img.src = u;
      await img.decode();
      return img.naturalWidth;
    }, sprite!);
    expect(spriteWidth).toBeGreaterThan(0);
    await shot('player');
    await page.mouse.move(0, 0);

    // The same job in DASH.
    await page.locator('[role=radiogroup][aria-label=Format] button', { hasText: 'DASH' }).click();
    // Until the DASH manifest is the one loaded, the HLS playback's time and variants would pass for it.
    await until(
      'DASH playback to start',
      async () =>
        ((await page.locator('[data-testid=video]').getAttribute('data-loaded')) ?? '').endsWith('.mpd') &&
        (await page.locator('[data-testid=variants] [data-variant]').count()) >= 2 &&
        (await currentTime()) > 0.5,
      60_000,
    );
  });

  it('plays a job with two audio languages and two subtitle tracks, and switches between them', async () => {
    // English (default, 440 Hz) and French (660 Hz) tracks, as a film with a dub would carry them, and English
    // (SubRip) and French (ASS) subtitles with a cue every second.
    const input = path.join(home, 'languages.mkv');
    const cue = (i: number) => `${String(Math.floor(i / 60)).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}`;
    const srt = (text: string) => Array.from({ length: 19 }, (_, i) => `${i + 1}\n00:${cue(i)},100 --> 00:${cue(i + 1)},000\n${text} ${i}\n`).join('\n');
    writeFileSync(path.join(home, 'en.srt'), srt('Hello'));
    writeFileSync(path.join(home, 'fr.srt'), srt('Bonjour'));
    execFileSync('ffmpeg', [
      '-v', 'error', '-y',
      '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25:duration=20',
      '-f', 'lavfi', '-i', 'sine=f=440:d=20', '-f', 'lavfi', '-i', 'sine=f=660:d=20',
      '-i', path.join(home, 'en.srt'), '-i', path.join(home, 'fr.srt'),
      '-map', '0', '-map', '1', '-map', '2', '-map', '3', '-map', '4', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac',
      '-c:s:0', 'srt', '-c:s:1', 'ass',
      '-metadata:s:a:0', 'language=eng', '-metadata:s:a:1', 'language=fra', '-disposition:a:0', 'default', '-disposition:a:1', '0',
      '-metadata:s:s:0', 'language=eng', '-metadata:s:s:1', 'language=fra', '-disposition:s:0', '0', '-disposition:s:1', '0',
      input,
    ]);
    await nav('upload');
    await page.locator('[data-testid=file-input]').setInputFiles([input]);
    const row = page.locator('[role=row][data-name="languages.mkv"]');
    await until('languages.mkv to be probed ready', async () => (await row.getAttribute('data-state')) === 'ready', 60_000);
    if (await page.locator('button', { hasText: 'Clear selection' }).isEnabled()) await page.locator('button', { hasText: 'Clear selection' }).click();
    await row.locator('input[type=checkbox]').check();
    await nav('jobs');
    await expect(page.locator('[data-testid=dispatch-count]').textContent()).resolves.toBe('1 selected file');
    await page.locator('select[aria-label=Tier]').selectOption('local');
    await page.locator('form[aria-label=Dispatch] button[type=submit]').click();
    await appear('[role=row][data-stage=done]:has-text("languages.mkv")', 120_000);
    // The job's report lists both audio tracks beside the video rungs.
    await page.locator('[role=row][data-stage=done]:has-text("languages.mkv")').click();
    const audioRows = page.locator('table[aria-label=Renditions] tr[data-audio]');
    await until('the detail to list the eng and fra audio tracks', async () => (await audioRows.count()) === 2, 20_000);
    expect(await audioRows.evaluateAll((rows) => rows.map((r) => (r as unknown as { dataset: { audio: string } }).dataset.audio))).toEqual(['eng', 'fra']);
    expect(await audioRows.first().textContent()).toMatch(/^audio eng \(main\)AAC stereo/);
    // Beside them, each track's EBU R128 measurement and the two subtitle tracks.
    expect(await page.locator('[data-loudness]').count()).toBe(2);
    expect(await page.locator('[data-loudness=eng]').textContent()).toMatch(/^loudness eng: -\d+\.\d LUFS, peak -\d+\.\d dBTP, LRA \d+\.\d LU$/);
    expect(await page.locator('[data-testid=subtitle-tracks]').textContent()).toBe('subtitles: eng, fra');

    await nav('player');
    const jobSelect = page.locator('select[aria-label="Finished job"]');
    await until('the languages job among the finished ones', async () => {
      const options = await jobSelect.locator('option').allTextContents();
      const idx = options.findIndex((o) => o.includes('languages.mkv'));
      if (idx < 0) {
        await page.locator('button', { hasText: 'Refresh list' }).click();
        return false;
      }
      await jobSelect.selectOption({ index: idx });
      return true;
    }, 60_000);
    await page.locator('[role=radiogroup][aria-label=Format] button', { hasText: 'HLS' }).click();
    const audio = page.locator('[data-testid=audio-language]');
    // Shaka normalises ISO 639-2 (eng, fra) to the BCP 47 codes (en, fr) it exposes.
    const options = () => audio.locator('option').evaluateAll((os) => os.map((o) => (o as unknown as { value: string }).value).join(','));
    await until('the audio picker to offer English and French with English playing', async () => {
      const loaded = ((await page.locator('[data-testid=video]').getAttribute('data-loaded')) ?? '').includes(await jobSelect.inputValue());
      return loaded && (await audio.count()) === 1 && (await options()) === 'en,fr' && (await audio.inputValue()) === 'en';
    }, 60_000);
    expect(await audio.locator('option').allTextContents()).toEqual(['English (en)', 'French (fr)']);
    await audio.selectOption('fr');
    await until('French to be the audio playing', async () => (await audio.inputValue()) === 'fr', 20_000);
    // Picking a picture keeps the language: the list shows each picture once.
    const variants = page.locator('[data-testid=variants] [data-variant]');
    if ((await variants.count()) > 0) {
      await variants.first().click();
      await new Promise((r) => setTimeout(r, 500));
      expect(await audio.inputValue()).toBe('fr');
    }
    const t0 = await page.locator('[data-testid=video]').evaluate((v) => (v as unknown as { currentTime: number }).currentTime);
    await until('playback to go on after the switch', async () => (await page.locator('[data-testid=video]').evaluate((v) => (v as unknown as { currentTime: number }).currentTime)) > t0 + 0.3, 20_000);

    // Subtitles: the picker lists both languages (off by default); picking one shows its cues on the video.
    const text = page.locator('[data-testid=text-track]');
    const textLanguages = () => text.locator('option').evaluateAll((os) => os.map((o) => (o as unknown as { dataset: { language?: string } }).dataset.language ?? 'off').join(','));
    await until('the subtitle picker to offer English and French', async () => (await text.count()) === 1 && (await textLanguages()) === 'off,en,fr', 30_000);
    expect(await text.inputValue()).toBe('off');
    const shownCues = () =>
      page.locator('[data-testid=video]').evaluate((v) => {
        const tracks = (v as unknown as { textTracks: ArrayLike<{ mode: string; activeCues: ArrayLike<{ text: string }> | null; cues: ArrayLike<{ text: string }> | null }> }).textTracks;
        const out: string[] = [];
        for (let i = 0; i < tracks.length; i++) {
          const t = tracks[i]!;
          if (t.mode !== 'showing') continue;
          for (let k = 0; k < (t.cues?.length ?? 0); k++) out.push(t.cues![k]!.text);
        }
        return out;
      });
    for (const [lang, word] of [['fr', 'Bonjour'], ['en', 'Hello']] as const) {
      const value = await text.locator(`option[data-language=${lang}]`).getAttribute('value');
      await text.selectOption(value!);
      await until(`${lang} subtitles to be shown on the video`, async () => (await text.inputValue()) === value && (await shownCues()).some((c) => c.startsWith(`${word} `)), 30_000);
      expect((await shownCues()).every((c) => c.startsWith(`${word} `))).toBe(true);
    }
    await text.selectOption('off');
    await until('subtitles to be hidden', async () => (await text.inputValue()) === 'off' && (await shownCues()).length === 0, 10_000);
  });

  it('shows dashboard points from local metrics', async () => {
    await nav('dashboards');
    await until('the metrics source label', async () => ((await page.locator('[data-testid=metrics-source]').textContent()) ?? '').includes('local metrics'), 30_000);
    const points = async (panel: string) => Number((await page.locator(`[data-testid=panel-${panel}]`).getAttribute('data-points')) ?? 0);
    await until('latency and throughput points', async () => (await points('latency')) > 0 && (await points('throughput')) > 0, 60_000);
    expect(await page.locator('canvas').count()).toBeGreaterThan(0);
    await shot('dashboards');
  });

  it('shows settings, flags an invalid field inline and tests the connection', async () => {
    await nav('settings');
    await page.locator('form[aria-label=Settings]').waitFor({ timeout: 20_000 });
    const spot = page.locator('[data-field="thresholds.spotShare"] input');
    await spot.fill('3');
    await page.locator('[data-field="thresholds.spotShare"] .field-error').waitFor();
    await spot.fill('0.5');
    await page.locator('button', { hasText: 'Test connection' }).click();
    await page.locator('[data-testid=connection-result]').waitFor({ timeout: 30_000 });
    await shot('settings');
  });

  it('adds a folder recursively from the folder picker and flags an empty file', async () => {
    const dir = path.join(home, 'drop', 'shoot');
    mkdirSync(path.join(dir, 'day1'), { recursive: true });
    copyFileSync(makeClip({ durationSec: 2, width: 320, height: 180, fps: 25 }), path.join(dir, 'day1', 'take-1.mp4'));
    writeFileSync(path.join(dir, 'empty.mp4'), '');
    await nav('upload');
    await page.locator('[data-testid=folder-input]').setInputFiles(dir);
    await appear('[role=row][data-name="take-1.mp4"][data-state=ready]', 60_000);
    await appear('[role=row][data-name="empty.mp4"][data-state=problem]', 60_000);
    expect(await page.locator('[role=row][data-name="take-1.mp4"]').textContent()).toContain('shoot/day1');
    expect(await page.locator('[role=row][data-name="empty.mp4"]').textContent()).toContain('INPUT_EMPTY');
    expect(pageErrors).toEqual([]);
  });

  it('pauses, cancels and resumes uploads of large files, continuing a partial copy rather than starting over', async () => {
    // Uploads need files that probe as media, not valid long encodes: a real 2 s clip remuxed to MPEG-TS, then
    // padded to 48 MB with TS null packets (PID 0x1FFF, which demuxers skip), written with fs in a blink.
    const dir = path.join(home, 'big');
    mkdirSync(dir, { recursive: true });
    const seed = path.join(dir, 'seed.ts');
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-i', makeClip({ durationSec: 2, width: 320, height: 180, fps: 25 }), '-c', 'copy', '-f', 'mpegts', seed]);
    const nullPacket = Buffer.alloc(188, 0xff);
    nullPacket.set([0x47, 0x1f, 0xff, 0x10]);
    const padding = Buffer.concat(Array.from({ length: 5000 }, () => nullPacket));
    while (statSync(seed).size + padding.length <= 48 * 1024 * 1024) appendFileSync(seed, padding);
    // Five files, three upload slots: the last two cannot have started when Pause lands (a slot frees only once a
    // 48 MB copy has finished), so at least two pause before any byte moved; the first three may pause mid-way.
    const names = [1, 2, 3, 4, 5].map((i) => `big-${i}.ts`);
    for (const n of names) copyFileSync(seed, path.join(dir, n));
    await nav('upload');
    await page.locator('[data-testid=file-input]').setInputFiles(names.map((n) => path.join(dir, n)));
    await until('the five large files to be probed ready', async () => {
      for (const n of names) if ((await page.locator(`[role=row][data-name="${n}"][data-state=ready]`).count()) !== 1) return false;
      return true;
    }, 120_000);
    const toolbar = page.locator('[role=toolbar][aria-label="File actions"]');
    const button = (label: string) => toolbar.locator('button', { hasText: new RegExp(`^${label}`) });
    const selectOnly = async (which: readonly string[]) => {
      if (await button('Clear selection').isEnabled()) await button('Clear selection').click();
      for (const n of which) await page.locator(`[role=row][data-name="${n}"] input[type=checkbox]`).check();
    };
    const uploadState = async (n: string) => page.locator(`[role=row][data-name="${n}"] [data-upload-state]`).getAttribute('data-upload-state').catch(() => null);
    const uploads = async () => {
      const res = await fetch(new URL('/api/uploads.list', url.origin), {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: url.origin, authorization: `Bearer ${token}` },
        body: '{}',
      });
      const list = ((await res.json()) as { value: { uploads: { name: string; state: string; loadedBytes: number; totalBytes: number; resumed: boolean }[] } }).value.uploads;
      return new Map(list.filter((u) => names.includes(u.name)).map((u) => [u.name, u]));
    };

    await selectOnly(names);
    await button('Upload').click();
    // Playwright's click waits for the button to be enabled, which it is as soon as the uploads are queued.
    await button('Pause').click();
    await until('every upload to be paused (or finished before the pause landed)', async () => {
      for (const n of names) if (!['paused', 'done'].includes((await uploadState(n)) ?? '')) return false;
      return true;
    }, 30_000);
    const atPause = await uploads();
    const paused = names.filter((n) => atPause.get(n)?.state === 'paused');
    expect(paused.length).toBeGreaterThanOrEqual(2);
    for (const n of paused) expect(atPause.get(n)!.loadedBytes).toBeLessThan(atPause.get(n)!.totalBytes);
    // Paused stays paused: nothing moves while it is (the pause stopped the copies, not only the display).
    const midway = paused.filter((n) => atPause.get(n)!.loadedBytes > 0);
    const again = await uploads();
    for (const n of paused) expect(again.get(n)).toMatchObject({ state: 'paused', loadedBytes: atPause.get(n)!.loadedBytes });

    // Cancel one paused upload: it ends cancelled with nothing counted, and Resume leaves it alone.
    const cancelled = paused[paused.length - 1]!;
    await selectOnly([cancelled]);
    await button('Cancel').click();
    await until(`${cancelled} to be cancelled`, async () => (await uploadState(cancelled)) === 'cancelled', 10_000);
    await selectOnly(paused.filter((n) => n !== cancelled));
    await button('Resume').click();
    await until('the resumed uploads to finish', async () => {
      for (const n of paused) if (n !== cancelled && (await uploadState(n)) !== 'done') return false;
      return true;
    }, 60_000);
    const after = await uploads();
    expect(after.get(cancelled)).toMatchObject({ state: 'cancelled', loadedBytes: 0 });
    for (const n of paused.filter((x) => x !== cancelled)) {
      expect(after.get(n)).toMatchObject({ state: 'done', loadedBytes: after.get(n)!.totalBytes });
      // One paused part-way continued its partial copy. (One that showed 0 bytes at the pause may still have written
      // some before its first progress report, so it may resume too: only the part-way ones are certain.)
      if (midway.includes(n)) expect(after.get(n)!.resumed).toBe(true);
    }
    expect(await page.locator(`[role=row][data-name="${cancelled}"] [data-upload-state]`).getAttribute('title')).toBe('cancelled');
    expect(pageErrors).toEqual([]);
  });
});
