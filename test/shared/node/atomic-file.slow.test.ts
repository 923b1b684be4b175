import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * Durability cannot be seen without a power cut, but its system calls can: strace (installed by .ci/run) records
 * that saveConfig fsyncs the new file before renaming it over config.json, and fsyncs the folder after.
 */
describe('saveConfig is durable (strace)', () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'tiercast-strace-'));
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it('fsync(temp) -> rename(temp, config.json) -> fsync(folder)', () => {
    const script = `import('./shared/node/config.ts').then((m) => m.saveConfig(${JSON.stringify(home)}, { queue: { kind: 'local' } }))`;
    const run = spawnSync(
      'strace',
      ['-f', '-qq', '-e', 'trace=openat,fsync,fdatasync,rename,renameat,renameat2', process.execPath, '--import', 'tsx', '-e', script],
      { cwd: root, encoding: 'utf8', timeout: 120_000 },
    );
    expect(run.status).toBe(0);
    const lines = run.stderr.split('\n').map((l) => l.replace(/^\[pid\s+\d+\]\s*/, ''));
    const tempOpen = lines.findIndex((l) => l.startsWith('openat(') && l.includes(`${home}/.config.json.tc-tmp-`) && l.includes('O_CREAT'));
    expect(tempOpen).toBeGreaterThanOrEqual(0);
    const tempFd = /= (\d+)$/.exec(lines[tempOpen]!)![1];
    const fileSync = lines.findIndex((l, i) => i > tempOpen && new RegExp(`^f(data)?sync\\(${tempFd}\\)`).test(l));
    const rename = lines.findIndex((l) => /^rename(at2?)?\(/.test(l) && l.includes(`${home}/config.json"`));
    const dirOpen = lines.findIndex((l, i) => i > rename && l.startsWith('openat(') && l.includes(`"${home}"`));
    expect(dirOpen).toBeGreaterThan(0);
    const dirFd = /= (\d+)$/.exec(lines[dirOpen]!)![1];
    const dirSync = lines.findIndex((l, i) => i > dirOpen && new RegExp(`^f(data)?sync\\(${dirFd}\\)`).test(l));
    expect(fileSync).toBeGreaterThan(tempOpen);
    expect(rename).toBeGreaterThan(fileSync);
    expect(dirSync).toBeGreaterThan(rename);
  });
});
