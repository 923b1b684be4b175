import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { homePaths } from '../../shared/node/data-home.ts';
import { runTiercast, type CliRun } from '../helpers/cli.ts';
import { jobsFor, testSpec } from '../helpers/jobs.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-cli-import-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tiercast(env: Record<string, string>, ...args: string[]): Promise<CliRun> {
  return runTiercast(args, { cwd: dir, env: { PATH: process.env.PATH ?? '', HOME: dir, NO_COLOR: '1', TIERCAST_LOG_LEVEL: 'warn', ...env } });
}

/** A job as the JSON ledger of earlier versions wrote it: jobs/<id>/job.json and status.json in the store folder. */
function ledgerJob(storeDir: string, spec: ReturnType<typeof testSpec>, status: Record<string, unknown> | string | null) {
  const folder = path.join(storeDir, 'jobs', spec.id);
  mkdirSync(folder, { recursive: true });
  writeFileSync(path.join(folder, 'job.json'), JSON.stringify(spec));
  if (status !== null) writeFileSync(path.join(folder, 'status.json'), typeof status === 'string' ? status : JSON.stringify(status));
}

const oldStatus = (spec: ReturnType<typeof testSpec>, over: Record<string, unknown>) => ({
  schemaVersion: 1,
  id: spec.id,
  stage: 'queued',
  progress: 0,
  tier: 'local',
  attempts: 0,
  createdAt: spec.createdAt,
  updatedAt: '2026-11-30T10:00:00.000Z',
  startedAt: null,
  finishedAt: null,
  error: null,
  history: [{ at: spec.createdAt, stage: 'queued', tier: 'local' }],
  ...over,
});

describe('tiercast jobs import', () => {
  it('imports the ledger once: finished jobs keep their outcome, unfinished ones are queued again, broken ones fail alone', async () => {
    const home = path.join(dir, 'home');
    const env = { TIERCAST_HOME: home };
    const storeDir = homePaths(home).store;
    const done = testSpec();
    const encoding = testSpec();
    const failed = testSpec();
    const broken = testSpec();
    const orphan = testSpec();
    ledgerJob(storeDir, done, oldStatus(done, { stage: 'done', progress: 1, attempts: 1, startedAt: '2026-11-30T09:58:00.000Z', finishedAt: '2026-11-30T10:00:00.000Z', costUsd: 0.0042 }));
    ledgerJob(storeDir, encoding, oldStatus(encoding, { stage: 'encoding', progress: 0.5, attempts: 1, startedAt: '2026-11-30T09:59:00.000Z', worker: 'host/1' }));
    ledgerJob(storeDir, failed, oldStatus(failed, { stage: 'failed', attempts: 3, error: { code: 'ENCODE_FAILED', message: 'x264 crashed' } }));
    ledgerJob(storeDir, broken, '{"schemaVersion": 1, "id": ');
    ledgerJob(storeDir, orphan, null);

    const dry = await tiercast(env, 'jobs', 'import', '--dry-run', '--json');
    expect(dry.code, dry.stderr).toBe(1);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, found: 5, imported: 3, present: 0 });
    const h = await jobsFor(home);
    expect((await h.jobStore.counts()).queued).toBe(0);

    const r = await tiercast(env, 'jobs', 'import', '--json');
    expect(r.code, r.stderr).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ verb: 'jobs import', ok: false, found: 5, imported: 3, present: 0, stages: { done: 1, queued: 1, failed: 1 } });
    expect(doc.failed.map((f: { jobId: string }) => f.jobId).sort()).toEqual([broken.id, orphan.id].sort());
    expect(r.stderr).toMatch(new RegExp(`^INVALID_JOB: jobs/${broken.id}/status.json is not JSON`, 'm'));

    expect((await h.jobStore.get(done.id)).status).toMatchObject({ stage: 'done', attempts: 1, costUsd: 0.0042, version: 1, finishedAt: '2026-11-30T10:00:00.000Z' });
    expect((await h.jobStore.get(failed.id)).status).toMatchObject({ stage: 'failed', error: { code: 'ENCODE_FAILED' } });
    // The encoding job had no lease anyone can honour: queued again (and admitted to its tier), attempts kept.
    const requeued = (await h.jobStore.get(encoding.id)).status;
    expect(['queued', 'dispatched']).toContain(requeued.stage);
    expect(requeued).toMatchObject({ attempts: 1, worker: null, lease: null, progress: 0 });
    expect((await h.jobStore.get(encoding.id)).spec).toEqual(encoding);
    const [created] = await h.jobStore.events(encoding.id);
    expect(created).toMatchObject({ type: 'job.created', note: expect.stringContaining('it was encoding on local at 2026-11-30T10:00:00.000Z, queued again') });
    // Importing announces nothing: no webhook for jobs that finished long ago.
    expect(await h.jobStore.undelivered!(100)).toEqual([]);

    const again = await tiercast(env, 'jobs', 'import');
    expect(again.stderr).toMatch(/5 ledger jobs in .*: 0 imported, 3 already in .*jobs\.db, 2 failed/);
    expect((await h.jobStore.get(done.id)).status.version).toBe(1);
    await h.close();
  });
});
