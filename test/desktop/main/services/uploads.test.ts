import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalStore } from '../../../../shared/node/local-store.ts';
import type { ObjectStore, TransferProgress } from '../../../../shared/node/object-store.ts';
import { createUploadManager, uploadKey, type UploadManager } from '../../../../desktop/main/services/uploads.ts';

/** The real local store, with a hook that sees every progress callback as it happens. */
function hookedStore(root: string, hook: (key: string, p: TransferProgress) => void): ObjectStore {
  const inner = createLocalStore(root);
  return {
    ...inner,
    putFile: (key, file, options = {}) =>
      inner.putFile(key, file, {
        ...options,
        onProgress: (p) => {
          options.onProgress?.(p);
          hook(key, p);
        },
      }),
  };
}

const SIZE = 24 * 1024 * 1024;

describe('upload manager', () => {
  let tmp: string;
  let source: string;
  let content: Buffer;

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-uploads-'));
    content = randomBytes(SIZE);
    source = path.join(tmp, 'big clip.mp4');
    fs.writeFileSync(source, content);
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const stored = (root: string, key: string) => fs.readFileSync(path.join(root, ...key.split('/')));

  it('pauses mid-way, resumes from the partial copy and finishes intact', async () => {
    const root = path.join(tmp, 'store-a');
    let manager!: UploadManager;
    let paused = false;
    const store = hookedStore(root, (_k, p) => {
      if (!paused && p.loaded > 2 * 1024 * 1024) {
        paused = true;
        manager.pause(['f1']);
      }
    });
    manager = await createUploadManager({ store: () => store, stateDir: path.join(tmp, 'state-a') });
    manager.start([{ fileId: 'f1', path: source, name: 'big clip.mp4', sizeBytes: SIZE }]);
    await expect(manager.whenDone('f1')).rejects.toMatchObject({ code: 'CANCELLED' });
    const p = manager.get('f1')!;
    expect(p.state).toBe('paused');
    expect(p.loadedBytes).toBeGreaterThan(0);
    expect(p.loadedBytes).toBeLessThan(SIZE);
    expect(await store.head(p.key)).toBeNull();

    manager.resume(['f1']);
    const done = await manager.whenDone('f1');
    expect(done.state).toBe('done');
    expect(done.resumed).toBe(true);
    expect(manager.list().totals).toMatchObject({ done: 1, loadedBytes: SIZE, totalBytes: SIZE });
    expect(stored(root, done.key).equals(content)).toBe(true);
    await manager.close();
  });

  it('resumes an upload interrupted by quitting when the console starts again', async () => {
    const root = path.join(tmp, 'store-b');
    const stateDir = path.join(tmp, 'state-b');
    let first!: UploadManager;
    let quit: Promise<void> | null = null;
    const store = hookedStore(root, (_k, p) => {
      if (!quit && p.loaded > 3 * 1024 * 1024) quit = first.close();
    });
    first = await createUploadManager({ store: () => store, stateDir });
    first.start([{ fileId: 'f2', path: source, name: 'big clip.mp4', sizeBytes: SIZE }]);
    while (!quit) await new Promise((r) => setTimeout(r, 5));
    await quit;
    const saved = JSON.parse(fs.readFileSync(path.join(stateDir, 'uploads.json'), 'utf8'));
    expect(saved.uploads[0]).toMatchObject({ fileId: 'f2', state: 'uploading' });
    expect(saved.uploads[0].loadedBytes).toBeLessThan(SIZE);

    // A new process: nothing but the state folder and the store survive.
    const second = await createUploadManager({ store: () => createLocalStore(root), stateDir });
    const done = await second.whenDone('f2');
    expect(done).toMatchObject({ state: 'done', resumed: true, totalBytes: SIZE });
    expect(stored(root, uploadKey('f2', 'big clip.mp4')).equals(content)).toBe(true);
    await second.close();
  });

  it('cancels, retries, and fails one missing file without touching the others', async () => {
    const root = path.join(tmp, 'store-c');
    let manager!: UploadManager;
    let cancelled = false;
    const store = hookedStore(root, (key, p) => {
      if (!cancelled && key.includes('f3') && p.loaded > 1024 * 1024) {
        cancelled = true;
        manager.cancel(['f3']);
      }
    });
    const small = path.join(tmp, 'small.mov');
    fs.writeFileSync(small, 'x'.repeat(1000));
    manager = await createUploadManager({ store: () => store, stateDir: path.join(tmp, 'state-c'), concurrency: 2 });
    manager.start([
      { fileId: 'f3', path: source, name: 'big clip.mp4', sizeBytes: SIZE },
      { fileId: 'f4', path: path.join(tmp, 'gone.mp4'), name: 'gone.mp4', sizeBytes: 10 },
      { fileId: 'f5', path: small, name: 'small.mov', sizeBytes: 1000 },
    ]);
    await expect(manager.whenDone('f3')).rejects.toMatchObject({ code: 'CANCELLED' });
    await expect(manager.whenDone('f4')).rejects.toMatchObject({ code: 'INPUT_NOT_FOUND' });
    expect((await manager.whenDone('f5')).state).toBe('done');
    expect(manager.get('f3')!.state).toBe('cancelled');
    expect(manager.get('f4')).toMatchObject({ state: 'failed', error: { code: 'INPUT_NOT_FOUND' } });
    expect(await store.head(uploadKey('f3', 'big clip.mp4'))).toBeNull();

    manager.retry(['f3']);
    const done = await manager.whenDone('f3');
    expect(stored(root, done.key).equals(content)).toBe(true);
    expect(manager.list().totals).toMatchObject({ done: 2, failed: 1, cancelled: 0 });
    await manager.close();
  });

  it('makes store keys from safe characters only', () => {
    const k = uploadKey('f1', '../../etc/passwd');
    expect(k.split('/')).toHaveLength(3);
    expect(k.split('/').some((s) => s === '..' || s === '.')).toBe(false);
    expect(uploadKey('f1', 'é clip $(x).mp4')).toBe('inputs/f1/_ clip _x_.mp4');
    expect(uploadKey('f1', '...')).toBe('inputs/f1/input');
  });
});
