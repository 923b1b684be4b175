import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { analyzeFile } from '../../cli/commands/route.ts';
import { JobSpecSchema } from '../../shared/common/job.ts';
import { getLadder } from '../../shared/common/ladders.ts';
import { routeSpec, spotKeyFor } from '../../shared/common/router.ts';
import { loadConfig } from '../../shared/node/config.ts';
import { makeClip } from '../helpers/clips.ts';

/**
 * `tiercast route FILE` (no job yet), `tiercast dispatch FILE` (a fresh job id) and a later re-dispatch of that job
 * from the ledger must make the same Spot / on-demand decision for one file: all three hash spotKeyFor(name, size).
 * Real ffprobe on a tiny clip under many names; only the Fargate tiers are enabled, so the Spot draw alone decides.
 */

const tmp = mkdtempSync(path.join(os.tmpdir(), 'tiercast-spot-key-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('Spot draw: route and dispatch agree for one file', () => {
  it('spotKeyFor is the base name and the size', () => {
    expect(spotKeyFor({ name: 'shows/ep 1.mp4', sizeBytes: 123 })).toBe('ep 1.mp4:123');
    expect(spotKeyFor({ name: 'C:\\media\\ep1.mp4', sizeBytes: 5 })).toBe('ep1.mp4:5');
    expect(spotKeyFor({ name: 'ep1.mp4', sizeBytes: 5 })).not.toBe(spotKeyFor({ name: 'ep1.mp4', sizeBytes: 6 }));
  });

  it('same file -> same decision from route, from dispatch with a new job id, and from the stored job spec', async () => {
    const config = await loadConfig({
      env: { TIERCAST_BUCKET: 'tiercast-media', ECS_CLUSTER_NAME: 'c', ECS_TASK_DEFINITION: 't', ECS_SUBNETS: 'subnet-0a', TIERCAST_TIERS: 'fargate,fargate-spot' },
      home: tmp,
    });
    const clip = makeClip({ durationSec: 1, width: 320, height: 180 });
    const ladder = getLadder('default');
    const seen = new Set<string>();
    for (let i = 0; i < 24; i++) {
      const file = path.join(tmp, `episode-${i}.mp4`);
      symlinkSync(clip, file);
      const route = await analyzeFile(file, ladder, config);
      const jobId = `j${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
      const dispatch = await analyzeFile(file, ladder, config, { tier: 'auto', jobId });
      expect(route.error).toBeNull();
      const spec = JobSpecSchema.parse({
        schemaVersion: 1,
        id: `j${randomBytes(6).toString('hex')}`,
        createdAt: new Date().toISOString(),
        input: { key: `inputs/${jobId}/x.mp4`, name: path.basename(file), sizeBytes: statSync(file).size },
        media: dispatch.media,
        ladder,
      });
      const stored = routeSpec(spec, config);
      expect([dispatch.route!.tier, stored.tier], file).toEqual([route.route!.tier, route.route!.tier]);
      seen.add(route.route!.tier);
    }
    // The draw really varies with the file, so agreement is not a constant answer (0.7^24 odds of one tier only).
    expect([...seen].sort()).toEqual(['fargate', 'fargate-spot']);
  });
});
