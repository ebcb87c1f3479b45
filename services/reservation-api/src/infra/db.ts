import { requireSchemaVersion } from '@reservations/database';
import { createMysqlPool, type PoolLimits, registerPoolMetrics } from '@reservations/service-kit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Pool } from 'mysql2/promise';
import type { Registry } from 'prom-client';

/** The schema version (highest migration number) this build reads and writes: 5 gave resources a booking policy of their own, 7 the provider on each reservation and the longest window per resource (the overlap checks' reach), 8 the index the overlap checks name (`NEAR_WINDOW`). */
export const REQUIRED_SCHEMA_VERSION = 8;

declare module 'fastify' {
  interface FastifyInstance {
    db: Pool;
  }
}

/**
 * The primary's pool. READ COMMITTED: every command locks its resource row first, so each
 * statement after that must see what the previous holder of the lock committed, and it keeps
 * InnoDB from taking gap locks on the reservations index. Tracking `last_gtid` makes MariaDB
 * return the commit's GTID in COMMIT's OK packet, the consistency token without another round trip.
 * `multipleStatements` lets a command send its Idempotency-Key claim with START TRANSACTION and
 * its stored response with COMMIT (commands.ts); every value still goes through placeholders,
 * never into the SQL text, so a value cannot smuggle in a statement of its own.
 */
export function primaryPool(url: string, poolSize: number, limits?: PoolLimits): Pool {
  const pool = createMysqlPool(url, { connectionLimit: poolSize, multipleStatements: true }, limits);
  pool.on('connection', (conn) => {
    conn.query("SET SESSION tx_isolation = 'READ-COMMITTED', session_track_system_variables = 'last_gtid'");
  });
  return pool;
}

export const db = fp<{ url: string; poolSize: number; limits: PoolLimits; registry: Registry }>(
  async (app: FastifyInstance, { url, poolSize, limits, registry }) => {
    const pool = primaryPool(url, poolSize, limits);
    app.addHook('onClose', async () => pool.end());
    await requireSchemaVersion(pool, REQUIRED_SCHEMA_VERSION, 'the primary');
    registerPoolMetrics(registry, { primary: pool });
    app.decorate('db', pool);
  },
  { name: 'db' },
);
