import { describe, expect, it } from '@jest/globals';
import { backoffDelay, cappedBackoffDelay } from '../src/backoff.ts';
import { jitteredTtl } from '../src/versioned-cache.ts';

describe('jitter', () => {
  it('backoff is full jitter: between 0 and base·2^attempt', () => {
    expect(backoffDelay(0, 5, () => 0)).toBe(0);
    expect(backoffDelay(3, 5, () => 0.999)).toBe(39);
    expect(backoffDelay(1, 5, () => 0.5)).toBe(5);
  });

  it('capped backoff never exceeds its ceiling, however many attempts', () => {
    expect(cappedBackoffDelay(2, 100, 1000, () => 0.999)).toBe(399);
    expect(cappedBackoffDelay(10, 100, 1000, () => 0.999)).toBe(1000);
    expect(cappedBackoffDelay(1e6, 100, 1000, () => 0.5)).toBe(1000);
  });

  it('cache TTLs stretch by up to the jitter fraction', () => {
    expect(jitteredTtl(1000, 0.2, () => 0)).toBe(1000);
    expect(jitteredTtl(1000, 0.2, () => 1)).toBe(1200);
  });
});
