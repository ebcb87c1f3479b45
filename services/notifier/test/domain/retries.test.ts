import { describe, expect, it } from '@jest/globals';
import { retryDelay, retryVisibility } from '../../src/domain/retries.ts';

describe('webhook retry delay', () => {
  it('grows exponentially with full jitter, capped', () => {
    expect([1, 2, 3, 4].map((n) => retryDelay(n, 1000, 600_000, () => 0.999))).toEqual([1998, 3996, 7992, 15984]);
    expect(retryDelay(3, 1000, 600_000, () => 0)).toBe(0);
    expect(retryDelay(40, 1000, 600_000, () => 0.5)).toBe(600_000);
  });
});

describe('failed message visibility', () => {
  it('doubles per receive from the base, within SQS’s 12 hours', () => {
    expect([1, 2, 3, 4].map((n) => retryVisibility(n, 2))).toEqual([2, 4, 8, 16]);
    expect(retryVisibility(30, 2)).toBe(32_768);
    expect(retryVisibility(30, 10)).toBe(43_200);
  });
});
