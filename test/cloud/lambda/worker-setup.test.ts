import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createWorkerRuntime } from '../../../cloud/lambda/worker-setup.ts';
import { homePaths } from '../../../shared/node/data-home.ts';

/** README "Job control plane": cloud runners refuse a job store only they can see. */
describe('createWorkerRuntime: the job store a cloud runner may use', () => {
  let home: string;
  beforeEach(() => {
    home = mkdtempSync(path.join(os.tmpdir(), 'tiercast-runtime-'));
  });
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  const s3 = { AWS_REGION: 'us-east-1', TIERCAST_STORE: 's3', TIERCAST_BUCKET: 'tiercast-media', AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' };

  it('refuses the default SQLite job store beside an S3 store, naming the fix, before opening any file', async () => {
    const err = await createWorkerRuntime({ env: { ...s3, TIERCAST_HOME: home }, name: 'tiercast-lambda' }).then(() => null, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'CONFIG_INVALID', details: { field: 'jobs.store' } });
    expect((err as Error).message).toMatch(/TIERCAST_JOB_STORE=dynamodb and TIERCAST_JOB_TABLE/);
    expect((err as Error).message).toContain(homePaths(home).jobsDb);
    expect(existsSync(homePaths(home).jobsDb)).toBe(false);
  });

  it('takes the DynamoDB job table beside an S3 store, and SQLite when everything is on this machine', async () => {
    const cloud = await createWorkerRuntime({
      env: { ...s3, TIERCAST_HOME: home, TIERCAST_JOB_STORE: 'dynamodb', TIERCAST_JOB_TABLE: 'tiercast-jobs', TIERCAST_DYNAMODB_ENDPOINT: 'http://127.0.0.1:9' },
      name: 'tiercast-lambda',
    });
    expect(cloud.jobs).toBeDefined();
    cloud.close();
    const local = await createWorkerRuntime({ env: { TIERCAST_HOME: home, TIERCAST_STORE: 'local' }, name: 'tiercast-fargate' });
    expect(existsSync(homePaths(home).jobsDb)).toBe(true);
    local.close();
  });
});
