import { afterAll, describe, expect, it } from '@jest/globals';
import { harnessEnv } from '@reservations/testkit';
import { createRedis } from '../src/clients/redis.ts';
import { createSingleFlight, createVersionedCache } from '../src/versioned-cache.ts';

// Not the service's 1 s command timeout: a loaded machine's shared Redis can take longer to
// answer, and this file is not about timeouts (the outage tests are).
const redis = createRedis(harnessEnv('REDIS_URL'), { commandTimeout: 15_000 });
afterAll(() => redis.disconnect());

describe('versioned cache (real Redis)', () => {
  const entry = (version: number, owner = 'o') => ({ version, body: `{"v":${version}}`, fields: { owner } });

  it('never writes an older version over a newer one', async () => {
    const cache = createVersionedCache(redis, { prefix: `test:${Date.now()}:`, ttlMs: 60_000, fields: ['owner'] });
    expect(await cache.get('a')).toBeUndefined();
    expect(await cache.setIfNewer('a', entry(2))).toBe(true);
    expect(await cache.setIfNewer('a', entry(1, 'stale'))).toBe(false);
    expect(await cache.setIfNewer('a', entry(2, 'again'))).toBe(false);
    expect(await cache.get('a')).toEqual(entry(2));
    expect(await cache.setIfNewer('a', entry(3, 'new'))).toBe(true);
    expect(await cache.get('a')).toEqual(entry(3, 'new'));
  });

  it('concurrent writers of different versions leave the newest, whatever the order they arrive in', async () => {
    const cache = createVersionedCache(redis, { prefix: `test:race:${Date.now()}:`, ttlMs: 60_000, fields: ['owner'] });
    const versions = [5, 1, 4, 2, 3];
    await Promise.all(versions.map((v) => cache.setIfNewer('r', entry(v))));
    expect(await cache.get('r')).toEqual(entry(5));
  });

  it('an entry missing a field is a miss, not a half entry', async () => {
    const prefix = `test:partial:${Date.now()}:`;
    await redis.hset(`${prefix}p`, 'version', '1', 'body', '{}');
    const cache = createVersionedCache(redis, { prefix, ttlMs: 60_000, fields: ['owner'] });
    expect(await cache.get('p')).toBeUndefined();
  });

  it('entries expire after the TTL (with jitter)', async () => {
    const prefix = `test:ttl:${Date.now()}:`;
    const cache = createVersionedCache(redis, { prefix, ttlMs: 10_000, jitter: 0.5, random: () => 1, fields: [] });
    await cache.setIfNewer('x', { version: 1, body: '1', fields: {} });
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
