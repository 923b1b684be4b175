import { describe, expect, it } from 'vitest';
import { createStore } from 'zustand/vanilla';
import { createPlayerSlice, manifestUrl, type PlayerSlice, type PlayerSources } from '../../../desktop/renderer/src/features/player/stores/player-slice.ts';
import { fakeServices } from './fake-services.tsx';

const sources = (over: Partial<PlayerSources> = {}): PlayerSources => ({
  jobId: 'j1', hlsUrl: '/media/outputs/j1/master.m3u8', dashUrl: '/media/outputs/j1/manifest.mpd', thumbnailsVttUrl: null, posterUrl: null, variants: [], durationSec: 4, ...over,
});

describe('player slice', () => {
  it('plays the chosen format, or the other one when the job has only that', () => {
    expect(manifestUrl(sources(), 'dash')).toEqual({ url: '/media/outputs/j1/manifest.mpd', format: 'dash' });
    expect(manifestUrl(sources({ dashUrl: null }), 'dash')).toEqual({ url: '/media/outputs/j1/master.m3u8', format: 'hls' });
    expect(manifestUrl(sources({ hlsUrl: null, dashUrl: null }), 'hls')).toBeNull();
    expect(manifestUrl(null, 'hls')).toBeNull();
  });

  it('opens the newest finished job, keeps playback when it is re-opened, and shows a failing job with its code', async () => {
    const fake = fakeServices({
      'jobs.list': () => ({ jobs: [{ id: 'j1' } as never, { id: 'j2' } as never], nextCursor: null, total: 2, counts: {} }),
      'player.sources': ({ jobId }) => {
        if (jobId === 'j2') throw Object.assign(new Error('no outputs for j2'), { code: 'JOB_NOT_FOUND' });
        return sources({ dashUrl: null });
      },
    });
    const store = createStore<PlayerSlice>()(createPlayerSlice(fake.services));
    const a = store.getState().playerActions;
    await a.loadJobs();
    expect(fake.callsOf('jobs.list')).toEqual([{ stage: 'done', limit: 500 }]);
    expect(store.getState().player.jobId).toBe('j1');
    expect(store.getState().player.format).toBe('hls');
    await a.open('j1');
    expect(fake.callsOf('player.sources')).toHaveLength(1);
    await a.open('j2');
    expect(store.getState().player.error).toEqual({ code: 'JOB_NOT_FOUND', message: 'no outputs for j2' });
    expect(store.getState().player.sources).toBeNull();
    expect(a.mediaHeaders()).toEqual({ authorization: 'Bearer t' });
  });
});
