import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { outputDirFor, safeName, uniqueSafeNames } from '../../../shared/node/safe-name.ts';

describe('safeName', () => {
  it.each([
    ['movie.mp4', 'movie'],
    ['/a/b/Été à Paris.mov', 'Été à Paris'],
    ['$(touch x).mp4', '$(touch x)'],
    ['-rf.mp4', 'rf'],
    ['--help', 'help'],
    ['../../etc/passwd', 'passwd'],
    ['..', 'input'],
    ['.hidden.mkv', 'hidden'],
    ['a\\b\\c.ts', 'c'],
    ['tab\tand\nnewline\u0007.mp4', 'tabandnewline'],
    ['what?<>|*:".mp4', 'what_______'],
    ['con.mp4', '_con'],
    ['日本語のビデオ.mp4', '日本語のビデオ'],
    ['trailing. .mp4', 'trailing'],
    ['noext', 'noext'],
  ])('%j -> %j', (input, expected) => {
    expect(safeName(input)).toBe(expected);
  });

  it('normalizes to NFC and caps the length at 120 UTF-8 bytes without splitting characters', () => {
    expect(safeName('e\u0301.mp4')).toBe('\u00e9');
    const long = safeName(`${'é'.repeat(200)}.mp4`);
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(120);
    expect(long).toBe('é'.repeat(60));
  });
});

describe('uniqueSafeNames', () => {
  it('keeps names distinct, case-insensitively', () => {
    expect(uniqueSafeNames(['a/clip.mp4', 'b/clip.mp4', 'clip.mov', 'CLIP.mkv', 'other.mp4'])).toEqual(['clip', 'clip-2', 'clip-3', 'CLIP-4', 'other']);
  });
});

describe('outputDirFor', () => {
  it('is always a direct child of the output root', () => {
    expect(outputDirFor('/out', 'x')).toBe(path.resolve('/out/x'));
    expect(() => outputDirFor('/out', '../x')).toThrow(/outside/);
    expect(() => outputDirFor('/out', 'a/b')).toThrow(/outside/);
  });
});
