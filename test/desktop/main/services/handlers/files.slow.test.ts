import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Handlers } from '../../../../../desktop/main/api-calls.ts';
import { filesHandlers } from '../../../../../desktop/main/services/handlers/files.ts';
import { callHandler, consoleParts } from '../../../../helpers/handlers.ts';
import { fixtureClip } from '../../../../helpers/media.ts';

/** The files namespace with the real ffprobe: files are probed and routed with the ladder the Upload screen selects. */
describe('files handlers', () => {
  let home: string;
  let parts: Awaited<ReturnType<typeof consoleParts>>;
  let handlers: Partial<Handlers>;

  beforeAll(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-files-handlers-'));
    parts = await consoleParts(home);
    handlers = filesHandlers({ files: parts.files, selectLadder: parts.routing.selectLadder });
  });
  afterAll(async () => {
    await parts.close();
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('adds a clip and an empty file, routes the clip, flags the empty one, and removes by id', async () => {
    const empty = path.join(home, 'empty.mp4');
    fs.writeFileSync(empty, '');
    const added = await callHandler(handlers, 'files.add', { paths: [fixtureClip('portrait4k60'), empty] });
    expect(added.items).toHaveLength(2);
    await parts.files.idle();
    const { items } = await callHandler(handlers, 'files.list', {});
    const clip = items.find((i) => i.path === fixtureClip('portrait4k60'))!;
    expect(clip).toMatchObject({ state: 'ready', media: { videoCodec: 'h264' }, route: { tier: 'local' } });
    expect(items.find((i) => i.path === empty)).toMatchObject({ state: 'problem', problem: { code: expect.any(String) } });
    expect(await callHandler(handlers, 'files.remove', { ids: [items.find((i) => i.path === empty)!.id, 'nosuch'] })).toEqual({ removed: 1 });
    expect((await callHandler(handlers, 'files.list', {})).items.map((i) => i.id)).toEqual([clip.id]);
  });

  it('re-routes with a selected ladder, and an unknown ladder is refused and leaves the selection as it was', async () => {
    const [clip] = (await callHandler(handlers, 'files.list', {})).items;
    // The local tier costs nothing; the predicted time follows the ladder (mobile has fewer, smaller rungs).
    const withDefault = clip!.route!.estimatedSeconds!;
    const mobile = await callHandler(handlers, 'files.reroute', { ladder: 'mobile' });
    expect(mobile.items[0]!.route!.estimatedSeconds).toBeLessThan(withDefault);
    await expect(callHandler(handlers, 'files.reroute', { ladder: 'no-such-ladder' })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    const again = await callHandler(handlers, 'files.reroute', {});
    expect(again.items[0]!.route!.estimatedSeconds).toBe(mobile.items[0]!.route!.estimatedSeconds);
  });
});
