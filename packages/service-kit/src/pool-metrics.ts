import type { Pool } from 'mysql2/promise';
import { Gauge, type Registry } from 'prom-client';

/** The parts of mysql2's callback pool that say how busy it is (not in its typings, stable since 2.x). */
interface PoolInternals {
  _allConnections: { length: number };
  _freeConnections: { length: number };
  _connectionQueue: { length: number };
}

/**
 * `mysql_pool_connections{pool,state=open|idle|waiting}`, read at scrape time: a pool that is
 * all open and busy with callers waiting is the first sign the database, not Node, is the limit.
 */
export function registerPoolMetrics(registry: Registry, pools: Record<string, Pool>): void {
  new Gauge({
    name: 'mysql_pool_connections',
    help: 'MySQL pool connections: open, idle, and callers waiting for one',
    labelNames: ['pool', 'state'] as const,
    registers: [registry],
    collect() {
      for (const [name, pool] of Object.entries(pools)) {
        const inner = (pool as unknown as { pool: PoolInternals }).pool;
        this.set({ pool: name, state: 'open' }, inner._allConnections.length);
        this.set({ pool: name, state: 'idle' }, inner._freeConnections.length);
        this.set({ pool: name, state: 'waiting' }, inner._connectionQueue.length);
      }
    },
  });
}
