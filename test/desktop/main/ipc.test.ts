import { describe, expect, it } from 'vitest';
import { CALL_NAMES, EVENT_CHANNELS } from '../../../shared/common/api-contract.ts';
import { createEventBus, type Handlers } from '../../../desktop/main/api-calls.ts';
import { createSenderCheck, registerIpc, type IpcInvokeEvent, type IpcMainLike } from '../../../desktop/main/ipc.ts';
import { callChannel, eventChannel } from '../../../desktop/preload/channels.ts';

function fakeIpcMain() {
  const handlers = new Map<string, (event: IpcInvokeEvent, ...args: unknown[]) => Promise<unknown>>();
  const ipcMain: IpcMainLike = {
    handle: (channel, listener) => {
      if (handlers.has(channel)) throw new Error(`second handler for ${channel}`);
      handlers.set(channel, listener);
    },
    removeHandler: (channel) => void handlers.delete(channel),
  };
  return { ipcMain, handlers };
}

describe('IPC transport', () => {
  const mainContents = { id: 1 };
  const otherContents = { id: 2 };
  const calls: unknown[] = [];
  const handlers = {
    'files.remove': async (req: { ids: string[] }) => {
      calls.push(req);
      return { removed: req.ids.length };
    },
  } as unknown as Handlers;
  const events = createEventBus();
  const sent: Array<[string, unknown]> = [];
  const { ipcMain, handlers: registered } = fakeIpcMain();
  const unregister = registerIpc({
    ipcMain,
    services: { handlers, events },
    checkSender: createSenderCheck({ mainContents: () => mainContents, allowedOrigins: ['tiercast://app'] }),
    target: () => ({ send: (c, p) => void sent.push([c, p]), isDestroyed: () => false }),
  });
  const invoke = (event: IpcInvokeEvent, request: unknown) => registered.get(callChannel('files.remove'))!(event, request);
  const good: IpcInvokeEvent = { sender: mainContents, senderFrame: { url: 'tiercast://app/index.html', parent: null } };

  it('registers exactly one handler per contract call', () => {
    expect([...registered.keys()].sort()).toEqual(CALL_NAMES.map(callChannel).sort());
  });

  it('runs a valid call from the main window', async () => {
    expect(await invoke(good, { ids: ['a1'] })).toEqual({ ok: true, value: { removed: 1 } });
    expect(calls).toEqual([{ ids: ['a1'] }]);
  });

  it('refuses a foreign sender, a foreign frame origin and sub-frames without running the handler', async () => {
    const before = calls.length;
    for (const event of [
      { ...good, sender: otherContents },
      { ...good, senderFrame: { url: 'https://evil.example/x', parent: null } },
      { ...good, senderFrame: { url: 'file:///tmp/evil.html', parent: null } },
      { ...good, senderFrame: { url: 'tiercast://app/index.html', parent: {} } },
      { ...good, senderFrame: null },
    ] as IpcInvokeEvent[]) {
      const res = (await invoke(event, { ids: ['a1'] })) as { ok: boolean; error: { code: string } };
      expect(res.ok).toBe(false);
      expect(res.error.code).toBe('FORBIDDEN');
    }
    expect(calls.length).toBe(before);
  });

  it('refuses an invalid payload without running the handler', async () => {
    const before = calls.length;
    for (const bad of [{ ids: 'a1' }, { ids: [] }, { ids: ['../../etc'] }, { ids: ['a1'], extra: true }, 'text']) {
      const res = (await invoke(good, bad)) as { ok: boolean; error: { code: string } };
      expect(res).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST' } });
    }
    expect(calls.length).toBe(before);
  });

  it('forwards only contract events, validated, to the window', () => {
    events.emit('jobs.updated', { jobs: [] });
    // Malformed payloads are dropped by the bus, never sent.
    events.emit('jobs.updated', { jobs: 'x' } as never);
    expect(sent).toEqual([[eventChannel('jobs.updated'), { jobs: [] }]]);
    expect(EVENT_CHANNELS).toContain('jobs.updated');
  });

  it('unregisters every handler', () => {
    unregister();
    expect(registered.size).toBe(0);
  });
});
