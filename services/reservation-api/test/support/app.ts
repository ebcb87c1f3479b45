import { randomUUID } from 'node:crypto';
import { migrateToLatest } from '@reservations/database';
import { harnessEnv } from '@reservations/testkit';
import { createSigner } from 'fast-jwt';
import mysql from 'mysql2/promise';
import { Registry } from 'prom-client';
import { type AppConfig, buildApp } from '../../src/app.ts';

export const JWT_SECRET = 'test-secret-that-is-at-least-32-bytes-long';
const sign = createSigner({ key: JWT_SECRET, algorithm: 'HS256', expiresIn: 3_600_000 });

export function token(role: 'customer' | 'provider' | 'admin', sub: string): string {
  return sign({ sub, role });
}

export const bearer = (role: 'customer' | 'provider' | 'admin', sub: string) => ({ authorization: `Bearer ${token(role, sub)}` });

/** A database of its own on the primary (it replicates to the replica), migrated; the URLs for the app account. */
export async function freshDatabase(prefix: string) {
  const name = `${prefix}_${randomUUID().slice(0, 8)}`;
  const admin = await mysql.createConnection(harnessEnv('MYSQL_PRIMARY_ADMIN_URL'));
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.query(`GRANT ALL ON ${name}.* TO 'app'@'%'`);
  await admin.end();
  const withDb = (url: string) => url.replace(/\/[^/]*$/, `/${name}`);
  const primaryUrl = withDb(harnessEnv('MYSQL_PRIMARY_URL'));
  return {
    name,
    primaryUrl,
    replicaUrl: withDb(harnessEnv('MYSQL_REPLICA_URL')),
    migrate: () => migrateToLatest(primaryUrl),
  };
}

export function appConfig(overrides: Partial<AppConfig> = {}): AppConfig {
  return {
    MYSQL_PRIMARY_URL: harnessEnv('MYSQL_PRIMARY_URL'),
    REDIS_URL: harnessEnv('REDIS_URL'),
    JWT_SECRET,
    JWT_PUBLIC_KEY: undefined,
    HOLD_TTL_SECONDS: 600,
    IDEMPOTENCY_TTL_HOURS: 24,
    BODY_LIMIT_BYTES: 16384,
    MYSQL_POOL_SIZE: 20,
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
