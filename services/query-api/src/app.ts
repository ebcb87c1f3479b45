import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import {
  apiServerOptions,
  loggerOptions,
  OneLinePerRequest,
  poolLimits,
  redisSettings,
  registerApiFoundation,
  SigningKeys,
} from '@reservations/service-kit';
import Fastify, { type FastifyServerOptions } from 'fastify';
import type { Registry } from 'prom-client';
import type { QueryApiConfig } from './config.ts';
import { db } from './infra/db.ts';
import availabilityRoutes from './routes/availability.ts';
import reservationRoutes from './routes/reservations.ts';
import { reservationCache } from './stores/reservation-cache.ts';
import { reservationReader } from './stores/reservation-reader.ts';

export type AppConfig = Omit<QueryApiConfig, 'HOST' | 'PORT' | 'ADMIN_PORT' | 'SHUTDOWN_DELAY_MS' | 'SHUTDOWN_TIMEOUT_MS' | 'DRAIN_FILE'>;

/** The query API without a listener: server.ts listens, tests inject. */
export async function buildApp(config: AppConfig, { registry, logger }: { registry: Registry; logger?: FastifyServerOptions['logger'] }) {
  const signingKeys = new SigningKeys(config.BOOKING_SIGNING_KEYS);
  const app = Fastify({
    ...apiServerOptions,
    logger: logger ?? loggerOptions('query-api', config.LOG_LEVEL),
    logController: new OneLinePerRequest({ mode: config.LOG_REQUESTS, slowMs: config.LOG_SLOW_REQUEST_MS }),
  }).withTypeProvider<TypeBoxTypeProvider>();
  await registerApiFoundation(app, {
    title: 'query-api',
    description: 'Reads of the booking core: reservations, history, availability',
    registry,
    maxEventLoopDelayMs: config.MAX_EVENT_LOOP_DELAY_MS,
    jwt: config,
    rateLimit: config,
  });

  await app.register(db, {
    replicaUrl: config.MYSQL_REPLICA_URL,
    primaryUrl: config.MYSQL_PRIMARY_URL,
    poolSize: config.MYSQL_POOL_SIZE,
    limits: poolLimits(config),
    waitMs: config.CONSISTENCY_WAIT_MS,
    waitPool: { size: config.CONSISTENCY_WAIT_POOL_SIZE, queue: config.CONSISTENCY_WAIT_QUEUE },
    registry,
  });
  app.decorate('consistencyTokens', { keys: signingKeys, clockSkewSeconds: config.CONSISTENCY_TOKEN_CLOCK_SKEW_SECONDS });
  await app.register(reservationCache, {
    signingKeys,
    url: config.REDIS_URL,
    ttlMs: config.CACHE_TTL_SECONDS * 1000,
    near: { maxEntries: config.NEAR_CACHE_ENTRIES, maxAgeMs: config.NEAR_CACHE_MAX_AGE_SECONDS * 1000 },
    redis: redisSettings(config),
    registry,
  });
  await app.register(reservationReader);

  // routeOptions.url includes the prefix: metric labels still name the full /v1 path.
  await app.register(reservationRoutes, { prefix: '/v1' });
  await app.register(availabilityRoutes, { prefix: '/v1' });
  return app;
}
