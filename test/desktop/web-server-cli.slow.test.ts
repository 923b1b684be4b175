import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeClip } from '../helpers/clips.ts';
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

  it('takes a dropped file over HTTP through staging, a local job and playback media', async () => {
    const token = url.searchParams.get('token')!;
    const headers = { 'content-type': 'application/json', origin: url.origin, authorization: `Bearer ${token}` };
    const call = async (name: string, body: unknown) => {
      const res = await fetch(`${url.origin}/api/${name}`, { method: 'POST', headers, body: JSON.stringify(body) });
      const json = (await res.json()) as { ok: boolean; value?: any; error?: { code: string; message: string } };
      if (!json.ok) throw new Error(`${name}: ${json.error?.code}: ${json.error?.message}`);
      return json.value;
    };
    const bytes = fs.readFileSync(makeClip({ durationSec: 2, width: 320, height: 180 }));
    const staged = await fetch(`${url.origin}/api/stage?name=${encodeURIComponent('my clip.mp4')}&relativeDir=trip`, {
      method: 'PUT',
      headers: { origin: url.origin, authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    expect(staged.status).toBe(200);
    const stagedPath = ((await staged.json()) as { value: { path: string } }).value.path;
    expect(stagedPath.startsWith(home)).toBe(true);
    expect(fs.readFileSync(stagedPath).equals(bytes)).toBe(true);

    const { items } = await call('files.add', { paths: [stagedPath] });
    const fileId = items[0].id as string;
    let ready = null;
    for (let i = 0; i < 300 && !ready; i++) {
      ready = (await call('files.list', {})).items.find((f: any) => f.id === fileId && f.state === 'ready');
      if (!ready) await new Promise((r) => setTimeout(r, 100));
    }
    expect(ready).toMatchObject({ name: 'my clip.mp4', media: { width: 320, height: 180 } });

    await call('ladders.save', {
      ladder: { name: 'web-tiny', segmentSeconds: 1, preset: 'ultrafast', rungs: [
        { name: '144p', shortEdge: 144, videoBitrate: 200_000, maxrate: 250_000, bufsize: 400_000 },
        { name: '96p', shortEdge: 96, videoBitrate: 100_000, maxrate: 120_000, bufsize: 200_000 },
      ] },
    });
    const { results } = await call('jobs.dispatch', { fileIds: [fileId], tier: 'local', ladder: 'web-tiny' });
    const jobId = results[0].jobId as string;
    let job = null;
    for (let i = 0; i < 1200 && job?.stage !== 'done' && job?.stage !== 'failed'; i++) {
      job = (await call('jobs.get', { id: jobId })).job;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(job).toMatchObject({ stage: 'done', error: null });

    const sources = await call('player.sources', { jobId });
    expect(sources.variants).toHaveLength(2);
    const cookie = `tiercast_token_${url.port}=${token}`;
    const master = await fetch(`${url.origin}${sources.hlsUrl}`, { headers: { cookie } });
    expect(master.status).toBe(200);
    expect(master.headers.get('content-type')).toBe('application/vnd.apple.mpegurl');
    const text = await master.text();
    const variant = text.split('\n').find((l) => l && !l.startsWith('#'))!;
    const variantUrl = new URL(variant, `${url.origin}${sources.hlsUrl}`);
    const playlist = await (await fetch(variantUrl, { headers: { cookie } })).text();
    const init = /#EXT-X-MAP:URI="([^"]+)"/.exec(playlist)?.[1] ?? playlist.split('\n').find((l) => l && !l.startsWith('#'))!;
    const seg = await fetch(new URL(init, variantUrl), { headers: { cookie, range: 'bytes=0-7' } });
    expect(seg.status).toBe(206);
    expect((await seg.arrayBuffer()).byteLength).toBe(8);
    expect((await fetch(new URL(init, variantUrl))).status).toBe(401);
  });

  it('stops cleanly on SIGINT', async () => {
    const exit = exited();
    child.kill('SIGINT');
    expect(await exit).toBe(0);
    expect(stderr).toMatch(/stopping/);
  });
});
