import type { Notification } from '@reservations/contracts';
import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';

/** A notification as the history keeps it: with the provider's stream position. */
export interface HistoryEntry extends Notification {
  providerId: string;
  /** 1, 2, 3… per provider, without gaps: the SSE stream's resume point. */
  providerSeq: number;
}

/**
 * The event history of every reservation, written by the notifier and read by query-api and the
 * notifier's SSE stream. MySQL for now (the history is written in the notifier's own
 * transaction, beside the dedupe row); an OpenSearch sink implements the same contract by
 * indexing with the event id as document id (`op_type=create`, so a repeat is a no-op) and
 * numbering each provider's stream the same way. Readers take the pool to read from (replica
 * or primary) so query-api keeps its read-your-writes routing.
 */
export interface EventHistory {
  /** Records `entry` inside the caller's transaction; returns its stream position. Caller deduplicates. */
  append(tx: PoolConnection, entry: Omit<HistoryEntry, 'providerSeq'>): Promise<number>;
  /** A reservation's events, oldest first. */
  forReservation(from: Pool, reservationId: string): Promise<Notification[]>;
  /** A provider's stream after `afterSeq`, oldest first, at most `limit`. */
  forProvider(from: Pool, providerId: string, afterSeq: number, limit: number): Promise<HistoryEntry[]>;
  /** Where `eventId` sits in `providerId`'s stream, or undefined if it is not there. */
  positionOf(from: Pool, providerId: string, eventId: string): Promise<number | undefined>;
}

type Row = RowDataPacket & {
  event_id: string;
  type: string;
  version: number;
  occurred_at: Date;
  payload: unknown;
  provider_id: string;
  provider_seq: string | number;
};

function toNotification(r: Row): Notification {
  return {
    eventId: r.event_id,
    type: r.type,
    version: Number(r.version),
    occurredAt: r.occurred_at.toISOString(),
    reservation: typeof r.payload === 'string' ? JSON.parse(r.payload) : (r.payload as Notification['reservation']),
  };
}

export function createMysqlEventHistory(): EventHistory {
  return {
    async append(tx, entry) {
      // The upsert locks the provider's row until commit, which keeps its numbers committing in order.
      // LAST_INSERT_ID(expr) hands the new number back in the statement's OK packet (insertId):
      // no second round trip while the row is locked.
      const [upsert] = await tx.query<ResultSetHeader>(
        'INSERT INTO provider_streams (provider_id, last_seq) VALUES (?, LAST_INSERT_ID(1)) ON DUPLICATE KEY UPDATE last_seq = LAST_INSERT_ID(last_seq + 1)',
        [entry.providerId],
      );
      const seq = Number(upsert.insertId);
      await tx.query(
        `INSERT INTO event_history (event_id, reservation_id, provider_id, provider_seq, type, version, occurred_at, payload)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          entry.eventId,
          entry.reservation.id,
          entry.providerId,
          seq,
          entry.type,
          entry.version,
          new Date(entry.occurredAt),
          JSON.stringify(entry.reservation),
        ],
      );
      return seq;
    },

    async forReservation(from, reservationId) {
      const [rows] = await from.query<Row[]>(
        'SELECT event_id, type, version, occurred_at, payload FROM event_history WHERE reservation_id = ? ORDER BY version',
        [reservationId],
      );
      return rows.map(toNotification);
    },

    async forProvider(from, providerId, afterSeq, limit) {
      const [rows] = await from.query<Row[]>(
        `SELECT event_id, type, version, occurred_at, payload, provider_id, provider_seq FROM event_history
         WHERE provider_id = ? AND provider_seq > ? ORDER BY provider_seq LIMIT ?`,
        [providerId, afterSeq, limit],
      );
      return rows.map((r) => ({ ...toNotification(r), providerId: r.provider_id, providerSeq: Number(r.provider_seq) }));
    },

    async positionOf(from, providerId, eventId) {
      const [[row]] = await from.query<RowDataPacket[]>('SELECT provider_seq FROM event_history WHERE provider_id = ? AND event_id = ?', [
        providerId,
        eventId,
      ]);
      return row ? Number(row.provider_seq) : undefined;
    },
  };
}
