import { CONSISTENCY_HEADER } from '@reservations/contracts';
import { requireSchemaVersion } from '@reservations/database';
import { createMysqlPool, kitProblems, type PoolLimits, Problem, registerPoolMetrics } from '@reservations/service-kit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Pool } from 'mysql2/promise';
import { Counter, type Registry } from 'prom-client';
import { isAheadOf } from '../domain/consistency-token.ts';
import { problems } from '../errors.ts';

/** The schema version (the highest migration number of @reservations/database) this build reads: 2 brought event_history, 3 exact ids (a customer's list filters on them), 7 the provider on each reservation (a provider's list) and the longest window per resource (availability), 8 the index availability names (`NEAR_WINDOW`). */
export const REQUIRED_SCHEMA_VERSION = 8;

export interface Databases {
  replica: Pool;
  primary: Pool;
  /**
   * The pool to read from for a client that holds a consistency token (the GTID of its last
   * write): the replica once it has applied that GTID (MASTER_GTID_WAIT), the primary if it has
   * not within `waitMs`. Without a token, the replica. The wait holds a connection of a small pool
   * of its own with a bounded queue, so tokens (a client may send any GTID, far ahead) can neither
   * take the connections of the other reads nor queue without end: past the queue, a 503. A
   * token the primary has not reached (no write made it: forged, or from another database) is a
   * 400 before any wait.
   */
  poolFor(token: string | undefined): Promise<Pool>;
}

declare module 'fastify' {
  interface FastifyInstance {
    dbs: Databases;
  }
}

export interface DbOptions {
  replicaUrl: string;
  primaryUrl: string;
  poolSize: number;
  /** The queue limit and statement timeout of the replica and primary pools. */
  limits: PoolLimits;
  waitMs: number;
  /** The consistency waits' own pool: its connections and how many waits may queue for them. */
  waitPool: { size: number; queue: number };
  registry: Registry;
}

export const db = fp<DbOptions>(
  async (app: FastifyInstance, { replicaUrl, primaryUrl, poolSize, limits, waitMs, waitPool, registry }) => {
    const replica = createMysqlPool(replicaUrl, { connectionLimit: poolSize }, limits);
    const primary = createMysqlPool(primaryUrl, { connectionLimit: poolSize }, limits);
    const waits = createMysqlPool(replicaUrl, { connectionLimit: waitPool.size, queueLimit: waitPool.queue }, limits);
    app.addHook('onClose', async () => {
      await Promise.all([replica.end(), primary.end(), waits.end()]);
    });
    await requireSchemaVersion(replica, REQUIRED_SCHEMA_VERSION, 'the replica');
    registerPoolMetrics(registry, { replica, primary, consistency_wait: waits });
    const routed = new Counter({
      name: 'consistent_reads_total',
      help: 'reads with a consistency token, by where they were served (refused: the wait queue was full; ahead: a 400)',
      labelNames: ['source'] as const,
      registers: [registry],
    });
    // The primary's @@gtid_binlog_pos as last read: asked again only for a token past it, which is
    // a write newer than the last look (or no write at all).
    let position = '';
    async function aheadOfPrimary(token: string): Promise<boolean> {
      if (!isAheadOf(token, position)) return false;
      const [[row]] = (await primary.query('SELECT @@gtid_binlog_pos AS position')) as unknown as [{ position: string }[]];
      position = String(row?.position ?? '');
      return isAheadOf(token, position);
    }

    app.decorate('dbs', {
      replica,
      primary,
      async poolFor(token) {
        if (!token) return replica;
        if (await aheadOfPrimary(token)) {
          routed.inc({ source: 'ahead' });
          const field = `headers/${CONSISTENCY_HEADER}`;
          const message = 'is ahead of the primary: no write has made it';
          throw new Problem(problems, 'validation-failed', `${field} ${message}`, { extensions: { errors: [{ field, message }] } });
        }
        const [[row]] = (await waits.query('SELECT MASTER_GTID_WAIT(?, ?) AS waited', [token, waitMs / 1000]).catch((err: Error) => {
          // mysql2's refusal when the queue is full.
          if (err.message !== 'Queue limit reached.') throw err;
          routed.inc({ source: 'refused' });
          throw new Problem(kitProblems, 'overloaded', 'too many reads with a consistency token are waiting for the replica; retry later', {
            headers: { 'retry-after': '1' },
          });
        })) as unknown as [{ waited: number }[]];
        const caughtUp = Number(row?.waited) === 0;
        routed.inc({ source: caughtUp ? 'replica' : 'primary' });
        return caughtUp ? replica : primary;
      },
    } satisfies Databases);
  },
  { name: 'db' },
);
