import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sweepLocalStore } from '../../../shared/node/local-worker.ts';

let root: string;
beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'tiercast-sweep-store-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const file = (rel: string, ageMs: number) => {
  const p = path.join(root, rel);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, 'x');
  const t = (Date.now() - ageMs) / 1000;
  utimesSync(p, t, t);
  return p;
};

describe('sweepLocalStore', () => {
  it('removes a crashed writer\'s temporaries (1 h) and partial downloads (1 day), never live ones or objects', async () => {
    const oldTemp = file('outputs/j1/v1-ab/.~tc.seg1.m4s.0a1b2c', 2 * 3_600_000);
    const liveTemp = file('outputs/j1/v1-ab/.~tc.seg2.m4s.0a1b2d', 60_000);
    const oldPartial = file('inputs/j2/.~tc.clip.mp4.f00.partial', 2 * 86_400_000);
    const youngPartial = file('inputs/j3/.~tc.clip.mp4.f01.partial', 2 * 3_600_000);
    const object = file('outputs/j1/v1-ab/seg0.m4s', 10 * 86_400_000);
    const removed = await sweepLocalStore(root);
    expect(removed.sort()).toEqual([oldPartial, oldTemp].sort());
    for (const kept of [liveTemp, youngPartial, object]) expect(existsSync(kept)).toBe(true);
  });
});
