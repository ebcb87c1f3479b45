import { createRedis, createVersionedCache } from '@reservations/service-kit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import type { Reservation } from './reservation-store.ts';

/** Shared with query-api: the key prefix and the entry format (`version:json` of the API's Reservation). */
export const RESERVATION_CACHE_PREFIX = 'reservation:v1:';

declare module 'fastify' {
  interface FastifyInstance {
    redis: Redis;
    cachePublisher: { publish(reservation: Reservation): Promise<void> };
  }
}

/**
 * After each commit the new version goes into the read side's cache, version-checked, so a
 * reader hitting the cache sees it even while the replica lags; a failure here only costs the
 * reader a trip to the database (query-api also honours the consistency token).
 */
export const cachePublisher = fp<{ url: string; ttlMs: number }>(
  async (app: FastifyInstance, { url, ttlMs }) => {
    const redis = createRedis(url);
    app.addHook('onClose', async () => {
      redis.disconnect();
    });
    const cache = createVersionedCache<Reservation>(redis, { prefix: RESERVATION_CACHE_PREFIX, ttlMs });
    app.decorate('redis', redis);
    app.decorate('cachePublisher', {
      publish: async (reservation: Reservation) => {
        await cache.setIfNewer(reservation.id, reservation.version, reservation);
      },
    });
  },
  { name: 'cache-publisher' },
);
