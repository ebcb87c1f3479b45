import { requireSchemaVersion } from '@reservations/database';
import { createMysqlPool, registerPoolMetrics } from '@reservations/service-kit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Pool } from 'mysql2/promise';
import { Counter, type Registry } from 'prom-client';

/** The schema version (the highest migration number of @reservations/database) this build reads: 2 brought event_history, 3 exact ids (a customer's list filters on them). */
export const REQUIRED_SCHEMA_VERSION = 4;

export interface Databases {
  replica: Pool;
  primary: Pool;
  /**
   * The pool to read from for a client that holds a consistency token (the GTID of its last
   * write): the replica once it has applied that GTID (MASTER_GTID_WAIT), the primary if it has
   * not within `waitMs`. Without a token, the replica.
   */
  poolFor(token: string | undefined): Promise<Pool>;
}

declare module 'fastify' {
  interface FastifyInstance {
    dbs: Databases;
  }
}

export const db = fp<{ replicaUrl: string; primaryUrl: string; poolSize: number; waitMs: number; registry: Registry }>(
  async (app: FastifyInstance, { replicaUrl, primaryUrl, poolSize, waitMs, registry }) => {
    const replica = createMysqlPool(replicaUrl, { connectionLimit: poolSize });
    const primary = createMysqlPool(primaryUrl, { connectionLimit: poolSize });
    app.addHook('onClose', async () => {
      await Promise.all([replica.end(), primary.end()]);
    });
    await requireSchemaVersion(replica, REQUIRED_SCHEMA_VERSION, 'the replica');
    registerPoolMetrics(registry, { replica, primary });
    const routed = new Counter({
      name: 'consistent_reads_total',
      help: 'reads with a consistency token, by where they were served',
      labelNames: ['source'] as const,
      registers: [registry],
    });
    app.decorate('dbs', {
      replica,
      primary,
      async poolFor(token) {
        if (!token) return replica;
        const [[row]] = (await replica.query('SELECT MASTER_GTID_WAIT(?, ?) AS waited', [token, waitMs / 1000])) as unknown as [
          { waited: number }[],
        ];
        const caughtUp = Number(row?.waited) === 0;
        routed.inc({ source: caughtUp ? 'replica' : 'primary' });
        return caughtUp ? replica : primary;
      },
    } satisfies Databases);
  },
  { name: 'db' },
);
