import mysql, { type Pool, type PoolOptions } from 'mysql2/promise';
import type { ReadinessCheck } from '../admin-server.ts';

/** MariaDB aborted a statement that ran past max_statement_time. */
export const ER_STATEMENT_TIMEOUT = 1969;
/** mysql2's refusal when a pool's queue of callers waiting for a connection is full. */
const QUEUE_FULL = 'Queue limit reached.';

/** How long callers may wait for a pool (how many of them) and how long one statement may run. */
export interface PoolLimits {
  queueLimit: number;
  queryTimeoutMs: number;
}

/**
 * A mysql2 pool from a `mysql://user:password@host:port/database` URL. Times are UTC on both
 * ends (`timezone: 'Z'`), so DATETIME columns round-trip as the instants the API speaks.
 * `trace: false`: mysql2 otherwise captures a stack trace on every query, in case it fails, to
 * graft the caller's frames onto the error; that was 7 % of reservation-api's CPU per booking
 * (docs/benchmarks-history.md, booking core). A failed query's error still names the code, errno and SQL state.
 *
 * With `limits`, a caller finding `queueLimit` others already waiting is refused at once (mysql2's
 * queue is unbounded otherwise), and each session's statements are aborted by the server past
 * `queryTimeoutMs` (MariaDB's max_statement_time: the server stops the work and the connection
 * stays usable, which a client-side timeout cannot promise). `mysqlOverload` names both failures.
 */
export function createMysqlPool(url: string, options: PoolOptions = {}, limits?: PoolLimits): Pool {
  const pool = mysql.createPool({
    uri: url,
    timezone: 'Z',
    connectionLimit: 10,
    enableKeepAlive: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    trace: false,
    ...(limits && { queueLimit: limits.queueLimit }),
    ...options,
  });
  if (limits) {
    // Queued on the connection before any caller's statement, like every session setting here.
    pool.on('connection', (conn) => {
      conn.query(`SET SESSION max_statement_time = ${limits.queryTimeoutMs / 1000}`);
    });
  }
  return pool;
}

/**
 * Why a database call failed for lack of capacity rather than for a fault (the pool's queue is
 * full, a statement ran past its timeout), or undefined: the caller answers 503 with Retry-After.
 */
export function mysqlOverload(err: unknown): string | undefined {
  if (err instanceof Error && err.message === QUEUE_FULL) return 'too many requests are waiting for a database connection';
  if ((err as { errno?: number } | null)?.errno === ER_STATEMENT_TIMEOUT) return 'the database did not answer in time';
  return undefined;
}

export function mysqlCheck(pool: Pool, name = 'mysql'): ReadinessCheck {
  return {
    name,
    check: async () => {
      await pool.query('SELECT 1');
    },
  };
}
