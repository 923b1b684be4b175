import { existsSync } from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BrowserWindow, app, ipcMain, net, protocol, session, shell } from 'electron';
import { createLogger } from '../../shared/node/log.ts';
import { registerIpc, createSenderCheck } from './ipc.ts';
import { parseMediaPath, parseRange } from './media.ts';
import { startConsoleServices } from './runtime.ts';
import type { ConsoleServices } from './services/types.ts';
import { CONSOLE_CSP } from './web-server.ts';

/**
 * Electron main process: a thin shell around the same services the web transport uses.
 *
 * The renderer is served from a privileged custom scheme, `tiercast://app/`, not file://: one origin to check
 * senders and navigations against, a CSP header on every response, and `/media/...` (preview frames, HLS/DASH
 * outputs with Range support) on the same origin, so Shaka's fetches need no CORS and no token.
 * Window: contextIsolation, sandbox, no node integration, web security on; navigation, new windows, webviews and
 * permission requests are all denied (https links from an allow-list open in the OS browser).
 */

const SCHEME = 'tiercast';
const APP_ORIGIN = `${SCHEME}://app`;
const here = path.dirname(fileURLToPath(import.meta.url));
const rendererDir = path.resolve(here, '../renderer');
const preloadPath = path.resolve(here, '../preload/index.cjs');
const devUrl = !app.isPackaged ? process.env.ELECTRON_RENDERER_URL : undefined;
const EXTERNAL_ALLOW = new Set(['github.com', 'docs.aws.amazon.com', 'aws.amazon.com', 'console.aws.amazon.com', 'ffmpeg.org', 'shaka-player-demo.appspot.com']);

protocol.registerSchemesAsPrivileged([
  { scheme: SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, stream: true, codeCache: true } },
]);

const log = createLogger({ name: 'tiercast-console' });

// A packaged app carries ffmpeg-static's binary in resources/ffmpeg (electron-builder.yml extraResources); an
// operator's own TIERCAST_FFMPEG still wins, and without either ffmpeg-locate falls back to PATH.
if (app.isPackaged && !process.env.TIERCAST_FFMPEG) {
  const bundled = path.join(process.resourcesPath, 'ffmpeg', process.platform === 'win32' ? 'ffmpeg.exe' : 'ffmpeg');
  if (existsSync(bundled)) process.env.TIERCAST_FFMPEG = bundled;
}
let mainWindow: BrowserWindow | null = null;
let services: ConsoleServices | null = null;
let unregisterIpc: (() => void) | null = null;

function allowedOrigins(): string[] {
  const out = [APP_ORIGIN];
  if (devUrl) {
    const u = new URL(devUrl);
    out.push(`${u.protocol}//${u.host}`);
  }
  return out;
}

function isAppUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return allowedOrigins().includes(`${u.protocol}//${u.host}`);
  } catch {
    return false;
  }
}

function withSecurityHeaders(res: Response, extra: Record<string, string> = {}): Response {
  const headers = new Headers(res.headers);
  headers.set('Content-Security-Policy', CONSOLE_CSP);
  headers.set('X-Content-Type-Options', 'nosniff');
  for (const [k, v] of Object.entries(extra)) headers.set(k, v);
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
}

async function serveMedia(request: Request, pathname: string): Promise<Response> {
  const parsed = parseMediaPath(pathname);
  const body = parsed && services ? await services.media.resolve(parsed.root, parsed.segments).catch(() => null) : null;
  if (!body) return withSecurityHeaders(new Response('not found', { status: 404 }));
  const range = parseRange(request.headers.get('range'), body.size);
  const headers: Record<string, string> = { 'Content-Type': body.contentType, 'Accept-Ranges': 'bytes' };
  if (range.kind === 'unsatisfiable') {
    return withSecurityHeaders(new Response(null, { status: 416, headers: { ...headers, 'Content-Range': `bytes */${body.size}` } }));
  }
  const partial = range.kind === 'partial' ? { start: range.start, end: range.end } : undefined;
  const stream = await body.open(partial);
  const webStream = Readable.toWeb(stream) as unknown as ReadableStream;
  if (partial) {
    headers['Content-Range'] = `bytes ${partial.start}-${partial.end}/${body.size}`;
    headers['Content-Length'] = String(partial.end - partial.start + 1);
    return withSecurityHeaders(new Response(webStream, { status: 206, headers }));
  }
  headers['Content-Length'] = String(body.size);
  return withSecurityHeaders(new Response(webStream, { status: 200, headers }));
}

async function handleProtocol(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (url.host !== 'app') return new Response('not found', { status: 404 });
  if (url.pathname.startsWith('/media/')) return serveMedia(request, url.pathname);
  let rel: string;
  try {
    rel = decodeURIComponent(url.pathname);
  } catch {
    return new Response('bad path', { status: 400 });
  }
  let file = path.resolve(rendererDir, `.${rel}`);
  if (!file.startsWith(rendererDir + path.sep)) return withSecurityHeaders(new Response('not found', { status: 404 }));
  const st = await fsp.stat(file).catch(() => null);
  if (!st?.isFile()) {
    if (path.extname(rel)) return withSecurityHeaders(new Response('not found', { status: 404 }));
    file = path.join(rendererDir, 'index.html');
  }
  return withSecurityHeaders(await net.fetch(pathToFileURL(file).toString()), { 'Cache-Control': 'no-cache' });
}

function configPathFromArgv(): string | undefined {
  const arg = process.argv.find((a) => a.startsWith('--tiercast-config='));
  return arg ? arg.slice('--tiercast-config='.length) : undefined;
}

function hardenSessions(): void {
  const ses = session.defaultSession;
  ses.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);
  // The dev server's responses get the same CSP as the app's own.
  ses.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CONSOLE_CSP] } });
  });
}

app.on('web-contents-created', (_event, contents) => {
  contents.on('will-navigate', (event, url) => {
    if (!isAppUrl(url)) event.preventDefault();
  });
  contents.on('will-redirect', (event, url) => {
    if (!isAppUrl(url)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    try {
      const u = new URL(url);
      if (u.protocol === 'https:' && EXTERNAL_ALLOW.has(u.hostname)) void shell.openExternal(u.toString());
    } catch {
      /* not a URL: nothing to open */
    }
    return { action: 'deny' };
  });
});

function createWindow(): void {
  mainWindow = new BrowserWindow({
    width: 1440,
    height: 900,
    minWidth: 1024,
    minHeight: 640,
    title: 'Tiercast',
    show: false,
    backgroundColor: '#111418',
    webPreferences: {
      preload: preloadPath,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      spellcheck: false,
    },
  });
  mainWindow.once('ready-to-show', () => mainWindow?.show());
  mainWindow.on('closed', () => {
    mainWindow = null;
  });
  void mainWindow.loadURL(devUrl ?? `${APP_ORIGIN}/index.html`);
}

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => {
    if (!mainWindow) return;
    if (mainWindow.isMinimized()) mainWindow.restore();
    mainWindow.focus();
  });

  app.whenReady().then(async () => {
    hardenSessions();
    protocol.handle(SCHEME, (request) =>
      handleProtocol(request).catch((err) => {
        log.error({ err }, 'protocol request failed');
        return new Response('internal error', { status: 500 });
      }),
    );
    const configPath = configPathFromArgv();
    try {
      ({ services } = await startConsoleServices({ log, version: app.getVersion(), ...(configPath ? { configPath } : {}) }));
    } catch (err) {
      log.error({ err }, 'console services failed to start');
      const { dialog } = await import('electron');
      dialog.showErrorBox('Tiercast cannot start', `${(err as { code?: string }).code ?? 'INTERNAL'}: ${(err as Error).message}`);
      app.exit(2);
      return;
    }
    unregisterIpc = registerIpc({
      ipcMain,
      services,
      checkSender: createSenderCheck({ mainContents: () => mainWindow?.webContents, allowedOrigins: allowedOrigins() }),
      target: () => mainWindow?.webContents ?? null,
      log,
    });
    createWindow();
    app.on('activate', () => {
      if (BrowserWindow.getAllWindows().length === 0) createWindow();
    });
  });

  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });

  // Stop the in-process worker and pause uploads (recorded as running, so they resume next time) before exiting.
  let shuttingDown = false;
  app.on('before-quit', (event) => {
    if (shuttingDown || !services) return;
    event.preventDefault();
    shuttingDown = true;
    unregisterIpc?.();
    const timeout = new Promise((resolve) => setTimeout(resolve, 10_000));
    void Promise.race([services.close(), timeout]).finally(() => app.quit());
  });
}
