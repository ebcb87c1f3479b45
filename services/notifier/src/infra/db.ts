import { createMysqlEventHistory, type EventHistory, requireSchemaVersion } from '@reservations/database';
import { createMysqlPool, registerPoolMetrics } from '@reservations/service-kit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Pool } from 'mysql2/promise';
import type { Registry } from 'prom-client';

/** The notifier's tables came with migration 2 (processed_events, event_history, webhooks); 3 made their ids exact, which the access checks rely on. */
export const REQUIRED_SCHEMA_VERSION = 4;

declare module 'fastify' {
  interface FastifyInstance {
    db: Pool;
    history: EventHistory;
  }
}

/**
 * The primary's pool, READ COMMITTED: a delivery claim must see the rows other notifiers
 * committed a moment ago, and no gap locks on the claim queries.
 */
export const db = fp<{ url: string; poolSize: number; registry: Registry }>(
  async (app: FastifyInstance, { url, poolSize, registry }) => {
    const pool = createMysqlPool(url, { connectionLimit: poolSize });
    pool.on('connection', (conn) => {
      conn.query("SET SESSION tx_isolation = 'READ-COMMITTED'");
    });
    app.addHook('onClose', async () => pool.end());
    await requireSchemaVersion(pool, REQUIRED_SCHEMA_VERSION, 'the primary');
    registerPoolMetrics(registry, { primary: pool });
    app.decorate('db', pool);
    app.decorate('history', createMysqlEventHistory());
  },
  { name: 'db' },
);
