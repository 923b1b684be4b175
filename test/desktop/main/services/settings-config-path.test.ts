import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invokeCall } from '../../../../desktop/main/api-calls.ts';
import { createServices } from '../../../../desktop/main/services/index.ts';
import type { ConsoleServices } from '../../../../desktop/main/services/types.ts';
import type { ApiResponse, ApiResult } from '../../../../shared/common/api-contract.ts';
import { loadConfig } from '../../../../shared/node/config.ts';
import { createLogger } from '../../../../shared/node/log.ts';

/** A console started with --config FILE saves its settings into that file (not the data home's config.json). */
describe('settings.save with --config', () => {
  let home: string;
  let file: string;
  let services: ConsoleServices;

  beforeAll(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-settings-file-'));
    file = path.join(home, 'ops', 'tiercast.json');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify({ tiers: { lambda: { maxBytes: 40_000_000 } } }));
    const config = await loadConfig({ home, env: {}, configPath: file });
    services = await createServices({ home, config, configPath: file, log: createLogger({ name: 't', format: 'json', level: 'silent' }), localWorker: false });
  });
  afterAll(async () => {
    await services.close();
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('merges the patch into the --config file and answers with the settings read back from it', async () => {
    const res = (await invokeCall(services.handlers, 'settings.save', { patch: { thresholds: { lambdaEnhancedMaxBytes: 120_000_000 } } }, { transport: 'ipc' })) as ApiResult<
      ApiResponse<'settings.save'>
    >;
    expect(res.ok).toBe(true);
    if (!res.ok) return;
    expect(res.value.settings.configPath).toBe(file);
    expect(res.value.settings.thresholds).toMatchObject({ lambdaMaxBytes: 40_000_000, lambdaEnhancedMaxBytes: 120_000_000 });
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).tiers.lambda).toEqual({ maxBytes: 40_000_000, enhancedMaxBytes: 120_000_000 });
    expect(fs.existsSync(path.join(home, 'config.json'))).toBe(false);
  });
});
