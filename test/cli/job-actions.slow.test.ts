import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TiercastError } from '../../shared/common/errors.ts';
import { runTiercast, type CliRun } from '../helpers/cli.ts';
import { jobsFor, testSpec } from '../helpers/jobs.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-cli-actions-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tiercast(env: Record<string, string>, ...args: string[]): Promise<CliRun> {
  return runTiercast(args, { cwd: dir, env: { PATH: process.env.PATH ?? '', HOME: dir, NO_COLOR: '1', TIERCAST_LOG_LEVEL: 'warn', ...env } });
}

describe('tiercast cancel, retry, delete, redrive', () => {
  it('each id succeeds or fails on its own: illegal moves name the stage, unknown ids are JOB_NOT_FOUND', async () => {
    const home = path.join(dir, 'home');
    const env = { TIERCAST_HOME: home };
    const h = await jobsFor(home);
    const ids = { waiting: testSpec(), running: testSpec(), finished: testSpec(), dead: testSpec({ maxAttempts: 1 }) };
    // Submitted but not admitted: nothing runs them while the CLI acts on them.
    await h.jobs.submit(Object.values(ids).map((spec) => ({ spec, route: { tier: 'local' as const, reason: 'test' } })), { admit: false });
    const claim = async (id: string) => {
      const c = await h.jobs.claim(id, { worker: 'test', tier: 'local', runToken: id });
      if (!c.ok) throw new Error(c.why);
      return c.run;
    };
    const running = await claim(ids.running.id);
    await h.jobs.runWrite(running, { stage: 'encoding', progress: 0.4 });
    const finished = await claim(ids.finished.id);
    await h.jobs.runWrite(finished, { stage: 'finalizing' });
    await h.jobs.runWrite(finished, { stage: 'done', lease: null });
    await h.jobs.failRun(await claim(ids.dead.id), new TiercastError('ENCODE_FAILED', 'x264 crashed'));

    const r = await tiercast(env, 'cancel', '--json', ids.waiting.id, ids.running.id, ids.finished.id, 'no-such-job');
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ schemaVersion: 1, verb: 'cancel', ok: false });
    expect(doc.jobs).toEqual([
      { id: ids.waiting.id, ok: true, stage: 'cancelled', tier: 'local' },
      { id: ids.running.id, ok: true, stage: 'cancelled', tier: 'local' },
      { id: ids.finished.id, ok: false, stage: null, tier: null, error: { code: 'INVALID_REQUEST', message: `job ${ids.finished.id} is already done; nothing to cancel` } },
      { id: 'no-such-job', ok: false, stage: null, tier: null, error: { code: 'JOB_NOT_FOUND', message: expect.stringContaining('no-such-job') } },
    ]);
    // The running job's runner finds the cancel at its next write; nothing writes over it.
    await expect(h.jobs.runWrite(running, { progress: 0.5 })).rejects.toMatchObject({ code: 'CANCELLED' });
    expect((await h.jobStore.get(ids.running.id)).status).toMatchObject({ stage: 'cancelled', error: { code: 'CANCELLED', message: 'cancelled by the CLI' } });

    const again = await tiercast(env, 'cancel', ids.running.id);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^INVALID_REQUEST: job \S+ is already cancelled \(CANCELLED\); nothing to cancel$/m);

    // retry: the cancelled job goes back to the queue; a finished one cannot be retried.
    const retried = await tiercast(env, 'retry', ids.running.id, ids.finished.id);
    expect(retried.code).toBe(1);
    expect(retried.stderr).toMatch(new RegExp(`^retried ${ids.running.id} \\(now (queued|dispatched) on local\\)$`, 'm'));
    expect(retried.stderr).toMatch(/^INVALID_REQUEST: cannot retry job \S+: it is done/m);

    // redrive: every dead-lettered job, with no ids.
    expect((await h.jobStore.get(ids.dead.id)).status).toMatchObject({ stage: 'failed', deadLettered: true });
    const redriven = await tiercast(env, 'redrive', '--json');
    expect(redriven.code, redriven.stderr).toBe(0);
    expect(JSON.parse(redriven.stdout).jobs.map((j: { id: string }) => j.id)).toEqual([ids.dead.id]);
    expect((await h.jobStore.get(ids.dead.id)).status).toMatchObject({ attempts: 0, deadLettered: false });

    // delete: finished jobs only.
    const del = await tiercast(env, 'delete', ids.finished.id, ids.dead.id);
    expect(del.code).toBe(1);
    expect(del.stderr).toMatch(new RegExp(`^deleted ${ids.finished.id}$`, 'm'));
    expect(del.stderr).toMatch(/^INVALID_REQUEST: cannot delete job \S+: it is (queued|dispatched); cancel it first$/m);
    await expect(h.jobStore.get(ids.finished.id)).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });

    expect((await tiercast(env, 'cancel')).code).toBe(2);
    await h.close();
  });
});
