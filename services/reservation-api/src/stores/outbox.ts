import { randomUUID } from 'node:crypto';
import { atCommit } from '@reservations/service-kit';
import type { PoolConnection } from 'mysql2/promise';

/** Event types the outbox carries; the relay and consumers switch on these. */
export type EventType =
  | 'reservation.created'
  | 'reservation.confirmed'
  | 'reservation.cancelled'
  | 'reservation.rescheduled'
  | 'resource.created'
  | 'resource.updated';

export interface OutboxEvent {
  aggregateType: 'reservation' | 'resource';
  aggregateId: string;
  type: EventType;
  /** The aggregate's version after the change: consumers drop anything not newer than what they have. */
  version: number;
  /** The aggregate as the API renders it after the change. */
  payload: unknown;
}

/**
 * Appends an event in the caller's transaction, so it commits (or not) with the change it
 * describes; inside withTransaction, in COMMIT's round trip (nothing reads it back before).
 */
export async function appendEvent(conn: PoolConnection, event: OutboxEvent): Promise<string> {
  const eventId = randomUUID();
  await atCommit(conn, {
    sql: 'INSERT INTO outbox (event_id, aggregate_type, aggregate_id, type, version, payload) VALUES (?, ?, ?, ?, ?, ?)',
    values: [eventId, event.aggregateType, event.aggregateId, event.type, event.version, JSON.stringify(event.payload)],
  });
  return eventId;
}
