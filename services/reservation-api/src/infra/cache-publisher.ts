import { BOOKING_CACHE_FIELDS, BOOKING_CACHE_PREFIX, cachedBooking } from '@reservations/contracts';
import {
  createRedis,
  createRedisGuard,
  createVersionedCache,
  type RedisGuard,
  type RedisSettings,
  type SigningKeys,
} from '@reservations/service-kit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import { Counter, type Registry } from 'prom-client';
import type { Change } from '../stores/reservation-store.ts';

declare module 'fastify' {
  interface FastifyInstance {
    redis: Redis;
    /** Redis's circuit breaker: publishes are skipped while it is open (readiness reports it). */
    redisGuard: RedisGuard;
    cachePublisher: { publish(change: Change): Promise<void> };
  }
}

export interface CachePublisherOptions {
  url: string;
  ttlMs: number;
  /** Each Redis command's timeout, and how long the breaker skips Redis once it failed. */
  redis: RedisSettings;
  /** Reservations whose skipped publish is kept to publish when Redis returns; past it the oldest is dropped. */
  backlog: number;
  /** Every entry carries their MAC: query-api trusts no other. */
  signingKeys: SigningKeys;
  registry: Registry;
}

/**
 * After each commit the new version goes into the read side's cache, version-checked and signed
 * (query-api trusts no entry without the MAC), so a reader hitting the cache sees it even while
 * the replica lags; a failure here only costs the reader a trip to the database (query-api also
 * honours the consistency token). Redis failing or hanging never fails or holds the command: a
 * publish waits at most the command timeout, none while the breaker is open, and is counted as
 * skipped; the key is deleted if Redis takes that, so readers go to the database rather than serve
 * the old version until its TTL. The latest skipped version of each reservation is kept (up to
 * `backlog`) and published when Redis answers again, so a version superseded during the outage
 * does not outlive it in Redis.
 */
export const cachePublisher = fp<CachePublisherOptions>(
  async (app: FastifyInstance, { url, ttlMs, redis: { commandTimeoutMs, breakerResetMs }, backlog, signingKeys, registry }) => {
    // Concurrent commits' publishes go out as one pipeline per event-loop turn.
    const redis = createRedis(url, { enableAutoPipelining: true, commandTimeout: commandTimeoutMs });
    redis.on('error', () => undefined); // the guard counts and logs failures; ioredis reconnects by itself
    const guard = createRedisGuard({ name: 'publisher', redis, resetMs: breakerResetMs, registry, log: app.log });
    app.addHook('onClose', async () => {
      guard.close();
      redis.disconnect();
    });
    const cache = createVersionedCache(redis, {
      prefix: BOOKING_CACHE_PREFIX,
      fields: BOOKING_CACHE_FIELDS,
      ttlMs,
      guard,
      signing: { keys: signingKeys },
    });
    const publishes = new Counter({
      name: 'cache_publishes_total',
      help: 'post-commit publishes of a new version to the read cache: written, superseded (Redis had it or a newer one), skipped (Redis failing: kept to republish), republished, dropped (the backlog was full)',
      labelNames: ['result'] as const,
      registers: [registry],
    });
    // Insertion-ordered: the first key is the oldest skipped publish.
    const skipped = new Map<string, Change>();
    const keep = (change: Change) => {
      const id = change.reservation.id;
      const held = skipped.get(id);
      if (held && held.reservation.version >= change.reservation.version) return;
      skipped.delete(id);
      skipped.set(id, change);
      for (const oldest of skipped.keys()) {
        if (skipped.size <= backlog) break;
        skipped.delete(oldest);
        publishes.inc({ result: 'dropped' });
      }
    };
    const write = ({ reservation, resource }: Change) => cache.setIfNewer(reservation.id, cachedBooking(reservation, resource.providerId));

    guard.onChange(async (up) => {
      if (!up) return;
      for (const [id, change] of [...skipped]) {
        if (!guard.up) return; // failing again: the rest waits for the next return
        try {
          await write(change);
          if (skipped.get(id) === change) skipped.delete(id);
          publishes.inc({ result: 'republished' });
        } catch {
          // kept for the next return
        }
      }
    });

    app.decorate('redis', redis);
    app.decorate('redisGuard', guard);
    app.decorate('cachePublisher', {
      publish: async (change: Change) => {
        try {
          publishes.inc({ result: (await write(change)) ? 'written' : 'superseded' });
          const held = skipped.get(change.reservation.id);
          if (held && held.reservation.version <= change.reservation.version) skipped.delete(change.reservation.id);
        } catch {
          publishes.inc({ result: 'skipped' });
          keep(change);
          await cache.remove(change.reservation.id).catch(() => undefined);
        }
      },
    });
  },
  { name: 'cache-publisher' },
);
