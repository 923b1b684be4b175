import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { getLadder } from '../../../shared/common/ladders.ts';
import { JobSpecSchema, parseJobSpec } from '../../../shared/common/job.ts';

const spec = (over: Record<string, unknown> = {}) => ({
  schemaVersion: 1,
  id: 'job-1',
  createdAt: '2026-12-04T10:00:00.000Z',
  input: { key: 'inputs/a.mp4', name: 'a.mp4', sizeBytes: 10 },
  ladder: getLadder('default'),
  ...over,
});

describe('parseJobSpec: JobSpecSchema with each ladder object validated once', () => {
  it('gives what JobSpecSchema gives, keys in the same order', () => {
    const input = spec({ priority: 7 });
    const ours = parseJobSpec(input);
    const theirs = JobSpecSchema.parse(input);
    expect(ours).toEqual(theirs);
    expect(Object.keys(ours)).toEqual(Object.keys(theirs));
  });

  it('shares one frozen ladder between specs that carry the same ladder object', () => {
    const ladder = structuredClone(getLadder('default'));
    const a = parseJobSpec(spec({ id: 'a', ladder }));
    const b = parseJobSpec(spec({ id: 'b', ladder }));
    expect(a.ladder).toBe(b.ladder);
    expect(Object.isFrozen(a.ladder.rungs[0])).toBe(true);
    expect(() => {
      (a.ladder.rungs[0] as { videoBitrate: number }).videoBitrate = 1;
    }).toThrow(TypeError);
  });

  it('refuses a bad ladder with the path JobSpecSchema names, every time it is seen', () => {
    const bad = { ...getLadder('default'), rungs: [{ ...getLadder('default').rungs[0], videoBitrate: -5 }] };
    for (let i = 0; i < 2; i++) {
      const err = (() => {
        try {
          parseJobSpec(spec({ ladder: bad }));
        } catch (e) {
          return e;
        }
        return null;
      })();
      expect(err).toBeInstanceOf(z.ZodError);
      expect((err as z.ZodError).issues[0]!.path.slice(0, 3)).toEqual(['ladder', 'rungs', 0]);
    }
  });

  it('refuses a bad spec around a good ladder and a spec without a ladder', () => {
    expect(() => parseJobSpec(spec({ id: '-bad' }))).toThrow(z.ZodError);
    const { ladder: _l, ...noLadder } = spec();
    expect(() => parseJobSpec(noLadder)).toThrow(/ladder/);
  });
});
