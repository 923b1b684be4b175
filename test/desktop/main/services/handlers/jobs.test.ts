import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TiercastError } from '../../../../../shared/common/errors.ts';
import { createJobOutputs } from '../../../../../shared/node/job-outputs.ts';
import type { Handlers } from '../../../../../desktop/main/api-calls.ts';
import { jobsHandlers } from '../../../../../desktop/main/services/handlers/jobs.ts';
import { callHandler, consoleParts } from '../../../../helpers/handlers.ts';
import { testSpec } from '../../../../helpers/jobs.ts';

/** The jobs namespace over a real SQLite job store in a temp data home: every action is one call of the jobs service. */
describe('jobs handlers', () => {
  let home: string;
  let parts: Awaited<ReturnType<typeof consoleParts>>;
  let setup: Awaited<ReturnType<typeof consoleParts>>['setup'];
  let handlers: Partial<Handlers>;

  beforeAll(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-jobs-handlers-'));
    parts = await consoleParts(home);
    setup = parts.setup;
    handlers = jobsHandlers({ ...parts, ladderFor: parts.routing.ladderFor });
  });
  afterAll(async () => {
    await parts.close();
    fs.rmSync(home, { recursive: true, force: true });
  });

  async function submit(name: string): Promise<string> {
    const [r] = await setup.jobs.submit([{ spec: testSpec({ input: { key: `inputs/${name}`, name, sizeBytes: 1000 } }) }], { admit: false });
    return r!.jobId;
  }

  /** A job taken by a worker and moved to `stage`, as a runner would. */
  async function running(name: string, stage: 'encoding' | 'finalizing') {
    const id = await submit(name);
    const claim = await setup.jobs.claim(id, { worker: 'test-worker', tier: 'local', runToken: name });
    if (!claim.ok) throw new Error(claim.why);
    await setup.jobs.runWrite(claim.run, { stage, progress: 0.4 });
    return { id, run: claim.run };
  }

  it('cancels a queued job, and a second cancel is refused naming the stage', async () => {
    const id = await submit('queued.mp4');
    const res = await callHandler(handlers, 'jobs.cancel', { id });
    expect(res.job).toMatchObject({ id, stage: 'cancelled', error: { code: 'CANCELLED' } });
    await expect(callHandler(handlers, 'jobs.cancel', { id })).rejects.toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringContaining('already cancelled') });
  });

  it('retries a failed job from the start, and refuses to retry a queued one', async () => {
    const { id, run } = await running('failed.mp4', 'encoding');
    expect(await setup.jobs.failRun(run, new TiercastError('DECODE_FAILED', 'no frame'))).toBe('failed');
    const res = await callHandler(handlers, 'jobs.retry', { id });
    expect(res.job).toMatchObject({ id, stage: 'queued', attempts: 0, error: null });
    await expect(callHandler(handlers, 'jobs.retry', { id })).rejects.toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringContaining('queued') });
  });

  it('deletes a finished job, refuses a running one naming its stage, and reports an unknown id, each on its own', async () => {
    const { id: busy } = await running('busy.mp4', 'encoding');
    const finished = await submit('finished.mp4');
    await setup.jobs.cancel(finished, 'the test');
    const res = await callHandler(handlers, 'jobs.delete', { ids: [busy, finished, 'nosuchjob'] });
    expect(res.results[0]).toMatchObject({ id: busy, error: { code: 'INVALID_REQUEST' } });
    expect(res.results[0]!.error!.message).toContain('it is encoding; cancel it first');
    expect(res.results[1]).toEqual({ id: finished, error: null });
    expect(res.results[2]).toMatchObject({ id: 'nosuchjob', error: { code: 'JOB_NOT_FOUND' } });
    await expect(setup.store.head(`outputs/${finished}/manifest.json`)).resolves.toBeNull();
    expect((await setup.jobs.get(busy)).status.stage).toBe('encoding');
    await expect(setup.jobs.get(finished)).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
  });

  it('lists a page filtered by a search over ids and names, with the total of what matched', async () => {
    const a = await submit('Holiday one.mp4');
    const b = await submit('holiday two.mov');
    const res = await callHandler(handlers, 'jobs.list', { search: 'HOLIDAY', limit: 100 });
    expect(res.jobs.map((j) => j.id).sort()).toEqual([a, b].sort());
    expect(res.total).toBe(2);
    const all = await callHandler(handlers, 'jobs.list', { limit: 100 });
    expect(all.total).toBe(Object.values(all.counts).reduce((n, c) => n + c, 0));
    const active = await callHandler(handlers, 'jobs.list', { stage: 'active', limit: 100 });
    expect(active.jobs.every((j) => !['done', 'failed', 'cancelled'].includes(j.stage))).toBe(true);
  });

  it('details a done job with its published outputs and report, and a waiting one with none', async () => {
    const { id, run } = await running('done.mp4', 'finalizing');
    const out = fs.mkdtempSync(path.join(home, 'out-'));
    fs.writeFileSync(path.join(out, 'master.m3u8'), '#EXTM3U\n');
    fs.writeFileSync(path.join(out, 'poster.jpg'), 'jpg');
    await createJobOutputs(setup.store).publishOutputs(id, out, 1, { report: { input: { durationSec: 3 } } });
    await setup.jobs.runWrite(run, { stage: 'done', progress: 1, lease: null, finishedAt: new Date().toISOString() });
    const done = await callHandler(handlers, 'jobs.get', { id });
    expect(done.job.stage).toBe('done');
    // Entry points sit in the published version folder (shared/node/job-outputs.ts).
    const url = (file: string) => expect.stringMatching(new RegExp(`^/media/outputs/${id}/v1-[0-9a-f]+/${file.replace('.', '\\.')}$`));
    expect(done.outputs).toMatchObject({ hlsUrl: url('master.m3u8'), dashUrl: null, posterUrl: url('poster.jpg'), files: 3 });
    expect(done.report).toEqual({ input: { durationSec: 3 } });
    expect(done.history.map((h) => h.stage)).toEqual(['queued', 'downloading', 'finalizing', 'done']);

    const waiting = await callHandler(handlers, 'jobs.get', { id: await submit('waiting.mp4') });
    expect(waiting).toMatchObject({ job: { stage: 'queued' }, outputs: null, report: null });
  });
});
