import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LadderSchema } from '../../../shared/common/ladder-schema.ts';
import { parseMpd } from '../../../shared/node/verify.ts';
import { transcodeFile } from '../../../shared/node/transcode.ts';
import { fixtureClip, fixtureClips, type FixtureClip } from '../../helpers/media.ts';

/**
 * Every real clip in test/fixtures/media either becomes a verified ladder or fails with the right code.
 * Small rungs only (the 4K60 clip would otherwise dominate CI time).
 */
const dir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-transcode-media-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ladder = LadderSchema.parse({
  name: 'ci',
  segmentSeconds: 2,
  preset: 'ultrafast',
  rungs: [
    { name: '360p', shortEdge: 360, videoBitrate: 600_000, maxrate: 700_000, bufsize: 1_200_000 },
    { name: '240p', shortEdge: 240, videoBitrate: 300_000, maxrate: 350_000, bufsize: 600_000, maxFps: 30 },
  ],
});

interface Expect {
  ok: boolean;
  code?: string;
  portrait?: boolean;
  audio?: boolean;
  fix?: RegExp;
}

const table: Record<FixtureClip, Expect> = {
  roadtrip10bit: { ok: true, portrait: false, audio: false, fix: /10-bit source converted to 8-bit/ },
  rooftopHdr10: { ok: true, portrait: true, audio: true, fix: /HDR \(PQ\) tone-mapped/ },
  pixelVfr: { ok: true, portrait: true, audio: false, fix: /variable frame rate made constant/ },
  iphoneHlg: { ok: true, portrait: true, audio: true, fix: /HDR \(HLG\) tone-mapped/ },
  portrait4k60: { ok: true, portrait: true, audio: true, fix: /full-range/ },
  bbbInterlaced: { ok: true, portrait: false, audio: true, fix: /deinterlaced \(tff\)/ },
  corruptVp9: { ok: false, code: 'DECODE_FAILED' },
};

describe('transcodeFile on every shared clip', () => {
  it('covers every clip in the shared media table', () => {
    expect(Object.keys(table).sort()).toEqual(Object.keys(fixtureClips).sort());
  });

  for (const [clip, want] of Object.entries(table) as [FixtureClip, Expect][]) {
    it(`${clip}: ${want.ok ? 'verified ladder' : want.code}`, async () => {
      const outDir = path.join(dir, clip);
      const result = await transcodeFile({ input: fixtureClip(clip), outDir, ladder }).then(
        (r) => ({ ok: true as const, r }),
        (e: unknown) => ({ ok: false as const, e: e as { code: string; message: string } }),
      );
      expect(readdirSync(dir).filter((n) => n.startsWith('.tiercast-work-'))).toEqual([]);
      if (!want.ok) {
        expect(result.ok).toBe(false);
        expect(result.ok ? null : result.e.code).toBe(want.code);
        expect(existsSync(outDir)).toBe(false);
        return;
      }
      expect(result.ok ? null : result.e).toBeNull();
      const r = result.ok ? result.r : null;
      expect(r).not.toBeNull();
      expect(r!.renditions.length).toBeGreaterThan(0);
      for (const rung of r!.renditions) {
        expect(rung.height > rung.width).toBe(want.portrait);
        expect(rung.width % 2).toBe(0);
        expect(rung.height % 2).toBe(0);
        expect(Math.abs(rung.durationSec - r!.verification.expectedDurationSec)).toBeLessThanOrEqual(r!.verification.toleranceSec);
      }
      expect(r!.audio !== null).toBe(want.audio);
      expect(r!.sourceFixes.join('; ')).toMatch(want.fix!);
      expect(r!.verification.keyframesAligned).toBe(true);

      const master = readFileSync(path.join(outDir, 'master.m3u8'), 'utf8');
      const variants = master.split('\n').filter((l) => l.startsWith('#EXT-X-STREAM-INF:'));
      expect(variants).toHaveLength(r!.renditions.length);
      for (const v of variants) {
        expect(v).toMatch(/BANDWIDTH=\d+/);
        expect(v).toMatch(/CODECS="avc1\.[0-9a-f]{6}/);
        expect(v).toMatch(/RESOLUTION=\d+x\d+/);
        expect(v).toMatch(/FRAME-RATE=\d+\.\d{3}/);
      }
      expect(master.includes('TYPE=AUDIO')).toBe(want.audio);

      const mpd = parseMpd(readFileSync(path.join(outDir, 'manifest.mpd'), 'utf8'));
      const videoReps = mpd.representations.filter((x) => x.contentType === 'video');
      expect(videoReps).toHaveLength(r!.renditions.length);
      // Same segment start times in every video representation.
      const starts = videoReps.map((x) => x.timeline.map((s) => s.startSec.toFixed(3)).join(','));
      expect(new Set(starts).size).toBe(1);
      expect(mpd.representations.some((x) => x.contentType === 'audio')).toBe(want.audio);
    });
  }
});
