import { BOOKING_CACHE_FIELDS, BOOKING_CACHE_PREFIX, type CachedBooking } from '@reservations/contracts';
import {
  createRedis,
  createRedisGuard,
  createSingleFlight,
  createVersionedCache,
  NearCache,
  type RedisGuard,
  type RedisSettings,
  type SigningKeys,
  trackInvalidations,
} from '@reservations/service-kit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import { Counter, Gauge, type Registry } from 'prom-client';

export interface ReservationCache {
  /** Cache-aside: the cached entry, or `load()` once per key however many callers miss at the same time. */
  get(id: string, load: () => Promise<CachedBooking | undefined>): Promise<CachedBooking | undefined>;
  /** Version-checked: an entry never replaces a newer one (the write path publishes each new version). */
  put(id: string, entry: CachedBooking): Promise<void>;
}

declare module 'fastify' {
  interface FastifyInstance {
    redis: Redis;
    /** Redis's circuit breaker: the cache is skipped while it is open (readiness reports it). */
    redisGuard: RedisGuard;
    reservationCache: ReservationCache;
  }
}

export interface ReservationCacheOptions {
  url: string;
  ttlMs: number;
  /** The process-local tier; `maxEntries: 0` leaves it out. */
  near: { maxEntries: number; maxAgeMs: number };
  /** Every entry read from Redis must carry their MAC (reservation-api signs what it publishes). */
  signingKeys: SigningKeys;
  /** Each Redis command's timeout, and how long the breaker skips Redis once it failed. */
  redis: RedisSettings;
  registry: Registry;
}

/** The near cache's own figures, read off it at each scrape. */
function registerNearCacheMetrics(near: NearCache<CachedBooking>, registry: Registry) {
  new Counter({
    name: 'near_cache_lookups_total',
    help: 'reservation lookups in the process-local near cache (a miss goes on to Redis)',
    labelNames: ['result'] as const,
    registers: [registry],
    collect() {
      const { hits, misses } = near.stats();
      this.reset();
      this.inc({ result: 'hit' }, hits);
      this.inc({ result: 'miss' }, misses);
    },
  });
  const totals = [
    ['near_cache_invalidations_total', 'keys Redis reported changed to the near cache', 'invalidations'],
    ['near_cache_flushes_total', 'times the near cache dropped everything (a Redis connection lost, or a flush in Redis)', 'flushes'],
  ] as const;
  for (const [name, help, stat] of totals) {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(near.stats()[stat]);
      },
    });
  }
  new Gauge({
    name: 'near_cache_entries',
    help: 'reservations held in the near cache',
    registers: [registry],
    collect() {
      this.set(near.stats().size);
    },
  });
}

export const reservationCache = fp<ReservationCacheOptions>(
  async (app: FastifyInstance, { url, ttlMs, near: nearOptions, signingKeys, redis: { commandTimeoutMs, breakerResetMs }, registry }) => {
    // Concurrent reads' HMGETs (and fills) go out as one pipeline per event-loop turn: one write
    // and one read for many requests, for Node and for Redis.
    const redis = createRedis(url, { enableAutoPipelining: true, commandTimeout: commandTimeoutMs });
    redis.on('error', () => undefined); // the guard counts and logs failures; ioredis reconnects by itself
    const guard = createRedisGuard({ name: 'cache', redis, resetMs: breakerResetMs, registry, log: app.log });
    // Redis back after an outage may still hold versions whose publish was skipped meanwhile: for
    // this long reads go to the database and refresh Redis (version-checked) while the writers
    // republish what they skipped (docs/booking.md, Redis down or hanging).
    const recoveryMs = 2 * breakerResetMs;
    // A hit from process memory costs no round trip at all; Redis's client-side caching tells
    // this process when a key it read changes (see near-cache.ts and docs/booking.md).
    const near = nearOptions.maxEntries > 0 ? new NearCache<CachedBooking>(nearOptions) : undefined;
    const stopTracking = near
      ? trackInvalidations(redis, near, {
          onError: (err) => app.log.warn({ err }, 'near cache off: CLIENT TRACKING failed'),
          guard,
        })
      : undefined;
    if (near) registerNearCacheMetrics(near, registry);
    app.addHook('onClose', async () => {
      stopTracking?.();
      guard.close();
      redis.disconnect();
    });
    const rejected = new Counter({
      name: 'cache_entries_rejected_total',
      help: 'reservation cache entries whose MAC did not verify (written by someone without the keys, or signed with a retired key): deleted and read from the database',
      registers: [registry],
    });
    // Access is decided from the entry's ids, so an entry is trusted only with the services' MAC:
    // write access to Redis must not be read access to every reservation.
    const cache = createVersionedCache(redis, {
      prefix: BOOKING_CACHE_PREFIX,
      fields: BOOKING_CACHE_FIELDS,
      ttlMs,
      ...(near && { near }),
      signing: {
        keys: signingKeys,
        onRejected: (id) => {
          rejected.inc();
          app.log.warn({ reservationId: id }, 'cache entry with a bad MAC: deleted, read from the database');
        },
      },
      guard,
    });
    const singleFlight = createSingleFlight<CachedBooking | undefined>();
    const lookups = new Counter({
      name: 'cache_lookups_total',
      help: 'reservation cache lookups',
      labelNames: ['result'] as const,
      registers: [registry],
    });
    const fills = new Counter({
      name: 'cache_fills_total',
      help: 'database reads made to fill the reservation cache',
      registers: [registry],
    });

    // Redis failing is a slower read, not an error: the guard counts and logs it (redis_calls_total).
    const put = async (id: string, entry: CachedBooking) => {
      await cache.setIfNewer(id, entry).catch(() => undefined);
    };
    const recovering = () => guard.upSince > 0 && Date.now() - guard.upSince < recoveryMs;
    app.decorate('redis', redis);
    app.decorate('redisGuard', guard);
    app.decorate('reservationCache', {
      async get(id, load) {
        const hit = recovering() ? undefined : await cache.get(id).catch(() => undefined);
        lookups.inc({ result: hit ? 'hit' : 'miss' });
        if (hit) return hit;
        return singleFlight(id, async () => {
          fills.inc();
          const entry = await load();
          if (entry) await put(id, entry);
          return entry;
        });
      },
      put,
    } satisfies ReservationCache);
  },
  { name: 'reservation-cache' },
);
