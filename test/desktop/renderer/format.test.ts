import { describe, expect, it } from 'vitest';
import {
  formatBitrate,
  formatBytes,
  formatCost,
  formatDuration,
  formatElapsed,
  formatResolution,
  formatSpeed,
  secondsBetween,
} from '../../../desktop/renderer/src/shared/format.ts';

describe('renderer formatting', () => {
  it.each([
    [0.4, '0.4 s'],
    [2, '2 s'],
    [75.4, '1:15'],
    [3725, '1:02:05'],
    [null, '—'],
    [Number.NaN, '—'],
    [-1, '—'],
  ])('formatDuration(%s) = %s', (v, want) => expect(formatDuration(v)).toBe(want));

  it.each([
    [0.85, '850 ms'],
    [12.34, '12.3 s'],
    [245, '4 min 05 s'],
    [7380, '2 h 03 min'],
  ])('formatElapsed(%s) = %s', (v, want) => expect(formatElapsed(v)).toBe(want));

  it.each([
    [999, '999 B'],
    [1_500_000, '1.5 MB'],
    [250_000_000, '250 MB'],
    [2_000_000_000_000, '2.0 TB'],
  ])('formatBytes(%s) = %s', (v, want) => expect(formatBytes(v)).toBe(want));

  it.each([
    [2_500_000, '2.5 Mb/s'],
    [20_000_000, '20 Mb/s'],
    [96_000, '96 kb/s'],
    [800, '800 b/s'],
  ])('formatBitrate(%s) = %s', (v, want) => expect(formatBitrate(v)).toBe(want));

  it('keeps significant digits for fractions of a cent and shows the price date', () => {
    expect(formatCost(0.00042)).toBe('$0.00042');
    expect(formatCost(0.1234, '2026-06-01')).toBe('$0.1234 (prices 2026-06-01)');
    expect(formatCost(12.5)).toBe('$12.50');
    expect(formatCost(1234.4)).toBe('$1,234');
    expect(formatCost(0)).toBe('$0');
    expect(formatCost(null, '2026-06-01')).toBe('—');
  });

  it('formats sizes, speeds and spans', () => {
    expect(formatResolution(1920, 1080)).toBe('1920×1080');
    expect(formatResolution(0, 1080)).toBe('—');
    expect(formatSpeed(3.24)).toBe('3.2×');
    expect(formatSpeed(0)).toBe('—');
    expect(secondsBetween('2026-01-01T00:00:00Z', '2026-01-01T00:01:30Z')).toBe(90);
    expect(secondsBetween('2026-01-01T00:00:00Z', null, Date.parse('2026-01-01T00:00:10Z'))).toBe(10);
    expect(secondsBetween('garbage')).toBeNull();
  });
});
