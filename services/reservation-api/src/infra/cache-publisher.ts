import { BOOKING_CACHE_FIELDS, BOOKING_CACHE_PREFIX, cachedBooking } from '@reservations/contracts';
import { createRedis, createVersionedCache } from '@reservations/service-kit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import type { Change } from '../stores/reservation-store.ts';

declare module 'fastify' {
  interface FastifyInstance {
    redis: Redis;
    cachePublisher: { publish(change: Change): Promise<void> };
  }
}

/**
 * After each commit the new version goes into the read side's cache, version-checked, so a
 * reader hitting the cache sees it even while the replica lags; a failure here only costs the
 * reader a trip to the database (query-api also honours the consistency token).
 */
export const cachePublisher = fp<{ url: string; ttlMs: number }>(
  async (app: FastifyInstance, { url, ttlMs }) => {
    // Concurrent commits' publishes go out as one pipeline per event-loop turn.
    const redis = createRedis(url, { enableAutoPipelining: true });
    app.addHook('onClose', async () => {
      redis.disconnect();
    });
    const cache = createVersionedCache(redis, { prefix: BOOKING_CACHE_PREFIX, fields: BOOKING_CACHE_FIELDS, ttlMs });
    app.decorate('redis', redis);
    app.decorate('cachePublisher', {
      publish: async ({ reservation, resource }: Change) => {
        await cache.setIfNewer(reservation.id, cachedBooking(reservation, resource.providerId));
      },
    });
  },
  { name: 'cache-publisher' },
);
