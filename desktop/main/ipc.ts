import { CALL_NAMES, EVENT_CHANNELS, type ApiResult, type EventChannel } from '../../shared/common/api-contract.ts';
import type { Logger } from '../../shared/node/log.ts';
import { callChannel, eventChannel } from '../preload/channels.ts';
import { invokeCall } from './api-calls.ts';
import type { ConsoleServices } from './services/types.ts';

/**
 * Electron IPC transport. Every call is registered through ONE wrapper that checks the sender before anything
 * else (Electron security checklist, item 17: validate the sender of all IPC messages) and validates the request
 * and the response with the contract (invokeCall). Written against the few members of ipcMain and the event it
 * uses, so tests drive it with plain objects and no Electron.
 */

export interface IpcSenderFrame {
  readonly url: string;
  /** null for a top-level frame. */
  readonly parent?: unknown;
}

export interface IpcInvokeEvent {
  readonly sender: unknown;
  readonly senderFrame: IpcSenderFrame | null;
}

export interface IpcMainLike {
  handle(channel: string, listener: (event: IpcInvokeEvent, ...args: unknown[]) => Promise<unknown>): void;
  removeHandler(channel: string): void;
}

export interface WebContentsLike {
  send(channel: string, payload: unknown): void;
  isDestroyed(): boolean;
}

/**
 * A sender is trusted when it is the main window's own webContents and the calling frame is its top frame, loaded
 * from the app's own origin (`tiercast://app` in production, the electron-vite dev server in development).
 */
export function createSenderCheck(options: { mainContents: () => unknown; allowedOrigins: readonly string[] }): (event: IpcInvokeEvent) => string | null {
  return (event) => {
    const main = options.mainContents();
    if (!main || event.sender !== main) return 'the sender is not the console window';
    const frame = event.senderFrame;
    if (!frame) return 'the sending frame is gone';
    if (frame.parent) return 'sub-frames may not call the console API';
    let origin: string;
    try {
      const u = new URL(frame.url);
      // URL.origin is "null" for non-special schemes such as tiercast:, so build it from the parts.
      origin = `${u.protocol}//${u.host}`;
    } catch {
      return 'the sending frame has no URL';
    }
    return options.allowedOrigins.includes(origin) ? null : `frame origin ${origin} is not the console`;
  };
}

export function registerIpc(options: {
  ipcMain: IpcMainLike;
  services: Pick<ConsoleServices, 'handlers' | 'events'>;
  checkSender: (event: IpcInvokeEvent) => string | null;
  /** Where events go (the main window), looked up per event so a recreated window keeps receiving them. */
  target: () => WebContentsLike | null;
  log?: Pick<Logger, 'warn' | 'error'>;
}): () => void {
  const { ipcMain, services, checkSender, log } = options;
  for (const name of CALL_NAMES) {
    ipcMain.handle(callChannel(name), async (event, request): Promise<ApiResult<unknown>> => {
      const why = checkSender(event);
      if (why) {
        log?.warn({ call: name, url: event.senderFrame?.url }, `IPC call refused: ${why}`);
        return { ok: false, error: { code: 'FORBIDDEN', message: `${name}: refused (${why})` } };
      }
      return invokeCall(services.handlers, name, request, { transport: 'ipc' }, log);
    });
  }
  const allowed = new Set<string>(EVENT_CHANNELS);
  const unsubscribe = services.events.subscribe((channel: EventChannel, payload) => {
    if (!allowed.has(channel)) return;
    const wc = options.target();
    if (wc && !wc.isDestroyed()) wc.send(eventChannel(channel), payload);
  });
  return () => {
    unsubscribe();
    for (const name of CALL_NAMES) ipcMain.removeHandler(callChannel(name));
  };
}
