import type { Notification } from '@reservations/contracts';
import type { Statement } from '@reservations/service-kit';
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
  /**
   * Takes the stream positions of `entries` inside the caller's transaction, each provider's in
   * the order given, and returns them with the statement that records the entries, which the
   * caller sends with its COMMIT (one round trip, so the providers' stream rows stay locked the
   * shortest time). `before` goes in the same round trip ahead of the positions (the caller's own
   * writes of the transaction). On a pool with `multipleStatements`. Caller deduplicates.
   */
  append(
    tx: PoolConnection,
    entries: Omit<HistoryEntry, 'providerSeq'>[],
    options?: { before?: Statement | undefined },
  ): Promise<{ seqs: number[]; record: Statement }>;
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

/**
 * The stream positions of entries of `providers` (in order), given each provider's last number
 * after the batch took its numbers: a provider with n entries gets last − n + 1 … last, in order.
 */
export function streamPositions(providers: string[], last: ReadonlyMap<string, number>): number[] {
  const next = new Map<string, number>();
  for (const p of providers) next.set(p, (next.get(p) ?? 0) + 1);
  for (const [p, n] of next) {
    const top = last.get(p);
    if (top === undefined) throw new Error(`provider ${p}: no stream position was taken`);
    next.set(p, top - n + 1);
  }
  return providers.map((p) => {
    const seq = next.get(p) as number;
    next.set(p, seq + 1);
    return seq;
  });
}

export function createMysqlEventHistory(): EventHistory {
  return {
    async append(tx, entries, { before } = {}) {
      if (entries.length === 0) throw new Error('append: no entries');
      // How many numbers each provider takes, in a sorted order: concurrent batches then lock the
      // providers' rows in the same order and never deadlock on them.
      const counts = new Map<string, number>();
      for (const e of entries) counts.set(e.providerId, (counts.get(e.providerId) ?? 0) + 1);
      const providers = [...counts.keys()].sort();
      // The upsert locks each provider's row until commit, which keeps its numbers committing in
      // order. One provider (the usual case): LAST_INSERT_ID(expr) hands its last number back in
      // the statement's OK packet; several: read back in the same round trip (our own rows).
      const statements: Statement[] = before ? [before] : [];
      if (providers.length === 1) {
        const n = counts.get(providers[0] as string) as number;
        statements.push({
          sql: 'INSERT INTO provider_streams (provider_id, last_seq) VALUES (?, LAST_INSERT_ID(?)) ON DUPLICATE KEY UPDATE last_seq = LAST_INSERT_ID(last_seq + ?)',
          values: [providers[0], n, n],
        });
      } else {
        statements.push(
          {
            sql: `INSERT INTO provider_streams (provider_id, last_seq) VALUES ${providers.map(() => '(?, ?)').join(', ')}
                  ON DUPLICATE KEY UPDATE last_seq = last_seq + VALUES(last_seq)`,
            values: providers.flatMap((p) => [p, counts.get(p)]),
          },
          {
            sql: `SELECT provider_id, last_seq FROM provider_streams WHERE provider_id IN (${providers.map(() => '?').join(', ')})`,
            values: providers,
          },
        );
      }
      const [results] = (await tx.query(
        statements.map((st) => st.sql).join('; '),
        statements.flatMap((st) => st.values ?? []),
      )) as unknown as [unknown];
      const answers = statements.length === 1 ? [results] : (results as unknown[]);
      const last = new Map<string, number>();
      if (providers.length === 1) last.set(providers[0] as string, Number((answers.at(-1) as ResultSetHeader).insertId));
      else for (const r of answers.at(-1) as RowDataPacket[]) last.set(r.provider_id as string, Number(r.last_seq));
      const seqs = streamPositions(
        entries.map((e) => e.providerId),
        last,
      );
      const record: Statement = {
        sql: `INSERT INTO event_history (event_id, reservation_id, provider_id, provider_seq, type, version, occurred_at, payload)
              VALUES ${entries.map(() => '(?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
        values: entries.flatMap((entry, i) => [
          entry.eventId,
          entry.reservation.id,
          entry.providerId,
          seqs[i],
          entry.type,
          entry.version,
          new Date(entry.occurredAt),
          JSON.stringify(entry.reservation),
        ]),
      };
      return { seqs, record };
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
