import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createEcsClient, createLambdaClient } from '../../cloud/dispatch/clients.ts';
import { createS3Client } from '../../cloud/s3-store.ts';

/**
 * A configured profile reaches the SDK's own default chain through the clients' `profile` option, so no separate
 * credential-providers package is needed (README "Dependencies and why").
 */
describe('AWS clients with a named profile', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-profile-'));
    const file = path.join(dir, 'credentials');
    writeFileSync(file, '[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = default-secret\n\n[ops]\naws_access_key_id = AKIDOPS\naws_secret_access_key = ops-secret\n');
    vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', file);
    vi.stubEnv('AWS_CONFIG_FILE', path.join(dir, 'config'));
    vi.stubEnv('AWS_ACCESS_KEY_ID', '');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', '');
    vi.stubEnv('AWS_SESSION_TOKEN', '');
    vi.stubEnv('AWS_PROFILE', '');
  });
  afterEach(() => {
    vi.unstubAllEnvs();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['S3', () => createS3Client({ region: 'us-east-1', profile: 'ops' })],
    ['Lambda', () => createLambdaClient({ region: 'us-east-1', profile: 'ops' })],
    ['ECS', () => createEcsClient({ region: 'us-east-1', profile: 'ops' })],
  ])('%s resolves the named profile, not the default one', async (_name, make) => {
    const client = make();
    const creds = await client.config.credentials();
    expect(creds.accessKeyId).toBe('AKIDOPS');
    client.destroy();
  });

  it('uses the default profile when none is named', async () => {
    const client = createS3Client({ region: 'us-east-1' });
    expect((await client.config.credentials()).accessKeyId).toBe('AKIDDEFAULT');
    client.destroy();
  });
});
