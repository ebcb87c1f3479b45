import { describe, expect, it } from '@jest/globals';
import { quantile } from '../src/stats.ts';

describe('quantile', () => {
  it('takes the nearest rank, whatever the order of the values', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted
    expect(quantile(values, 0.99)).toBe(99);
    expect(quantile(values, 0.5)).toBe(50);
    expect(quantile(values, 1)).toBe(100);
    expect(quantile(values, 0)).toBe(1);
    expect(quantile([7], 0.99)).toBe(7);
    expect(quantile([3, 1, 2], 0.5)).toBe(2);
  });

  it('is undefined for no values', () => {
    expect(quantile([], 0.99)).toBeUndefined();
  });

  it('leaves the caller’s array as it was', () => {
    const values = [3, 1, 2];
    quantile(values, 0.5);
    expect(values).toEqual([3, 1, 2]);
  });
});
