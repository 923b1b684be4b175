import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { findElectron } from '../../cli/commands/console.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('findElectron (tiercast console)', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const fakePackage = () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'tiercast-electron-'));
    dirs.push(d);
    return d;
  };

  it('finds the binary that path.txt names under dist/', () => {
    const dir = fakePackage();
    writeFileSync(path.join(dir, 'path.txt'), 'electron');
    mkdirSync(path.join(dir, 'dist'));
    writeFileSync(path.join(dir, 'dist', 'electron'), '');
    expect(findElectron(dir)).toEqual({ path: path.join(dir, 'dist', 'electron') });
  });

  it('says why when the binary was never downloaded or has gone', () => {
    const dir = fakePackage();
    expect(findElectron(dir)).toEqual({ missing: expect.stringMatching(/never downloaded/) });
    writeFileSync(path.join(dir, 'path.txt'), 'electron');
    expect(findElectron(dir)).toEqual({ missing: expect.stringMatching(/does not exist/) });
  });

  it('never starts Electron 42+\'s lazy download: nothing printed on stdout, where the web console prints its URL', () => {
    // The installed package has no binary on this machine; requiring it would run its install.js.
    const stdout = execFileSync(
      process.execPath,
      ['--import', 'tsx', '-e', "import('./cli/commands/console.ts').then((m) => process.stdout.write(JSON.stringify(m.findElectron())))"],
      { cwd: root, encoding: 'utf8', timeout: 60_000, env: { ...process.env, ELECTRON_OVERRIDE_DIST_PATH: '' } },
    );
    const found = JSON.parse(stdout) as { path?: string; missing?: string };
    expect(found.path ?? found.missing).toBeTruthy();
  });
});
