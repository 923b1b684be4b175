import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createStoreFromConfig } from '../../cloud/store-from-config.ts';
import { loadConfig } from '../../shared/node/config.ts';

describe('createStoreFromConfig', () => {
  const home = path.join(os.tmpdir(), 'tiercast-store-from-config');

  it('builds the local folder store in the data home by default', async () => {
    const config = await loadConfig({ env: {}, home });
    const { store, close } = createStoreFromConfig(config, { home });
    expect(store.kind).toBe('local');
    expect(store.location).toContain(path.join(home, 'store'));
    close();
  });

  it('builds the S3 store from bucket and prefix, with the region falling back to aws.region', async () => {
    const config = await loadConfig({
      env: { TIERCAST_BUCKET: 'media-bucket', TIERCAST_PREFIX: 'tc/', AWS_REGION: 'eu-west-1', TIERCAST_S3_ENDPOINT: 'http://127.0.0.1:9' },
      home,
    });
    const { store, close } = createStoreFromConfig(config, { home });
    expect(store.kind).toBe('s3');
    expect(store.location).toBe('s3://media-bucket/tc/');
    close();
  });
});
