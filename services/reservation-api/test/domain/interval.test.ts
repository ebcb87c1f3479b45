import { describe, expect, it } from '@jest/globals';
import { earliestOverlappingStart, overlapReachMs, overlaps, peakOverlap } from '../../src/domain/interval.ts';

const t = (h: number) => new Date(Date.UTC(2030, 0, 1) + h * 3_600_000);
const iv = (a: number, b: number) => ({ start: t(a), end: t(b) });

describe('overlaps (half-open intervals)', () => {
  it.each([
    [iv(10, 11), iv(10.5, 11.5), true],
    [iv(10, 11), iv(11, 12), false],
    [iv(10, 11), iv(9, 10), false],
    [iv(10, 12), iv(10.5, 11), true],
    [iv(10, 11), iv(10, 11), true],
  ])('%o and %o → %s', (a, b, expected) => {
    expect(overlaps(a, b)).toBe(expected);
    expect(overlaps(b, a)).toBe(expected);
  });
});

describe('peakOverlap', () => {
  it('counts what covers one instant, not everything that touches the window', () => {
    expect(peakOverlap([iv(10, 11), iv(11, 12)], iv(10, 12))).toBe(1);
    expect(peakOverlap([iv(10, 11), iv(11, 12), iv(10, 12)], iv(10.5, 11.5))).toBe(2);
    expect(peakOverlap([iv(9, 10.5), iv(10.25, 11), iv(10.4, 10.6)], iv(10, 11))).toBe(3);
    expect(peakOverlap([iv(8, 9)], iv(10, 11))).toBe(0);
    expect(peakOverlap([], iv(10, 11))).toBe(0);
  });
});

describe('earliestOverlappingStart and overlapReachMs', () => {
  it('every interval no longer than the reach that overlaps the window starts at or after the bound', () => {
    const window = iv(10, 12);
    const reach = 3 * 3_600_000;
    const from = earliestOverlappingStart(window, reach);
    expect(from).toEqual(t(7));
    // The longest interval that still overlaps the window starts just after the bound.
    expect(overlaps(iv(7.001, 10.001), window)).toBe(true);
    expect(overlaps(iv(7, 10), window)).toBe(false);
  });

  it('the reach is the longest window written or the policy’s maximum, whichever is more', () => {
    expect(overlapReachMs(90 * 60_000, 60)).toBe(90 * 60_000);
    expect(overlapReachMs(30 * 60_000, 1440)).toBe(1440 * 60_000);
    expect(overlapReachMs(0, 15)).toBe(15 * 60_000);
  });
});
