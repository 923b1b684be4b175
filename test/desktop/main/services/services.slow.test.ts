import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contract, type ApiResponse, type CallName, type ApiRequest, type FileItem, type JobRow } from '../../../../shared/common/api-contract.ts';
import { loadConfig } from '../../../../shared/node/config.ts';
import { createLocalQueue } from '../../../../shared/node/local-queue.ts';
import { createLogger } from '../../../../shared/node/log.ts';
import { invokeCall } from '../../../../desktop/main/api-calls.ts';
import { createServices } from '../../../../desktop/main/services/index.ts';
import type { ConsoleServices } from '../../../../desktop/main/services/types.ts';
import { makeClip } from '../../../helpers/clips.ts';

/** The console's services end to end with real ffprobe/ffmpeg, the local store, ledger, queue and in-process worker. */
describe('console services (local tier, real ffmpeg)', () => {
  let home: string;
  let inputs: string;
  let services: ConsoleServices;
  const fileEvents: FileItem[] = [];
  const jobEvents: JobRow[] = [];

  async function call<K extends CallName>(name: K, request: ApiRequest<K>): Promise<ApiResponse<K>> {
    const result = await invokeCall(services.handlers, name, request, { transport: 'web' });
    if (!result.ok) throw Object.assign(new Error(result.error.message), { code: result.error.code });
    // invokeCall validated it already; parse again so the test holds the contract's output type.
    return contract[name].response.parse(result.value) as ApiResponse<K>;
  }

  async function until<T>(what: string, check: () => T | undefined | null | false | Promise<T | null>, timeoutMs = 150_000): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const v = await check();
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  beforeAll(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-services-'));
    inputs = path.join(home, 'dropped', 'batch');
    fs.mkdirSync(path.join(inputs, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(home, 'config.json'), JSON.stringify({ console: { maxInputBytes: 3_000_000 } }));
    fs.writeFileSync(path.join(inputs, 'empty.mp4'), '');
    fs.writeFileSync(path.join(inputs, 'notes.mp4'), 'this is not a video, only text pretending\n'.repeat(50));
    fs.writeFileSync(path.join(inputs, 'sub', 'huge.mov'), randomBytes(3_500_000));
    fs.copyFileSync(makeClip({ durationSec: 2, width: 320, height: 180, fps: 25 }), path.join(inputs, 'sub', 'clip one.mp4'));
    const config = await loadConfig({ home, env: {} });
    services = await createServices({ home, config, log: createLogger({ name: 'test', format: 'json', level: 'silent' }), probeConcurrency: 2 });
    services.events.subscribe((channel, payload) => {
      if (channel === 'files.updated') fileEvents.push(...(payload as { items: FileItem[] }).items);
      if (channel === 'jobs.updated') jobEvents.push(...(payload as { jobs: JobRow[] }).jobs);
    });
  });

  afterAll(async () => {
    await services?.close();
    fs.rmSync(home, { recursive: true, force: true });
  });

  let clipId = '';
  let notesId = '';

  it('adds a dropped folder: flags empty, too large and not-a-video files and keeps going', async () => {
    const added = await call('files.add', { paths: [inputs, path.join(home, 'missing.mp4')] });
    expect(added.items).toHaveLength(4);
    expect(added.rejected).toEqual([expect.objectContaining({ error: expect.objectContaining({ code: 'INPUT_NOT_FOUND' }) })]);
    const byName = (n: string) => added.items.find((i) => i.name === n)!;
    // Known without probing: flagged in the first answer.
    expect(byName('empty.mp4')).toMatchObject({ state: 'problem', problem: { code: 'INPUT_EMPTY' } });
    expect(byName('huge.mov')).toMatchObject({ state: 'problem', problem: { code: 'INPUT_TOO_LARGE' }, relativeDir: 'batch/sub' });
    expect(byName('clip one.mp4').state).toBe('probing');
    clipId = byName('clip one.mp4').id;
    notesId = byName('notes.mp4').id;

    // Probe and route results stream in as events.
    const clip = await until('clip probed', () => fileEvents.find((i) => i.id === clipId && i.state === 'ready' && i.route));
    expect(clip.media).toMatchObject({ width: 320, height: 180, videoCodec: 'h264', audioCodec: 'aac' });
    expect(clip.route).toMatchObject({ tier: 'local' });
    expect(clip.route!.reason.length).toBeGreaterThan(5);
    const notes = await until('notes probed', () => fileEvents.find((i) => i.id === notesId && i.state === 'problem'));
    expect(['NOT_MEDIA', 'NO_VIDEO_STREAM', 'DECODE_FAILED']).toContain(notes.problem!.code);

    const list = await call('files.list', {});
    expect(list.items.filter((i) => i.state === 'ready').map((i) => i.id)).toEqual([clipId]);
  });

  it('dispatches to the local tier, runs the in-process worker to done, and plays the outputs', async () => {
    await call('ladders.save', {
      ladder: {
        name: 'tiny-test',
        segmentSeconds: 1,
        preset: 'ultrafast',
        rungs: [
          { name: '144p', shortEdge: 144, videoBitrate: 200_000, maxrate: 250_000, bufsize: 400_000 },
          { name: '96p', shortEdge: 96, videoBitrate: 100_000, maxrate: 120_000, bufsize: 200_000 },
        ],
      },
    });
    expect((await call('ladders.list', {})).ladders.find((l) => l.name === 'tiny-test')).toMatchObject({ builtin: false });

    const { results } = await call('jobs.dispatch', { fileIds: [clipId, notesId], tier: 'local', ladder: 'tiny-test' });
    const ok = results.find((r) => r.fileId === clipId)!;
    const bad = results.find((r) => r.fileId === notesId)!;
    expect(ok).toMatchObject({ tier: 'local', error: null });
    expect(bad.jobId).toBeNull();
    expect(bad.error).not.toBeNull();
    const jobId = ok.jobId!;

    const done = await until('job done', () => jobEvents.find((j) => j.id === jobId && (j.stage === 'done' || j.stage === 'failed')));
    expect(done.error).toBeNull();
    expect(done.stage).toBe('done');
    expect(done.ladder).toBe('tiny-test');
    expect(done.name).toBe('clip one.mp4');

    const detail = await call('jobs.get', { id: jobId });
    expect(detail.job.stage).toBe('done');
    expect(detail.report).not.toBeNull();
    expect(detail.outputs?.hlsUrl).toMatch(new RegExp(`^/media/outputs/${jobId}/`));

    const sources = await call('player.sources', { jobId });
    expect(sources.variants.map((v) => v.height).sort((a, b) => a - b)).toEqual([96, 144]);
    expect(sources.dashUrl).toMatch(/\.mpd$/);
    const segments = sources.hlsUrl!.slice('/media/'.length).split('/').map(decodeURIComponent);
    const master = await services.media.resolve('outputs', segments.slice(1));
    expect(master?.contentType).toBe('application/vnd.apple.mpegurl');
    let text = '';
    for await (const c of await master!.open()) text += c.toString();
    expect(text).toContain('#EXT-X-STREAM-INF');

    const list = await call('jobs.list', { stage: 'done' });
    expect(list.jobs.map((j) => j.id)).toContain(jobId);
    expect(list.counts.done).toBeGreaterThanOrEqual(1);
    const searched = await call('jobs.list', { search: 'CLIP ONE' });
    expect(searched.jobs.map((j) => j.id)).toEqual([jobId]);

    const now = Date.now();
    const metrics = await call('metrics.query', {
      from: new Date(now - 3_600_000).toISOString(),
      to: new Date(now + 60_000).toISOString(),
      periodSec: 60,
      panels: ['throughput', 'lambdaDuration'],
    });
    expect(metrics.source).toBe('local');
    const throughput = metrics.panels.find((p) => p.panel === 'throughput')!;
    expect(throughput.series.find((s) => s.tier === 'local')?.points.reduce((a, p) => a + p.v, 0)).toBeGreaterThanOrEqual(1);
    expect(metrics.panels.find((p) => p.panel === 'lambdaDuration')!.available).toBe(false);

    await expect(call('jobs.retry', { id: jobId })).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
  });

  it('cancels a local job while it is encoding, and it stays cancelled', async () => {
    const slow = path.join(inputs, 'slow.mp4');
    fs.copyFileSync(makeClip({ durationSec: 8, width: 640, height: 360, fps: 25 }), slow);
    const added = await call('files.add', { paths: [slow] });
    const id = added.items[0]!.id;
    await until('slow clip probed', () => fileEvents.find((i) => i.id === id && i.state === 'ready'));
    await call('ladders.save', {
      ladder: { name: 'slow-test', preset: 'veryslow', rungs: [{ name: '360p', shortEdge: 360, videoBitrate: 800_000, maxrate: 900_000, bufsize: 1_600_000 }] },
    });
    const { results } = await call('jobs.dispatch', { fileIds: [id], tier: 'local', ladder: 'slow-test' });
    const jobId = results[0]!.jobId!;
    // Progress comes straight from the in-process worker, not only from polling the ledger.
    await until('encoding', () => jobEvents.find((j) => j.id === jobId && j.stage === 'encoding'));
    const cancelled = await call('jobs.cancel', { id: jobId });
    expect(cancelled.job).toMatchObject({ stage: 'cancelled', error: { code: 'CANCELLED' } });
    await new Promise((r) => setTimeout(r, 3000));
    // The running job found the cancel at its next write (a compare-and-set, no timers) and published nothing.
    const detail = await call('jobs.get', { id: jobId });
    expect(detail.job).toMatchObject({ stage: 'cancelled', error: { code: 'CANCELLED' } });
    expect(detail.outputs).toBeNull();
    expect(detail.history.map((h) => h.stage), JSON.stringify(detail.history)).toContain('encoding');
    expect(detail.history.at(-1)).toMatchObject({ stage: 'cancelled' });
    expect(detail.history.filter((h) => h.stage === 'cancelled')).toHaveLength(1);
    // Retry of a cancelled job is allowed; retry of a running one is refused naming its stage (tested above).
    // The worker let go of the message: nothing will run the job again.
    const depth = await until('queue drained', async () => {
      const d = await createLocalQueue(path.join(home, 'queue')).depth();
      return d.visible === 0 && d.inFlight === 0 ? d : null;
    });
    expect(depth).toEqual({ visible: 0, inFlight: 0 });
    await expect(call('jobs.cancel', { id: jobId })).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
  });

  it('previews a ladder on a short window: per-rung frames beside the source frame, bitrate and scores', async () => {
    const { ladder } = await call('ladders.get', { name: 'tiny-test' });
    const progress: string[] = [];
    const off = services.events.subscribe((channel, payload) => {
      if (channel === 'preview.progress') progress.push((payload as { phase: string }).phase);
    });
    const result = await call('preview.run', { runId: 'run-1', fileId: clipId, ladder, startSec: 0.5, durationSec: 1 });
    off();
    expect(result.rungs.map((r) => r.name)).toEqual(['144p', '96p']);
    expect(result.vmafAvailable).toBe(false);
    for (const r of result.rungs) {
      expect(r.bitrate).toBeGreaterThan(0);
      expect(r.sizeBytes).toBeGreaterThan(0);
      expect(r.ssim).toBeGreaterThan(0.3);
      expect(r.ssim).toBeLessThanOrEqual(1);
      expect(r.psnr).toBeGreaterThan(10);
      expect(r.vmaf).toBeNull();
      expect(r.sourceFrameUrl).toBe(result.source.frameUrl);
      for (const url of [r.frameUrl, r.sourceFrameUrl]) {
        const [root, ...segments] = url.slice('/media/'.length).split('/').map(decodeURIComponent);
        expect(root).toBe('preview');
        const body = await services.media.resolve('preview', segments);
        expect(body?.contentType).toBe('image/jpeg');
        expect(body!.size).toBeGreaterThan(100);
      }
    }
    expect(result.rungs[0]!.ssim!).toBeGreaterThan(result.rungs[1]!.ssim! - 0.05);
    expect(progress[0]).toBe('encoding');
    expect(progress.at(-1)).toBe('done');
    expect((await call('preview.cancel', { runId: 'run-1' })).cancelled).toBe(false);
    await expect(call('preview.run', { runId: 'run-2', fileId: notesId, ladder, startSec: 0, durationSec: 1 })).rejects.toHaveProperty('code');
  });

  it('previews an Automatic ladder: the per-title analysis runs first and the answer carries its ladder and hull', async () => {
    const { ladder } = await call('ladders.get', { name: 'default' });
    const result = await call('preview.run', { runId: 'run-auto', fileId: clipId, ladder, auto: true, startSec: 0, durationSec: 1 });
    expect(result.ladder?.name).toBe('auto');
    const pt = result.perTitle!;
    expect(pt.metric).toBe('ssim-db');
    // Every trial has the rate it was given and the rate it spent; the chosen rungs are what was previewed.
    expect(pt.points.length).toBeGreaterThanOrEqual(2);
    for (const p of pt.points) expect(p.target).toBeGreaterThan(0);
    expect(result.rungs.map((r) => [r.width, r.height])).toEqual(pt.chosen.map((c) => [c.width, c.height]));
    expect(pt.cpuSec).toBeGreaterThan(0);
  });

  it('answers settings without credentials and saves a validated change', async () => {
    const { settings } = await call('settings.get', {});
    expect(settings.store).toEqual({ kind: 'local', path: path.join(home, 'store') });
    expect(settings.thresholds.maxInputBytes).toBe(3_000_000);
    const saved = await call('settings.save', { patch: { thresholds: { maxInputBytes: 9_000_000, spotShare: 0.5 } } });
    expect(saved.settings.thresholds).toMatchObject({ maxInputBytes: 9_000_000, spotShare: 0.5 });
    expect(JSON.parse(fs.readFileSync(path.join(home, 'config.json'), 'utf8'))).toMatchObject({ console: { maxInputBytes: 9_000_000 }, tiers: { fargate: { spotShare: 0.5 } } });
    await expect(call('settings.save', { patch: { tiers: { enabled: ['lambda'] } } })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    const test = await call('settings.testConnection', {});
    expect(test.checks.find((c) => c.name === 'store')).toMatchObject({ ok: true });
  });
});
