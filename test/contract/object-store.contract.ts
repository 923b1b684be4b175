import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TiercastError, type ErrorCode } from '../../shared/common/errors.ts';
import { compareKeys } from '../../shared/node/local-store.ts';
import type { ObjectStore, TransferProgress } from '../../shared/node/object-store.ts';

/**
 * One behaviour contract for every ObjectStore implementation: the local folder store and S3 (on s3rver) must
 * agree on keys, ordering, ranges, copies, deletes, progress, cancellation and resumable uploads.
 */
export interface StoreFixture {
  readonly store: ObjectStore;
  /**
   * false for s3rver, which orders a listing by path segments ('a/1' before 'a-c'); S3 and the local store order
   * by UTF-8 bytes ('a-c' < 'a.txt' < 'a/1'). Only then is that finer order asserted.
   */
  readonly bytewiseListing: boolean;
  /** true for s3rver, which mis-decodes non-ASCII and '+' in CopyObject's source header (S3 does not). */
  readonly asciiCopySourcesOnly?: boolean;
  /** S3 only: how many requests of a command were sent so far (e.g. 'UploadPartCommand'). */
  readonly commandCount?: (commandName: string) => number;
  teardown(): Promise<void>;
}

const MiB = 1024 * 1024;

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const sha256File = async (p: string) => {
  const h = createHash('sha256');
  for await (const c of createReadStream(p)) h.update(c as Buffer);
  return h.digest('hex');
};

async function expectCode(p: Promise<unknown>, code: ErrorCode): Promise<TiercastError> {
  const err = await p.then(
    () => {
      throw new Error(`expected ${code}, got success`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TiercastError);
  expect((err as TiercastError).code).toBe(code);
  return err as TiercastError;
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

export function objectStoreContract(name: string, setup: () => Promise<StoreFixture>): void {
  describe(`ObjectStore contract: ${name}`, () => {
    let fx: StoreFixture;
    let store: ObjectStore;
    let tmp: string;
    let bigFile: string;
    let bigHash: string;

    beforeAll(async () => {
      fx = await setup();
      store = fx.store;
      tmp = mkdtempSync(path.join(os.tmpdir(), 'tiercast-contract-'));
      bigFile = path.join(tmp, 'big.bin');
      const big = randomBytes(30 * MiB);
      writeFileSync(bigFile, big);
      bigHash = sha256(big);
    });

    afterAll(async () => {
      await fx?.teardown();
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    });

    it('round-trips strings, buffers and streams, and reports missing keys', async () => {
      await store.put('rt/a.txt', 'hello', { contentType: 'text/plain' });
      await store.put('rt/b.bin', Buffer.from([0, 1, 2, 255]));
      const streamed = randomBytes(300_000);
      await store.put('rt/c.bin', Readable.from([streamed.subarray(0, 100_000), streamed.subarray(100_000)]));
      expect((await store.getBuffer('rt/a.txt')).toString()).toBe('hello');
      expect([...(await store.getBuffer('rt/b.bin'))]).toEqual([0, 1, 2, 255]);
      expect(sha256(await readAll(await store.get('rt/c.bin')))).toBe(sha256(streamed));
      const head = await store.head('rt/c.bin');
      expect(head?.size).toBe(300_000);
      expect(head?.lastModified).toBeInstanceOf(Date);
      expect(await store.head('rt/missing')).toBeNull();
      await expectCode(store.get('rt/missing'), 'INPUT_NOT_FOUND');
      await expectCode(store.getBuffer('rt/missing'), 'INPUT_NOT_FOUND');
      await expectCode(store.getFile('rt/missing', path.join(tmp, 'nope')), 'INPUT_NOT_FOUND');
    });

    it('keeps keys with spaces, plus signs and non-ASCII intact through put, list and copy', async () => {
      const key = 'odd/Été à Paris + more (1).txt';
      await store.put(key, 'odd');
      expect((await collect(store.list('odd/'))).map((m) => m.key)).toEqual([key]);
      // s3rver decodes x-amz-copy-source with decodeURI over latin1, so there the copy source is kept ASCII.
      const source = fx.asciiCopySourcesOnly ? 'odd/plain name.txt' : key;
      if (source !== key) await store.put(source, 'odd');
      await store.copy(source, 'odd/copy of Été.txt');
      expect((await store.getBuffer('odd/copy of Été.txt')).toString()).toBe('odd');
      expect((await store.getBuffer(key)).toString()).toBe('odd');
      expect(await store.deletePrefix('odd/')).toBe(source === key ? 2 : 3);
    });

    it('overwrites an existing key with the whole new object', async () => {
      await store.put('ow/x', 'first version, longer');
      await store.put('ow/x', 'second');
      expect((await store.getBuffer('ow/x')).toString()).toBe('second');
    });

    it('refuses keys that could escape the store or alias another key', async () => {
      for (const bad of ['../x', 'a/../../x', '/abs', 'a\\b', '', 'a//b', './a']) {
        await expectCode(store.put(bad, 'x'), 'STORE_ERROR');
      }
    });

    it('serves byte ranges (inclusive, open-ended, clamped at the end)', async () => {
      const data = Buffer.from('0123456789abcdefghij');
      await store.put('range/r', data);
      expect((await readAll(await store.get('range/r', { range: { start: 2, end: 5 } }))).toString()).toBe('2345');
      expect((await readAll(await store.get('range/r', { range: { start: 15 } }))).toString()).toBe('fghij');
      expect((await readAll(await store.get('range/r', { range: { start: 18, end: 100 } }))).toString()).toBe('ij');
      await expectCode(store.get('range/r', { range: { start: 5, end: 2 } }), 'STORE_ERROR');
    });

    it('lists in key order with prefixes, startAfter and folders', async () => {
      const keys = ['ls/b/2', 'ls/a-c', 'ls/a/1', 'ls/a.txt', 'ls/b/1', 'ls/c', 'lsx/other'];
      for (const k of keys) await store.put(k, k);
      const listed = (await collect(store.list('ls/'))).map((m) => m.key);
      const order = (keys: string[]) => (fx.bytewiseListing ? keys : [...keys].sort(compareKeys));
      expect(order(listed)).toEqual(['ls/a-c', 'ls/a.txt', 'ls/a/1', 'ls/b/1', 'ls/b/2', 'ls/c']);
      expect(listed.slice(-3)).toEqual(['ls/b/1', 'ls/b/2', 'ls/c']);
      expect(order((await collect(store.list('ls/a'))).map((m) => m.key))).toEqual(['ls/a-c', 'ls/a.txt', 'ls/a/1']);
      expect((await collect(store.list('ls/', { startAfter: 'ls/a/1' }))).map((m) => m.key)).toEqual(['ls/b/1', 'ls/b/2', 'ls/c']);
      expect((await collect(store.list('ls/b/')))[0]?.size).toBe('ls/b/1'.length);
      expect(await collect(store.listPrefixes('ls/'))).toEqual(['ls/a/', 'ls/b/']);
      expect(await collect(store.listPrefixes('nothing-here/'))).toEqual([]);
    });

    it('lists past 1,000 keys page by page and deletes them in batches', async () => {
      const n = 1_050;
      const keys = Array.from({ length: n }, (_, i) => `many/k${String(i).padStart(5, '0')}`);
      for (let i = 0; i < keys.length; i += 50) {
        await Promise.all(keys.slice(i, i + 50).map((k) => store.put(k, 'x')));
      }
      const listed = (await collect(store.list('many/', { pageSize: 400 }))).map((m) => m.key);
      expect(listed).toEqual(keys);
      const after = (await collect(store.list('many/', { startAfter: keys[1_020]! }))).map((m) => m.key);
      expect(after).toEqual(keys.slice(1_021));
      expect(await store.deletePrefix('many/')).toBe(n);
      expect(await collect(store.list('many/'))).toEqual([]);
    }, 120_000);

    it('copies, deletes idempotently and deletes by prefix', async () => {
      await store.put('cp/src', 'payload');
      await store.copy('cp/src', 'cp/dst/copied');
      expect((await store.getBuffer('cp/dst/copied')).toString()).toBe('payload');
      await expectCode(store.copy('cp/absent', 'cp/x'), 'INPUT_NOT_FOUND');
      await store.delete('cp/src');
      await store.delete('cp/src');
      expect(await store.head('cp/src')).toBeNull();
      await store.put('cp/dst/two', '2');
      expect(await store.deletePrefix('cp/dst/')).toBe(2);
      expect(await collect(store.list('cp/'))).toEqual([]);
      expect(await collect(store.listPrefixes('cp/'))).toEqual([]);
    });

    it('downloads to a file atomically with progress', async () => {
      const data = randomBytes(2 * MiB + 17);
      await store.put('dl/file', data);
      const target = path.join(tmp, 'dl', 'out.bin');
      const events: TransferProgress[] = [];
      const meta = await store.getFile('dl/file', target, { onProgress: (p) => events.push(p) });
      expect(meta.size).toBe(data.length);
      expect(sha256(readFileSync(target))).toBe(sha256(data));
      expect(events.at(-1)?.loaded).toBe(data.length);
    });

    it('uploads a 30 MB file in parts with monotonic progress, byte-identical', async () => {
      const events: TransferProgress[] = [];
      const res = await store.putFile('big/upload.bin', bigFile, { partSizeBytes: 5 * MiB, concurrency: 3, onProgress: (p) => events.push(p) });
      expect(res.size).toBe(30 * MiB);
      expect(res.resumed ?? false).toBe(false);
      expect(events.length).toBeGreaterThanOrEqual(2);
      for (let i = 1; i < events.length; i++) expect(events[i]!.loaded).toBeGreaterThanOrEqual(events[i - 1]!.loaded);
      expect(events.at(-1)).toEqual({ loaded: 30 * MiB, total: 30 * MiB });
      const out = path.join(tmp, 'big-back.bin');
      await store.getFile('big/upload.bin', out);
      expect(await sha256File(out)).toBe(bigHash);
    });

    it('resumes an interrupted putFile instead of starting over', async () => {
      const parts = () => fx.commandCount?.('UploadPartCommand') ?? 0;
      const listParts = () => fx.commandCount?.('ListPartsCommand') ?? 0;
      const controller = new AbortController();
      const partsBefore = parts();
      await expectCode(
        store.putFile('big/resume.bin', bigFile, {
          partSizeBytes: 5 * MiB,
          concurrency: 2,
          signal: controller.signal,
          onProgress: (p) => {
            if (p.loaded > 0) controller.abort(new Error('test interrupt'));
          },
        }),
        'CANCELLED',
      );
      expect(await store.head('big/resume.bin')).toBeNull();
      const firstRunParts = parts() - partsBefore;

      const events: TransferProgress[] = [];
      const partsMid = parts();
      const listBefore = listParts();
      const res = await store.putFile('big/resume.bin', bigFile, { partSizeBytes: 5 * MiB, concurrency: 2, onProgress: (p) => events.push(p) });
      expect(res.resumed).toBe(true);
      // The first report already counts what the interrupted run stored.
      expect(events[0]!.loaded).toBeGreaterThan(0);
      expect(events.at(-1)?.loaded).toBe(30 * MiB);
      if (fx.commandCount) {
        expect(listParts() - listBefore).toBeGreaterThanOrEqual(1);
        expect(firstRunParts).toBeGreaterThan(0);
        expect(parts() - partsMid).toBeLessThan(6); // 30 MiB / 5 MiB parts: fewer than all of them the second time
      }
      const out = path.join(tmp, 'resume-back.bin');
      await store.getFile('big/resume.bin', out);
      expect(await sha256File(out)).toBe(bigHash);
    });

    it('cancels a streamed put and leaves no object behind', async () => {
      const controller = new AbortController();
      let sent = 0;
      const endless = new Readable({
        read() {
          sent += 64 * 1024;
          if (sent > 1 * MiB && !controller.signal.aborted) controller.abort(new Error('stop'));
          this.push(randomBytes(64 * 1024));
        },
      });
      await expectCode(store.put('cancel/stream', endless, { signal: controller.signal, partSizeBytes: 5 * MiB }), 'CANCELLED');
      expect(await store.head('cancel/stream')).toBeNull();
    });
  });
}
