import { deleteInBatches } from '@reservations/service-kit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Pool } from 'mysql2/promise';

/**
 * Deletes expired Idempotency-Key rows in small batches, so the table holds about a day of keys
 * and no delete holds locks for long. A key past its expiry is already treated as new by
 * the command runner; this only reclaims space. Every replica of the service runs it; the deletes are
 * idempotent, so they need no coordination.
 */
export function sweepExpiredKeys(pool: Pool, batch = 1000): Promise<number> {
  return deleteInBatches(pool, { sql: 'DELETE FROM idempotency_keys WHERE expires_at <= NOW(3)' }, batch);
}

export const idempotencySweeper = fp<{ intervalMs: number }>(
  async (app: FastifyInstance, { intervalMs }) => {
    const timer = setInterval(() => {
      sweepExpiredKeys(app.db).catch((err: unknown) => app.log.warn({ err }, 'sweeping expired idempotency keys failed'));
    }, intervalMs);
    timer.unref();
    app.addHook('onClose', async () => clearInterval(timer));
  },
  { name: 'idempotency-sweeper', dependencies: ['db'] },
);
