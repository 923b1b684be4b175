import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
// electron-builder's own loader and schema check (app-builder-lib ships with electron-builder), so the test sees the
// configuration exactly as `electron-builder` would, not as a YAML parser of ours would.
import { getConfig, validateConfiguration } from 'app-builder-lib/out/util/config/config.js';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

async function loadBuilderConfig() {
  const config = await getConfig(root, path.join(root, 'electron-builder.yml'), null);
  // The logger only records details when enabled; a disabled one is all validation needs.
  await validateConfiguration(config, { isEnabled: false } as Parameters<typeof validateConfiguration>[1]);
  return config;
}

describe('electron-builder.yml (the packaged desktop app)', () => {
  // Schema validation compiles electron-builder's whole JSON schema (seconds): load once, assert many times.
  let loaded: ReturnType<typeof loadBuilderConfig> | undefined;
  const builderConfig = () => (loaded ??= loadBuilderConfig());

  it('passes electron-builder schema validation', async () => {
    await expect(builderConfig()).resolves.toBeTruthy();
  }, 60_000);

  it('flips the fuses that close Electron as a Node runner, debugger and foreign-code loader', async () => {
    const config = await builderConfig();
    expect(config.electronFuses).toEqual({
      runAsNode: false,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
      enableCookieEncryption: true,
      grantFileProtocolExtraPrivileges: false,
    });
    // The fuses protect an asar: without one (or with its integrity hash disabled) they would guard nothing.
    expect(config.asar).toBe(true);
  });

  it('rebuilds native modules (better-sqlite3) for the packaged Electron', async () => {
    const config = await builderConfig();
    expect(config.npmRebuild).toBe(true);
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(pkg.dependencies['better-sqlite3']).toBeDefined();
  });

  it('packages a supported Electron major (45 or later)', () => {
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
    const installed = JSON.parse(readFileSync(path.join(root, 'node_modules/electron/package.json'), 'utf8')) as { version: string };
    expect(Number(/\d+/.exec(pkg.devDependencies.electron ?? '')?.[0])).toBeGreaterThanOrEqual(45);
    expect(Number(installed.version.split('.')[0])).toBeGreaterThanOrEqual(45);
  });
});
