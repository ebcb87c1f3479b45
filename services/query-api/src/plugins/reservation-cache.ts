import {
  type CachedReservation,
  createRedis,
  createSingleFlight,
  createVersionedCache,
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
  put(entry: CachedReservation): Promise<void>;
}

declare module 'fastify' {
  interface FastifyInstance {
    redis: Redis;
    reservationCache: ReservationCache;
  }
}

export const reservationCache = fp<{ url: string; ttlMs: number; registry: Registry }>(
  async (app: FastifyInstance, { url, ttlMs, registry }) => {
    const redis = createRedis(url);
    app.addHook('onClose', async () => {
      redis.disconnect();
    });
    const cache = createVersionedCache<CachedReservation>(redis, { prefix: RESERVATION_CACHE_PREFIX, ttlMs });
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

    const put = async (entry: CachedReservation) => {
      await cache.setIfNewer(entry.reservation.id, entry.reservation.version, entry).catch((err: unknown) => {
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
        if (hit) return hit.value;
        return singleFlight(id, async () => {
          fills.inc();
          const entry = await load();
          if (entry) await put(entry);
          return entry;
        });
      },
      put,
    } satisfies ReservationCache);
  },
  { name: 'reservation-cache' },
);
