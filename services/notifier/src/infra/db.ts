import { createMysqlEventHistory, type EventHistory, requireSchemaVersion } from '@reservations/database';
import { createMysqlPool, type PoolLimits, registerPoolMetrics } from '@reservations/service-kit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Pool } from 'mysql2/promise';
import type { Registry } from 'prom-client';

/** The notifier's tables came with migration 2 (processed_events, event_history, webhooks); 3 made their ids exact, which the access checks rely on; 6 sealed webhook secrets. */
export const REQUIRED_SCHEMA_VERSION = 6;

declare module 'fastify' {
  interface FastifyInstance {
    db: Pool;
    /** The replica, for an SSE stream's catch-up pages (the primary when no replica is configured). */
    replica: Pool;
    history: EventHistory;
  }
}

/**
 * The primary's pool, READ COMMITTED: a delivery claim must see the rows other notifiers
 * committed a moment ago, and no gap locks on the claim queries. `multipleStatements` lets a
 * batch's transaction send its statements in four round trips (START TRANSACTION with the dedupe
 * rows, the reads, the deliveries with the stream numbers, the history rows with COMMIT:
 * event-processor.ts); every value still goes through placeholders, never into the SQL text.
 */
export function primaryPool(url: string, poolSize: number, limits?: PoolLimits): Pool {
  const pool = createMysqlPool(url, { connectionLimit: poolSize, multipleStatements: true }, limits);
  pool.on('connection', (conn) => {
    conn.query("SET SESSION tx_isolation = 'READ-COMMITTED'");
  });
  return pool;
}

export interface DbOptions {
  url: string;
  replicaUrl: string | undefined;
  poolSize: number;
  limits: PoolLimits;
  registry: Registry;
}

export const db = fp<DbOptions>(
  async (app: FastifyInstance, { url, replicaUrl, poolSize, limits, registry }) => {
    const pool = primaryPool(url, poolSize, limits);
    const replica = replicaUrl ? createMysqlPool(replicaUrl, { connectionLimit: poolSize }, limits) : pool;
    app.addHook('onClose', async () => {
      await Promise.all([pool.end(), replica === pool ? undefined : replica.end()]);
    });
    await requireSchemaVersion(pool, REQUIRED_SCHEMA_VERSION, 'the primary');
    registerPoolMetrics(registry, replica === pool ? { primary: pool } : { primary: pool, replica });
    app.decorate('db', pool);
    app.decorate('replica', replica);
    app.decorate('history', createMysqlEventHistory());
  },
  { name: 'db' },
);
