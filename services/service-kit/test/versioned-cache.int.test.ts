import { afterAll, describe, expect, it } from '@jest/globals';
import { harnessEnv } from '../../../scripts/harness/test/env.ts';
import { createRedis } from '../src/clients/redis.ts';
import { createSingleFlight, createVersionedCache } from '../src/versioned-cache.ts';

const redis = createRedis(harnessEnv('REDIS_URL'));
afterAll(() => redis.disconnect());

describe('versioned cache (real Redis)', () => {
  it('never writes an older version over a newer one', async () => {
    const cache = createVersionedCache<{ v: number }>(redis, { prefix: `test:${Date.now()}:`, ttlMs: 60_000 });
    expect(await cache.get('a')).toBeUndefined();
    expect(await cache.setIfNewer('a', 2, { v: 2 })).toBe(true);
    expect(await cache.setIfNewer('a', 1, { v: 1 })).toBe(false);
    expect(await cache.setIfNewer('a', 2, { v: 2 })).toBe(false);
    expect(await cache.get('a')).toEqual({ version: 2, value: { v: 2 } });
    expect(await cache.setIfNewer('a', 3, { v: 3 })).toBe(true);
    expect(await cache.get('a')).toEqual({ version: 3, value: { v: 3 } });
  });

  it('entries expire after the TTL (with jitter)', async () => {
    const prefix = `test:ttl:${Date.now()}:`;
    const cache = createVersionedCache<number>(redis, { prefix, ttlMs: 10_000, jitter: 0.5, random: () => 1 });
    await cache.setIfNewer('x', 1, 1);
    const ttl = await redis.pttl(`${prefix}x`);
    expect(ttl).toBeGreaterThan(10_000);
    expect(ttl).toBeLessThanOrEqual(15_000);
  });
});

describe('single flight', () => {
  it('concurrent calls for one key share one load; a later call loads again', async () => {
    const flight = createSingleFlight<number>();
    let loads = 0;
    const load = async () => {
      loads++;
      await new Promise((r) => setImmediate(r));
      return loads;
    };
    const results = await Promise.all(Array.from({ length: 20 }, () => flight('k', load)));
    expect(new Set(results)).toEqual(new Set([1]));
    expect(await flight('k', load)).toBe(2);
    expect(loads).toBe(2);
  });
});
