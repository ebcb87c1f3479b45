import {
  BOOKING_SIGNING_KEYS,
  freshDatabase,
  JWT_CONFIG,
  RATE_LIMIT_CONFIG,
  testApp as writerApp,
} from '@reservations/reservation-api/testing';
import { harnessEnv } from '@reservations/testkit';
import { Registry } from 'prom-client';
import { type AppConfig, buildApp } from '../../src/app.ts';

export { bearer, freshDatabase } from '@reservations/reservation-api/testing';

export async function queryApp(overrides: Partial<AppConfig> = {}) {
  const registry = new Registry();
  const app = await buildApp(
    {
      MYSQL_REPLICA_URL: harnessEnv('MYSQL_REPLICA_URL'),
      MYSQL_PRIMARY_URL: harnessEnv('MYSQL_PRIMARY_URL'),
      REDIS_URL: harnessEnv('REDIS_URL'),
      REDIS_COMMAND_TIMEOUT_MS: 250,
      REDIS_BREAKER_RESET_MS: 2000,
      MYSQL_QUEUE_LIMIT: 100,
      MYSQL_QUERY_TIMEOUT_MS: 10000,
      ...JWT_CONFIG,
      ...RATE_LIMIT_CONFIG,
      BOOKING_SIGNING_KEYS,
      CONSISTENCY_TOKEN_CLOCK_SKEW_SECONDS: 30,
      CACHE_TTL_SECONDS: 300,
      NEAR_CACHE_ENTRIES: 10_000,
      NEAR_CACHE_MAX_AGE_SECONDS: 30,
      CONSISTENCY_WAIT_MS: 500,
      CONSISTENCY_WAIT_POOL_SIZE: 4,
      CONSISTENCY_WAIT_QUEUE: 32,
      MYSQL_POOL_SIZE: 10,
      MAX_EVENT_LOOP_DELAY_MS: 0,
      LOG_LEVEL: 'silent' as never,
      LOG_REQUESTS: 'errors',
      LOG_SLOW_REQUEST_MS: 500,
      ...overrides,
    },
    { registry, logger: false },
  );
  await app.ready();
  return { app, registry };
}

type WriterConfig = NonNullable<Parameters<typeof writerApp>[0]>;

/**
 * The real write side (reservation-api) and the read side on one database of their own, each as
 * its own database account with its grants (or both as the account of the MariaDB pair `urls`
 * names), with the harness's Redis or `urls.redis`; `overrides` per side. `primary` and
 * `replica` are the app account's URLs, for the test's own SQL; `readerUrls` the reader's.
 */
export async function bothApps(
  prefix: string,
  urls: { primary?: string; replica?: string; redis?: string } = {},
  overrides: { writer?: WriterConfig; reader?: Partial<AppConfig> } = {},
) {
  const db = urls.primary ? undefined : await freshDatabase(prefix);
  if (db) await db.migrate();
  const primary = urls.primary ?? (db?.primaryUrl as string);
  const replica = urls.replica ?? (db?.replicaUrl as string);
  const redis = urls.redis ?? harnessEnv('REDIS_URL');
  const writer = await writerApp({ MYSQL_PRIMARY_URL: db?.as.reservationApi.primaryUrl ?? primary, REDIS_URL: redis, ...overrides.writer });
  const readerUrls = { primary: db?.as.queryApi.primaryUrl ?? primary, replica: db?.as.queryApi.replicaUrl ?? replica };
  const reader = await queryApp({
    MYSQL_PRIMARY_URL: readerUrls.primary,
    MYSQL_REPLICA_URL: readerUrls.replica,
    REDIS_URL: redis,
    ...overrides.reader,
  });
  return {
    writer: writer.app,
    reader: reader.app,
    registry: reader.registry,
    writerRegistry: writer.registry,
    primary,
    replica,
    readerUrls,
  };
}
