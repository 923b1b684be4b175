import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobsHandlers } from '../../../../../desktop/main/services/handlers/jobs.ts';
import { callHandler, consoleParts } from '../../../../helpers/handlers.ts';
import { fixtureClip } from '../../../../helpers/media.ts';

/** jobs.dispatch with the real ffprobe: each file gets its own answer, and only ready files are uploaded and submitted. */
describe('jobs.dispatch', () => {
  let home: string;
  let parts: Awaited<ReturnType<typeof consoleParts>>;

  beforeAll(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-dispatch-handlers-'));
    parts = await consoleParts(home);
  });
  afterAll(async () => {
    await parts.close();
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('submits the ready clip with its ladder and priority, and answers for an unknown and a broken file on their own', async () => {
    const handlers = jobsHandlers({ ...parts, ladderFor: parts.routing.ladderFor });
    const empty = path.join(home, 'empty.mp4');
    fs.writeFileSync(empty, '');
    const { items } = await parts.files.add([fixtureClip('portrait4k60'), empty]);
    const clip = items.find((i) => i.path !== empty)!;
    const broken = items.find((i) => i.path === empty)!;

    const { results } = await callHandler(handlers, 'jobs.dispatch', { fileIds: ['nosuch', broken.id, clip.id], ladder: 'mobile', tier: 'local', priorities: { [clip.id]: 9 } });
    expect(results[0]).toMatchObject({ fileId: 'nosuch', jobId: null, error: { code: 'INPUT_NOT_FOUND' } });
    expect(results[1]).toMatchObject({ fileId: broken.id, jobId: null, error: { code: parts.files.get(broken.id)!.problem!.code } });
    expect(results[2]).toMatchObject({ fileId: clip.id, tier: 'local', error: null, jobId: expect.any(String) });

    const { spec, status } = await parts.setup.jobs.get(results[2]!.jobId!);
    expect(status.stage).toBe('queued');
    expect(spec).toMatchObject({ ladder: { name: 'mobile' }, priority: 9, input: { name: path.basename(clip.path) } });
    expect((await parts.setup.store.getBuffer(spec.input.key)).length).toBe(clip.sizeBytes);
    expect(parts.uploads.list().uploads.map((u) => u.fileId)).toEqual([clip.id]);
  });

  it('refuses an unknown ladder before uploading anything', async () => {
    const handlers = jobsHandlers({ ...parts, ladderFor: parts.routing.ladderFor });
    const before = parts.uploads.list().uploads.length;
    await expect(callHandler(handlers, 'jobs.dispatch', { fileIds: ['x'], ladder: 'no-such-ladder', tier: 'auto' })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    expect(parts.uploads.list().uploads).toHaveLength(before);
  });
});
