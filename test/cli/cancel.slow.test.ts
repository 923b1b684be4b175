import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { homePaths } from '../../shared/node/data-home.ts';
import { createLedger } from '../../shared/node/ledger.ts';
import { createLocalStore } from '../../shared/node/local-store.ts';
import { runTiercast, type CliRun } from '../helpers/cli.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-cli-cancel-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tiercast(env: Record<string, string>, ...args: string[]): Promise<CliRun> {
  return runTiercast(args, { cwd: dir, env: { PATH: process.env.PATH ?? '', HOME: dir, NO_COLOR: '1', TIERCAST_LOG_LEVEL: 'warn', ...env } });
}

describe('tiercast cancel', () => {
  it('cancels queued and running jobs, refuses finished and unknown ones, and reports each', async () => {
    const home = path.join(dir, 'home');
    const ledger = createLedger(createLocalStore(homePaths(home).store));
    const ladder = { name: 'tiny', rungs: [{ name: '180p', shortEdge: 180, videoBitrate: 300_000, maxrate: 400_000, bufsize: 600_000 }] };
    for (const id of ['waiting', 'running', 'finished']) {
      await ledger.createJob({ schemaVersion: 1, id, createdAt: new Date().toISOString(), input: { key: `inputs/${id}.mp4`, name: `${id}.mp4`, sizeBytes: 10 }, ladder });
    }
    await ledger.updateStatus('running', { stage: 'encoding', tier: 'fargate', attempts: 1, progress: 0.4 });
    await ledger.updateStatus('finished', { stage: 'done', tier: 'lambda', attempts: 1, progress: 1 });

    const r = await tiercast({ TIERCAST_HOME: home }, 'cancel', '--json', 'waiting', 'running', 'finished', 'no-such-job');
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ schemaVersion: 1, verb: 'cancel', ok: false });
    expect(doc.jobs).toEqual([
      { id: 'waiting', ok: true, previousStage: 'queued', tier: null },
      { id: 'running', ok: true, previousStage: 'encoding', tier: 'fargate' },
      { id: 'finished', ok: false, previousStage: null, tier: null, error: { code: 'INVALID_REQUEST', message: 'job finished is already done; nothing to cancel' } },
      { id: 'no-such-job', ok: false, previousStage: null, tier: null, error: { code: 'JOB_NOT_FOUND', message: expect.stringContaining('no-such-job') } },
    ]);
    expect(r.stderr).toMatch(/^cancelled running \(was encoding on fargate\)$/m);
    for (const id of ['waiting', 'running']) {
      expect(await ledger.getStatus(id)).toMatchObject({ stage: 'failed', error: { code: 'CANCELLED', message: 'cancelled from the CLI' } });
    }
    expect((await ledger.getStatus('finished')).stage).toBe('done');

    const again = await tiercast({ TIERCAST_HOME: home }, 'cancel', 'running');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^INVALID_REQUEST: job running is already failed \(CANCELLED\); nothing to cancel$/m);
    expect((await tiercast({ TIERCAST_HOME: home }, 'cancel')).code).toBe(2);
  });
});
