/**
 * Environment variables and the spec's `env` (spec.services.<svc>.env). Kept free of imports so
 * the API schema can build its CEL rules from these lists; the workloads set the same names, and
 * test/desired/env.test.ts keeps the two in step.
 */

/**
 * What the operator sets in every container (the shared ConfigMap and the Secret references
 * of spec.backends) or relies on (DRAIN_FILE: service-kit's default is the file of the drain
 * volume). A container's `env` wins over its `envFrom`, so a spec `env` entry with one of these
 * names would quietly override ports the probes and Services use, shutdown timings fitted to
 * the grace period, the queues, or the credentials.
 */
export const OPERATOR_OWNED_ENV = [
  'HOST',
  'PORT',
  'ADMIN_PORT',
  'SHUTDOWN_DELAY_MS',
  'SHUTDOWN_TIMEOUT_MS',
  'DRAIN_FILE',
  'SQS_QUEUE_URL',
  'SQS_DLQ_URL',
  'MYSQL_PRIMARY_URL',
  'MYSQL_REPLICA_URL',
  'REDIS_URL',
  'JWT_SECRET',
  'JWT_PUBLIC_KEY',
  'JWT_JWKS_URL',
  'JWT_ISSUER',
  'JWT_AUDIENCE',
  'BOOKING_SIGNING_KEYS',
  'WEBHOOK_SECRET_KEYS',
] as const;

/**
 * Set by the operator as a default only: the spec's `env` may override it (raising the log level
 * of one service is what `env` is for).
 */
export const OVERRIDABLE_ENV = ['LOG_LEVEL'] as const;

/**
 * Switches the services (or Node.js under them) read that turn a protection off; they exist for
 * local development and tests. WEBHOOK_ALLOW_PRIVATE_ADDRESSES lets a provider's webhook reach
 * the cluster's own network (SSRF), WEBHOOK_ALLOW_HTTP sends webhooks in clear text,
 * NODE_TLS_REJECT_UNAUTHORIZED=0 stops verifying every TLS peer (webhooks, Redis, SQS).
 */
export const UNSAFE_ENV = ['WEBHOOK_ALLOW_PRIVATE_ADDRESSES', 'WEBHOOK_ALLOW_HTTP', 'NODE_TLS_REJECT_UNAUTHORIZED'] as const;
