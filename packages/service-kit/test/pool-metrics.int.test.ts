import { describe, expect, it } from '@jest/globals';
import { harnessEnv } from '@reservations/testkit';
import { Registry } from 'prom-client';
import { createMysqlPool } from '../src/clients/mysql.ts';
import { registerPoolMetrics } from '../src/pool-metrics.ts';

describe('pool metrics', () => {
  it('report open, idle and waiting connections at scrape time', async () => {
    const pool = createMysqlPool(harnessEnv('MYSQL_PRIMARY_URL'), { connectionLimit: 1 });
    const registry = new Registry();
    registerPoolMetrics(registry, { primary: pool });
    try {
      const held = await pool.getConnection();
      const waiting = pool.getConnection();
      const text = await registry.metrics();
      expect(text).toContain('mysql_pool_connections{pool="primary",state="open"} 1');
      expect(text).toContain('mysql_pool_connections{pool="primary",state="idle"} 0');
      expect(text).toContain('mysql_pool_connections{pool="primary",state="waiting"} 1');
      held.release();
      (await waiting).release();
      expect(await registry.metrics()).toContain('mysql_pool_connections{pool="primary",state="idle"} 1');
    } finally {
      await pool.end();
    }
  });
});
