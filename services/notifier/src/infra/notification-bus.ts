import { createRedis, createRedisGuard, type RedisGuard, type RedisSettings } from '@reservations/service-kit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import { Counter, type Registry } from 'prom-client';

const CHANNEL = 'notifier:provider:';

/**
 * A doorbell across replicas: after the notifier commits a provider's event it publishes the
 * provider's id, and every replica wakes the SSE streams it holds for that provider. The stream
 * then reads the history, so a lost ring (Redis down, hanging or restarting) only delays an
 * event until the stream's next poll; it never loses or reorders one.
 */
export interface NotificationBus {
  ring(providerId: string): void;
  /** Calls `wake` on every ring for the provider; returns the unsubscribe. */
  listen(providerId: string, wake: () => void): () => void;
  redis: Redis;
  /** The publishing client's circuit breaker: rings are skipped (counted) while it is open. */
  guard: RedisGuard;
}

declare module 'fastify' {
  interface FastifyInstance {
    bus: NotificationBus;
  }
}

export interface BusOptions {
  url: string;
  /** Each Redis command's timeout, and how long the breaker skips Redis once it failed. */
  redis: RedisSettings;
  registry: Registry;
}

export const notificationBus = fp<BusOptions>(
  async (app: FastifyInstance, { url, redis: { commandTimeoutMs, breakerResetMs }, registry }) => {
    const redis = createRedis(url, { commandTimeout: commandTimeoutMs });
    redis.on('error', () => undefined); // the guard counts and logs failures; ioredis reconnects by itself
    const guard = createRedisGuard({ name: 'doorbell', redis, resetMs: breakerResetMs, registry, log: app.log });
    const rings = new Counter({
      name: 'sse_doorbell_rings_total',
      help: 'SSE doorbell rings after an event: sent, or skipped (Redis failing; the streams read at their next poll)',
      labelNames: ['result'] as const,
      registers: [registry],
    });
    const subscriber = createRedis(url, { maxRetriesPerRequest: null, commandTimeout: commandTimeoutMs });
    const listeners = new Map<string, Set<() => void>>();
    subscriber.on('message', (channel: string) => {
      for (const wake of listeners.get(channel) ?? []) wake();
    });
    subscriber.on('error', (err) => app.log.debug({ err }, 'redis subscriber'));
    app.addHook('onClose', async () => {
      guard.close();
      subscriber.disconnect();
      redis.disconnect();
    });
    app.decorate('bus', {
      redis,
      guard,
      ring(providerId) {
        guard
          .run(() => redis.publish(`${CHANNEL}${providerId}`, '1'))
          .then(
            () => rings.inc({ result: 'sent' }),
            () => rings.inc({ result: 'skipped' }),
          );
      },
      listen(providerId, wake) {
        const channel = `${CHANNEL}${providerId}`;
        let set = listeners.get(channel);
        if (!set) {
          set = new Set();
          listeners.set(channel, set);
          subscriber.subscribe(channel).catch((err: unknown) => app.log.warn({ err }, 'subscribing to the SSE doorbell failed'));
        }
        set.add(wake);
        return () => {
          set.delete(wake);
          if (set.size === 0 && listeners.get(channel) === set) {
            listeners.delete(channel);
            subscriber.unsubscribe(channel).catch(() => undefined);
          }
        };
      },
    } satisfies NotificationBus);
  },
  { name: 'notification-bus' },
);
