import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import {
  apiServerOptions,
  loggerOptions,
  OneLinePerRequest,
  poolLimits,
  redisSettings,
  registerApiFoundation,
} from '@reservations/service-kit';
import Fastify, { type FastifyServerOptions } from 'fastify';
import type { Registry } from 'prom-client';
import type { NotifierConfig } from './config.ts';
import { db } from './infra/db.ts';
import { notificationBus } from './infra/notification-bus.ts';
import { secretStore } from './infra/secret-store.ts';
import notificationRoutes from './routes/notifications.ts';
import webhookRoutes from './routes/webhooks.ts';
import { pipeline } from './workers/pipeline.ts';
import { retentionSweeper } from './workers/retention-sweeper.ts';

/** How often plaintext secrets left by an older notifier are sealed, and data keys of an old KEK re-wrapped (also once at start). */
const SECRET_SWEEP_INTERVAL_MS = 5 * 60_000;

export type AppConfig = Omit<NotifierConfig, 'HOST' | 'PORT' | 'ADMIN_PORT' | 'SHUTDOWN_DELAY_MS' | 'DRAIN_FILE'>;

/** The notifier without a listener: server.ts listens, tests inject. Consuming starts when the app is ready. */
export async function buildApp(config: AppConfig, { registry, logger }: { registry: Registry; logger?: FastifyServerOptions['logger'] }) {
  const app = Fastify({
    ...apiServerOptions,
    logger: logger ?? loggerOptions('notifier', config.LOG_LEVEL),
    logController: new OneLinePerRequest({ mode: config.LOG_REQUESTS, slowMs: config.LOG_SLOW_REQUEST_MS }),
  }).withTypeProvider<TypeBoxTypeProvider>();
  await registerApiFoundation(app, {
    title: 'notifier',
    description: 'Notifications to providers: webhook endpoints and the live SSE stream',
    registry,
    maxEventLoopDelayMs: config.MAX_EVENT_LOOP_DELAY_MS,
    jwt: config,
    rateLimit: config,
  });

  await app.register(db, {
    url: config.MYSQL_PRIMARY_URL,
    replicaUrl: config.MYSQL_REPLICA_URL,
    poolSize: config.MYSQL_POOL_SIZE,
    limits: poolLimits(config),
    registry,
  });
  await app.register(secretStore, { keys: config.WEBHOOK_SECRET_KEYS, sweepIntervalMs: SECRET_SWEEP_INTERVAL_MS, registry });
  await app.register(notificationBus, {
    url: config.REDIS_URL,
    redis: redisSettings(config),
    registry,
  });
  await app.register(pipeline, { config, registry });
  await app.register(retentionSweeper, {
    processedEventsDays: config.PROCESSED_EVENTS_RETENTION_DAYS,
    deliveriesDays: config.WEBHOOK_DELIVERIES_RETENTION_DAYS,
    intervalMs: 60_000,
    registry,
  });

  // routeOptions.url includes the prefix: metric labels still name the full /v1 path.
  await app.register(webhookRoutes, {
    prefix: '/v1',
    allowHttp: config.WEBHOOK_ALLOW_HTTP,
    allowPrivateAddresses: config.WEBHOOK_ALLOW_PRIVATE_ADDRESSES,
    overlapSeconds: config.WEBHOOK_SECRET_OVERLAP_SECONDS,
  });
  await app.register(notificationRoutes, {
    prefix: '/v1',
    registry,
    heartbeatMs: config.SSE_HEARTBEAT_MS,
    pollIntervalMs: config.SSE_POLL_INTERVAL_MS,
    maxStreamsPerProvider: config.SSE_MAX_STREAMS_PER_PROVIDER,
    pageSize: config.SSE_CATCH_UP_PAGE,
    slowReaderMs: config.SSE_SLOW_READER_TIMEOUT_MS,
  });
  return app;
}
