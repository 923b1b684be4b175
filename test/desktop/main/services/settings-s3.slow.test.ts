import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contract, type ApiRequest, type ApiResponse, type CallName } from '../../../../shared/common/api-contract.ts';
import { loadConfig } from '../../../../shared/node/config.ts';
import { createLogger } from '../../../../shared/node/log.ts';
import { invokeCall } from '../../../../desktop/main/api-calls.ts';
import { createServices } from '../../../../desktop/main/services/index.ts';
import type { ConsoleServices } from '../../../../desktop/main/services/types.ts';
import { makeClip } from '../../../helpers/clips.ts';
import { S3RVER_CREDENTIALS, startS3rver, type S3rverHandle } from '../../../helpers/s3rver.ts';

/**
 * Settings switched to an S3 store (s3rver) from the console: the connection test, the saved config, the redacted
 * view, and uploads going to the bucket. Credentials come from the environment (the SDK's chain), never from settings.
 */
describe('console settings with an S3 store (s3rver)', () => {
  let s3: S3rverHandle;
  let home: string;
  let services: ConsoleServices;
  const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };

  async function call<K extends CallName>(name: K, request: ApiRequest<K>): Promise<ApiResponse<K>> {
    const result = await invokeCall(services.handlers, name, request, { transport: 'ipc' });
    if (!result.ok) throw Object.assign(new Error(result.error.message), { code: result.error.code });
    return contract[name].response.parse(result.value) as ApiResponse<K>;
  }

  beforeAll(async () => {
    s3 = await startS3rver();
    process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-settings-s3-'));
    const config = await loadConfig({ home, env: {} });
    services = await createServices({ home, config, log: createLogger({ name: 'test', format: 'json', level: 'silent' }), localWorker: false });
  });
  afterAll(async () => {
    await services?.close();
    await s3?.stop();
    process.env.AWS_ACCESS_KEY_ID = saved.id;
    process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
    if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
    if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('tests the connection before saving, saves, and uploads into the bucket', async () => {
    const patch = { store: { kind: 's3' as const, bucket: s3.bucket, prefix: 'console/', endpoint: s3.endpoint }, aws: { region: 'us-east-1' } };
    const wrong = await call('settings.testConnection', { patch: { ...patch, store: { ...patch.store, bucket: 'no-such-bucket-x' } } });
    expect(wrong.ok).toBe(false);
    expect(wrong.checks.find((c) => c.name === 'store')!.ok).toBe(false);
    const right = await call('settings.testConnection', { patch });
    expect(right.checks.find((c) => c.name === 'store')).toMatchObject({ ok: true });

    const { settings } = await call('settings.save', { patch });
    expect(settings.store).toEqual({ kind: 's3', bucket: s3.bucket, prefix: 'console/', endpoint: s3.endpoint });
    const file = JSON.parse(fs.readFileSync(path.join(home, 'config.json'), 'utf8'));
    expect(file.store).toMatchObject({ kind: 's3', bucket: s3.bucket, forcePathStyle: true });
    expect(JSON.stringify(file)).not.toContain(S3RVER_CREDENTIALS.secretAccessKey);
    const info = await call('app.info', {});
    expect(info.store).toEqual({ kind: 's3', location: expect.stringContaining(s3.bucket) });
    expect(JSON.stringify(info)).not.toContain(S3RVER_CREDENTIALS.secretAccessKey);
    expect(JSON.stringify(await call('settings.get', {}))).not.toContain(S3RVER_CREDENTIALS.secretAccessKey);

    // An upload now lands in the bucket under the prefix.
    const src = path.join(home, 'hello clip.mp4');
    fs.copyFileSync(makeClip({ durationSec: 1, width: 160, height: 90 }), src);
    const { items } = await call('files.add', { paths: [src] });
    const id = items[0]!.id;
    for (let i = 0; i < 200 && (await call('files.list', {})).items[0]!.state === 'probing'; i++) await new Promise((r) => setTimeout(r, 50));
    await call('uploads.start', { ids: [id] });
    let upload = null;
    for (let i = 0; i < 200; i++) {
      upload = (await call('uploads.list', {})).uploads.find((u) => u.fileId === id);
      if (upload?.state === 'done' || upload?.state === 'failed') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(upload).toMatchObject({ state: 'done', error: null });
    const obj = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: `console/${upload!.key}` }));
    const body = Buffer.from(await obj.Body!.transformToByteArray());
    expect(body.equals(fs.readFileSync(src))).toBe(true);
  });
});
