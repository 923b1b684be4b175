import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Handlers } from '../../../../../desktop/main/api-calls.ts';
import { corePreview } from '../../../../../desktop/main/services/core-preview.ts';
import { previewHandlers } from '../../../../../desktop/main/services/handlers/preview.ts';
import { createPreviewService } from '../../../../../desktop/main/services/preview.ts';
import { getLadder } from '../../../../../shared/common/ladders.ts';
import { makeClip } from '../../../../helpers/clips.ts';
import { callHandler, consoleParts } from '../../../../helpers/handlers.ts';

/** The preview namespace with the real ffmpeg: an added file or a path is encoded with every rung on a short window. */
describe('preview handlers', () => {
  let home: string;
  let parts: Awaited<ReturnType<typeof consoleParts>>;
  let handlers: Partial<Handlers>;
  const progress: string[] = [];
  const ladder = getLadder('mobile');

  beforeAll(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-preview-handlers-'));
    parts = await consoleParts(home);
    const preview = createPreviewService({ dir: path.join(home, 'preview'), run: corePreview, onProgress: (p) => progress.push(`${p.runId}:${p.phase}`) });
    handlers = previewHandlers({ files: parts.files, preview });
  });
  afterAll(async () => {
    await parts.close();
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('previews an added file with its probe: frames under the run folder, one rung per fitted size', async () => {
    const clip = makeClip({ durationSec: 2, width: 320, height: 180 });
    const [item] = (await parts.files.add([clip])).items;
    await parts.files.idle();
    const res = await callHandler(handlers, 'preview.run', { runId: 'run-file', fileId: item!.id, ladder, startSec: 0, durationSec: 1 });
    expect(res.source).toMatchObject({ width: 320, height: 180, frameUrl: expect.stringMatching(/^\/media\/preview\/run-file\//) });
    expect(res.rungs.length).toBeGreaterThan(0);
    expect(res.rungs.every((r) => r.height <= 180 && r.frameUrl.startsWith('/media/preview/run-file/'))).toBe(true);
    expect(res.rungs.length + res.dropped.length).toBe(ladder.rungs.length);
    expect(progress).toContain('run-file:done');
  });

  it('previews a path the operator typed, probing it first', async () => {
    const clip = makeClip({ durationSec: 2, width: 320, height: 180 });
    const res = await callHandler(handlers, 'preview.run', { runId: 'run-path', path: clip, ladder, startSec: 0.5, durationSec: 1 });
    expect(res.source.width).toBe(320);
    expect(res.frameAtSec).toBeGreaterThanOrEqual(0.5);
  });

  it('refuses an unknown file and a file with a problem (its own code), and cancels only a running preview', async () => {
    await expect(callHandler(handlers, 'preview.run', { runId: 'r1', fileId: 'nosuch', ladder, startSec: 0, durationSec: 1 })).rejects.toMatchObject({ code: 'INPUT_NOT_FOUND' });
    const empty = path.join(home, 'empty.mp4');
    fs.writeFileSync(empty, '');
    const [broken] = (await parts.files.add([empty])).items;
    await parts.files.idle();
    const code = parts.files.get(broken!.id)!.problem!.code;
    await expect(callHandler(handlers, 'preview.run', { runId: 'r2', fileId: broken!.id, ladder, startSec: 0, durationSec: 1 })).rejects.toMatchObject({ code });
    expect(await callHandler(handlers, 'preview.cancel', { runId: 'r2' })).toEqual({ cancelled: false });
  });
});
