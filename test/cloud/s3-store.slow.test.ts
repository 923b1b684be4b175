import { AbortMultipartUploadCommand, type S3Client } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESUME_STATE_MAX_AGE_MS, createS3Client, createS3Store, isTransient, mapS3Error } from '../../cloud/s3-store.ts';
import type { ObjectStore } from '../../shared/node/object-store.ts';
import { objectStoreContract } from '../contract/object-store.contract.ts';
import { s3rverClient, startFaultProxy, startS3rver, type FaultProxy, type S3rverHandle } from '../helpers/s3rver.ts';

const MiB = 1024 * 1024;

/** Counts commands by name through the client's middleware stack (no mocks: the requests still reach s3rver). */
function countCommands(client: S3Client): (name: string) => number {
  const counts = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      counts.set(context.commandName!, (counts.get(context.commandName!) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'tiercastTestCounter' },
  );
  return (name) => counts.get(name) ?? 0;
}

objectStoreContract('S3 on s3rver (with a key prefix)', async () => {
  const s3 = await startS3rver();
  const resumeDir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-resume-'));
  const commandCount = countCommands(s3.client);
  return {
    store: createS3Store({ client: s3.client, bucket: s3.bucket, prefix: 'tenant-a', resumeDir, retryMinTimeoutMs: 20 }),
    bytewiseListing: false,
    asciiCopySourcesOnly: true,
    commandCount,
    async teardown() {
      await s3.stop();
      rmSync(resumeDir, { recursive: true, force: true });
    },
  };
});

describe('S3 store against faults', () => {
  let s3: S3rverHandle;
  let tmp: string;
  let file: string;
  let fileHash: string;

  beforeAll(async () => {
    s3 = await startS3rver();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'tiercast-s3-faults-'));
    file = path.join(tmp, 'src.bin');
    const data = randomBytes(12 * MiB + 123);
    writeFileSync(file, data);
    fileHash = createHash('sha256').update(data).digest('hex');
  });
  afterAll(async () => {
    await s3?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  async function through(proxy: FaultProxy, resumeDir?: string): Promise<{ store: ObjectStore; client: S3Client }> {
    // SDK retries off: the store's own per-part retry must carry the upload through.
    const client = s3rverClient(proxy.endpoint, { maxAttempts: 1 });
    return { client, store: createS3Store({ client, bucket: s3.bucket, resumeDir, retryMinTimeoutMs: 20, partSizeBytes: 5 * MiB }) };
  }

  it('completes an upload intact when S3 answers 503 SlowDown to some parts', async () => {
    const proxy = await startFaultProxy(s3.endpoint, ({ method, url, attempt }) =>
      method === 'PUT' && /partNumber=(1|3)(&|$)/.test(url) && attempt === 1,
    );
    const { store, client } = await through(proxy);
    try {
      const res = await store.putFile('faults/slowdown.bin', file, { concurrency: 2 });
      expect(res.size).toBe(12 * MiB + 123);
      expect(proxy.injected).toHaveLength(2);
      const back = await store.getBuffer('faults/slowdown.bin');
      expect(createHash('sha256').update(back).digest('hex')).toBe(fileHash);
    } finally {
      client.destroy();
      await proxy.stop();
    }
  });

  it('aborts the multipart upload on a fatal error and forgets the resume state', async () => {
    const resumeDir = mkdtempSync(path.join(tmp, 'resume-'));
    // Every attempt at part 2 is refused: not retryable.
    const proxy = await startFaultProxy(s3.endpoint, ({ method, url }) =>
      method === 'PUT' && /partNumber=2(&|$)/.test(url) ? { status: 403, code: 'AccessDenied', message: 'Access Denied' } : false,
    );
    const { store, client } = await through(proxy, resumeDir);
    try {
      const err = await store.putFile('faults/denied.bin', file).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'STORE_ERROR', details: { s3Code: 'AccessDenied', httpStatus: 403 } });
      expect(proxy.injected).toHaveLength(1);
      expect(proxy.seen.some((r) => r.startsWith('DELETE ') && r.includes('uploadId='))).toBe(true);
      expect(readdirSync(resumeDir)).toEqual([]);
      expect(await store.head('faults/denied.bin')).toBeNull();
    } finally {
      client.destroy();
      await proxy.stop();
    }
  });

  it('starts over when the remembered upload no longer exists', async () => {
    const resumeDir = mkdtempSync(path.join(tmp, 'resume-'));
    const client = s3rverClient(s3.endpoint);
    const count = countCommands(client);
    const store = createS3Store({ client, bucket: s3.bucket, resumeDir, partSizeBytes: 5 * MiB });
    try {
      const controller = new AbortController();
      await expect(
        store.putFile('faults/expired.bin', file, { concurrency: 1, signal: controller.signal, onProgress: (p) => p.loaded > 0 && controller.abort() }),
      ).rejects.toMatchObject({ code: 'CANCELLED' });
      const [stateName] = readdirSync(resumeDir);
      const state = JSON.parse(readFileSync(path.join(resumeDir, stateName!), 'utf8')) as { uploadId: string };
      // Forget the upload on the server side, as S3's lifecycle rule for incomplete uploads would.
      await client.send(new AbortMultipartUploadCommand({ Bucket: s3.bucket, Key: 'faults/expired.bin', UploadId: state.uploadId }));
      const res = await store.putFile('faults/expired.bin', file);
      expect(res.resumed).toBe(false);
      expect(count('CreateMultipartUploadCommand')).toBe(2);
      const back = await store.getBuffer('faults/expired.bin');
      expect(createHash('sha256').update(back).digest('hex')).toBe(fileHash);
      expect(readdirSync(resumeDir)).toEqual([]);
    } finally {
      client.destroy();
    }
  });
});

describe('S3 store resume state housekeeping', () => {
  it('drops state files older than the bucket keeps incomplete uploads, and keeps recent ones', async () => {
    const s3 = await startS3rver();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-resume-sweep-'));
    try {
      const old = path.join(dir, `${'a'.repeat(32)}.json`);
      const recent = path.join(dir, `${'b'.repeat(32)}.json`);
      const unrelated = path.join(dir, 'notes.txt');
      for (const f of [old, recent, unrelated]) writeFileSync(f, '{}');
      const longAgo = new Date(Date.now() - RESUME_STATE_MAX_AGE_MS - 60_000);
      utimesSync(old, longAgo, longAgo);
      utimesSync(unrelated, longAgo, longAgo);
      const src = path.join(dir, 'src.bin');
      writeFileSync(src, randomBytes(6 * MiB));
      const store = createS3Store({ client: s3.client, bucket: s3.bucket, resumeDir: dir, partSizeBytes: 5 * MiB });
      await store.putFile('sweep/x.bin', src);
      expect(readdirSync(dir).sort()).toEqual([path.basename(recent), 'notes.txt', 'src.bin'].sort());
    } finally {
      await s3.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('S3 client and error mapping', () => {
  it('always asks for checksums only when required', async () => {
    const client = createS3Client({ region: 'eu-west-1', endpoint: 'http://127.0.0.1:1', forcePathStyle: true });
    expect(await client.config.requestChecksumCalculation()).toBe('WHEN_REQUIRED');
    expect(await client.config.responseChecksumValidation()).toBe('WHEN_REQUIRED');
    expect(client.config.forcePathStyle).toBe(true);
    expect(await client.config.region()).toBe('eu-west-1');
    client.destroy();
  });

  it('drops a connection that goes silent instead of hanging the job (socket idle timeout)', async () => {
    const { createServer } = await import('node:net');
    const sockets: import('node:net').Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket)); // accepts, reads, never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as import('node:net').AddressInfo).port;
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID = 'test';
    process.env.AWS_SECRET_ACCESS_KEY = 'test';
    const client = createS3Client({ region: 'us-east-1', endpoint: `http://127.0.0.1:${port}`, forcePathStyle: true, maxAttempts: 1, socketTimeoutMs: 300 });
    try {
      const store = createS3Store({ client, bucket: 'b', resumeDir: mkdtempSync(path.join(os.tmpdir(), 'tc-silent-')), retryMinTimeoutMs: 10 });
      const err = await store.getBuffer('k').catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'STORE_ERROR' });
      expect(String((err as Error).message)).toMatch(/timed out|Timeout/i);
      expect(sockets.length).toBeGreaterThan(0);
    } finally {
      client.destroy();
      for (const s of sockets) s.destroy();
      silent.close();
      process.env.AWS_ACCESS_KEY_ID = saved.id;
      process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
      if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
      if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
    }
  });

  it('maps SDK errors to stable codes with the cause kept', () => {
    const notFound = Object.assign(new Error('The specified key does not exist.'), { name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } });
    const slow = Object.assign(new Error('Please reduce your request rate.'), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } });
    const denied = Object.assign(new Error('Access Denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
    expect(mapS3Error(notFound, 'get k')).toMatchObject({ code: 'INPUT_NOT_FOUND', cause: notFound });
    const noBucket = Object.assign(new Error('The specified bucket does not exist'), { name: 'NoSuchBucket', BucketName: 'media-x', $metadata: { httpStatusCode: 404 } });
    expect(mapS3Error(noBucket, 'put k')).toMatchObject({ code: 'STORE_ERROR', message: 'put k: the bucket media-x does not exist (check TIERCAST_BUCKET / store.bucket and the region)' });
    expect(mapS3Error(slow, 'put k')).toMatchObject({ code: 'STORE_ERROR', details: { s3Code: 'SlowDown', httpStatus: 503 } });
    expect(isTransient(slow)).toBe(true);
    expect(isTransient(denied)).toBe(false);
    expect(isTransient(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe(true);
  });
});
