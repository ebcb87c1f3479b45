import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import {
  apiServerOptions,
  ConfigError,
  createSqsClient,
  loggerOptions,
  OneLinePerRequest,
  poolLimits,
  redisSettings,
  registerApiFoundation,
  SigningKeys,
} from '@reservations/service-kit';
import Fastify, { type FastifyServerOptions } from 'fastify';
import type { Registry } from 'prom-client';
import type { ReservationApiConfig } from './config.ts';
import { bookingMetrics } from './infra/booking-metrics.ts';
import { cachePublisher } from './infra/cache-publisher.ts';
import { commands } from './infra/commands.ts';
import { db } from './infra/db.ts';
import { idempotencyLeases } from './infra/idempotency-leases.ts';
import reservationRoutes from './routes/reservations.ts';
import resourceRoutes from './routes/resources.ts';
import { reservationStore } from './stores/reservation-store.ts';
import { idempotencySweeper } from './workers/idempotency-sweeper.ts';
import { outboxRelay, relayOptions, sqsTimeouts } from './workers/outbox-relay.ts';

export type AppConfig = Pick<
  ReservationApiConfig,
  | 'MYSQL_PRIMARY_URL'
  | 'REDIS_URL'
  | 'REDIS_COMMAND_TIMEOUT_MS'
  | 'REDIS_BREAKER_RESET_MS'
  | 'CACHE_REPUBLISH_BACKLOG'
  | 'JWT_SECRET'
  | 'JWT_PUBLIC_KEY'
  | 'JWT_JWKS_URL'
  | 'JWT_ISSUER'
  | 'JWT_AUDIENCE'
  | 'JWT_MAX_TOKEN_AGE_SECONDS'
  | 'JWT_CLOCK_SKEW_SECONDS'
  | 'JWT_JWKS_TIMEOUT_MS'
  | 'JWT_JWKS_COOLDOWN_MS'
  | 'JWT_JWKS_MAX_AGE_MS'
  | 'RATE_LIMIT_WINDOW_SECONDS'
  | 'RATE_LIMIT_READS'
  | 'RATE_LIMIT_WRITES'
  | 'RATE_LIMIT_HOLDS'
  | 'RATE_LIMIT_REDIS_TIMEOUT_MS'
  | 'RATE_LIMIT_SYNC_MS'
  | 'RATE_LIMIT_FALLBACK_MS'
  | 'HOLD_TTL_SECONDS'
  | 'BOOKING_SIGNING_KEYS'
  | 'CONSISTENCY_TOKEN_TTL_SECONDS'
  | 'BOOKING_MAX_DURATION_MINUTES'
  | 'BOOKING_HORIZON_DAYS'
  | 'BOOKING_CLOCK_SKEW_SECONDS'
  | 'MAX_ACTIVE_HOLDS_PER_CUSTOMER'
  | 'IDEMPOTENCY_TTL_HOURS'
  | 'IDEMPOTENCY_LEASE_SECONDS'
  | 'BODY_LIMIT_BYTES'
  | 'MYSQL_POOL_SIZE'
  | 'BOOKING_LANE_WIDTH'
  | 'MYSQL_QUEUE_LIMIT'
  | 'MYSQL_QUERY_TIMEOUT_MS'
  | 'MAX_EVENT_LOOP_DELAY_MS'
  | 'LOG_LEVEL'
  | 'LOG_REQUESTS'
  | 'LOG_SLOW_REQUEST_MS'
  | 'OUTBOX_RELAY'
  | 'SQS_QUEUE_URL'
  | 'OUTBOX_BATCH_SIZE'
  | 'OUTBOX_POLL_INTERVAL_MS'
  | 'OUTBOX_RETENTION_HOURS'
  | 'OUTBOX_RELAY_CONCURRENCY'
  | 'OUTBOX_MAX_ATTEMPTS'
  | 'OUTBOX_PASS_TIMEOUT_MS'
  | 'OUTBOX_BACKOFF_BASE_MS'
  | 'OUTBOX_BACKOFF_MAX_MS'
  | 'OUTBOX_WAKE_DELAY_MS'
  | 'SQS_CONNECTION_TIMEOUT_MS'
  | 'SQS_REQUEST_TIMEOUT_MS'
>;

/** The read side keeps a published version this long (it is also refreshed on every read miss). */
const CACHE_TTL_MS = 5 * 60_000;
/** How long a duplicate of an answered request reads its stored response at once, rather than run and be rolled back. */
const DONE_MARKER_MS = 10 * 60_000;

/** The reservation API without a listener: server.ts listens, tests inject. */
export async function buildApp(config: AppConfig, { registry, logger }: { registry: Registry; logger?: FastifyServerOptions['logger'] }) {
  const relayQueue = relayQueueUrl(config);
  const signingKeys = new SigningKeys(config.BOOKING_SIGNING_KEYS);
  const app = Fastify({
    ...apiServerOptions,
    logger: logger ?? loggerOptions('reservation-api', config.LOG_LEVEL),
    logController: new OneLinePerRequest({ mode: config.LOG_REQUESTS, slowMs: config.LOG_SLOW_REQUEST_MS }),
    bodyLimit: config.BODY_LIMIT_BYTES,
    // Requests are cancelled by the client's timeout, not by ours; this only bounds stuck sockets.
    requestTimeout: 30_000,
  }).withTypeProvider<TypeBoxTypeProvider>();
  // JSON only: a text/plain body would otherwise reach validation as a string.
  app.removeContentTypeParser('text/plain');

  await registerApiFoundation(app, {
    title: 'reservation-api',
    description: 'Commands of the booking core: book, hold, confirm, cancel, reschedule',
    registry,
    maxEventLoopDelayMs: config.MAX_EVENT_LOOP_DELAY_MS,
    jwt: config,
    rateLimit: config,
  });

  await app.register(db, {
    url: config.MYSQL_PRIMARY_URL,
    poolSize: config.MYSQL_POOL_SIZE,
    limits: poolLimits(config),
    registry,
  });
  await app.register(cachePublisher, {
    url: config.REDIS_URL,
    ttlMs: CACHE_TTL_MS,
    redis: redisSettings(config),
    backlog: config.CACHE_REPUBLISH_BACKLOG,
    signingKeys,
    registry,
  });
  await app.register(bookingMetrics, { registry });
  await app.register(reservationStore, {
    holdTtlMs: config.HOLD_TTL_SECONDS * 1000,
    policy: {
      maxDurationMinutes: config.BOOKING_MAX_DURATION_MINUTES,
      horizonDays: config.BOOKING_HORIZON_DAYS,
      clockSkewSeconds: config.BOOKING_CLOCK_SKEW_SECONDS,
    },
    maxActiveHolds: config.MAX_ACTIVE_HOLDS_PER_CUSTOMER,
  });
  await app.register(outboxRelay, {
    sqs: relayQueue ? createSqsClient(sqsTimeouts(config)) : undefined,
    queueUrl: relayQueue ?? '',
    registry,
    ...relayOptions(config),
  });
  await app.register(idempotencyLeases, {
    leaseMs: config.IDEMPOTENCY_LEASE_SECONDS * 1000,
    doneMs: Math.min(DONE_MARKER_MS, config.IDEMPOTENCY_TTL_HOURS * 3_600_000),
    registry,
  });
  await app.register(commands, {
    idempotencyTtlMs: config.IDEMPOTENCY_TTL_HOURS * 3_600_000,
    consistencyTokens: { keys: signingKeys, ttlSeconds: config.CONSISTENCY_TOKEN_TTL_SECONDS },
    resourceLanes: { width: config.BOOKING_LANE_WIDTH, queueLimit: config.MYSQL_QUEUE_LIMIT },
    registry,
  });
  await app.register(idempotencySweeper, { intervalMs: 60_000 });

  // routeOptions.url includes the prefix: metric labels and Idempotency-Key scopes still name the full /v1 path.
  await app.register(reservationRoutes, { prefix: '/v1' });
  await app.register(resourceRoutes, { prefix: '/v1' });
  return app;
}

/** The queue the in-process relay sends to, or undefined when it is off; checked before anything starts. */
export function relayQueueUrl(config: Pick<AppConfig, 'OUTBOX_RELAY' | 'SQS_QUEUE_URL'>): string | undefined {
  if (config.OUTBOX_RELAY === 'off') return undefined;
  if (!config.SQS_QUEUE_URL) {
    throw new ConfigError('SQS_QUEUE_URL is required while OUTBOX_RELAY=in-process (the queue the outbox relay sends events to)');
  }
  return config.SQS_QUEUE_URL;
}
