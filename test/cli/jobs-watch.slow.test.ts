import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { homePaths } from '../../shared/node/data-home.ts';
import { createLedger } from '../../shared/node/ledger.ts';
import { createLocalStore } from '../../shared/node/local-store.ts';
import { runTiercast, startTiercast } from '../helpers/cli.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-cli-watch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function until(what: string, check: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('tiercast jobs --watch', () => {
  it('without a TTY prints a line per change (not per read), and Ctrl+C ends it with exit 0', async () => {
    const home = path.join(dir, 'home');
    const env = { PATH: process.env.PATH ?? '', HOME: dir, NO_COLOR: '1', TIERCAST_LOG_LEVEL: 'warn', TIERCAST_HOME: home };
    const ledger = createLedger(createLocalStore(homePaths(home).store));
    const ladder = { name: 'tiny', rungs: [{ name: '180p', shortEdge: 180, videoBitrate: 300_000, maxrate: 400_000, bufsize: 600_000 }] };
    await ledger.createJob({ schemaVersion: 1, id: 'watched', createdAt: new Date().toISOString(), input: { key: 'inputs/w.mp4', name: 'w.mp4', sizeBytes: 10 }, ladder });

    const run = startTiercast(['jobs', '--watch', '--interval', '0.2'], { cwd: dir, env });
    const lines = () => run.out.stdout.split('\n').filter(Boolean);
    await until('the first line', () => lines().length >= 1);
    expect(lines()[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z {2}watched {2}queued {2}0% {2}- {2}attempt 0$/);
    // Several reads without a change add nothing.
    await new Promise((r) => setTimeout(r, 700));
    expect(lines()).toHaveLength(1);
    await ledger.updateStatus('watched', { stage: 'encoding', tier: 'ec2', attempts: 1, progress: 0.42 });
    await until('the encoding line', () => lines().length >= 2);
    expect(lines()[1]).toMatch(/ {2}watched {2}encoding {2}42% {2}ec2 {2}attempt 1$/);
    // A small progress step within the same 10 % is not a change worth a line.
    await ledger.updateStatus('watched', { progress: 0.44 });
    await new Promise((r) => setTimeout(r, 700));
    expect(lines()).toHaveLength(2);
    await ledger.updateStatus('watched', { stage: 'failed', error: { code: 'DECODE_FAILED', message: 'w.mp4: no frame decoded' } });
    await until('the failed line', () => lines().length >= 3);
    expect(lines()[2]).toMatch(/ {2}watched {2}failed {2}44% {2}ec2 {2}attempt 1 {2}DECODE_FAILED: w\.mp4: no frame decoded$/);

    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);

    const both = await runTiercast(['jobs', '--watch', '--json'], { cwd: dir, env });
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/^CONFIG_INVALID: --watch prints a stream, --json one document/m);
  });
});
