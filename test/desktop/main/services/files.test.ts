import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileItem } from '../../../../shared/common/api-contract.ts';
import { events } from '../../../../shared/common/api-contract.ts';
import { TiercastError } from '../../../../shared/common/errors.ts';
import type { MediaInfo } from '../../../../shared/common/media.ts';
import { createFileRegistry } from '../../../../desktop/main/services/files.ts';

const fakeInfo = (sizeBytes: number): MediaInfo =>
  ({
    container: 'mov,mp4',
    containerLongName: null,
    durationSec: 10,
    sizeBytes,
    bitrate: 1_000_000,
    video: {
      index: 0, codec: 'h264', profile: 'High', width: 640, height: 360, rotation: 0, displayWidth: 640, displayHeight: 360,
      sampleAspectRatio: { num: 1, den: 1 }, displayAspectRatio: 16 / 9, rFrameRate: { num: 25, den: 1 }, avgFrameRate: { num: 25, den: 1 },
      fps: 25, variableFrameRate: false, pixelFormat: 'yuv420p', bitDepth: 8, colorTransfer: 'sdr', colorPrimaries: null, colorSpace: null,
      colorRange: 'tv', fieldOrder: 'progressive', interlaced: false, frameCount: 250, bitrate: 900_000, durationSec: 10,
    },
    videoStreamCount: 1,
    audio: [],
    warnings: [],
  }) as MediaInfo;

/**
 * 5,000 files through the registry with a probe that takes a few milliseconds: probing stays within its concurrency
 * bound, results arrive in batches the event schema accepts (never one message per file, never one giant one), the
 * event loop keeps turning while it runs, and a failing probe only flags its own file.
 */
describe('file registry with thousands of files', () => {
  let dir: string;
  const COUNT = 5000;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tc-files-'));
    for (let i = 0; i < COUNT; i++) fs.writeFileSync(path.join(dir, `clip-${String(i).padStart(4, '0')}.mp4`), i % 1000 === 7 ? '' : 'x'.repeat(100));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('probes with bounded concurrency and streams batched results', async () => {
    let active = 0;
    let maxActive = 0;
    const batches: Array<{ items: FileItem[]; removedIds: string[]; pending: number }> = [];
    const registry = createFileRegistry({
      concurrency: 3,
      maxInputBytes: () => 1e9,
      probe: async (file) => {
        active++;
        maxActive = Math.max(maxActive, active);
        await new Promise((r) => setTimeout(r, 1));
        active--;
        if (file.endsWith('-0013.mp4')) throw new TiercastError('NOT_MEDIA', 'clip-0013.mp4: not a media file');
        return fakeInfo(100);
      },
      route: () => ({ tier: 'local', reason: 'small file', estimatedCostUsd: 0, priceDate: '2025-06-01', estimatedSeconds: 1 }),
      onUpdate: (u) => {
        expect(events['files.updated'].safeParse(u).success).toBe(true);
        batches.push(u);
      },
    });
    // A timer that must keep firing while 5,000 files are added and probed.
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    const added = await registry.add([dir]);
    expect(added.items).toHaveLength(COUNT);
    expect(added.items.filter((i) => i.state === 'problem').map((i) => i.problem!.code)).toEqual(Array(5).fill('INPUT_EMPTY'));
    await registry.idle();
    clearInterval(ticker);

    expect(maxActive).toBeLessThanOrEqual(3);
    expect(maxActive).toBeGreaterThan(1);
    expect(ticks).toBeGreaterThan(10);
    const items = registry.list();
    expect(items.filter((i) => i.state === 'ready')).toHaveLength(COUNT - 6);
    expect(registry.get(items.find((i) => i.name === 'clip-0013.mp4')!.id)).toMatchObject({ state: 'problem', problem: { code: 'NOT_MEDIA' } });
    // Batched: far fewer messages than files, none over the batch size, and the last one says nothing is pending.
    expect(batches.length).toBeLessThan(COUNT / 10);
    expect(Math.max(...batches.map((b) => b.items.length))).toBeLessThanOrEqual(250);
    expect(batches.at(-1)!.pending).toBe(0);
    const readyIds = new Set(batches.flatMap((b) => b.items).filter((i) => i.state === 'ready' && i.route).map((i) => i.id));
    expect(readyIds.size).toBe(COUNT - 6);

    // Adding the same folder again does not duplicate anything.
    const again = await registry.add([dir]);
    expect(new Set(again.items.map((i) => i.id))).toEqual(new Set(items.map((i) => i.id)));
    expect(registry.remove(items.slice(0, 10).map((i) => i.id))).toBe(10);
    expect(batches.at(-1)!.removedIds).toHaveLength(10);
    registry.close();
  });
});
