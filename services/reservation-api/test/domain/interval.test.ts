import { describe, expect, it } from '@jest/globals';
import { overlaps, peakOverlap } from '../../src/domain/interval.ts';

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
