import type { Socket } from 'node:net';
import { type Booking, BookingSchema, type EventEnvelope } from '@reservations/contracts';
import type { EventHistory } from '@reservations/database';
import { ER_DUP_ENTRY, isMysqlError, withTransaction } from '@reservations/service-kit';
import type { Pool, PoolConnection, RowDataPacket } from 'mysql2/promise';
import { Value } from 'typebox/value';
import { MalformedEventError } from '../domain/envelope.ts';
import { secretColumnsOf, secretColumnsSql } from '../infra/secret-store.ts';
import type { Delivery } from './webhook-deliverer.ts';

/** What processing one event did. */
export type Outcome =
  /** Its effect committed now: history row, and a delivery record when the provider has a webhook. */
  | {
      kind: 'processed';
      providerId: string;
      providerSeq: number;
      /** The webhook delivery this process claimed in the transaction: the fast path POSTs it after commit. */
      claimed?: Delivery;
    }
  /** Its id was already in processed_events: a redelivery, acknowledged without a second effect. */
  | { kind: 'deduplicated' }
  /** An event nobody is notified of (resource changes); recorded as processed all the same. */
  | { kind: 'ignored' };

/**
 * The notifier's effect for one event, in one transaction: the dedupe row (the event id as
 * primary key; a concurrent duplicate waits on its lock and then finds it), the history row and
 * the webhook delivery record. So the effect happens once per event id, however often SQS
 * delivers it, and a crash at any point leaves either all of it or none.
 */
export function createEventProcessor({ pool, history, leaseMs }: { pool: Pool; history: EventHistory; leaseMs: number }) {
  // A resource's provider never changes, so this cache never goes stale.
  const providers = new Map<string, string>();

  async function providerOf(conn: PoolConnection, resourceId: string): Promise<string> {
    const known = providers.get(resourceId);
    if (known) return known;
    const [[row]] = await conn.query<RowDataPacket[]>('SELECT provider_id FROM resources WHERE id = ?', [resourceId]);
    if (!row) throw new MalformedEventError(`resource ${resourceId} does not exist`);
    if (providers.size > 100_000) providers.clear();
    providers.set(resourceId, row.provider_id as string);
    return row.provider_id as string;
  }

  /**
   * `signal` cuts the transaction short while its statements run: its connection is closed and
   * killed, so it can never commit (the server rolls it back).
   */
  async function process(event: EventEnvelope, signal?: AbortSignal): Promise<Outcome> {
    return withTransaction(pool, async (conn) => {
      signal?.throwIfAborted();
      let killed: Promise<unknown> | undefined;
      const cut = () => {
        // The socket goes at once: mysql2 then fails the pending query and drops the connection
        // from the pool (its destroy() would half-close and leave the query pending forever); the KILL has the server roll the transaction back now rather than when it
        // next touches the dead socket, freeing the locks it holds for whoever redoes the event.
        const threadId = conn.threadId;
        (conn.connection as unknown as { stream: Socket }).stream.destroy();
        killed = pool.query('KILL ?', [threadId]).catch(() => undefined);
      };
      signal?.addEventListener('abort', cut, { once: true });
      try {
        return await effect(conn, event);
      } finally {
        signal?.removeEventListener('abort', cut);
        await killed;
      }
    });
  }

  async function effect(conn: PoolConnection, event: EventEnvelope): Promise<Outcome> {
    try {
      await conn.query('INSERT INTO processed_events (event_id, type) VALUES (?, ?)', [event.eventId, event.type]);
    } catch (err) {
      if (isMysqlError(err, ER_DUP_ENTRY)) return { kind: 'deduplicated' } as const;
      throw err;
    }
    if (event.aggregateType !== 'reservation') return { kind: 'ignored' } as const;
    if (!Value.Check(BookingSchema, event.payload)) {
      throw new MalformedEventError(`event ${event.eventId}: the payload is not a reservation`);
    }
    const reservation = event.payload as Booking;
    const providerId = await providerOf(conn, reservation.resourceId);
    // The provider's webhook, if any, and whether an earlier event of the reservation still waits
    // for its delivery, in one round trip.
    const [[row]] = await conn.query<RowDataPacket[]>(
      `SELECT w.url, ${secretColumnsSql('w')},
         EXISTS (SELECT 1 FROM webhook_deliveries WHERE reservation_id = ? AND state = 'pending' AND version < ?) AS earlier
       FROM (SELECT 1) AS one LEFT JOIN webhook_endpoints w ON w.provider_id = ?`,
      [reservation.id, event.version, providerId],
    );
    let claimed: Delivery | undefined;
    if (row?.url) {
      // Claim the delivery for this process right away (the fast path after commit) unless an
      // earlier event of the reservation still waits: the poller then delivers them in order.
      if (Number(row.earlier) !== 1) {
        const { eventId, type, version, occurredAt } = event;
        claimed = {
          eventId,
          providerId,
          reservationId: reservation.id,
          attempts: 0,
          url: row.url as string,
          secrets: secretColumnsOf(row),
          notification: { eventId, type, version, occurredAt, reservation },
        };
      }
      await conn.query(
        `INSERT INTO webhook_deliveries (event_id, provider_id, reservation_id, version, next_attempt_at)
         VALUES (?, ?, ?, ?, NOW(6) + INTERVAL ? MICROSECOND)`,
        [event.eventId, providerId, reservation.id, event.version, claimed ? leaseMs * 1000 : 0],
      );
    }
    // Last, so the provider's stream row stays locked only for this statement and the commit.
    const providerSeq = await history.append(conn, {
      eventId: event.eventId,
      type: event.type,
      version: event.version,
      occurredAt: event.occurredAt,
      reservation,
      providerId,
    });
    return { kind: 'processed', providerId, providerSeq, ...(claimed ? { claimed } : {}) } as const;
  }

  return { process };
}

export type EventProcessor = ReturnType<typeof createEventProcessor>;
