// `node src/relay.ts`: the outbox relay alone, without the API (OUTBOX_RELAY=off in the API then).
// It has the admin port (/healthz, /readyz, /metrics) and stops on SIGTERM after the pass in flight.

import { requireSchemaVersion, SchemaTooOldError } from '@reservations/database';
import {
  baseConfigProperties,
  createAdminServer,
  createRegistry,
  createSqsClient,
  loadConfigOrExit,
  loggerOptions,
  mysqlCheck,
  secret,
  sqsCheck,
} from '@reservations/service-kit';
import closeWithGrace from 'close-with-grace';
import { pino } from 'pino';
import { type Static, Type } from 'typebox';
import { outboxRelayConfigProperties } from './config.ts';
import { primaryPool, REQUIRED_SCHEMA_VERSION } from './infra/db.ts';
import { createOutboxRelay, relayOptions, sqsTimeouts } from './workers/outbox-relay.ts';

export const RelayConfig = Type.Object({
  ...baseConfigProperties,
  ...outboxRelayConfigProperties,
  MYSQL_PRIMARY_URL: secret(Type.String({ pattern: '^mysql://', description: 'the MySQL primary holding the outbox' })),
  SQS_QUEUE_URL: Type.String({ pattern: '^https?://', description: 'the FIFO queue the outbox relay sends events to' }),
});
export type RelayConfig = Static<typeof RelayConfig>;

if (import.meta.main) {
  const config = loadConfigOrExit('outbox-relay', RelayConfig);
  const log = pino(loggerOptions('outbox-relay', config.LOG_LEVEL));
  const pool = primaryPool(config.MYSQL_PRIMARY_URL, 4);
  await requireSchemaVersion(pool, REQUIRED_SCHEMA_VERSION, 'the primary').catch((err: unknown) => {
    if (!(err instanceof SchemaTooOldError)) throw err;
    process.stderr.write(`outbox-relay: ${err.message}\n`);
    process.exit(1);
  });
  const registry = createRegistry('outbox-relay');
  const sqs = createSqsClient(sqsTimeouts(config));
  const relay = createOutboxRelay({ pool, sqs, queueUrl: config.SQS_QUEUE_URL, registry, log, ...relayOptions(config) });
  const admin = createAdminServer({
    registry,
    logger: log,
    checks: [mysqlCheck(pool, 'mysql-primary'), sqsCheck(sqs, config.SQS_QUEUE_URL)],
  });
  await admin.app.listen({ host: config.HOST, port: config.ADMIN_PORT });
  relay.start();
  log.info({ queueUrl: config.SQS_QUEUE_URL }, 'outbox relay running');
  closeWithGrace({ delay: config.SHUTDOWN_TIMEOUT_MS, logger: log }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'shutting down after an uncaught error');
    else log.info({ signal }, 'shutting down: finishing the pass in flight');
    admin.markShuttingDown();
    await relay.stop();
    await admin.app.close();
    await pool.end();
    sqs.destroy();
  });
}
