import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/media.ts';

/**
 * `tiercast console` as an operator runs it, without Electron's binary (as on this machine): it explains, falls back to
 * the web transport on 127.0.0.1, prints the tokened URL on stdout, enforces the token, and stops cleanly on SIGINT.
 */
// With Electron's binary installed the verb opens the desktop app instead; this test is about the fallback.
const electronInstalled = fs.existsSync(path.join(repoRoot, 'node_modules', 'electron', 'path.txt'));

describe.skipIf(electronInstalled)('tiercast console (no Electron binary: web fallback)', () => {
  let home: string;
  let child: ChildProcess;
  let url: URL;
  let stderr = '';
  const exited = () => new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  beforeAll(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-console-cli-'));
    child = spawn(process.execPath, [path.join(repoRoot, 'bin/tiercast.js'), 'console', '--no-build', '--port', '0'], {
      env: { ...process.env, TIERCAST_HOME: home, TIERCAST_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    url = await new Promise<URL>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`no URL printed; stderr: ${stderr}`)), 60_000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /^(http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{40,})$/m.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(new URL(m[1]!));
        }
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
    });
  });

  afterAll(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('says why it is not opening Electron and serves on loopback with a token', async () => {
    expect(stderr).toMatch(/Electron binary is not available/);
    expect(url.hostname).toBe('127.0.0.1');
    const token = url.searchParams.get('token')!;
    const api = (headers: Record<string, string>) =>
      fetch(`${url.origin}/api/app.info`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{}' });
    expect((await api({ origin: url.origin })).status).toBe(401);
    expect((await api({ origin: 'http://evil.example', authorization: `Bearer ${token}` })).status).toBe(403);
    const ok = await api({ origin: url.origin, authorization: `Bearer ${token}` });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ ok: true, value: { transport: 'web', dataHome: home } });
    const first = await fetch(url, { redirect: 'manual' });
    expect(first.status).toBe(303);
    expect(first.headers.get('set-cookie')).toMatch(/HttpOnly/);
  });

  it('stops cleanly on SIGINT', async () => {
    const exit = exited();
    child.kill('SIGINT');
    expect(await exit).toBe(0);
    expect(stderr).toMatch(/stopping/);
  });
});
