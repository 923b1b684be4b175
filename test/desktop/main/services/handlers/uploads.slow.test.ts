import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Handlers } from '../../../../../desktop/main/api-calls.ts';
import { uploadsHandlers } from '../../../../../desktop/main/services/handlers/uploads.ts';
import { callHandler, consoleParts } from '../../../../helpers/handlers.ts';
import { fixtureClip } from '../../../../helpers/media.ts';

/** The uploads namespace: ready files (probed with the real ffprobe) go into the local store; the rest never start. */
describe('uploads handlers', () => {
  let home: string;
  let parts: Awaited<ReturnType<typeof consoleParts>>;
  let handlers: Partial<Handlers>;
  const ids: Record<'clip' | 'empty', string> = { clip: '', empty: '' };

  beforeAll(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-uploads-handlers-'));
    parts = await consoleParts(home);
    handlers = uploadsHandlers(parts);
    const empty = path.join(home, 'empty.mp4');
    fs.writeFileSync(empty, '');
    const { items } = await parts.files.add([fixtureClip('portrait4k60'), empty]);
    ids.clip = items.find((i) => i.path !== empty)!.id;
    ids.empty = items.find((i) => i.path === empty)!.id;
    await parts.files.idle();
  });
  afterAll(async () => {
    await parts.close();
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('refuses an unknown file id and starts nothing', async () => {
    await expect(callHandler(handlers, 'uploads.start', { ids: [ids.clip, 'nosuch'] })).rejects.toMatchObject({ code: 'INPUT_NOT_FOUND', message: expect.stringContaining('nosuch') });
    expect((await callHandler(handlers, 'uploads.list', {})).uploads).toEqual([]);
  });

  it('uploads the ready file, skips the one with a problem, and answers with the whole table', async () => {
    const started = await callHandler(handlers, 'uploads.start', { ids: [ids.empty, ids.clip] });
    expect(started.uploads.map((u) => u.fileId)).toEqual([ids.clip]);
    const done = await parts.uploads.whenDone(ids.clip);
    const stored = await parts.setup.store.getBuffer(done.key);
    expect(stored.equals(fs.readFileSync(fixtureClip('portrait4k60')))).toBe(true);
    const table = await callHandler(handlers, 'uploads.pause', {});
    expect(table.uploads).toMatchObject([{ fileId: ids.clip, state: 'done' }]);
    expect(table.totals).toMatchObject({ done: 1, queued: 0, failed: 0, totalBytes: fs.statSync(fixtureClip('portrait4k60')).size });
  });
});
