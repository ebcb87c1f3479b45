import {
  type CachedReservation,
  createRedis,
  createSingleFlight,
  createVersionedCache,
  RESERVATION_CACHE_FIELDS,
  RESERVATION_CACHE_PREFIX,
} from '@reservations/service-kit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import { Counter, type Registry } from 'prom-client';

export interface ReservationCache {
  /** Cache-aside: the cached entry, or `load()` once per key however many callers miss at the same time. */
  get(id: string, load: () => Promise<CachedReservation | undefined>): Promise<CachedReservation | undefined>;
  /** Version-checked: an entry never replaces a newer one (the write path publishes each new version). */
  put(id: string, entry: CachedReservation): Promise<void>;
}

declare module 'fastify' {
  interface FastifyInstance {
    redis: Redis;
    reservationCache: ReservationCache;
  }
}

export const reservationCache = fp<{ url: string; ttlMs: number; registry: Registry }>(
  async (app: FastifyInstance, { url, ttlMs, registry }) => {
    // Concurrent reads' HMGETs (and fills) go out as one pipeline per event-loop turn: one write
    // and one read for many requests, for Node and for Redis.
    const redis = createRedis(url, { enableAutoPipelining: true });
    app.addHook('onClose', async () => {
      redis.disconnect();
    });
    const cache = createVersionedCache(redis, { prefix: RESERVATION_CACHE_PREFIX, fields: RESERVATION_CACHE_FIELDS, ttlMs });
    const singleFlight = createSingleFlight<CachedReservation | undefined>();
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

    const put = async (id: string, entry: CachedReservation) => {
      await cache.setIfNewer(id, entry).catch((err: unknown) => {
        app.log.warn({ err }, 'cache write failed');
      });
    };
    app.decorate('redis', redis);
    app.decorate('reservationCache', {
      async get(id, load) {
        // Redis down is a slower read, not an error.
        const hit = await cache.get(id).catch((err: unknown) => {
          app.log.warn({ err }, 'cache read failed');
          return undefined;
        });
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
