import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLocalStore, compareKeys } from '../../../shared/node/local-store.ts';
import { objectStoreContract } from '../../contract/object-store.contract.ts';

objectStoreContract('local folder', async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'tiercast-local-store-'));
  return {
    store: createLocalStore(root),
    bytewiseListing: true,
    async teardown() {
      rmSync(root, { recursive: true, force: true });
    },
  };
});

describe('local store specifics', () => {
  it('never shows temporary files in listings and keeps keys inside the root', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'tiercast-local-store-'));
    try {
      const store = createLocalStore(root);
      await store.put('a/b', 'x');
      writeFileSync(path.join(root, 'a', '.~tc.b.deadbeef'), 'partial');
      const keys: string[] = [];
      for await (const m of store.list('')) keys.push(m.key);
      expect(keys).toEqual(['a/b']);
      await expect(store.put('a/.~tc.b.x', 'y')).rejects.toMatchObject({ code: 'STORE_ERROR' });
      expect(readdirSync(root)).toEqual(['a']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('two concurrent putFile of one file to one key both finish with the whole file', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'tiercast-local-store-'));
    try {
      const store = createLocalStore(root);
      const src = path.join(root, 'src.bin');
      const data = randomBytes(8 * 1024 * 1024);
      writeFileSync(src, data);
      await Promise.all([store.putFile('dup/x', src), store.putFile('dup/x', src), store.putFile('dup/x', src)]);
      expect((await store.getBuffer('dup/x')).equals(data)).toBe(true);
      expect(readdirSync(path.join(root, 'dup'))).toEqual(['x']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('refuses a key that collides with another key\'s folder as STORE_ERROR, not as a missing object', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'tiercast-local-store-'));
    try {
      const store = createLocalStore(root);
      await store.put('a/b', 'x');
      await store.put('d/e/f', 'x');
      await expect(store.put('a/b/c', 'y')).rejects.toMatchObject({ code: 'STORE_ERROR' });
      await expect(store.put('d/e', 'y')).rejects.toMatchObject({ code: 'STORE_ERROR' });
      await expect(store.getBuffer('d/e')).rejects.toMatchObject({ code: 'INPUT_NOT_FOUND' });
      expect((await store.getBuffer('a/b')).toString()).toBe('x');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('orders keys by UTF-8 bytes like S3', () => {
    expect(['b', 'a/b', 'a-b', 'a.b', '\u{1F600}', '\uFFFD'].sort(compareKeys)).toEqual(['a-b', 'a.b', 'a/b', 'b', '\uFFFD', '\u{1F600}']);
  });
});
