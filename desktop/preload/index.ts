import { contextBridge, ipcRenderer, webUtils } from 'electron';
import type { BridgeApi } from '../../shared/common/api-contract.ts';
import { CALLS, EVENTS, callChannel, eventChannel } from './channels.ts';

/**
 * The whole bridge: one method per contract call (each a fixed ipcRenderer.invoke channel), `on` for the
 * contract's event channels only, and webUtils.getPathForFile for dropped files. ipcRenderer itself is never
 * exposed, and the renderer cannot name a channel of its own choosing.
 */
const api: Record<string, unknown> = { transport: 'ipc' };
for (const name of CALLS) {
  api[name] = (request: unknown) => ipcRenderer.invoke(callChannel(name), request ?? {});
}
const events = new Set<string>(EVENTS);
api.on = (channel: string, listener: (payload: unknown) => void) => {
  if (!events.has(channel) || typeof listener !== 'function') throw new Error(`unknown event channel ${String(channel)}`);
  const wrapped = (_event: unknown, payload: unknown) => listener(payload);
  ipcRenderer.on(eventChannel(channel), wrapped);
  return () => {
    ipcRenderer.removeListener(eventChannel(channel), wrapped);
  };
};
api.getPathForFile = (file: unknown) => {
  try {
    return webUtils.getPathForFile(file as File);
  } catch {
    return '';
  }
};

contextBridge.exposeInMainWorld('tiercast', api as unknown as BridgeApi);
