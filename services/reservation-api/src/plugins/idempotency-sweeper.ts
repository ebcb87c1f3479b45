import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Pool, ResultSetHeader } from 'mysql2/promise';

/**
 * Deletes expired Idempotency-Key rows in small batches, so the table holds about a day of keys
 * and no delete holds locks for long. A key past its expiry is already treated as new by
 * claimKey; this only reclaims space. Every replica of the service runs it; the deletes are
 * idempotent, so they need no coordination.
 */
export async function sweepExpiredKeys(pool: Pool, batch = 1000): Promise<number> {
  let total = 0;
  for (;;) {
    const [result] = await pool.query<ResultSetHeader>('DELETE FROM idempotency_keys WHERE expires_at <= NOW(3) LIMIT ?', [batch]);
    total += result.affectedRows;
    if (result.affectedRows < batch) return total;
  }
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
