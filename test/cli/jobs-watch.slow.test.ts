import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runTiercast, startTiercast } from '../helpers/cli.ts';
import { jobsFor, testSpec } from '../helpers/jobs.ts';
import { TiercastError } from '../../shared/common/errors.ts';

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
    const h = await jobsFor(home);
    await h.jobs.submit([{ spec: testSpec({ id: 'watched' }), route: { tier: 'ec2', reason: 'test' } }], { admit: false });

    const run = startTiercast(['jobs', '--watch', '--interval', '0.2'], { cwd: dir, env });
    const lines = () => run.out.stdout.split('\n').filter(Boolean);
    await until('the first line', () => lines().length >= 1);
    expect(lines()[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z {2}watched {2}queued {2}0% {2}ec2 {2}attempt 0$/);
    // Several reads without a change add nothing.
    await new Promise((r) => setTimeout(r, 700));
    expect(lines()).toHaveLength(1);
    const c = await h.jobs.claim('watched', { worker: 'host', tier: 'ec2', runToken: 'r' });
    if (!c.ok) throw new Error(c.why);
    await h.jobs.runWrite(c.run, { stage: 'encoding', progress: 0.42 });
    await until('the encoding line', () => lines().length >= 2);
    expect(lines()[1]).toMatch(/ {2}watched {2}encoding {2}42% {2}ec2 {2}attempt 1$/);
    // A small progress step within the same 10 % is not a change worth a line.
    await h.jobs.runWrite(c.run, { progress: 0.44 });
    await new Promise((r) => setTimeout(r, 700));
    expect(lines()).toHaveLength(2);
    await h.jobs.failRun(c.run, new TiercastError('DECODE_FAILED', 'w.mp4: no frame decoded'));
    await until('the failed line', () => lines().length >= 3);
    expect(lines()[2]).toMatch(/ {2}watched {2}failed {2}44% {2}ec2 {2}attempt 1 {2}DECODE_FAILED: w\.mp4: no frame decoded$/);
    await h.close();

    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);

    const both = await runTiercast(['jobs', '--watch', '--json'], { cwd: dir, env });
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/^CONFIG_INVALID: --watch prints a stream, --json one document/m);
  });
});
