import mysql, { type Pool, type PoolOptions } from 'mysql2/promise';
import type { ReadinessCheck } from '../admin-server.ts';

/**
 * A mysql2 pool from a `mysql://user:password@host:port/database` URL. Times are UTC on both
 * ends (`timezone: 'Z'`), so DATETIME columns round-trip as the instants the API speaks.
 */
export function createMysqlPool(url: string, options: PoolOptions = {}): Pool {
  return mysql.createPool({
    uri: url,
    timezone: 'Z',
    connectionLimit: 10,
    enableKeepAlive: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
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
