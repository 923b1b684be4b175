import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appHandlers } from '../../../../../desktop/main/services/handlers/app.ts';
import type { TiercastConfig } from '../../../../../shared/common/config-schema.ts';
import { loadConfig } from '../../../../../shared/node/config.ts';
import { createLocalStore } from '../../../../../shared/node/local-store.ts';
import { callHandler } from '../../../../helpers/handlers.ts';

/** app.info: what the console runs on, read at each call (Settings may have changed the store or the tiers since). */
describe('app handlers', () => {
  let home: string;
  let config: TiercastConfig;

  beforeAll(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-app-handlers-'));
    config = await loadConfig({ home, env: {} });
  });
  afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

  it('answers with the transport, the ffmpeg build, the current store and metrics source', async () => {
    let store = createLocalStore(path.join(home, 'store-a'));
    let kind: 'local' | 'cloudwatch' = 'local';
    const handlers = appHandlers({ home, version: '9.9.9', config: () => config, store: () => store, metricsKind: () => kind });
    const web = await callHandler(handlers, 'app.info', {}, { transport: 'web' });
    expect(web).toMatchObject({ version: '9.9.9', transport: 'web', platform: process.platform, dataHome: home, metricsSource: 'local', tiersEnabled: ['local'] });
    expect(web.store).toEqual({ kind: 'local', location: store.location });
    expect(web.ffmpeg).toMatchObject({ found: true, encoders: expect.arrayContaining(['libx264', 'aac']) });

    store = createLocalStore(path.join(home, 'store-b'));
    kind = 'cloudwatch';
    const ipc = await callHandler(handlers, 'app.info', {});
    expect(ipc).toMatchObject({ transport: 'ipc', metricsSource: 'cloudwatch', store: { location: expect.stringContaining('store-b') } });
  });
});
