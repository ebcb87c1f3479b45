import {
  apiConfigProperties,
  mysqlPoolConfigProperties,
  redisConfigProperties,
  requestLogConfigProperties,
  secret,
  serviceConfig,
  signingConfigProperties,
  sqsClientConfigProperties,
} from '@reservations/service-kit';
import { type Static, Type } from 'typebox';

/** The outbox relay's settings, shared by the API (relay in-process) and `src/relay.ts` (relay alone). */
export const outboxRelayConfigProperties = {
  OUTBOX_RELAY: Type.Enum(['in-process', 'off'], {
    default: 'in-process',
    description: 'run the outbox relay inside the API (woken after each commit), or not (a separate `src/relay.ts` does it)',
  }),
  SQS_QUEUE_URL: Type.Optional(Type.String({ pattern: '^https?://', description: 'the FIFO queue the outbox relay sends events to' })),
  OUTBOX_BATCH_SIZE: Type.Integer({ minimum: 1, maximum: 500, default: 50, description: 'outbox rows one relay pass locks and sends' }),
  OUTBOX_POLL_INTERVAL_MS: Type.Integer({
    minimum: 10,
    default: 500,
    description: 'how often the relay looks for unsent rows without being woken by a commit',
  }),
  OUTBOX_WAKE_DELAY_MS: Type.Integer({
    minimum: 0,
    maximum: 1000,
    default: 25,
    description: 'how long a commit’s wake-up waits for more commits, so one relay pass sends them together',
  }),
  OUTBOX_RELAY_CONCURRENCY: Type.Integer({
    minimum: 1,
    maximum: 16,
    default: 1,
    description: 'relay passes in flight at once per process (one locks new rows while another waits on SQS)',
  }),
  OUTBOX_RETENTION_HOURS: Type.Number({ exclusiveMinimum: 0, default: 168, description: 'how long sent outbox rows are kept' }),
  OUTBOX_MAX_ATTEMPTS: Type.Integer({
    minimum: 1,
    default: 10,
    description: 'sends of one row that SQS answers without accepting it before the row is parked',
  }),
  OUTBOX_PASS_TIMEOUT_MS: Type.Integer({
    minimum: 1000,
    default: 15000,
    description: 'longest a relay pass holds its rows: its SQS calls are aborted then, and its transaction ends',
  }),
  OUTBOX_BACKOFF_BASE_MS: Type.Integer({ minimum: 1, default: 500, description: 'backoff after the first failed relay pass' }),
  OUTBOX_BACKOFF_MAX_MS: Type.Integer({ minimum: 1, default: 30000, description: 'longest backoff between failed relay passes' }),
  ...sqsClientConfigProperties,
};

export type OutboxRelayConfig = Static<ReturnType<typeof Type.Object<typeof outboxRelayConfigProperties>>>;

/** The booking policy's defaults; a resource may set its own maximum duration and horizon. */
export const bookingPolicyConfigProperties = {
  BOOKING_MAX_DURATION_MINUTES: Type.Integer({
    minimum: 1,
    maximum: 525_600,
    default: 1440,
    description: 'the longest window a booking may take, for resources that do not set their own (maxDurationMinutes)',
  }),
  BOOKING_HORIZON_DAYS: Type.Integer({
    minimum: 1,
    maximum: 36_500,
    default: 365,
    description: 'how far ahead a booking may end, for resources that do not set their own (bookingHorizonDays)',
  }),
  BOOKING_CLOCK_SKEW_SECONDS: Type.Integer({
    minimum: 0,
    maximum: 3600,
    default: 60,
    description: "how far in the past a new start may be (the client's clock and the network's delay), before it is refused as past",
  }),
  MAX_ACTIVE_HOLDS_PER_CUSTOMER: Type.Integer({
    minimum: 1,
    maximum: 10_000,
    default: 5,
    description: 'holds a customer may have unconfirmed and unexpired at once, across all resources',
  }),
};

export const ReservationApiConfig = serviceConfig({
  ...apiConfigProperties,
  ...requestLogConfigProperties,
  ...signingConfigProperties,
  ...bookingPolicyConfigProperties,
  CONSISTENCY_TOKEN_TTL_SECONDS: Type.Integer({
    minimum: 10,
    maximum: 86_400,
    default: 600,
    description: 'how long a consistency token this API returns stays valid for read-your-writes in query-api',
  }),
  MYSQL_PRIMARY_URL: secret(Type.String({ pattern: '^mysql://', description: 'the MySQL primary (read-write)' })),
  REDIS_URL: Type.String({ pattern: '^rediss?://', description: 'Redis, where each change publishes the new version for readers' }),
  ...redisConfigProperties,
  CACHE_REPUBLISH_BACKLOG: Type.Integer({
    minimum: 0,
    default: 10000,
    description:
      'reservations whose publish was skipped while Redis failed, kept to publish when it answers again (past it the oldest is dropped and Redis may serve its old version until the cache TTL)',
  }),
  HOLD_TTL_SECONDS: Type.Number({ exclusiveMinimum: 0, default: 600, description: 'how long a hold keeps its time unless confirmed' }),
  IDEMPOTENCY_TTL_HOURS: Type.Number({ exclusiveMinimum: 0, default: 24, description: 'how long an Idempotency-Key is remembered' }),
  IDEMPOTENCY_LEASE_SECONDS: Type.Integer({
    minimum: 1,
    maximum: 600,
    default: 35,
    description:
      "how long a request's Redis lease on its Idempotency-Key lasts (duplicates meanwhile get 409): a little above the 30 s a request may take, so a crashed request frees its key that long after",
  }),
  BODY_LIMIT_BYTES: Type.Integer({ minimum: 1024, default: 16384, description: 'largest request body accepted' }),
  MYSQL_POOL_SIZE: Type.Integer({ minimum: 1, default: 20, description: 'connections to the primary' }),
  BOOKING_LANE_WIDTH: Type.Integer({
    minimum: 1,
    default: 2,
    description:
      "a resource's bookings in a transaction at once on this pod; the rest wait their turn without a database connection (at most MYSQL_QUEUE_LIMIT of them, past it 503), so one hot resource cannot hold the whole pool",
  }),
  ...mysqlPoolConfigProperties,
  ...outboxRelayConfigProperties,
});
export type ReservationApiConfig = Static<typeof ReservationApiConfig>;
