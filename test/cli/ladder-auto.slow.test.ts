import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TranscodeReport } from '../../shared/common/transcode-report.ts';
import { makeClip } from '../helpers/clips.ts';
import { runTiercast, type CliRun } from '../helpers/cli.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'tiercast-cli-ladder-auto-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tiercast(...args: string[]): Promise<CliRun> {
  return runTiercast(args, { cwd: dir, env: { ...process.env, TIERCAST_HOME: path.join(dir, 'home'), NO_COLOR: '1' } });
}

// 640x360: the default ladder fits two sizes (360p and 234p), so the hull mixes sizes and the choice is real.
const clip = makeClip({ durationSec: 6, width: 640, height: 360, fps: 25 });

describe('--ladder auto', () => {
  it('transcode builds the ladder from trials, publishes verified outputs and reports the hull and the chosen rungs', async () => {
    const r = await tiercast('transcode', '--ladder', 'auto', '--out', 'out', '--formats', 'hls', '--json', '--', clip);
    expect(r.stderr).not.toMatch(/CONFIG_INVALID|ENCODE_FAILED/);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { inputs: { ok: boolean; outDir: string }[] };
    expect(doc.inputs[0]!.ok).toBe(true);
    const outDir = doc.inputs[0]!.outDir;
    expect(existsSync(path.join(outDir, 'master.m3u8'))).toBe(true);
    const report = JSON.parse(readFileSync(path.join(outDir, 'report.json'), 'utf8')) as TranscodeReport;
    const pt = report.perTitle!;
    expect(report.ladder.name).toBe('auto');
    expect(pt.metric).toMatch(/^(vmaf|ssim-db)$/);
    expect(pt.windows).toHaveLength(3);
    // Every size the default ladder fits to this source, each at two rates.
    expect(new Set(pt.points.map((p) => `${p.width}x${p.height}`))).toEqual(new Set(['640x360', '416x234']));
    expect(pt.points).toHaveLength(4);
    for (let i = 1; i < pt.hull.length; i++) {
      expect(pt.hull[i]!.bitrate).toBeGreaterThan(pt.hull[i - 1]!.bitrate);
      expect(pt.hull[i]!.quality).toBeGreaterThan(pt.hull[i - 1]!.quality);
    }
    // The encoded renditions are the chosen points: same sizes, target rates as chosen.
    expect(report.renditions.map((x) => [x.width, x.height, x.targetBitrate])).toEqual(pt.chosen.map((c) => [c.width, c.height, c.bitrate]));
    expect(report.verification.keyframesAligned).toBe(true);
    expect(pt.cpuSec).toBeGreaterThan(0);
  });

  it('ladder --ladder auto prints the resolved ladder and the analysis; a default run has none', async () => {
    const r = await tiercast('ladder', clip, '--ladder', 'auto', '--json');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { ladder: { name: string; rungs: unknown[] }; fitted: { rungs: unknown[] }; perTitle: { chosen: unknown[] } };
    expect(doc.ladder.name).toBe('auto');
    expect(doc.fitted.rungs).toHaveLength(doc.perTitle.chosen.length);
    const plain = await tiercast('ladder', clip, '--json');
    expect(JSON.parse(plain.stdout).perTitle).toBeUndefined();
  });
});
