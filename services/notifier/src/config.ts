import {
  apiConfigProperties,
  mysqlPoolConfigProperties,
  redisConfigProperties,
  requestLogConfigProperties,
  secret,
  serviceConfig,
  sqsClientConfigProperties,
} from '@reservations/service-kit';
import { type Static, Type } from 'typebox';

export const NotifierConfig = serviceConfig({
  ...apiConfigProperties,
  ...requestLogConfigProperties,
  MYSQL_PRIMARY_URL: secret(
    Type.String({ pattern: '^mysql://', description: 'the MySQL primary: dedupe, event history, webhook endpoints and deliveries' }),
  ),
  MYSQL_REPLICA_URL: Type.Optional(
    secret(
      Type.String({
        pattern: '^mysql://',
        description:
          'the MySQL replica, where an SSE stream far behind (a stale Last-Event-ID) reads its catch-up pages; without it, the primary',
      }),
    ),
  ),
  REDIS_URL: Type.String({ pattern: '^rediss?://', description: 'Redis, whose pub/sub wakes the SSE streams of every replica' }),
  ...redisConfigProperties,
  MYSQL_POOL_SIZE: Type.Integer({ minimum: 1, default: 20, description: 'connections to the primary (and to the replica)' }),
  ...mysqlPoolConfigProperties,
  SQS_QUEUE_URL: Type.String({ pattern: '^https?://', description: 'the FIFO queue the outbox relay fills' }),
  SQS_DLQ_URL: Type.Optional(Type.String({ pattern: '^https?://', description: 'its dead-letter queue, for the depth metric' })),
  SQS_CONSUMERS: Type.Integer({
    minimum: 1,
    maximum: 32,
    default: 4,
    description: 'receive loops per process (each holds other message groups)',
  }),
  SQS_BATCH_SIZE: Type.Integer({ minimum: 1, maximum: 10, default: 10, description: 'messages per ReceiveMessage' }),
  SQS_WAIT_TIME_SECONDS: Type.Integer({ minimum: 0, maximum: 20, default: 20, description: 'long-poll wait of ReceiveMessage' }),
  SQS_RECEIVE_GAP_MS: Type.Integer({
    minimum: 0,
    maximum: 1000,
    default: 100,
    description: 'how long a consumer waits after a batch before its next receive, so the next batch gathers more events',
  }),
  ...sqsClientConfigProperties,
  SQS_VISIBILITY_TIMEOUT_SECONDS: Type.Integer({
    minimum: 3,
    maximum: 43200,
    default: 30,
    description: 'how long a received message stays hidden; a heartbeat extends it for slow batches',
  }),
  SQS_RETRY_BASE_SECONDS: Type.Integer({
    minimum: 0,
    default: 2,
    description: 'a failed message is hidden for this, doubled per receive, before it is retried',
  }),
  WEBHOOK_SECRET_KEYS: secret(
    Type.String({
      minLength: 1,
      description:
        'the keys that seal webhook signing secrets at rest (AES-256-GCM, envelope): comma-separated `id:base64key`, each key 32 bytes (openssl rand -base64 32); the first seals, all open (a rotation lists the new key first and keeps the old one until the notifiers have re-wrapped)',
    }),
  ),
  WEBHOOK_SECRET_OVERLAP_SECONDS: Type.Integer({
    minimum: 0,
    maximum: 604_800,
    default: 86_400,
    description:
      'after a signing-secret rotation, how long the old secret still signs beside the new one (a rotation request may ask for another window)',
  }),
  WEBHOOK_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 5000, description: 'how long one webhook POST may take' }),
  WEBHOOK_RETRY_BASE_MS: Type.Integer({ minimum: 1, default: 1000, description: 'backoff base of webhook retries (full jitter)' }),
  WEBHOOK_RETRY_MAX_MS: Type.Integer({ minimum: 1, default: 600_000, description: 'longest wait between two webhook attempts' }),
  WEBHOOK_MAX_ATTEMPTS: Type.Integer({ minimum: 1, default: 15, description: 'attempts before a delivery is marked failed' }),
  WEBHOOK_CONCURRENCY: Type.Integer({ minimum: 1, default: 32, description: 'webhook POSTs in flight per process' }),
  WEBHOOK_CONCURRENCY_PER_PROVIDER: Type.Integer({
    minimum: 1,
    default: 4,
    description: "webhook POSTs in flight per process to one provider's endpoint, so a slow one cannot take every slot",
  }),
  WEBHOOK_BREAKER_FAILURES: Type.Integer({
    minimum: 1,
    default: 5,
    description: "consecutive failures (timeouts, connection errors, 5xx) that open an endpoint's circuit breaker",
  }),
  WEBHOOK_BREAKER_COOLDOWN_MS: Type.Integer({
    minimum: 100,
    default: 30_000,
    description: "how long an open breaker keeps its endpoint's deliveries waiting before one trial (plus up to half of it, at random)",
  }),
  WEBHOOK_POLL_INTERVAL_MS: Type.Integer({ minimum: 10, default: 1000, description: 'how often due retries are looked for' }),
  WEBHOOK_MARK_DELAY_MS: Type.Integer({
    minimum: 0,
    maximum: 1000,
    default: 20,
    description: 'how long a delivery’s mark waits for others, so one transaction records them together (0: at once)',
  }),
  WEBHOOK_ALLOW_HTTP: Type.Boolean({
    default: false,
    description: 'accept http:// webhook URLs (local development and tests); https:// only otherwise',
  }),
  PROCESSED_EVENTS_RETENTION_DAYS: Type.Integer({
    minimum: 15,
    default: 30,
    description: 'how long an event id is remembered for deduplication (more than SQS keeps a message: 14 days)',
  }),
  WEBHOOK_DELIVERIES_RETENTION_DAYS: Type.Integer({
    minimum: 1,
    default: 30,
    description: 'how long a delivered or failed webhook delivery is kept (pending ones always are)',
  }),
  WEBHOOK_ALLOW_PRIVATE_ADDRESSES: Type.Boolean({
    default: false,
    description:
      'accept webhook endpoints on this host or private networks (local development and tests); otherwise a webhook is never sent to a loopback, private, link-local or reserved address',
  }),
  SSE_HEARTBEAT_MS: Type.Integer({ minimum: 100, default: 15_000, description: 'comment line sent on an idle SSE stream' }),
  SSE_MAX_STREAMS_PER_PROVIDER: Type.Integer({
    minimum: 1,
    default: 10,
    description: 'SSE streams one provider may hold open on one process; past it, 429 with Retry-After',
  }),
  SSE_CATCH_UP_PAGE: Type.Integer({
    minimum: 1,
    maximum: 1000,
    default: 100,
    description: 'events an SSE stream reads from the history at once; the next page waits until the reader has taken this one',
  }),
  SSE_SLOW_READER_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    default: 30_000,
    description:
      'an SSE reader that has not taken what was written within this is disconnected (it resumes with Last-Event-ID), so nothing piles up for it',
  }),
  SSE_POLL_INTERVAL_MS: Type.Integer({
    minimum: 100,
    default: 5000,
    description: 'an SSE stream reads the history this often even without a Redis wake-up',
  }),
});
export type NotifierConfig = Static<typeof NotifierConfig>;
