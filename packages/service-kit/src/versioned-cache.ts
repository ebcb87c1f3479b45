import type { Redis } from 'ioredis';
import type { RedisGuard } from './clients/redis.ts';
import type { NearCache } from './near-cache.ts';
import type { SigningKeys } from './signing.ts';

/**
 * Writes the entry (a Redis hash) unless the key already holds that version or a newer one,
 * atomically in Redis: a reader that fetched an old row from a lagging replica can never put it
 * back over the new version the write path published (the cache's invalidation contract).
 * ARGV: version, TTL (ms), then the hash's field/value pairs.
 */
const SET_IF_NEWER = `
local current = tonumber(redis.call('HGET', KEYS[1], 'version'))
if current and current >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;

/** Registered once per client with defineCommand, so each write is an EVALSHA, not the script's text. */
const SET_IF_NEWER_COMMAND = 'versionedCacheSetIfNewer';

/**
 * One cache entry: its version, the body exactly as the API sends it (a hit is neither parsed
 * nor serialised again), and the few string fields a reader needs beside it (who may see it).
 */
export interface Versioned<F extends string> {
  version: number;
  body: string;
  fields: Record<F, string>;
}

export interface VersionedCacheOptions<F extends string> {
  prefix: string;
  ttlMs: number;
  /** The names of the fields kept beside the body. */
  fields: readonly F[];
  /** Each TTL is stretched by up to this fraction, so entries written together do not expire together. */
  jitter?: number;
  random?: () => number;
  /**
   * A process-local tier in front of Redis, kept coherent by Redis's invalidations
   * (`trackInvalidations` on this same client): a hit costs no round trip.
   */
  near?: NearCache<Versioned<F>>;
  /**
   * Each entry carries a MAC (field `mac`) over its key, version, body and fields, made with these
   * keys and checked on every read from Redis: whoever can write to Redis cannot make a reader
   * trust an entry (say, one naming themselves as the customer) that the services did not write.
   * An entry that fails the check is a miss and is deleted, so the reader's fill replaces it.
   */
  signing?: { keys: SigningKeys; onRejected?: (id: string) => void };
  /**
   * The client's circuit breaker: every Redis call goes through it (and fails fast while it is
   * open); a near-cache hit does not, so the hottest path pays nothing for it.
   */
  guard?: RedisGuard;
}

/** A TTL with up to `jitter` (a fraction) added at random. */
export function jitteredTtl(ttlMs: number, jitter: number, random: () => number = Math.random): number {
  return Math.round(ttlMs * (1 + jitter * random()));
}

type WithSetIfNewer = Redis & { [SET_IF_NEWER_COMMAND](key: string, ...args: (string | number)[]): Promise<number> };

export function createVersionedCache<F extends string>(
  redis: Redis,
  { prefix, ttlMs, fields, jitter = 0.2, random = Math.random, near, signing, guard }: VersionedCacheOptions<F>,
) {
  if (!(SET_IF_NEWER_COMMAND in redis)) redis.defineCommand(SET_IF_NEWER_COMMAND, { numberOfKeys: 1, lua: SET_IF_NEWER });
  const client = redis as WithSetIfNewer;
  const key = (id: string) => `${prefix}${id}`;
  const stored = signing ? [...fields, 'mac'] : fields;
  // JSON: one unambiguous string whatever the values hold.
  const signed = (k: string, version: string, body: string, values: readonly string[]) => JSON.stringify([k, version, body, ...values]);

  const call = <T>(fn: () => Promise<T>) => (guard ? guard.run(fn) : fn());

  /** One HMGET; an entry missing any field (expired between writes, or foreign) is a miss, and so is one whose MAC fails. */
  async function read(id: string, k: string): Promise<Versioned<F> | undefined> {
    const [version, body, ...values] = await call(() => redis.hmget(k, 'version', 'body', ...stored));
    const own = values.slice(0, fields.length);
    if (version == null || body == null || own.some((v) => v == null)) return undefined;
    const named = {} as Record<F, string>;
    for (let i = 0; i < fields.length; i++) named[fields[i] as F] = own[i] as string;
    if (signing) {
      // No MAC at all (written by hand, or by a build that did not sign) is refused like a wrong one.
      const mac = values[fields.length] ?? '';
      if (!signing.keys.verify('cache-entry', signed(k, version, body, own as string[]), mac)) {
        signing.onRejected?.(id);
        // Its version may be forged far ahead: left there, it would refuse every fill (setIfNewer).
        await call(() => redis.del(k));
        return undefined;
      }
    }
    return { version: Number(version), body, fields: named };
  }

  return {
    /** From the near cache when it holds the entry, else one HMGET (whose result the near cache may keep). */
    async get(id: string): Promise<Versioned<F> | undefined> {
      const k = key(id);
      if (!near) return read(id, k);
      const held = near.get(k);
      if (held) return held;
      const tracked = near.begin(k);
      let entry: Versioned<F> | undefined;
      try {
        entry = await read(id, k);
        return entry;
      } finally {
        if (tracked) near.finish(tracked, entry);
      }
    },
    /** True when written, false when the cache already had this version or a newer one. */
    async setIfNewer(id: string, entry: Versioned<F>): Promise<boolean> {
      const version = String(entry.version);
      const pairs: string[] = ['version', version, 'body', entry.body];
      for (const name of fields) pairs.push(name, entry.fields[name]);
      if (signing) {
        pairs.push(
          'mac',
          signing.keys.sign(
            'cache-entry',
            signed(
              key(id),
              version,
              entry.body,
              fields.map((name) => entry.fields[name]),
            ),
          ),
        );
      }
      const written = await call(() => client[SET_IF_NEWER_COMMAND](key(id), entry.version, jitteredTtl(ttlMs, jitter, random), ...pairs));
      return written === 1;
    },
    /** Drops the entry: the next read misses and fills from the database. */
    async remove(id: string): Promise<void> {
      await call(() => redis.del(key(id)));
    },
  };
}

export type VersionedCache<F extends string> = ReturnType<typeof createVersionedCache<F>>;

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
