import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Store } from '../../../../cloud/s3-store.ts';
import type { ObjectStore } from '../../../../shared/node/object-store.ts';
import { createUploadManager, uploadKey, type UploadManager } from '../../../../desktop/main/services/uploads.ts';
import { startS3rver, type S3rverHandle } from '../../../helpers/s3rver.ts';

const MiB = 1024 * 1024;

/** The console's uploads to an S3 store (s3rver): quitting mid-upload and starting again continues the multipart. */
describe('upload manager over S3 (s3rver)', () => {
  let s3: S3rverHandle;
  let tmp: string;
  let content: Buffer;
  let source: string;

  beforeAll(async () => {
    s3 = await startS3rver();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-uploads-s3-'));
    content = randomBytes(22 * MiB);
    source = path.join(tmp, 'camera A.mov');
    fs.writeFileSync(source, content);
  });
  afterAll(async () => {
    await s3?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const storeFor = (stateDir: string, onPart?: (loaded: number) => void): ObjectStore => {
    const inner = createS3Store({ client: s3.client, bucket: s3.bucket, prefix: 'console/', resumeDir: path.join(stateDir, 's3'), partSizeBytes: 5 * MiB, concurrency: 1 });
    if (!onPart) return inner;
    return {
      ...inner,
      putFile: (key, file, options = {}) =>
        inner.putFile(key, file, { ...options, onProgress: (p) => (options.onProgress?.(p), onPart(p.loaded)) }),
    };
  };

  it('resumes the multipart upload after a restart instead of starting over', async () => {
    const stateDir = path.join(tmp, 'state');
    let first!: UploadManager;
    let quit: Promise<void> | null = null;
    first = await createUploadManager({
      store: () => storeFor(stateDir, (loaded) => {
        if (!quit && loaded >= 10 * MiB) quit = first.close();
      }),
      stateDir,
    });
    first.start([{ fileId: 'f1', path: source, name: 'camera A.mov', sizeBytes: content.length }]);
    while (!quit) await new Promise((r) => setTimeout(r, 10));
    await quit;

    let firstProgress = -1;
    const second = await createUploadManager({
      store: () => storeFor(stateDir, (loaded) => {
        if (firstProgress < 0) firstProgress = loaded;
      }),
      stateDir,
    });
    const done = await second.whenDone('f1');
    expect(done).toMatchObject({ state: 'done', resumed: true, totalBytes: content.length });
    // The first progress report of the second run already counts the parts uploaded before the quit.
    expect(firstProgress).toBeGreaterThanOrEqual(5 * MiB);
    const stored = await storeFor(stateDir).getBuffer(uploadKey('f1', 'camera A.mov'));
    expect(stored.equals(content)).toBe(true);
    await second.close();
  });
});
