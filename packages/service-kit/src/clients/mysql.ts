import mysql, { type Pool, type PoolOptions } from 'mysql2/promise';
import type { ReadinessCheck } from '../admin-server.ts';

/**
 * A mysql2 pool from a `mysql://user:password@host:port/database` URL. Times are UTC on both
 * ends (`timezone: 'Z'`), so DATETIME columns round-trip as the instants the API speaks.
 * `trace: false`: mysql2 otherwise captures a stack trace on every query, in case it fails, to
 * graft the caller's frames onto the error; that was 7 % of reservation-api's CPU per booking
 * (docs/benchmarks-history.md, booking core). A failed query's error still names the code, errno and SQL state.
 */
export function createMysqlPool(url: string, options: PoolOptions = {}): Pool {
  return mysql.createPool({
    uri: url,
    timezone: 'Z',
    connectionLimit: 10,
    enableKeepAlive: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    trace: false,
    ...options,
  });
}

export function mysqlCheck(pool: Pool, name = 'mysql'): ReadinessCheck {
  return {
    name,
    check: async () => {
      await pool.query('SELECT 1');
    },
  };
}
