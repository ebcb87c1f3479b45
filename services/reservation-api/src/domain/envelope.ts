import type { EventEnvelope } from '@reservations/contracts';

/** An outbox row as the relay reads it (the columns of the `outbox` table it sends). */
export interface OutboxRecord {
  event_id: string;
  aggregate_type: 'reservation' | 'resource';
  aggregate_id: string;
  type: string;
  version: number;
  payload: unknown;
  occurred_at: Date;
}

/** The message an outbox row becomes on the queue; the payload column may come back as JSON text. */
export function toEnvelope(row: OutboxRecord): EventEnvelope {
  return {
    eventId: row.event_id,
    type: row.type,
    aggregateType: row.aggregate_type,
    aggregateId: row.aggregate_id,
    version: Number(row.version),
    occurredAt: row.occurred_at.toISOString(),
    payload: typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload,
  };
}
