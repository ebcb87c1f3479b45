import { Redis, type RedisOptions } from 'ioredis';
import type { ReadinessCheck } from '../admin-server.ts';

/**
 * An ioredis client from a `redis://` URL. A command fails after one reconnect attempt instead
 * of queueing for long: the cache is an optimisation and callers fall back to the database.
 */
export function createRedis(url: string, options: RedisOptions = {}): Redis {
  return new Redis(url, { maxRetriesPerRequest: 1, connectTimeout: 2000, ...options });
}

export function redisCheck(redis: Redis): ReadinessCheck {
  return {
    name: 'redis',
    check: async () => {
      const reply = await redis.ping();
      if (reply !== 'PONG') throw new Error(`PING answered ${reply}`);
    },
  };
}
