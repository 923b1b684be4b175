import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Handlers } from '../../../../../desktop/main/api-calls.ts';
import { createBackend, type Backend } from '../../../../../desktop/main/services/backend.ts';
import { settingsHandlers } from '../../../../../desktop/main/services/handlers/settings.ts';
import { loadConfig } from '../../../../../shared/node/config.ts';
import { createLogger } from '../../../../../shared/node/log.ts';
import { callHandler } from '../../../../helpers/handlers.ts';

/** The settings namespace over a temp data home's config.json, with the backend (store, job store) following a save. */
describe('settings handlers', () => {
  let home: string;
  let backend: Backend;
  let handlers: Partial<Handlers>;
  const configFile = () => path.join(home, 'config.json');

  beforeAll(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-settings-handlers-'));
    const config = await loadConfig({ home, env: {} });
    backend = createBackend({ home, config, log: createLogger({ name: 't', format: 'json', level: 'silent' }), localWorker: false });
    handlers = settingsHandlers({ home, config: backend.config, apply: backend.apply });
  });
  afterAll(async () => {
    for (const step of backend.closeSteps()) await step();
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('saves a patch into config.json and answers with the settings read back, and the console follows', async () => {
    const before = await callHandler(handlers, 'settings.get', {});
    expect(before.settings.configPath).toBe(configFile());
    const root = path.join(home, 'other-store');
    const res = await callHandler(handlers, 'settings.save', { patch: { tiers: { localConcurrency: 3 }, store: { kind: 'local', path: root } } });
    expect(res.settings.tiers.localConcurrency).toBe(3);
    expect(res.settings.store).toEqual({ kind: 'local', path: root });
    expect(JSON.parse(fs.readFileSync(configFile(), 'utf8'))).toMatchObject({ tiers: { local: { concurrency: 3 } }, store: { kind: 'local', root } });
    expect(backend.config().tiers.local.concurrency).toBe(3);
    expect(backend.store().location).toContain(root);
  });

  it('rejects an invalid field by name and leaves the file and the console as they were', async () => {
    const file = fs.readFileSync(configFile(), 'utf8');
    const config = backend.config();
    await expect(callHandler(handlers, 'settings.save', { patch: { tiers: { ecsSubnets: ['not-a-subnet'] } } })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining('tiers.fargate.subnets'),
    });
    expect(fs.readFileSync(configFile(), 'utf8')).toBe(file);
    expect(backend.config()).toBe(config);
    expect((await callHandler(handlers, 'settings.get', {})).settings.tiers.ecsSubnets).toEqual([]);
  });

  it('tests a candidate store without saving it: a usable folder passes, a file in its place fails with its code', async () => {
    const good = await callHandler(handlers, 'settings.testConnection', { patch: { store: { kind: 'local', path: path.join(home, 'candidate') } } });
    expect(good.checks.find((c) => c.name === 'store')).toMatchObject({ ok: true, message: expect.stringContaining('candidate') });
    expect(good.checks.find((c) => c.name === 'ffmpeg')).toMatchObject({ ok: true, message: expect.stringMatching(/^ffmpeg /) });
    expect(good.ok).toBe(true);
    const blocked = path.join(home, 'a-file');
    fs.writeFileSync(blocked, 'not a folder');
    const bad = await callHandler(handlers, 'settings.testConnection', { patch: { store: { kind: 'local', path: blocked } } });
    expect(bad.ok).toBe(false);
    expect(bad.checks.find((c) => c.name === 'store')).toMatchObject({ ok: false, message: expect.stringMatching(/^[A-Z_]+: /) });
    expect(backend.store().location).not.toContain('candidate');
  });
});
