import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contract, createHttpTransport, createRendererApi, type EventPayload } from '../../shared/common/api-contract.ts';
import { createLocalStore } from '../../shared/node/local-store.ts';
import { createEventBus, type Handlers } from '../../desktop/main/api-calls.ts';
import { createMediaResolver, parseMediaPath, parseRange } from '../../desktop/main/media.ts';
import type { ConsoleServices } from '../../desktop/main/services/types.ts';
import { startWebConsole, type WebConsole } from '../../desktop/main/web-server.ts';

/** Raw HTTP so Host and Origin can be set freely (fetch forbids both). */
function request(
  port: number,
  options: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer },
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: options.method ?? 'GET', path: options.path, headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

const json = (b: Buffer) => JSON.parse(b.toString('utf8')) as { ok: boolean; value?: any; error?: { code: string; message: string } };

describe('web transport', () => {
  let tmp: string;
  let web: WebConsole;
  let services: ConsoleServices;
  const events = createEventBus();
  const staged: Array<{ name: string; relativeDir: string; bytes: number }> = [];
  let host: string;
  let origin: string;
  let segment: Buffer;

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-web-'));
    const rendererDir = path.join(tmp, 'renderer');
    fs.mkdirSync(path.join(rendererDir, 'assets'), { recursive: true });
    fs.writeFileSync(path.join(rendererDir, 'index.html'), '<!doctype html><html><head><title>t</title></head><body></body></html>');
    fs.writeFileSync(path.join(rendererDir, 'assets', 'app.js'), 'console.log(1)');
    fs.writeFileSync(path.join(tmp, 'secret.txt'), 'do not serve');
    const store = createLocalStore(path.join(tmp, 'store'));
    segment = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
    await store.put('outputs/j1/v1-abc/seg_1.m4s', segment);
    await store.put('outputs/j1/v1-abc/master.m3u8', '#EXTM3U\n');
    await store.put('jobs/j1/status.json', '{"secret":true}');
    const previewDir = path.join(tmp, 'preview');
    fs.mkdirSync(path.join(previewDir, 'run1'), { recursive: true });
    fs.writeFileSync(path.join(previewDir, 'run1', 'frame.jpg'), 'jpeg');
    fs.symlinkSync(path.join(tmp, 'secret.txt'), path.join(previewDir, 'run1', 'link.jpg'));
    // Links planted in the store's outputs (issue 9): a file link and a folder link, both leading out of the root.
    fs.symlinkSync(path.join(tmp, 'secret.txt'), path.join(tmp, 'store', 'outputs', 'j1', 'v1-abc', 'passwd.m3u8'));
    fs.mkdirSync(path.join(tmp, 'outside'));
    fs.writeFileSync(path.join(tmp, 'outside', 'seg.m4s'), 'do not serve');
    fs.symlinkSync(path.join(tmp, 'outside'), path.join(tmp, 'store', 'outputs', 'j2'));

    const handlers = {
      'app.info': async () => ({
        version: '9.9.9',
        transport: 'web',
        platform: 'linux',
        ffmpeg: { found: false, error: { code: 'FFMPEG_MISSING', message: 'none' } },
        store: { kind: 'local', location: '/x' },
        metricsSource: 'local',
        tiersEnabled: ['local'],
        dataHome: '/h',
      }),
      'files.remove': async (req: { ids: string[] }) => ({ removed: req.ids.length }),
      // Answers outside its contract: must become INTERNAL, never reach the client.
      'files.list': async () => ({ items: [{ bogus: true }] }),
    } as unknown as Handlers;
    services = {
      handlers,
      events,
      media: createMediaResolver({ store: () => store, previewDir }),
      async stageUpload(input) {
        let bytes = 0;
        for await (const c of input.body as Readable) bytes += (c as Buffer).length;
        staged.push({ name: input.name, relativeDir: input.relativeDir, bytes });
        return { path: `/staging/${input.name}` };
      },
      close: async () => {},
    };
    web = await startWebConsole({ services, rendererDir });
    host = `127.0.0.1:${web.port}`;
    origin = web.origin;
  });

  afterAll(async () => {
    await web.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const api = (name: string, body: unknown, headers: Record<string, string> = {}) =>
    request(web.port, {
      method: 'POST',
      path: `/api/${name}`,
      headers: { host, origin, 'content-type': 'application/json', authorization: `Bearer ${web.token}`, ...headers },
      body: JSON.stringify(body),
    });

  it('answers a valid call with a contract-valid envelope', async () => {
    const res = await api('app.info', {});
    expect(res.status).toBe(200);
    const body = json(res.body);
    expect(body.ok).toBe(true);
    expect(contract['app.info'].response.parse(body.value).version).toBe('9.9.9');
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.headers['content-security-policy']).not.toContain('unsafe-eval');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('refuses calls without the token or with a wrong one (401)', async () => {
    const none = await request(web.port, { method: 'POST', path: '/api/app.info', headers: { host, origin, 'content-type': 'application/json' }, body: '{}' });
    expect(none.status).toBe(401);
    expect(json(none.body).ok).toBe(false);
    const wrong = await api('app.info', {}, { authorization: `Bearer ${web.token.slice(0, -2)}xx` });
    expect(wrong.status).toBe(401);
    // The cookie/query token is for page, media and events; API calls need the header.
    const cookieOnly = await request(web.port, {
      method: 'POST',
      path: `/api/app.info?token=${web.token}`,
      headers: { host, origin, 'content-type': 'application/json', cookie: `tiercast_token_${web.port}=${web.token}` },
      body: '{}',
    });
    expect(cookieOnly.status).toBe(401);
  });

  it('refuses a foreign or missing Origin (403)', async () => {
    expect((await api('app.info', {}, { origin: 'http://evil.example' })).status).toBe(403);
    expect((await api('app.info', {}, { origin: `http://127.0.0.1:${web.port + 1}` })).status).toBe(403);
    const noOrigin = await request(web.port, {
      method: 'POST',
      path: '/api/app.info',
      headers: { host, 'content-type': 'application/json', authorization: `Bearer ${web.token}` },
      body: '{}',
    });
    expect(noOrigin.status).toBe(403);
  });

  it('refuses a foreign Host (DNS rebinding) before anything else', async () => {
    const res = await api('app.info', {}, { host: `evil.example:${web.port}` });
    expect(res.status).toBe(421);
    const localhost = await api('app.info', {}, { host: `localhost:${web.port}`, origin: `http://localhost:${web.port}` });
    expect(localhost.status).toBe(200);
  });

  it('validates requests and responses with the contract', async () => {
    const bad = await api('files.remove', { ids: ['../x'] });
    expect(bad.status).toBe(400);
    expect(json(bad.body).error?.code).toBe('INVALID_REQUEST');
    const extra = await api('files.remove', { ids: ['a1'], sneaky: 1 });
    expect(extra.status).toBe(400);
    const good = await api('files.remove', { ids: ['a1', 'b2'] });
    expect(json(good.body).value).toEqual({ removed: 2 });
    const outOfContract = await api('files.list', {});
    expect(outOfContract.status).toBe(500);
    expect(json(outOfContract.body).error?.code).toBe('INTERNAL');
    const unknown = await api('nope.call', {});
    expect(unknown.status).toBe(404);
    const notJson = await request(web.port, {
      method: 'POST',
      path: '/api/app.info',
      headers: { host, origin, 'content-type': 'text/plain', authorization: `Bearer ${web.token}` },
      body: '{}',
    });
    expect(notJson.status).toBe(415);
  });

  it('trades the URL token for an HttpOnly cookie and injects the token into the page', async () => {
    const first = await request(web.port, { path: `/?token=${web.token}`, headers: { host } });
    expect(first.status).toBe(303);
    expect(first.headers.location).toBe('/');
    const cookie = first.headers['set-cookie']![0]!;
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    const page = await request(web.port, { path: '/', headers: { host, cookie: cookie.split(';')[0]! } });
    expect(page.status).toBe(200);
    expect(page.body.toString()).toContain(`<meta name="tiercast-token" content="${web.token}">`);
    const asset = await request(web.port, { path: '/assets/app.js', headers: { host, cookie: cookie.split(';')[0]! } });
    expect(asset.status).toBe(200);
    expect(asset.headers['content-type']).toContain('javascript');
    expect((await request(web.port, { path: '/', headers: { host } })).status).toBe(401);
    expect((await request(web.port, { path: '/assets/app.js', headers: { host, cookie: `tiercast_token_${web.port}=wrong` } })).status).toBe(401);
  });

  it('streams events over SSE only with the token', async () => {
    expect((await request(web.port, { path: '/api/events', headers: { host } })).status).toBe(401);
    const received = await new Promise<string>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: web.port, path: `/api/events?token=${web.token}`, headers: { host } }, (res) => {
        expect(res.statusCode).toBe(200);
        expect(res.headers['content-type']).toContain('text/event-stream');
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString();
          if (text.includes(': connected')) {
            const payload: EventPayload<'jobs.updated'> = { jobs: [] };
            events.emit('jobs.updated', payload);
          }
          if (text.includes('event: jobs.updated')) {
            req.destroy();
            resolve(text);
          }
        });
      });
      req.on('error', reject);
    });
    expect(received).toContain('event: jobs.updated\ndata: {"jobs":[]}');
  });

  it('serves media with ranges and correct types, only from outputs/ and the preview folder', async () => {
    const cookie = `tiercast_token_${web.port}=${web.token}`;
    const full = await request(web.port, { path: '/media/outputs/j1/v1-abc/seg_1.m4s', headers: { host, cookie } });
    expect(full.status).toBe(200);
    expect(full.headers['accept-ranges']).toBe('bytes');
    expect(full.headers['content-type']).toBe('video/iso.segment');
    expect(full.body.equals(segment)).toBe(true);
    const part = await request(web.port, { path: '/media/outputs/j1/v1-abc/seg_1.m4s', headers: { host, cookie, range: 'bytes=100-199' } });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 100-199/${segment.length}`);
    expect(part.body.equals(segment.subarray(100, 200))).toBe(true);
    const tail = await request(web.port, { path: '/media/outputs/j1/v1-abc/seg_1.m4s', headers: { host, cookie, range: 'bytes=-10' } });
    expect(tail.body.equals(segment.subarray(segment.length - 10))).toBe(true);
    const beyond = await request(web.port, { path: '/media/outputs/j1/v1-abc/seg_1.m4s', headers: { host, cookie, range: 'bytes=99999-' } });
    expect(beyond.status).toBe(416);
    const playlist = await request(web.port, { path: '/media/outputs/j1/v1-abc/master.m3u8', headers: { host, authorization: `Bearer ${web.token}` } });
    expect(playlist.headers['content-type']).toBe('application/vnd.apple.mpegurl');
    const frame = await request(web.port, { path: '/media/preview/run1/frame.jpg', headers: { host, cookie } });
    expect(frame.status).toBe(200);
    expect(frame.headers['content-type']).toBe('image/jpeg');
    expect((await request(web.port, { path: '/media/outputs/j1/v1-abc/seg_1.m4s', headers: { host } })).status).toBe(401);
  });

  it('refuses traversal, other store prefixes and symlinks out of the preview folder and the store', async () => {
    const cookie = `tiercast_token_${web.port}=${web.token}`;
    for (const p of [
      '/media/outputs/../jobs/j1/status.json',
      '/media/outputs/%2e%2e/jobs/j1/status.json',
      '/media/outputs/j1/..%2F..%2Fjobs%2Fj1%2Fstatus.json',
      '/media/preview/run1/..%2F..%2Fsecret.txt',
      '/media/preview/run1/link.jpg',
      '/media/outputs/j1/v1-abc/passwd.m3u8',
      '/media/outputs/j2/seg.m4s',
      '/media/jobs/j1/status.json',
      '/media/preview/run1/%5C..%5Csecret.txt',
    ]) {
      const res = await request(web.port, { path: p, headers: { host, cookie } });
      expect(res.status, p).toBe(404);
      expect(res.body.toString()).not.toContain('secret');
      expect(res.body.toString()).not.toContain('do not serve');
    }
    const asset = await request(web.port, { path: '/..%2Fsecret.txt', headers: { host, cookie } });
    expect(asset.body.toString()).not.toContain('do not serve');
  });

  it('stages a dropped file with the bearer token and Origin', async () => {
    const body = Buffer.alloc(12345, 7);
    const res = await request(web.port, {
      method: 'PUT',
      path: '/api/stage?name=clip%20one.mp4&relativeDir=holiday%2Fday1',
      headers: { host, origin, authorization: `Bearer ${web.token}`, 'content-type': 'application/octet-stream', 'content-length': String(body.length) },
      body,
    });
    expect(res.status).toBe(200);
    expect(json(res.body).value).toEqual({ path: '/staging/clip one.mp4' });
    expect(staged.at(-1)).toEqual({ name: 'clip one.mp4', relativeDir: 'holiday/day1', bytes: 12345 });
    const noToken = await request(web.port, { method: 'PUT', path: '/api/stage?name=x', headers: { host, origin }, body });
    expect(noToken.status).toBe(401);
  });

  it('works with the contract\'s own HTTP client (what the renderer uses in a browser)', async () => {
    const api = createRendererApi(
      createHttpTransport({
        baseUrl: origin,
        token: web.token,
        // A browser adds Origin by itself; Node's fetch needs it spelled out.
        fetch: (url, init) => fetch(url, { ...init, headers: { ...init.headers, origin } }),
      }),
    );
    expect((await api['app.info']({})).version).toBe('9.9.9');
    expect(await api['files.remove']({ ids: ['a1'] })).toEqual({ removed: 1 });
    await expect(api['files.remove']({ ids: [] })).rejects.toMatchObject({ name: 'ApiCallError', code: 'INVALID_REQUEST', call: 'files.remove' });
    const stranger = createRendererApi(createHttpTransport({ baseUrl: origin, token: 'x'.repeat(43), fetch: (url, init) => fetch(url, { ...init, headers: { ...init.headers, origin } }) }));
    await expect(stranger['app.info']({})).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });

  it('refuses OPTIONS (no CORS preflight is ever answered)', async () => {
    const res = await request(web.port, { method: 'OPTIONS', path: '/api/app.info', headers: { host, origin } });
    expect(res.status).toBe(405);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('media helpers', () => {
  it('parses single byte ranges', () => {
    expect(parseRange(undefined, 100)).toEqual({ kind: 'full' });
    expect(parseRange('bytes=0-9', 100)).toEqual({ kind: 'partial', start: 0, end: 9 });
    expect(parseRange('bytes=90-', 100)).toEqual({ kind: 'partial', start: 90, end: 99 });
    expect(parseRange('bytes=-5', 100)).toEqual({ kind: 'partial', start: 95, end: 99 });
    expect(parseRange('bytes=50-500', 100)).toEqual({ kind: 'partial', start: 50, end: 99 });
    expect(parseRange('bytes=100-', 100)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=0-1,5-6', 100)).toEqual({ kind: 'full' });
  });

  it('accepts only the two roots and plain segments', () => {
    expect(parseMediaPath('/media/outputs/j1/a/b.m4s')).toEqual({ root: 'outputs', segments: ['j1', 'a', 'b.m4s'] });
    expect(parseMediaPath('/media/outputs/j1/../b')).toBeNull();
    expect(parseMediaPath('/media/outputs/j1//b')).toBeNull();
    expect(parseMediaPath('/media/store/j1/b')).toBeNull();
    expect(parseMediaPath('/media/outputs/j1/%00b')).toBeNull();
    expect(parseMediaPath('/media/outputs/j1/%E0%A4%A')).toBeNull();
  });
});
