import {
  ApiCallError,
  CALL_NAMES,
  type ApiRequest,
  type ApiResponse,
  type CallName,
  type EventChannel,
  type EventPayload,
  type FileItem,
  type RendererApi,
} from '../../../shared/common/api-contract.ts';
import type { ConsoleServices } from '../../../desktop/renderer/src/services/api.ts';

type Handlers = { [K in CallName]?: (req: ApiRequest<K>) => Promise<ApiResponse<K>> | ApiResponse<K> };

/**
 * A fake transport for the renderer's stores: handlers per call (an unhandled call fails loudly), a log of every
 * call, and `emit` to push events as the main process would.
 */
export function fakeServices(handlers: Handlers, options: { transport?: 'ipc' | 'web'; stage?: (file: File, dir: string) => Promise<string>; pathForFile?: (f: File) => string | null } = {}) {
  const calls: { name: CallName; request: unknown }[] = [];
  const listeners = new Map<string, Set<(p: unknown) => void>>();
  const api: Record<string, unknown> = {};
  for (const name of CALL_NAMES) {
    api[name] = async (request: unknown) => {
      calls.push({ name, request });
      const h = handlers[name] as ((r: unknown) => unknown) | undefined;
      if (!h) throw new ApiCallError(name, { code: 'INTERNAL', message: `no fake for ${name}` });
      return h(request);
    };
  }
  api.on = (channel: string, l: (p: unknown) => void) => {
    let set = listeners.get(channel);
    if (!set) listeners.set(channel, (set = new Set()));
    set.add(l);
    return () => set.delete(l);
  };
  const services: ConsoleServices = {
    api: api as unknown as RendererApi,
    transport: options.transport ?? 'web',
    pathForFile: options.pathForFile ?? (() => null),
    stageFile: options.stage ?? (async (f, dir) => `/staging/${dir ? `${dir}/` : ''}${f.name}`),
    mediaHeaders: () => ({ authorization: 'Bearer t' }),
  };
  return {
    services,
    calls,
    callsOf: (name: CallName) => calls.filter((c) => c.name === name).map((c) => c.request),
    emit<C extends EventChannel>(channel: C, payload: EventPayload<C>) {
      for (const l of listeners.get(channel) ?? []) l(payload);
    },
  };
}

let n = 0;
export function fileItem(over: Partial<FileItem> = {}): FileItem {
  n++;
  return {
    id: over.id ?? `f${n}`,
    path: over.path ?? `/staging/clip${n}.mp4`,
    name: over.name ?? `clip${n}.mp4`,
    relativeDir: '',
    sizeBytes: 1000,
    state: 'probing',
    media: null,
    problem: null,
    route: null,
    addedAt: '2026-11-22T03:00:00.000Z',
    ...over,
  };
}

export const readyMedia = {
  container: 'mov,mp4',
  durationSec: 2,
  width: 320,
  height: 180,
  fps: 25,
  videoCodec: 'h264',
  audioCodec: 'aac',
  bitrate: 400_000,
  colorTransfer: 'sdr' as const,
  interlaced: false,
  bitDepth: 8,
  warnings: [],
};

export const localRoute = { tier: 'local' as const, reason: 'local tier: no AWS configured', estimatedCostUsd: 0, priceDate: '2026-06-01', estimatedSeconds: 1 };
