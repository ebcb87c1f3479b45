import { expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { harnessEnv } from '../src/env.ts';

it('stores and returns a value through ioredis, with expiry', async () => {
  const redis = new Redis(harnessEnv('REDIS_URL'));
  try {
    await redis.set('harness:probe', 'cached', 'EX', 60);
    expect(await redis.get('harness:probe')).toBe('cached');
    expect(await redis.ttl('harness:probe')).toBeGreaterThan(0);
    await redis.del('harness:probe');
    expect(await redis.get('harness:probe')).toBeNull();
  } finally {
    redis.disconnect();
  }
});
