import { BOOKING_CACHE_FIELDS, BOOKING_CACHE_PREFIX, cachedBooking } from '@reservations/contracts';
import { createRedis, createVersionedCache, type SigningKeys } from '@reservations/service-kit';
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
 * After each commit the new version goes into the read side's cache, version-checked and signed
 * (query-api trusts no entry without the MAC), so a reader hitting the cache sees it even while
 * the replica lags. A publish that fails deletes the key instead, so readers go to the database
 * rather than serve the old version until its TTL; if the delete fails too (Redis unreachable),
 * the TTL is the bound (query-api also honours the consistency token).
 */
export const cachePublisher = fp<{ url: string; ttlMs: number; signingKeys: SigningKeys }>(
  async (app: FastifyInstance, { url, ttlMs, signingKeys }) => {
    // Concurrent commits' publishes go out as one pipeline per event-loop turn.
    const redis = createRedis(url, { enableAutoPipelining: true });
    app.addHook('onClose', async () => {
      redis.disconnect();
    });
    const cache = createVersionedCache(redis, {
      prefix: BOOKING_CACHE_PREFIX,
      fields: BOOKING_CACHE_FIELDS,
      ttlMs,
      signing: { keys: signingKeys },
    });
    app.decorate('redis', redis);
    app.decorate('cachePublisher', {
      publish: async ({ reservation, resource }: Change) => {
        try {
          await cache.setIfNewer(reservation.id, cachedBooking(reservation, resource.providerId));
        } catch (err) {
          await cache.remove(reservation.id).catch(() => undefined);
          throw err;
        }
      },
    });
  },
  { name: 'cache-publisher' },
);
