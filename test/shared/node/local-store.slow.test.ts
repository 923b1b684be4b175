import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
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

describe('local store never follows symbolic links (issue 9)', () => {
  it('a link to a file outside the root, or a folder link, is refused on head, get, getBuffer, getFile, copy and put, and left out of listings', async () => {
    const outside = mkdtempSync(path.join(os.tmpdir(), 'tiercast-outside-'));
    const root = mkdtempSync(path.join(os.tmpdir(), 'tiercast-local-store-'));
    try {
      writeFileSync(path.join(outside, 'passwd'), 'root:x:0:0:secret\n');
      const store = createLocalStore(root);
      await store.put('outputs/j1/master.m3u8', '#EXTM3U\n');
      symlinkSync(path.join(outside, 'passwd'), path.join(root, 'outputs', 'j1', 'passwd'));
      symlinkSync(outside, path.join(root, 'outputs', 'j2'));
      for (const key of ['outputs/j1/passwd', 'outputs/j2/passwd']) {
        await expect(store.head(key)).rejects.toMatchObject({ code: 'FORBIDDEN' });
        await expect(store.get(key)).rejects.toMatchObject({ code: 'FORBIDDEN' });
        await expect(store.getBuffer(key)).rejects.toMatchObject({ code: 'FORBIDDEN' });
        await expect(store.getFile(key, path.join(root, '..', `copy-${path.basename(root)}`))).rejects.toMatchObject({ code: 'FORBIDDEN' });
        await expect(store.copy(key, 'outputs/j3/copied')).rejects.toMatchObject({ code: 'FORBIDDEN' });
      }
      // Writing through a folder link would land outside the root.
      await expect(store.put('outputs/j2/planted', 'x')).rejects.toMatchObject({ code: 'FORBIDDEN' });
      expect(readdirSync(outside)).toEqual(['passwd']);
      const keys: string[] = [];
      for await (const m of store.list('outputs/')) keys.push(m.key);
      expect(keys).toEqual(['outputs/j1/master.m3u8']);
      const prefixes: string[] = [];
      for await (const p of store.listPrefixes('outputs/')) prefixes.push(p);
      expect(prefixes).toEqual(['outputs/j1/']);
      // The real object next to the link still reads.
      expect((await store.getBuffer('outputs/j1/master.m3u8')).toString()).toBe('#EXTM3U\n');
    } finally {
      rmSync(root, { recursive: true, force: true });
      rmSync(outside, { recursive: true, force: true });
    }
  });
});
