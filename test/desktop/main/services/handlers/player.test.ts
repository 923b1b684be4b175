import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Handlers } from '../../../../../desktop/main/api-calls.ts';
import { playerHandlers } from '../../../../../desktop/main/services/handlers/player.ts';
import { createOutputsReader } from '../../../../../desktop/main/services/outputs.ts';
import { createJobOutputs } from '../../../../../shared/node/job-outputs.ts';
import { createLocalStore } from '../../../../../shared/node/local-store.ts';
import type { ObjectStore } from '../../../../../shared/node/object-store.ts';
import { callHandler } from '../../../../helpers/handlers.ts';

/** player.sources from outputs published into a real local store, as the worker publishes them. */
describe('player handlers', () => {
  let home: string;
  let store: ObjectStore;
  let handlers: Partial<Handlers>;

  async function publish(jobId: string, report: unknown) {
    const dir = fs.mkdtempSync(path.join(home, 'out-'));
    for (const f of ['master.m3u8', 'manifest.mpd', 'poster.jpg', 'thumbnails.vtt']) fs.writeFileSync(path.join(dir, f), f);
    return createJobOutputs(store).publishOutputs(jobId, dir, 1, { report });
  }

  beforeAll(() => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-player-handlers-'));
    store = createLocalStore(path.join(home, 'store'));
    handlers = playerHandlers({ outputs: createOutputsReader(() => store) });
  });
  afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

  it('answers media URLs for every entry point and a variant per rendition of the report', async () => {
    const renditions = [
      { name: '720p', width: 1280, height: 720, bitratePeak: 3_100_000, maxrate: 3_000_000, codecs: 'avc1.64001f' },
      { name: '360p', width: 640, height: 360, maxrate: 900_000, codecs: 'avc1.4d401e' },
      { name: 'odd', width: 'wide', targetBitrate: 'lots' },
    ];
    const manifest = await publish('job-1', { input: { durationSec: 12.5 }, renditions });
    const res = await callHandler(handlers, 'player.sources', { jobId: 'job-1' });
    const base = `/media/outputs/job-1/${manifest.hls!.split('/')[0]}`;
    expect(res).toMatchObject({
      jobId: 'job-1',
      hlsUrl: `${base}/master.m3u8`,
      dashUrl: `${base}/manifest.mpd`,
      posterUrl: `${base}/poster.jpg`,
      thumbnailsVttUrl: `${base}/thumbnails.vtt`,
      durationSec: 12.5,
    });
    expect(res.variants).toEqual([
      { name: '720p', width: 1280, height: 720, bandwidth: 3_100_000, codecs: 'avc1.64001f' },
      { name: '360p', width: 640, height: 360, bandwidth: 900_000, codecs: 'avc1.4d401e' },
      { name: 'odd', width: 0, height: 0, bandwidth: 0, codecs: '' },
    ]);
  });

  it('plays without variants when the report cannot be read, and names a job with nothing published', async () => {
    const manifest = await publish('job-2', { input: { durationSec: 3 } });
    await store.delete(`outputs/job-2/${manifest.report}`);
    expect(await callHandler(handlers, 'player.sources', { jobId: 'job-2' })).toMatchObject({ variants: [], durationSec: null, hlsUrl: expect.stringMatching(/master\.m3u8$/) });
    await expect(callHandler(handlers, 'player.sources', { jobId: 'job-3' })).rejects.toMatchObject({ code: 'JOB_NOT_FOUND', message: 'job job-3 has no published outputs yet' });
  });
});
