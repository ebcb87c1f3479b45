import { deleteInBatches } from '@reservations/service-kit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Pool } from 'mysql2/promise';
import { Counter, type Registry } from 'prom-client';

export interface Retention {
  /** How long an event id stays in processed_events (the deduplication window). */
  processedEventsDays: number;
  /** How long a finished (delivered or failed) webhook delivery is kept. */
  deliveriesDays: number;
}

/**
 * Deletes what the notifier no longer needs, so its tables hold a bounded window instead of
 * every event ever: event ids past the deduplication window (SQS keeps a message 14 days at
 * most, a redrive from the DLQ included, so the default window is 30) and finished webhook
 * deliveries past their retention. Pending deliveries are never deleted, whatever their age, and
 * the event history (what query-api serves) is not touched. Each table is swept by its own index
 * (processed_events_time, webhook_deliveries_due). Returns the rows deleted per table.
 */
export async function sweepRetention(pool: Pool, { processedEventsDays, deliveriesDays }: Retention, batch = 1000) {
  return {
    processed_events: await deleteInBatches(
      pool,
      { sql: 'DELETE FROM processed_events WHERE processed_at < NOW(6) - INTERVAL ? DAY', values: [processedEventsDays] },
      batch,
    ),
    // A finished delivery's next_attempt_at is its last attempt: the claim moves it forward.
    webhook_deliveries: await deleteInBatches(
      pool,
      {
        sql: "DELETE FROM webhook_deliveries WHERE state IN ('delivered', 'failed') AND next_attempt_at < NOW(6) - INTERVAL ? DAY",
        values: [deliveriesDays],
      },
      batch,
    ),
  };
}

/** Runs `sweepRetention` every `intervalMs` on every replica (the deletes need no coordination). */
export const retentionSweeper = fp<Retention & { intervalMs: number; registry: Registry }>(
  async (app: FastifyInstance, { intervalMs, registry, ...retention }) => {
    const pruned = new Counter({
      name: 'retention_rows_deleted_total',
      help: 'rows deleted by the retention sweep, by table',
      labelNames: ['table'] as const,
      registers: [registry],
    });
    const sweep = async () => {
      for (const [table, rows] of Object.entries(await sweepRetention(app.db, retention))) pruned.inc({ table }, rows);
    };
    const timer = setInterval(() => {
      sweep().catch((err: unknown) => app.log.warn({ err }, 'the retention sweep failed; it runs again at the next interval'));
    }, intervalMs);
    timer.unref();
    app.addHook('onClose', async () => clearInterval(timer));
  },
  { name: 'retention-sweeper', dependencies: ['db'] },
);
