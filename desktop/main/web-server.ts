import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fsp from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StageResponseSchema, WEB, isCallName } from '../../shared/common/api-contract.ts';
import { toTiercastError } from '../../shared/common/errors.ts';
import type { Logger } from '../../shared/node/log.ts';
import { httpStatusOf, invokeCall } from './api-calls.ts';
import { contentTypeOf, parseMediaPath, parseRange } from './media.ts';
import type { ConsoleServices } from './services/types.ts';

/**
 * The console's second transport: the same renderer in a browser, for headless machines and the end-to-end tests.
 *
 * Authentication: a random per-run token (32 bytes) is required on every request.
 * - The CLI prints `http://127.0.0.1:<port>/?token=<token>`. Opening it sets an HttpOnly, SameSite=Strict cookie
 *   (named per port, so two consoles do not overwrite each other) and redirects to `/` so the token leaves the
 *   address bar and history. Page, assets, media and the event stream are then authenticated by that cookie (or
 *   `?token=`): a browser cannot put headers on <video>/Shaka segment requests or on an EventSource, and segment
 *   URLs are resolved relative to the playlist, which would drop a query token.
 * - API calls (`POST /api/<call>`, `PUT /api/stage`) need `Authorization: Bearer <token>`; the cookie alone is not
 *   enough there, so a page elsewhere cannot ride on ambient credentials. The page learns the token from a
 *   `<meta name="tiercast-token">` injected into index.html at serve time.
 * Origin: every API call must carry an Origin equal to the console's own; any request that carries a foreign Origin
 * is refused. Host must be 127.0.0.1:<port> or localhost:<port> (a DNS-rebinding page has another Host).
 * No CORS headers are ever sent; OPTIONS is refused.
 */

export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  // Shaka plays through Media Source Extensions: the <video> element's source is a blob: URL. Its native subtitle
  // displayer adds one <track src="data:,WEBVTT"> per subtitle track and feeds it cues (no script can run from it).
  "media-src 'self' blob: data:",
  "connect-src 'self'",
  "font-src 'self'",
  "worker-src 'self' blob:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-src 'none'",
  "frame-ancestors 'none'",
].join('; ');

const MAX_JSON_BYTES = 16 * 1024 * 1024;
/** How long a refused request's connection lingers (reads paused) after the answer, so the client reads it before the cut. */
const REFUSED_LINGER_MS = 10_000;

export interface WebConsoleOptions {
  readonly services: ConsoleServices;
  /** Built renderer (out/renderer) with index.html. */
  readonly rendererDir: string;
  /** 0 or omitted: a random free port. */
  readonly port?: number;
  /** Only loopback; anything else is refused (the console is not meant to be reachable from the network). */
  readonly host?: '127.0.0.1';
  /** Fixed token (tests); default: 32 random bytes. */
  readonly token?: string;
  readonly log?: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Largest JSON body of an API call (default 16 MiB). */
  readonly maxJsonBytes?: number;
}

export interface WebConsole {
  readonly port: number;
  readonly origin: string;
  readonly token: string;
  /** What to open: sets the cookie and lands on the console. */
  readonly url: string;
  close(): Promise<void>;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
  }
  return out;
}

function baseHeaders(res: ServerResponse): void {
  res.setHeader('Content-Security-Policy', CONSOLE_CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  sendJson(res, status, { ok: false, error: { code, message } });
}

/**
 * Answers a request whose body will not be read (or not to its end) and closes its connection: reading stops at
 * once, the answer is sent with `Connection: close`, then the socket is half-closed and cut shortly after, so the
 * rest of an oversized body is never read (Node would otherwise drain it to keep the connection alive, or a
 * destroyed request would take the answer down with it).
 */
function refuseRequest(req: IncomingMessage, res: ServerResponse, status: number, code: string, message: string): void {
  req.unpipe();
  req.pause();
  req.removeAllListeners('data');
  res.once('finish', () => {
    req.socket.end();
    setTimeout(() => req.socket.destroy(), REFUSED_LINGER_MS).unref();
  });
  res.setHeader('Connection', 'close');
  sendError(res, status, code, message);
}

class BodyTooLarge extends Error {
  readonly status = 413;
}

/** Reads a JSON body, counting bytes as they arrive: past the limit it stops (BodyTooLarge), without buffering more. */
function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new BodyTooLarge(`request body of ${declared} bytes is over the ${limit}-byte limit`));
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.pause();
        reject(new BodyTooLarge(`request body is over the ${limit}-byte limit`));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  }).then(parseJsonBody);
}

function parseJsonBody(buf: Buffer): unknown {
  const text = buf.toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw Object.assign(new Error('request body is not JSON'), { status: 400 });
  }
}

export async function startWebConsole(options: WebConsoleOptions): Promise<WebConsole> {
  const host = options.host ?? '127.0.0.1';
  const maxJsonBytes = options.maxJsonBytes ?? MAX_JSON_BYTES;
  if (host !== '127.0.0.1') throw new Error('the web console binds to 127.0.0.1 only');
  const token = options.token ?? randomBytes(32).toString('base64url');
  const rendererDir = path.resolve(options.rendererDir);
  const { services, log } = options;
  let port = 0;
  let cookieName = '';
  const sse = new Set<ServerResponse>();

  const allowedHosts = () => new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
  const allowedOrigins = () => new Set([`http://127.0.0.1:${port}`, `http://localhost:${port}`]);

  function tokenFrom(req: IncomingMessage, url: URL, allowAmbient: boolean): string | null {
    const auth = req.headers.authorization;
    if (auth?.startsWith('Bearer ')) return auth.slice(7).trim();
    if (!allowAmbient) return null;
    return url.searchParams.get('token') ?? parseCookies(req.headers.cookie).get(cookieName) ?? null;
  }

  async function serveIndex(res: ServerResponse): Promise<void> {
    let html: string;
    try {
      html = await fsp.readFile(path.join(rendererDir, 'index.html'), 'utf8');
    } catch {
      sendError(res, 503, 'INTERNAL', `the renderer is not built (${path.join(rendererDir, 'index.html')} is missing)`);
      return;
    }
    const meta = `<meta name="${WEB.tokenMeta}" content="${token}">`;
    html = html.includes('</head>') ? html.replace('</head>', `    ${meta}\n  </head>`) : meta + html;
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(html) });
    res.end(html);
  }

  async function serveStatic(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
    if (pathname === '/' || pathname === '/index.html') return serveIndex(res);
    let rel: string;
    try {
      rel = decodeURIComponent(pathname);
    } catch {
      return sendError(res, 400, 'INVALID_REQUEST', 'bad path');
    }
    const file = path.resolve(rendererDir, `.${rel}`);
    if (!file.startsWith(rendererDir + path.sep) || rel.includes('\0')) return sendError(res, 404, 'INPUT_NOT_FOUND', 'not found');
    const st = await fsp.stat(file).catch(() => null);
    if (!st?.isFile()) {
      // Client-side routes (no extension) get the app; missing assets get a 404.
      if (!path.extname(rel)) return serveIndex(res);
      return sendError(res, 404, 'INPUT_NOT_FOUND', 'not found');
    }
    res.writeHead(200, {
      'Content-Type': contentTypeOf(file) === 'application/octet-stream' ? staticType(file) : contentTypeOf(file),
      'Content-Length': st.size,
      'Cache-Control': 'no-cache',
    });
    if (req.method === 'HEAD') return void res.end();
    await pipeline(createReadStream(file), res).catch(() => undefined);
  }

  async function serveMedia(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
    const parsed = parseMediaPath(pathname, WEB.mediaPrefix);
    if (!parsed) return sendError(res, 404, 'INPUT_NOT_FOUND', 'no such media');
    const body = await services.media.resolve(parsed.root, parsed.segments).catch(() => null);
    if (!body) return sendError(res, 404, 'INPUT_NOT_FOUND', 'no such media');
    const range = parseRange(req.headers.range, body.size);
    const headers: Record<string, string | number> = { 'Content-Type': body.contentType, 'Accept-Ranges': 'bytes', 'Cache-Control': 'no-cache' };
    if (range.kind === 'unsatisfiable') {
      res.writeHead(416, { ...headers, 'Content-Range': `bytes */${body.size}` });
      return void res.end();
    }
    if (range.kind === 'partial') {
      res.writeHead(206, { ...headers, 'Content-Range': `bytes ${range.start}-${range.end}/${body.size}`, 'Content-Length': range.end - range.start + 1 });
    } else {
      res.writeHead(200, { ...headers, 'Content-Length': body.size });
    }
    if (req.method === 'HEAD') return void res.end();
    const stream = await body.open(range.kind === 'partial' ? { start: range.start, end: range.end } : undefined);
    await pipeline(stream, res).catch(() => undefined);
  }

  function serveEvents(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
    res.write(': connected\n\n');
    sse.add(res);
    const unsubscribe = services.events.subscribe((channel, payload) => {
      res.write(`event: ${channel}\ndata: ${JSON.stringify(payload)}\n\n`);
    });
    // Comments keep proxies and idle timers from closing a quiet stream.
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    ping.unref();
    const done = () => {
      clearInterval(ping);
      unsubscribe();
      sse.delete(res);
    };
    req.on('close', done);
    res.on('close', done);
  }

  async function serveStage(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const name = url.searchParams.get('name') ?? '';
    const relativeDir = url.searchParams.get('relativeDir') ?? '';
    const declared = req.headers['content-length'] ? Number(req.headers['content-length']) : null;
    // The service reads a pass-through, so a refusal mid-stream (over the size limit) cannot destroy the request
    // and its socket before the answer is sent.
    const body = req.pipe(new PassThrough());
    try {
      const value = StageResponseSchema.parse(
        await services.stageUpload({ name, relativeDir, body, declaredSize: Number.isFinite(declared) ? declared : null }),
      );
      sendJson(res, 200, { ok: true, value });
    } catch (err) {
      const e = toTiercastError(err);
      if (!req.readableEnded) return refuseRequest(req, res, httpStatusOf(e.code), e.code, e.message);
      sendError(res, httpStatusOf(e.code), e.code, e.message);
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    baseHeaders(res);
    // DNS rebinding: a foreign page resolving its own name to 127.0.0.1 still sends its own Host.
    if (!allowedHosts().has(req.headers.host ?? '')) return sendError(res, 421, 'FORBIDDEN', 'unexpected Host');
    const origin = req.headers.origin;
    if (origin !== undefined && !allowedOrigins().has(origin)) return sendError(res, 403, 'FORBIDDEN', 'foreign Origin');
    const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
    const { pathname } = url;
    const isApi = pathname.startsWith(WEB.apiPrefix) && pathname !== WEB.eventsPath;
    if (req.method === 'OPTIONS') return sendError(res, 405, 'FORBIDDEN', 'no cross-origin requests');

    const given = tokenFrom(req, url, !isApi);
    if (given === null || !safeEqual(given, token)) {
      return sendError(res, 401, 'FORBIDDEN', isApi ? 'missing or wrong bearer token' : 'open the URL printed by `tiercast console --web` (it carries the token)');
    }

    if (isApi) {
      // Browsers always send Origin on POST/PUT; requiring it closes the gap for clients that would omit it.
      if (origin === undefined) return sendError(res, 403, 'FORBIDDEN', 'Origin required');
      if (pathname === WEB.stagePath) {
        if (req.method !== 'PUT') return sendError(res, 405, 'INVALID_REQUEST', 'use PUT');
        return serveStage(req, res, url);
      }
      if (req.method !== 'POST') return sendError(res, 405, 'INVALID_REQUEST', 'use POST');
      const name = pathname.slice(WEB.apiPrefix.length);
      if (!isCallName(name)) return sendError(res, 404, 'INVALID_REQUEST', `unknown call ${name.slice(0, 80)}`);
      if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
        return sendError(res, 415, 'INVALID_REQUEST', 'Content-Type must be application/json');
      }
      let body: unknown;
      try {
        body = await readJson(req, maxJsonBytes);
      } catch (err) {
        if (err instanceof BodyTooLarge) return refuseRequest(req, res, 413, 'INPUT_TOO_LARGE', err.message);
        return sendError(res, (err as { status?: number }).status ?? 400, 'INVALID_REQUEST', (err as Error).message);
      }
      const result = await invokeCall(services.handlers, name, body, { transport: 'web' }, log);
      return sendJson(res, result.ok ? 200 : httpStatusOf(result.error.code), result);
    }

    if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, 405, 'INVALID_REQUEST', 'method not allowed');
    if (pathname === WEB.eventsPath) return serveEvents(req, res);

    const queryToken = url.searchParams.get('token');
    if (queryToken !== null && !pathname.startsWith(WEB.mediaPrefix)) {
      // First visit: trade the URL token for a cookie and drop it from the address bar.
      url.searchParams.delete('token');
      res.writeHead(303, {
        'Set-Cookie': `${cookieName}=${token}; HttpOnly; SameSite=Strict; Path=/`,
        Location: `${url.pathname}${url.search}${url.hash}`,
        'Cache-Control': 'no-store',
      });
      return void res.end();
    }
    if (pathname.startsWith(WEB.mediaPrefix)) return serveMedia(req, res, pathname);
    return serveStatic(req, res, pathname);
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      log?.error({ err }, 'web console request failed');
      if (!res.headersSent) sendError(res, 500, 'INTERNAL', 'internal error');
      else res.destroy();
    });
  });
  server.headersTimeout = 30_000;
  // Staging a multi-gigabyte dropped file can take longer than Node's default 5-minute limit on receiving a request.
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  cookieName = `${WEB.cookiePrefix}${port}`;
  const origin = `http://127.0.0.1:${port}`;
  log?.info({ origin }, 'web console listening');

  let closing: Promise<void> | null = null;
  return {
    port,
    origin,
    token,
    url: `${origin}/?token=${token}`,
    close() {
      closing ??= (async () => {
        for (const res of sse) res.end();
        sse.clear();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      })();
      return closing;
    },
  };
}

function staticType(file: string): string {
  switch (path.extname(file).toLowerCase()) {
    case '.html':
      return 'text/html; charset=utf-8';
    case '.js':
    case '.mjs':
      return 'text/javascript; charset=utf-8';
    case '.css':
      return 'text/css; charset=utf-8';
    case '.svg':
      return 'image/svg+xml';
    case '.ico':
      return 'image/x-icon';
    case '.woff2':
      return 'font/woff2';
    case '.wasm':
      return 'application/wasm';
    case '.map':
      return 'application/json; charset=utf-8';
    default:
      return 'application/octet-stream';
  }
}
