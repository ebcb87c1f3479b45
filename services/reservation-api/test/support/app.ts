import { randomUUID } from 'node:crypto';
import { type DbService, grantServiceUsers, migrateToLatest } from '@reservations/database';
import type { JwtConfig } from '@reservations/service-kit';
import { createTokenMinter } from '@reservations/service-kit/token-minter';
import { asDbAccount, harnessEnv, SERVICE_DB_ACCOUNTS, serviceDbAccounts, waitForReplica } from '@reservations/testkit';
import mysql from 'mysql2/promise';
import { Registry } from 'prom-client';
import { type AppConfig, buildApp } from '../../src/app.ts';

export const JWT_SECRET = 'test-secret-that-is-at-least-32-bytes-long';
export const JWT_ISSUER = 'https://idp.test/';
export const JWT_AUDIENCE = 'reservations';
/** The identity provider every test trusts, as a process's environment (the other JWT_* take their defaults). */
export const JWT_ENV = { JWT_SECRET, JWT_ISSUER, JWT_AUDIENCE };
/** The same as an app's configuration. */
export const JWT_CONFIG: JwtConfig = {
  ...JWT_ENV,
  JWT_PUBLIC_KEY: undefined,
  JWT_JWKS_URL: undefined,
  JWT_MAX_TOKEN_AGE_SECONDS: 86_400,
  JWT_CLOCK_SKEW_SECONDS: 30,
  JWT_JWKS_TIMEOUT_MS: 2000,
  JWT_JWKS_COOLDOWN_MS: 30_000,
  JWT_JWKS_MAX_AGE_MS: 600_000,
};

/** The keys reservation-api and query-api share to sign consistency tokens and cache entries. */
export const BOOKING_SIGNING_KEYS = 'test-booking-signing-key-that-is-32-bytes-or-more';

/**
 * The booking policy the functional tests book under: they book years ahead (2030 to 2050) and
 * a few windows of days, so the horizon and the longest window are wide; the policy's own tests
 * set theirs.
 */
export const POLICY_CONFIG = {
  BOOKING_MAX_DURATION_MINUTES: 525_600,
  BOOKING_HORIZON_DAYS: 36_500,
  BOOKING_CLOCK_SKEW_SECONDS: 60,
  MAX_ACTIVE_HOLDS_PER_CUSTOMER: 10_000,
};

/** The same policy, as createReservationStore takes it (for tests that drive the store directly). */
export const STORE_POLICY = {
  policy: {
    maxDurationMinutes: POLICY_CONFIG.BOOKING_MAX_DURATION_MINUTES,
    horizonDays: POLICY_CONFIG.BOOKING_HORIZON_DAYS,
    clockSkewSeconds: POLICY_CONFIG.BOOKING_CLOCK_SKEW_SECONDS,
  },
  maxActiveHolds: POLICY_CONFIG.MAX_ACTIVE_HOLDS_PER_CUSTOMER,
};

/** Rate limits no functional test reaches (the rate limit tests set their own), as an app's configuration… */
export const RATE_LIMIT_CONFIG = {
  RATE_LIMIT_WINDOW_SECONDS: 60,
  RATE_LIMIT_READS: 1_000_000,
  RATE_LIMIT_WRITES: 1_000_000,
  RATE_LIMIT_HOLDS: 1_000_000,
  RATE_LIMIT_REDIS_TIMEOUT_MS: 100,
  RATE_LIMIT_SYNC_MS: 100,
  RATE_LIMIT_FALLBACK_MS: 5000,
};
/** …and, with the identity provider, as a process's environment. */
export const API_ENV = {
  ...JWT_ENV,
  BOOKING_SIGNING_KEYS,
  ...Object.fromEntries(Object.entries({ ...RATE_LIMIT_CONFIG, ...POLICY_CONFIG }).map(([name, value]) => [name, String(value)])),
};

/** Mints a token of that identity provider; claims given override its `iss`, `aud`, `iat`, `exp` (undefined leaves one out). */
export const mintToken = createTokenMinter({ issuer: JWT_ISSUER, audience: JWT_AUDIENCE, key: { secret: JWT_SECRET } });

export function token(role: 'customer' | 'provider' | 'admin', sub: string): string {
  return mintToken({ sub, role });
}

export const bearer = (role: 'customer' | 'provider' | 'admin', sub: string) => ({ authorization: `Bearer ${token(role, sub)}` });

/**
 * A database of its own on the primary (it replicates to the replica); the URLs for the app
 * account (fixtures, tests that reach under the services) and, in `as`, for each service's own
 * account. `migrate` brings it to the newest schema, then gives each service's account its grants
 * there (the grant command's work) and waits until the replica has them too.
 */
export async function freshDatabase(prefix: string) {
  const name = `${prefix}_${randomUUID().slice(0, 8)}`;
  const admin = await mysql.createConnection(harnessEnv('MYSQL_PRIMARY_ADMIN_URL'));
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.query(`GRANT ALL ON ${name}.* TO 'app'@'%'`);
  await admin.end();
  const withDb = (url: string) => url.replace(/\/[^/]*$/, `/${name}`);
  const primaryUrl = withDb(harnessEnv('MYSQL_PRIMARY_URL'));
  const replicaUrl = withDb(harnessEnv('MYSQL_REPLICA_URL'));
  const account = (service: DbService) => ({
    primaryUrl: asDbAccount(primaryUrl, SERVICE_DB_ACCOUNTS[service]),
    replicaUrl: asDbAccount(replicaUrl, SERVICE_DB_ACCOUNTS[service]),
  });
  const adminUrl = withDb(harnessEnv('MYSQL_PRIMARY_ADMIN_URL'));
  return {
    name,
    primaryUrl,
    replicaUrl,
    /** A superuser's, for a test that sees or kills the services' connections (theirs are other accounts). */
    adminUrl,
    as: { reservationApi: account('reservation-api'), queryApi: account('query-api'), notifier: account('notifier') },
    migrate: async () => {
      const migrated = await migrateToLatest(primaryUrl);
      await grantServiceUsers(adminUrl, serviceDbAccounts());
      await waitForReplica({
        MYSQL_PRIMARY_ADMIN_URL: harnessEnv('MYSQL_PRIMARY_ADMIN_URL'),
        MYSQL_REPLICA_ADMIN_URL: harnessEnv('MYSQL_REPLICA_ADMIN_URL'),
      });
      return migrated;
    },
  };
}

export function appConfig(overrides: Partial<AppConfig> = {}): AppConfig {
  return {
    MYSQL_PRIMARY_URL: harnessEnv('MYSQL_PRIMARY_URL'),
    REDIS_URL: harnessEnv('REDIS_URL'),
    REDIS_COMMAND_TIMEOUT_MS: 250,
    REDIS_BREAKER_RESET_MS: 2000,
    CACHE_REPUBLISH_BACKLOG: 10000,
    ...JWT_CONFIG,
    ...RATE_LIMIT_CONFIG,
    ...POLICY_CONFIG,
    BOOKING_SIGNING_KEYS,
    CONSISTENCY_TOKEN_TTL_SECONDS: 600,
    HOLD_TTL_SECONDS: 600,
    IDEMPOTENCY_TTL_HOURS: 24,
    IDEMPOTENCY_LEASE_SECONDS: 35,
    BODY_LIMIT_BYTES: 16384,
    MYSQL_POOL_SIZE: 20,
    BOOKING_LANE_WIDTH: 2,
    MYSQL_QUEUE_LIMIT: 100,
    MYSQL_QUERY_TIMEOUT_MS: 10000,
    MAX_EVENT_LOOP_DELAY_MS: 0,
    LOG_LEVEL: 'silent' as never,
    LOG_REQUESTS: 'errors',
    LOG_SLOW_REQUEST_MS: 500,
    OUTBOX_RELAY: 'off',
    SQS_QUEUE_URL: undefined,
    OUTBOX_BATCH_SIZE: 50,
    OUTBOX_POLL_INTERVAL_MS: 500,
    OUTBOX_RETENTION_HOURS: 168,
    OUTBOX_RELAY_CONCURRENCY: 1,
    OUTBOX_MAX_ATTEMPTS: 10,
    OUTBOX_PASS_TIMEOUT_MS: 15000,
    OUTBOX_BACKOFF_BASE_MS: 500,
    OUTBOX_BACKOFF_MAX_MS: 30000,
    OUTBOX_WAKE_DELAY_MS: 10,
    SQS_CONNECTION_TIMEOUT_MS: 2000,
    SQS_REQUEST_TIMEOUT_MS: 5000,
    ...overrides,
  };
}

export async function testApp(overrides: Partial<AppConfig> = {}) {
  const registry = new Registry();
  const app = await buildApp(appConfig(overrides), { registry, logger: false });
  await app.ready();
  return { app, registry };
}
