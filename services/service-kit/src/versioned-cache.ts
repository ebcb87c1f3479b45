import type { Redis } from 'ioredis';

/**
 * Writes `version:json` unless the key already holds that version or a newer one, atomically in
 * Redis: a reader that fetched an old row from a lagging replica can never put it back over the
 * new version the write path published (issue 3, cache invalidation).
 */
const SET_IF_NEWER = `
local current = redis.call('GET', KEYS[1])
if current then
  local v = tonumber(string.match(current, '^(%d+):'))
  if v and v >= tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. ARGV[2], 'PX', ARGV[3])
return 1`;

export interface Versioned<T> {
  version: number;
  value: T;
}

export interface VersionedCacheOptions {
  prefix: string;
  ttlMs: number;
  /** Each TTL is stretched by up to this fraction, so entries written together do not expire together. */
  jitter?: number;
  random?: () => number;
}

/** A TTL with up to `jitter` (a fraction) added at random. */
export function jitteredTtl(ttlMs: number, jitter: number, random: () => number = Math.random): number {
  return Math.round(ttlMs * (1 + jitter * random()));
}

export function createVersionedCache<T>(redis: Redis, { prefix, ttlMs, jitter = 0.2, random = Math.random }: VersionedCacheOptions) {
  const key = (id: string) => `${prefix}${id}`;
  return {
    async get(id: string): Promise<Versioned<T> | undefined> {
      const raw = await redis.get(key(id));
      if (raw === null) return undefined;
      const colon = raw.indexOf(':');
      return { version: Number(raw.slice(0, colon)), value: JSON.parse(raw.slice(colon + 1)) as T };
    },
    /** True when written, false when the cache already had this version or a newer one. */
    async setIfNewer(id: string, version: number, value: T): Promise<boolean> {
      const written = await redis.eval(SET_IF_NEWER, 1, key(id), version, JSON.stringify(value), jitteredTtl(ttlMs, jitter, random));
      return written === 1;
    },
  };
}

export type VersionedCache<T> = ReturnType<typeof createVersionedCache<T>>;

/**
 * Collapses concurrent calls for one key into one: the first caller runs `load`, the others
 * await its promise, so a burst of misses on a hot key costs one database read.
 */
export function createSingleFlight<T>() {
  const inFlight = new Map<string, Promise<T>>();
  return (key: string, load: () => Promise<T>): Promise<T> => {
    const pending = inFlight.get(key);
    if (pending) return pending;
    const promise = load().finally(() => inFlight.delete(key));
    inFlight.set(key, promise);
    return promise;
  };
}
