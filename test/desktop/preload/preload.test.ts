import { beforeEach, describe, expect, it, vi } from 'vitest';
import { CALL_NAMES, EVENT_CHANNELS } from '../../../shared/common/api-contract.ts';

const exposed = new Map<string, unknown>();
const invoke = vi.fn(async (channel: string, request: unknown) => ({ ok: true, value: { channel, request } }));
const listeners = new Map<string, Set<(...args: unknown[]) => void>>();

vi.mock('electron', () => ({
  contextBridge: { exposeInMainWorld: (key: string, api: unknown) => void exposed.set(key, api) },
  ipcRenderer: {
    invoke,
    on: (channel: string, l: (...args: unknown[]) => void) => {
      if (!listeners.has(channel)) listeners.set(channel, new Set());
      listeners.get(channel)!.add(l);
    },
    removeListener: (channel: string, l: (...args: unknown[]) => void) => void listeners.get(channel)?.delete(l),
    send: () => {
      throw new Error('the preload must not use send');
    },
  },
  webUtils: { getPathForFile: (f: { fakePath?: string }) => f.fakePath ?? '' },
}));

describe('preload', () => {
  beforeEach(async () => {
    if (!exposed.has('tiercast')) await import('../../../desktop/preload/index.ts');
  });

  it('exposes exactly the contract calls, on, getPathForFile and the transport name', () => {
    expect([...exposed.keys()]).toEqual(['tiercast']);
    const api = exposed.get('tiercast') as Record<string, unknown>;
    const keys = Object.keys(api).sort();
    expect(keys).toEqual([...CALL_NAMES, 'on', 'getPathForFile', 'transport'].sort());
    expect(api.transport).toBe('ipc');
    for (const name of CALL_NAMES) expect(typeof api[name]).toBe('function');
    expect(JSON.stringify(Object.keys(api))).not.toMatch(/ipcRenderer|invoke|send/);
  });

  it('maps each call to its own fixed channel', async () => {
    const api = exposed.get('tiercast') as Record<string, (r: unknown) => Promise<unknown>>;
    await api['jobs.get']!({ id: 'j1' });
    expect(invoke).toHaveBeenLastCalledWith('tiercast:call:jobs.get', { id: 'j1' });
    await api['app.info']!(undefined);
    expect(invoke).toHaveBeenLastCalledWith('tiercast:call:app.info', {});
  });

  it('subscribes only to the contract event channels and unsubscribes', () => {
    const api = exposed.get('tiercast') as { on: (c: string, l: (p: unknown) => void) => () => void };
    const got: unknown[] = [];
    const off = api.on('jobs.updated', (p) => got.push(p));
    for (const l of listeners.get('tiercast:event:jobs.updated') ?? []) l({ sender: 'x' }, { jobs: [] });
    expect(got).toEqual([{ jobs: [] }]);
    off();
    expect(listeners.get('tiercast:event:jobs.updated')?.size).toBe(0);
    expect(() => api.on('tiercast:call:settings.save', () => {})).toThrow(/unknown event channel/);
    expect(EVENT_CHANNELS.every((c) => typeof api.on(c, () => {}) === 'function')).toBe(true);
  });

  it('gives dropped files their path through webUtils', () => {
    const api = exposed.get('tiercast') as { getPathForFile: (f: unknown) => string };
    expect(api.getPathForFile({ fakePath: '/home/op/clip.mp4' })).toBe('/home/op/clip.mp4');
    expect(api.getPathForFile({})).toBe('');
  });
});
