import { createRedis } from '@reservations/service-kit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';

const CHANNEL = 'notifier:provider:';

/**
 * A doorbell across replicas: after the notifier commits a provider's event it publishes the
 * provider's id, and every replica wakes the SSE streams it holds for that provider. The stream
 * then reads the history, so a lost ring (Redis restarting) only delays an event until the
 * stream's next poll; it never loses or reorders one.
 */
export interface NotificationBus {
  ring(providerId: string): void;
  /** Calls `wake` on every ring for the provider; returns the unsubscribe. */
  listen(providerId: string, wake: () => void): () => void;
  redis: Redis;
}

declare module 'fastify' {
  interface FastifyInstance {
    bus: NotificationBus;
  }
}

export const notificationBus = fp<{ url: string }>(
  async (app: FastifyInstance, { url }) => {
    const redis = createRedis(url);
    const subscriber = createRedis(url, { maxRetriesPerRequest: null });
    const listeners = new Map<string, Set<() => void>>();
    subscriber.on('message', (channel: string) => {
      for (const wake of listeners.get(channel) ?? []) wake();
    });
    subscriber.on('error', (err) => app.log.debug({ err }, 'redis subscriber'));
    app.addHook('onClose', async () => {
      subscriber.disconnect();
      redis.disconnect();
    });
    app.decorate('bus', {
      redis,
      ring(providerId) {
        redis.publish(`${CHANNEL}${providerId}`, '1').catch((err: unknown) => app.log.warn({ err }, 'ringing the SSE doorbell failed'));
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
