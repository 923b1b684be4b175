import { randomBytes } from 'node:crypto';
import { createStoreFromConfig } from '../../../cloud/store-from-config.ts';
import type { ApiResponse, SettingsPatch } from '../../../shared/common/api-contract.ts';
import type { TiercastConfig } from '../../../shared/common/config-schema.ts';
import { toTiercastError } from '../../../shared/common/errors.ts';
import { resolveFfmpeg } from '../../../shared/node/ffmpeg-locate.ts';

/**
 * Settings' "Test connection": writes, reads and deletes a probe object in the store the form names (or the current
 * one), and finds ffmpeg. Each check answers ok or the error's code and sentence; neither throws.
 */

type Check = ApiResponse<'settings.testConnection'>['checks'][number];

/** The current config with the form's store (and region) in place of the saved one. */
export function candidateConfig(config: TiercastConfig, patch: SettingsPatch | undefined): TiercastConfig {
  const store = patch?.store;
  if (!store) return config;
  if (store.kind === 'local') return { ...config, store: { kind: 'local', root: store.path } } as TiercastConfig;
  const region = patch.aws?.region ?? config.aws.region;
  return {
    ...config,
    store: {
      kind: 's3',
      bucket: store.bucket,
      prefix: store.prefix,
      forcePathStyle: Boolean(store.endpoint) || (config.store.kind === 's3' && config.store.forcePathStyle),
      partSizeMb: 16,
      uploadConcurrency: 4,
      ...(store.endpoint ? { endpoint: store.endpoint } : {}),
      ...(region ? { region } : {}),
    },
  } as TiercastConfig;
}

async function checkStore(config: TiercastConfig, home: string): Promise<Check> {
  const t0 = Date.now();
  let close = () => {};
  try {
    const built = createStoreFromConfig(config, { home });
    close = built.close;
    const probeKey = `console-check/${randomBytes(6).toString('hex')}.txt`;
    await built.store.put(probeKey, 'tiercast connection test\n', { contentType: 'text/plain' });
    await built.store.head(probeKey);
    await built.store.delete(probeKey);
    return { name: 'store', ok: true, message: `wrote, read and deleted a test object in ${built.store.location}`, elapsedMs: Date.now() - t0 };
  } catch (err) {
    const e = toTiercastError(err, 'STORE_ERROR');
    return { name: 'store', ok: false, message: `${e.code}: ${e.message}`.slice(0, 2000), elapsedMs: Date.now() - t0 };
  } finally {
    close();
  }
}

async function checkFfmpeg(): Promise<Check> {
  const t0 = Date.now();
  try {
    const f = await resolveFfmpeg();
    return { name: 'ffmpeg', ok: true, message: `ffmpeg ${f.version} (${f.source})`.slice(0, 2000), elapsedMs: Date.now() - t0 };
  } catch (err) {
    return { name: 'ffmpeg', ok: false, message: toTiercastError(err).message.slice(0, 2000), elapsedMs: Date.now() - t0 };
  }
}

export async function testConnection(config: TiercastConfig, patch: SettingsPatch | undefined, home: string): Promise<ApiResponse<'settings.testConnection'>> {
  const checks = [await checkStore(candidateConfig(config, patch), home), await checkFfmpeg()];
  return { ok: checks.every((c) => c.ok), checks };
}
