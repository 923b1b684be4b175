/**
 * The only module that touches a transport. It picks Electron's preload bridge (`window.tiercast`) when present,
 * otherwise the HTTP transport generated from the same contract (`tiercast console --web`). Everything else in the
 * renderer talks to the `ConsoleServices` interface, so unit tests hand the stores a fake.
 */
import {
  ApiCallError,
  StageResponseSchema,
  WEB,
  bridgeTransport,
  createHttpTransport,
  createRendererApi,
  type BridgeApi,
  type RendererApi,
} from '../../../../shared/common/api-contract.ts';

export interface ConsoleServices {
  readonly api: RendererApi;
  readonly transport: 'ipc' | 'web';
  /** Electron: the file's absolute path; browser: null (its bytes must be staged). */
  pathForFile(file: File): string | null;
  /** Browser: copies a picked/dropped file to the console's staging folder and returns the server-side path. */
  stageFile(file: File, relativeDir: string, signal?: AbortSignal): Promise<string>;
  /** Headers media requests may add (shaka's request filter); the cookie already authenticates them. */
  mediaHeaders(): Record<string, string>;
}

declare global {
  interface Window {
    tiercast?: BridgeApi;
  }
}

/**
 * The per-run token of the web transport, from (in order) the page's meta tag injected by the server, the URL
 * fragment (#token=...) or the query (?token=...). The URL forms are removed from the address bar at once so the
 * token is not left in history, screenshots or a copied link; sessionStorage keeps it for a reload of this tab only.
 */
export function takeToken(win: Window = window): string | null {
  const meta = win.document.querySelector<HTMLMetaElement>(`meta[name="${WEB.tokenMeta}"]`)?.content?.trim();
  const url = new URL(win.location.href);
  const fromHash = new URLSearchParams(url.hash.replace(/^#/, '')).get('token');
  const fromQuery = url.searchParams.get('token');
  if (fromHash !== null || fromQuery !== null) {
    url.hash = '';
    url.searchParams.delete('token');
    win.history.replaceState(win.history.state, '', url.pathname + url.search);
  }
  const token = meta || fromHash || fromQuery || win.sessionStorage.getItem('tiercast.token');
  if (token) win.sessionStorage.setItem('tiercast.token', token);
  return token || null;
}

function createBridgeServices(bridge: BridgeApi): ConsoleServices {
  return {
    api: createRendererApi(bridgeTransport(bridge)),
    transport: 'ipc',
    pathForFile: (file) => bridge.getPathForFile(file) || null,
    stageFile: () => Promise.reject(new ApiCallError('stage', { code: 'INTERNAL', message: 'staging is for the web transport only' })),
    mediaHeaders: () => ({}),
  };
}

export function createWebServices(options: { baseUrl: string; token: string; fetchImpl?: typeof fetch }): ConsoleServices {
  const doFetch = options.fetchImpl ?? window.fetch.bind(window);
  const auth = { authorization: `Bearer ${options.token}` };
  const transport = createHttpTransport({
    baseUrl: options.baseUrl,
    token: options.token,
    fetch: (url, init) => doFetch(url, { ...init, credentials: 'same-origin' }),
    openEventSource: (url) => new EventSource(url, { withCredentials: true }),
  });
  return {
    api: createRendererApi(transport),
    transport: 'web',
    pathForFile: () => null,
    async stageFile(file, relativeDir, signal) {
      const qs = new URLSearchParams({ name: file.name, relativeDir });
      let res: Response;
      try {
        res = await doFetch(`${options.baseUrl.replace(/\/+$/, '')}${WEB.stagePath}?${qs}`, {
          method: 'PUT',
          headers: { ...auth, 'content-type': 'application/octet-stream' },
          body: file,
          credentials: 'same-origin',
          ...(signal ? { signal } : {}),
        });
      } catch (err) {
        if (signal?.aborted) throw new ApiCallError('stage', { code: 'CANCELLED', message: `${file.name}: staging cancelled` });
        throw new ApiCallError('stage', { code: 'INTERNAL', message: `${file.name}: the console did not answer (${String(err)})` });
      }
      const body = (await res.json().catch(() => null)) as { ok?: boolean; value?: unknown; error?: { code: string; message: string } } | null;
      if (!body || body.ok !== true) {
        const e = body?.error;
        throw new ApiCallError('stage', e && typeof e.code === 'string' ? (e as never) : { code: 'INTERNAL', message: `${file.name}: staging failed (HTTP ${res.status})` });
      }
      return StageResponseSchema.parse(body.value).path;
    },
    mediaHeaders: () => ({ ...auth }),
  };
}

/** The services for this window: the preload bridge in Electron, the HTTP transport in a browser. */
export function createServices(win: Window = window): ConsoleServices {
  if (win.tiercast && win.tiercast.transport === 'ipc') return createBridgeServices(win.tiercast);
  const token = takeToken(win);
  if (!token) {
    throw new ApiCallError('app.info', {
      code: 'CONFIG_INVALID',
      message: 'this page was opened without its access token; open the URL that `tiercast console --web` printed',
    });
  }
  return createWebServices({ baseUrl: win.location.origin, token });
}
