import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTiercast, type CliRun } from '../helpers/cli.ts';
import { startFauxqs, type Fauxqs } from '../helpers/fauxqs.ts';
import { S3RVER_CREDENTIALS, startS3rver, type S3rverHandle } from '../helpers/s3rver.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-cli-doctor-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function doctor(env: Record<string, string>): Promise<CliRun> {
  return runTiercast(['doctor', '--json'], { cwd: dir, env: { PATH: process.env.PATH ?? '', HOME: dir, NO_COLOR: '1', TIERCAST_LOG_LEVEL: 'warn', ...env } });
}

type Doc = { ok: boolean; checks: { name: string; status: string; message: string }[] };
const byName = (doc: Doc) => new Map(doc.checks.map((c) => [c.name, c]));

describe('tiercast doctor', () => {
  let s3: S3rverHandle;
  let sqs: Fauxqs;
  let queueUrl: string;
  beforeAll(async () => {
    [s3, sqs] = await Promise.all([startS3rver(), startFauxqs()]);
    queueUrl = await sqs.createQueue('doctor-jobs');
  });
  afterAll(async () => {
    await Promise.all([s3?.stop(), sqs?.stop()]);
  });

  it('on the embedded default: ffmpeg and its capabilities, a writable data home, the local store and queue, only local on', async () => {
    const home = path.join(dir, 'home-local');
    const r = await doctor({ TIERCAST_HOME: home });
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as Doc;
    expect(doc).toMatchObject({ schemaVersion: 1, verb: 'doctor', ok: true });
    const c = byName(doc);
    expect(c.get('ffmpeg')).toMatchObject({ status: 'ok', message: expect.stringMatching(/^ffmpeg \S+ from (path|env|ffmpeg-static) \(/) });
    expect(c.get('codecs')).toMatchObject({ status: 'ok', message: 'rungs can be H.264 (libx264), HEVC (libx265), AV1 (libsvtav1)' });
    expect(c.get('data-home')).toMatchObject({ status: 'ok', message: `${home} is writable` });
    expect(c.get('store')).toMatchObject({ status: 'ok', message: `wrote, read and deleted a test object in ${path.join(home, 'store')}` });
    expect(c.get('queue')).toMatchObject({ status: 'ok', message: expect.stringMatching(/^local queue .*: 0 waiting, 0 in flight$/) });
    expect(c.get('job store')).toMatchObject({ status: 'ok', message: expect.stringMatching(/^sqlite .*jobs\.db: 0 jobs, [\d.]+ MiB \(0 waiting, 0 running, 0 failed\); SQLite [\d.]+, WAL, integrity ok$/) });
    expect(c.get('tier local')).toMatchObject({ status: 'ok', message: 'enabled' });
    expect(c.get('tier lambda')!.message).toMatch(/^off: the store is a local folder/);
  });

  it('with an S3 bucket and an SQS queue: both reached; a missing bucket and a missing ffmpeg fail with exit 1', async () => {
    const aws = {
      TIERCAST_HOME: path.join(dir, 'home-aws'),
      TIERCAST_BUCKET: s3.bucket,
      TIERCAST_S3_ENDPOINT: s3.endpoint,
      TIERCAST_S3_FORCE_PATH_STYLE: 'true',
      TIERCAST_QUEUE_URL: queueUrl,
      TIERCAST_SQS_ENDPOINT: sqs.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    };
    const good = await doctor(aws);
    expect(good.code, good.stdout + good.stderr).toBe(0);
    const c = byName(JSON.parse(good.stdout) as Doc);
    expect(c.get('store')).toMatchObject({ status: 'ok', message: expect.stringContaining(`s3://${s3.bucket}`) });
    expect(c.get('queue')).toMatchObject({ status: 'ok', message: `SQS ${queueUrl}: 0 waiting, 0 in flight` });
    expect(c.get('tier ec2')).toMatchObject({ status: 'ok', message: 'enabled' });
    // The secret never reaches the output.
    expect(good.stdout + good.stderr).not.toContain(S3RVER_CREDENTIALS.secretAccessKey);

    const bad = await doctor({ ...aws, TIERCAST_BUCKET: 'no-such-bucket-doctor', TIERCAST_FFMPEG: path.join(dir, 'no-ffmpeg') });
    expect(bad.code).toBe(1);
    const b = byName(JSON.parse(bad.stdout) as Doc);
        expect(b.get('store')).toMatchObject({ status: 'fail', message: expect.stringMatching(/^STORE_ERROR: put doctor\/\w+\.txt: the bucket (no-such-bucket-doctor )?does not exist \(check TIERCAST_BUCKET/) });
    expect(b.get('ffmpeg')).toMatchObject({ status: 'fail', message: expect.stringMatching(/^FFMPEG_MISSING: .*apt-get install -y ffmpeg/) });
    expect(b.get('queue')!.status).toBe('ok');
  });
});
