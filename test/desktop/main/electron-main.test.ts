import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CALL_NAMES } from '../../../shared/common/api-contract.ts';

/**
 * The Electron main process against a fake `electron` module (no Electron binary can run here): window options,
 * navigation/new-window/permission denial, the tiercast:// protocol (app files and media with CSP), IPC sender
 * checks end to end, and the graceful quit.
 */
const h = vi.hoisted(() => {
  const state = {
    appHandlers: new Map<string, Array<(...a: any[]) => void>>(),
    windows: [] as any[],
    ipc: new Map<string, (event: any, ...args: any[]) => Promise<unknown>>(),
    protocolHandler: null as null | ((req: Request) => Promise<Response>),
    privileged: [] as any[],
    permissionRequest: null as null | ((wc: unknown, permission: string, cb: (ok: boolean) => void) => void),
    permissionCheck: null as null | ((...a: unknown[]) => boolean),
    opened: [] as string[],
    quitCalls: 0,
    readyResolve: null as null | (() => void),
  };
  return state;
});

vi.mock('electron', async () => {
  const { readFileSync } = await import('node:fs');
  const { fileURLToPath: toPath } = await import('node:url');
  const ready = new Promise<void>((resolve) => (h.readyResolve = resolve));
  class BrowserWindow {
    options: any;
    loaded: string | null = null;
    webContents = { send: vi.fn(), isDestroyed: () => false };
    constructor(options: any) {
      this.options = options;
      h.windows.push(this);
    }
    once() {}
    on() {}
    loadURL(url: string) {
      this.loaded = url;
      return Promise.resolve();
    }
    show() {}
    isMinimized() {
      return false;
    }
    focus() {}
    static getAllWindows() {
      return h.windows;
    }
  }
  return {
    app: {
      isPackaged: false,
      requestSingleInstanceLock: () => true,
      whenReady: () => ready,
      on: (name: string, fn: (...a: any[]) => void) => {
        if (!h.appHandlers.has(name)) h.appHandlers.set(name, []);
        h.appHandlers.get(name)!.push(fn);
      },
      getVersion: () => '1.2.3',
      quit: () => void h.quitCalls++,
      exit: vi.fn(),
    },
    BrowserWindow,
    ipcMain: {
      handle: (channel: string, fn: any) => void h.ipc.set(channel, fn),
      removeHandler: (channel: string) => void h.ipc.delete(channel),
    },
    protocol: {
      registerSchemesAsPrivileged: (schemes: any[]) => void h.privileged.push(...schemes),
      handle: (_scheme: string, fn: any) => void (h.protocolHandler = fn),
    },
    net: { fetch: async (url: string) => new Response(readFileSync(toPath(url)), { headers: { 'content-type': 'text/html' } }) },
    session: {
      defaultSession: {
        setPermissionRequestHandler: (fn: any) => void (h.permissionRequest = fn),
        setPermissionCheckHandler: (fn: any) => void (h.permissionCheck = fn),
        webRequest: { onHeadersReceived: vi.fn() },
      },
    },
    shell: { openExternal: async (url: string) => void h.opened.push(url) },
    dialog: { showErrorBox: vi.fn() },
  };
});

describe('Electron main (fake electron)', () => {
  let home: string;

  beforeAll(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-electron-'));
    process.env.TIERCAST_HOME = home;
    process.env.TIERCAST_LOG_LEVEL = 'silent';
    await import('../../../desktop/main/index.ts');
    h.readyResolve!();
    for (let i = 0; i < 200 && h.windows.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
  });

  afterAll(async () => {
    // Quit: before-quit must stop the services before the app really quits.
    const event = { preventDefault: vi.fn() };
    for (const fn of h.appHandlers.get('before-quit') ?? []) fn(event);
    expect(event.preventDefault).toHaveBeenCalled();
    for (let i = 0; i < 200 && h.quitCalls === 0; i++) await new Promise((r) => setTimeout(r, 25));
    expect(h.quitCalls).toBe(1);
    expect(h.ipc.size).toBe(0);
    delete process.env.TIERCAST_HOME;
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('registers tiercast:// as a privileged standard scheme before ready', () => {
    expect(h.privileged).toEqual([expect.objectContaining({ scheme: 'tiercast', privileges: expect.objectContaining({ standard: true, secure: true, supportFetchAPI: true, stream: true }) })]);
  });

  it('opens one locked-down window on the app origin', () => {
    expect(h.windows).toHaveLength(1);
    const prefs = h.windows[0].options.webPreferences;
    expect(prefs).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true, webviewTag: false });
    expect(prefs.preload).toMatch(/out[\\/]preload[\\/]index\.cjs$|desktop[\\/]preload[\\/]index\.cjs$/);
    expect(h.windows[0].loaded).toBe('tiercast://app/index.html');
  });

  it('denies every permission request and check', () => {
    const answers: boolean[] = [];
    for (const p of ['media', 'geolocation', 'notifications', 'clipboard-read']) h.permissionRequest!({}, p, (ok) => answers.push(ok));
    expect(answers).toEqual([false, false, false, false]);
    expect(h.permissionCheck!({}, 'media')).toBe(false);
  });

  it('blocks navigation away from the app and opens only allow-listed https links outside', () => {
    const listeners = new Map<string, (event: any, url?: string) => void>();
    let openHandler: ((d: { url: string }) => { action: string }) | null = null;
    const contents = { on: (n: string, fn: any) => void listeners.set(n, fn), setWindowOpenHandler: (fn: any) => void (openHandler = fn) };
    for (const fn of h.appHandlers.get('web-contents-created') ?? []) fn({}, contents);
    const nav = (url: string) => {
      const event = { preventDefault: vi.fn() };
      listeners.get('will-navigate')!(event, url);
      return event.preventDefault.mock.calls.length > 0;
    };
    expect(nav('https://evil.example/')).toBe(true);
    expect(nav('file:///etc/passwd')).toBe(true);
    expect(nav('tiercast://app/index.html#/jobs')).toBe(false);
    const webview = { preventDefault: vi.fn() };
    listeners.get('will-attach-webview')!(webview);
    expect(webview.preventDefault).toHaveBeenCalled();
    expect(openHandler!({ url: 'https://docs.aws.amazon.com/lambda/' })).toEqual({ action: 'deny' });
    expect(openHandler!({ url: 'http://docs.aws.amazon.com/lambda/' })).toEqual({ action: 'deny' });
    expect(openHandler!({ url: 'https://evil.example/' })).toEqual({ action: 'deny' });
    expect(h.opened).toEqual(['https://docs.aws.amazon.com/lambda/']);
  });

  it('serves the app and media over tiercast:// with a CSP, and nothing outside them', async () => {
    const get = (url: string, headers: Record<string, string> = {}) => h.protocolHandler!(new Request(url, { headers }));
    const index = await get('tiercast://app/index.html');
    expect(index.status).toBe(200);
    expect(index.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(await index.text()).toContain('<div id="root">');
    expect((await get('tiercast://app/..%2F..%2Fpackage.json')).status).toBe(404);
    expect((await get('tiercast://other/index.html')).status).toBe(404);
    expect((await get('tiercast://app/media/outputs/nojob/v1/master.m3u8')).status).toBe(404);
    expect((await get('tiercast://app/media/jobs/x/status.json')).status).toBe(404);

    // A preview frame written into the console's preview folder is served, with ranges.
    const dir = path.join(home, 'console', 'preview', 'r1');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'frame.jpg'), Buffer.from('0123456789'));
    const part = await get('tiercast://app/media/preview/r1/frame.jpg', { range: 'bytes=2-5' });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-type')).toBe('image/jpeg');
    expect(await part.text()).toBe('2345');
  });

  it('answers IPC from the window and refuses any other sender', async () => {
    expect([...h.ipc.keys()].sort()).toEqual(CALL_NAMES.map((n) => `tiercast:call:${n}`).sort());
    const win = h.windows[0];
    const ok = (await h.ipc.get('tiercast:call:app.info')!({ sender: win.webContents, senderFrame: { url: 'tiercast://app/index.html', parent: null } }, {})) as any;
    expect(ok).toMatchObject({ ok: true, value: { version: '1.2.3', transport: 'ipc', dataHome: home } });
    const foreign = (await h.ipc.get('tiercast:call:app.info')!({ sender: {}, senderFrame: { url: 'tiercast://app/index.html', parent: null } }, {})) as any;
    expect(foreign).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    const badFrame = (await h.ipc.get('tiercast:call:settings.get')!({ sender: win.webContents, senderFrame: { url: 'https://evil.example/', parent: null } }, {})) as any;
    expect(badFrame).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
  });
});
