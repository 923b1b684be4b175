import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Handlers } from '../../../../../desktop/main/api-calls.ts';
import { laddersHandlers } from '../../../../../desktop/main/services/handlers/ladders.ts';
import { createConsoleRouting } from '../../../../../desktop/main/services/routing.ts';
import { getLadder } from '../../../../../shared/common/ladders.ts';
import { loadConfig } from '../../../../../shared/node/config.ts';
import { callHandler } from '../../../../helpers/handlers.ts';

/** The ladders namespace over a temp data home's `ladders/`: built-ins are listed and kept, saved ones come and go. */
describe('ladders handlers', () => {
  let home: string;
  let handlers: Partial<Handlers>;

  beforeAll(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-ladders-handlers-'));
    const config = await loadConfig({ home, env: {} });
    handlers = laddersHandlers({ home, ladderFor: createConsoleRouting({ home, config: () => config }).ladderFor });
  });
  afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

  it('lists the built-in ladders with their rungs and the default', async () => {
    const res = await callHandler(handlers, 'ladders.list', {});
    expect(res.defaultLadder).toBe('default');
    const reference = res.ladders.find((l) => l.name === 'reference')!;
    expect(reference).toMatchObject({ builtin: true, rungs: expect.arrayContaining([{ name: '1080p', shortEdge: 1080, videoBitrate: 8_000_000 }]) });
  });

  it('saves, reads and deletes an operator ladder; a built-in cannot be deleted and an unknown one is named', async () => {
    const ladder = { ...getLadder('mobile'), name: 'night-shift', description: 'for the night queue' };
    const saved = await callHandler(handlers, 'ladders.save', { ladder });
    expect(saved.ladder).toMatchObject({ name: 'night-shift', description: 'for the night queue' });
    expect(await callHandler(handlers, 'ladders.get', { name: 'night-shift' })).toMatchObject({ builtin: false, ladder: { name: 'night-shift' } });
    expect((await callHandler(handlers, 'ladders.list', {})).ladders.find((l) => l.name === 'night-shift')).toMatchObject({ builtin: false });

    expect(await callHandler(handlers, 'ladders.delete', { name: 'night-shift' })).toEqual({ deleted: true });
    expect(await callHandler(handlers, 'ladders.delete', { name: 'night-shift' })).toEqual({ deleted: false });
    await expect(callHandler(handlers, 'ladders.get', { name: 'night-shift' })).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: 'unknown ladder "night-shift"' });
    await expect(callHandler(handlers, 'ladders.delete', { name: 'default' })).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('built-in') });
    expect((await callHandler(handlers, 'ladders.get', { name: 'default' })).builtin).toBe(true);
  });
});
