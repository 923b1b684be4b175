import { describe, expect, it } from 'vitest';
import { createStore } from 'zustand/vanilla';
import { createUploadSlice, STAGE_CONCURRENCY, type UploadSlice } from '../../../desktop/renderer/src/features/upload/stores/upload-slice.ts';
import { subscribeUpload } from '../../../desktop/renderer/src/features/upload/api/subscribe.ts';
import type { UploadTotals } from '../../../shared/common/api-contract.ts';
import { fakeServices, fileItem, localRoute, readyMedia } from './fake-services.tsx';

const totals = (over: Partial<UploadTotals> = {}): UploadTotals => ({
  loadedBytes: 0, totalBytes: 0, queued: 0, uploading: 0, paused: 0, done: 0, failed: 0, cancelled: 0, concurrency: 3, ...over,
});

function picked(n: number, dir = '') {
  return Array.from({ length: n }, (_, i) => ({ file: new File([new Uint8Array(10 + i)], `v${i}.mp4`), relativeDir: dir }));
}

describe('upload slice', () => {
  it('shows every picked file at once, stages bytes with bounded concurrency and swaps in the server rows by path', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const fake = fakeServices(
      {
        'files.add': ({ paths }) => ({
          items: paths.map((p) => fileItem({ id: `id-${p.split('/').pop()!.replace(/\W/g, '_')}`, path: p, name: p.split('/').pop()! })),
          rejected: [],
          truncated: false,
        }),
      },
      {
        stage: async (f, dir) => {
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          await new Promise((r) => setTimeout(r, 2));
          inFlight--;
          return `/staging/${dir}/${f.name}`;
        },
      },
    );
    const store = createStore<UploadSlice>()(createUploadSlice(fake.services));
    const pending = store.getState().uploadActions.addPicked(picked(20, 'shoot/day1'));
    // Synchronously after the call: all twenty rows, in state staging, before any byte moved.
    expect(store.getState().upload.rows).toHaveLength(20);
    expect(store.getState().upload.rows.every((r) => r.state === 'staging' && r.relativeDir === 'shoot/day1')).toBe(true);
    await pending;
    const s = store.getState().upload;
    expect(maxInFlight).toBeLessThanOrEqual(STAGE_CONCURRENCY);
    expect(maxInFlight).toBeGreaterThan(1);
    expect(s.rows).toHaveLength(20);
    expect(s.rows.every((r) => r.state === 'probing' && r.fileId?.startsWith('id-'))).toBe(true);
    expect(s.staging).toEqual({ total: 20, done: 20, failed: 0 });
    expect(new Set(Object.values(s.index))).toEqual(new Set(Array.from({ length: 20 }, (_, i) => i)));
    // Every staged path reached files.add exactly once.
    const added = fake.callsOf('files.add').flatMap((r) => (r as { paths: string[] }).paths);
    expect(added.sort()).toEqual(picked(20).map((p) => `/staging/shoot/day1/${p.file.name}`).sort());
  });

  it('flags a file whose staging fails without blocking the others', async () => {
    const fake = fakeServices(
      { 'files.add': ({ paths }) => ({ items: paths.map((p) => fileItem({ path: p })), rejected: [], truncated: false }) },
      {
        stage: async (f) => {
          if (f.name === 'v1.mp4') throw Object.assign(new Error('disk full'), { code: 'STORE_ERROR' });
          return `/staging/${f.name}`;
        },
      },
    );
    const store = createStore<UploadSlice>()(createUploadSlice(fake.services));
    await store.getState().uploadActions.addPicked(picked(3));
    const rows = store.getState().upload.rows;
    expect(rows.map((r) => r.state).sort()).toEqual(['probing', 'probing', 'problem']);
    expect(rows.find((r) => r.state === 'problem')?.problem).toEqual({ code: 'STORE_ERROR', message: 'disk full' });
    expect(store.getState().upload.staging.failed).toBe(1);
  });

  it('uses real paths in Electron and never stages', async () => {
    const fake = fakeServices(
      { 'files.add': ({ paths }) => ({ items: paths.map((p) => fileItem({ path: p })), rejected: [], truncated: false }) },
      { transport: 'ipc', pathForFile: (f) => `/home/op/${f.name}`, stage: () => Promise.reject(new Error('must not stage')) },
    );
    const store = createStore<UploadSlice>()(createUploadSlice(fake.services));
    await store.getState().uploadActions.addPicked(picked(2));
    expect(fake.callsOf('files.add')).toEqual([{ paths: ['/home/op/v0.mp4', '/home/op/v1.mp4'] }]);
    expect(store.getState().upload.rows.map((r) => r.state)).toEqual(['probing', 'probing']);
  });

  it('takes dropped files and folders as paths in Electron, and declines in a browser', async () => {
    const ipc = fakeServices(
      { 'files.add': ({ paths }) => ({ items: paths.map((p) => fileItem({ path: p })), rejected: [], truncated: false }) },
      { transport: 'ipc', pathForFile: (f) => `/media/${f.name}` },
    );
    const store = createStore<UploadSlice>()(createUploadSlice(ipc.services));
    expect(store.getState().uploadActions.addDroppedPaths([new File([], 'shoot-folder'), new File(['x'], 'a.mp4')])).toBe(true);
    await new Promise((r) => setTimeout(r, 0));
    expect(ipc.callsOf('files.add')).toEqual([{ paths: ['/media/shoot-folder', '/media/a.mp4'] }]);

    const web = fakeServices({});
    const webStore = createStore<UploadSlice>()(createUploadSlice(web.services));
    expect(webStore.getState().uploadActions.addDroppedPaths([new File(['x'], 'a.mp4')])).toBe(false);
    expect(web.calls).toEqual([]);
  });

  it('applies probe batches from events, removes files, and only uploads ready selected files', async () => {
    const a = fileItem({ id: 'a' });
    const b = fileItem({ id: 'b' });
    const c = fileItem({ id: 'c' });
    const fake = fakeServices({
      'files.list': () => ({ items: [a, b, c] }),
      'uploads.list': () => ({ uploads: [], totals: totals() }),
      'uploads.start': ({ ids }) => ({
        uploads: ids.map((id) => ({ fileId: id, name: id, path: `/p/${id}`, key: `inputs/${id}`, state: 'queued' as const, loadedBytes: 0, totalBytes: 1000, resumed: false, attempts: 0, error: null, updatedAt: '2026-11-22T03:00:00.000Z' })),
        totals: totals({ queued: ids.length, totalBytes: ids.length * 1000 }),
      }),
    });
    const store = createStore<UploadSlice>()(createUploadSlice(fake.services));
    const off = subscribeUpload(fake.services.api, store.getState().uploadActions);
    await store.getState().uploadActions.init();
    expect(store.getState().upload.pendingProbes).toBe(3);

    fake.emit('files.updated', {
      items: [
        { ...a, state: 'ready', media: readyMedia, route: localRoute },
        { ...b, state: 'problem', problem: { code: 'NOT_MEDIA', message: 'b: not a video' } },
      ],
      removedIds: ['c'],
      pending: 0,
    });
    const s = store.getState().upload;
    expect(s.rows.map((r) => [r.key, r.state])).toEqual([
      ['a', 'ready'],
      ['b', 'problem'],
    ]);
    expect(s.index).toEqual({ a: 0, b: 1 });
    expect(s.pendingProbes).toBe(0);

    store.getState().uploadActions.selectOnly(['a', 'b']);
    await store.getState().uploadActions.startUploads();
    // The flagged file is left out; the ready one goes.
    expect(fake.callsOf('uploads.start')).toEqual([{ ids: ['a'] }]);
    expect(store.getState().upload.uploads.a?.state).toBe('queued');
    expect(store.getState().upload.totals?.queued).toBe(1);

    fake.emit('uploads.progress', {
      uploads: [{ ...store.getState().upload.uploads.a!, state: 'uploading', loadedBytes: 500 }],
      totals: totals({ uploading: 1, loadedBytes: 500, totalBytes: 1000 }),
    });
    expect(store.getState().upload.uploads.a?.loadedBytes).toBe(500);
    off();
    fake.emit('files.updated', { items: [], removedIds: ['a'], pending: 0 });
    expect(store.getState().upload.rows).toHaveLength(2);
  });

  it('selectAllReady picks only ready rows; a failed call becomes a visible error with its code', async () => {
    const fake = fakeServices({
      'files.list': () => ({ items: [fileItem({ id: 'r', state: 'ready' }), fileItem({ id: 'p', state: 'problem' })] }),
      'uploads.list': () => ({ uploads: [], totals: totals() }),
      'files.remove': () => {
        throw Object.assign(new Error('ledger locked'), { code: 'STORE_ERROR' });
      },
    });
    const store = createStore<UploadSlice>()(createUploadSlice(fake.services));
    await store.getState().uploadActions.init();
    store.getState().uploadActions.selectAllReady();
    expect(Object.keys(store.getState().upload.selected)).toEqual(['r']);
    await store.getState().uploadActions.removeSelected();
    expect(store.getState().upload.error).toEqual({ code: 'STORE_ERROR', message: 'ledger locked' });
    expect(store.getState().upload.rows).toHaveLength(2);
  });
});
