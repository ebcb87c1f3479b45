import type { Socket } from 'node:net';
import { type Booking, BookingSchema, type EventEnvelope } from '@reservations/contracts';
import type { EventHistory } from '@reservations/database';
import { ER_DUP_ENTRY, isMysqlError, type Statement, withTransaction } from '@reservations/service-kit';
import type { Pool, PoolConnection, RowDataPacket } from 'mysql2/promise';
import { Value } from 'typebox/value';
import { MalformedEventError } from '../domain/envelope.ts';
import { deliveryPlan, firstOccurrences } from '../domain/event-batch.ts';
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
  /** Its id was already in processed_events (or earlier in the batch): a redelivery, acknowledged without a second effect. */
  | { kind: 'deduplicated' }
  /** An event nobody is notified of (resource changes); recorded as processed all the same. */
  | { kind: 'ignored' };

/** The resources' providers looked up at once; a bound on what the cache keeps. */
const PROVIDER_CACHE_LIMIT = 100_000;

const placeholders = (n: number, one = '?') => Array.from({ length: n }, () => one).join(', ');

interface ReservationEvent {
  index: number;
  event: EventEnvelope;
  reservation: Booking;
  providerId: string;
}

/**
 * The notifier's effect for a batch of events, in one transaction: the dedupe rows (the event id
 * as primary key), the history rows and the webhook delivery records, each kind in one multi-row
 * statement. So the effect happens once per event id, however often SQS delivers it, and a
 * failure at any point leaves all of the batch or none of it. `pool` is the primary; `replica`
 * answers which provider a resource belongs to (it never changes), the primary when the replica
 * has not got the resource yet.
 */
export function createEventProcessor({
  pool,
  replica = pool,
  history,
  leaseMs,
}: {
  pool: Pool;
  replica?: Pool;
  history: EventHistory;
  leaseMs: number;
}) {
  // A resource's provider never changes, so this cache never goes stale; it is only bounded.
  const providers = new Map<string, string>();

  async function lookUp(from: Pool, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    const [rows] = await from.query<RowDataPacket[]>(
      `SELECT id, provider_id FROM resources WHERE id IN (${placeholders(ids.length)})`,
      ids,
    );
    if (providers.size + rows.length > PROVIDER_CACHE_LIMIT) providers.clear();
    for (const row of rows) providers.set(row.id as string, row.provider_id as string);
  }

  /**
   * The provider of every resource the events name, from the cache, else the replica, else the
   * primary (a resource the replica has not got yet, or a replica that fails: it only saves the
   * primary work, it must never stop the pipeline).
   */
  async function providersOf(resourceIds: string[]): Promise<Map<string, string>> {
    const unknown = () => [...new Set(resourceIds.filter((id) => !providers.has(id)))];
    if (replica !== pool) await lookUp(replica, unknown()).catch(() => undefined);
    await lookUp(pool, unknown());
    const missing = unknown();
    if (missing.length > 0) throw new MalformedEventError(`resource ${missing.join(', ')} does not exist`);
    return new Map(resourceIds.map((id) => [id, providers.get(id) as string]));
  }

  /**
   * Takes the effect of `events` (in order; a message group's events in their order) in one
   * transaction and says what each one's was. It throws if any event cannot be processed (a
   * payload that is not a reservation, an unknown resource, a failing statement): then nothing of
   * the batch committed. `signal` cuts the transaction short while its statements run: its
   * connection is closed and killed, so it can never commit (the server rolls it back).
   */
  async function processBatch(events: EventEnvelope[], signal?: AbortSignal): Promise<Outcome[]> {
    signal?.throwIfAborted();
    const bookings = events.map((event) => {
      if (event.aggregateType !== 'reservation') return undefined;
      if (!Value.Check(BookingSchema, event.payload)) {
        throw new MalformedEventError(`event ${event.eventId}: the payload is not a reservation`);
      }
      return event.payload as Booking;
    });
    const resourceIds = bookings.flatMap((b) => (b ? [b.resourceId] : []));
    const providerOf = resourceIds.length > 0 ? await providersOf(resourceIds) : new Map<string, string>();
    let killed: Promise<unknown> | undefined;
    let detach = () => {};
    /** `signal` cuts `conn`'s transaction from now on (each attempt has its own connection). */
    const watch = (conn: PoolConnection) => {
      detach();
      const cut = () => {
        // The socket goes at once: mysql2 then fails the pending query and drops the connection
        // from the pool (its destroy() would half-close and leave the query pending forever); the KILL has the server roll the transaction back now rather than when it
        // next touches the dead socket, freeing the locks it holds for whoever redoes the events.
        const threadId = conn.threadId;
        (conn.connection as unknown as { stream: Socket }).stream.destroy();
        killed = pool.query('KILL ?', [threadId]).catch(() => undefined);
      };
      signal?.addEventListener('abort', cut, { once: true });
      detach = () => signal?.removeEventListener('abort', cut);
    };
    try {
      const { outcomes } = await withTransaction<{ outcomes: Outcome[]; record?: Statement }, boolean[]>(
        pool,
        (conn, fresh) =>
          effect(conn, events, fresh, (i) => {
            const booking = bookings[i];
            return booking && { reservation: booking, providerId: providerOf.get(booking.resourceId) as string };
          }),
        {
          // START TRANSACTION goes with the dedupe rows' insert, the history rows' with COMMIT.
          begin: async (conn) => {
            watch(conn);
            signal?.throwIfAborted();
            return claimEventIds(conn, events);
          },
          commitWith: (result) => result.record,
        },
      );
      return outcomes;
    } finally {
      detach();
      await killed;
    }
  }

  /**
   * Records the event ids that are new and says which those are. The insert goes first: a repeat
   * is rare, and only then are the ids already processed read (the failed statement alone was
   * undone, the transaction goes on), so a batch without one costs a single statement.
   */
  async function claimEventIds(conn: PoolConnection, events: EventEnvelope[]): Promise<boolean[]> {
    const ids = events.map((e) => e.eventId);
    let processed = new Set<string>();
    // The first insert starts the transaction in its round trip; START TRANSACTION has taken
    // effect even when the insert then fails.
    let start = 'START TRANSACTION; ';
    for (let attempt = 0; ; attempt++) {
      const fresh = firstOccurrences(ids, processed);
      const inserts = events.filter((_, i) => fresh[i]);
      if (inserts.length === 0) {
        if (start) await conn.query('START TRANSACTION');
        return fresh;
      }
      try {
        const sql = `${start}INSERT INTO processed_events (event_id, type) VALUES ${placeholders(inserts.length, '(?, ?)')}`;
        start = '';
        await conn.query(
          sql,
          inserts.flatMap((e) => [e.eventId, e.type]),
        );
        return fresh;
      } catch (err) {
        // A repeat: an id processed before, or one another notifier committed meanwhile (the
        // insert waited on its row lock, then found it). Twice is enough: after the first read,
        // only a concurrent commit can add one, and the next read sees it.
        if (!isMysqlError(err, ER_DUP_ENTRY) || attempt >= 2) throw err;
        const unique = [...new Set(ids)];
        const [rows] = await conn.query<RowDataPacket[]>(
          `SELECT event_id FROM processed_events WHERE event_id IN (${placeholders(unique.length)})`,
          unique,
        );
        processed = new Set(rows.map((r) => r.event_id as string));
      }
    }
  }

  /** The rest of the batch's effect, after its new event ids were recorded (`fresh`). */
  async function effect(
    conn: PoolConnection,
    events: EventEnvelope[],
    fresh: boolean[],
    reservationOf: (i: number) => { reservation: Booking; providerId: string } | undefined,
  ): Promise<{ outcomes: Outcome[]; record?: Statement }> {
    const outcomes: Outcome[] = events.map((_, i) => (fresh[i] ? { kind: 'ignored' } : { kind: 'deduplicated' }));
    const effects: ReservationEvent[] = events.flatMap((event, index) => {
      const found = fresh[index] ? reservationOf(index) : undefined;
      return found ? [{ index, event, ...found }] : [];
    });
    if (effects.length === 0) return { outcomes };
    // The providers' streams take the batch's events in the order they happened: SQS keeps each
    // reservation's in order (and they happened in that order), not the order across reservations.
    effects.sort((a, b) => Date.parse(a.event.occurredAt) - Date.parse(b.event.occurredAt));

    // The providers' webhooks, and each reservation's earliest delivery still waiting.
    const providerIds = [...new Set(effects.map((e) => e.providerId))];
    const reservationIds = [...new Set(effects.map((e) => e.reservation.id))];
    // A reservation's first event (version 1, a booking) has no earlier delivery to wait for.
    const reads: Statement[] = [
      {
        sql: `SELECT w.provider_id, w.url, ${secretColumnsSql('w')} FROM webhook_endpoints w WHERE w.provider_id IN (${placeholders(providerIds.length)})`,
        values: providerIds,
      },
    ];
    if (effects.some((e) => e.event.version > 1)) {
      reads.push({
        sql: `SELECT reservation_id, MIN(version) AS version FROM webhook_deliveries
              WHERE reservation_id IN (${placeholders(reservationIds.length)}) AND state = 'pending' GROUP BY reservation_id`,
        values: reservationIds,
      });
    }
    const [answers] = (await conn.query(
      reads.map((r) => r.sql).join('; '),
      reads.flatMap((r) => r.values ?? []),
    )) as unknown as [RowDataPacket[] | RowDataPacket[][]];
    const [endpointRows, pendingRows = []] = (reads.length === 1 ? [answers] : answers) as RowDataPacket[][];
    const endpoints = new Map((endpointRows ?? []).map((r) => [r.provider_id as string, r]));
    const plan = deliveryPlan(
      effects.map((e) => ({ providerId: e.providerId, reservationId: e.reservation.id, version: e.event.version })),
      new Set(endpoints.keys()),
      new Map(pendingRows.map((r) => [r.reservation_id as string, Number(r.version)])),
    );
    const deliveries = effects.flatMap((e, i) => (plan[i] === 'none' ? [] : [{ ...e, claim: plan[i] === 'claimed' }]));
    // A claimed delivery is this process's for the lease: the fast path POSTs it after commit.
    const deliveryRows: Statement | undefined =
      deliveries.length > 0
        ? {
            sql: `INSERT INTO webhook_deliveries (event_id, provider_id, reservation_id, version, next_attempt_at)
                  VALUES ${placeholders(deliveries.length, '(?, ?, ?, ?, NOW(6) + INTERVAL ? MICROSECOND)')}`,
            values: deliveries.flatMap((d) => [
              d.event.eventId,
              d.providerId,
              d.reservation.id,
              d.event.version,
              d.claim ? leaseMs * 1000 : 0,
            ]),
          }
        : undefined;
    // Last, with the delivery rows, so the providers' stream rows stay locked only for this round
    // trip and the COMMIT's, which carries the history rows.
    const { seqs, record } = await history.append(
      conn,
      effects.map(({ event, reservation, providerId }) => ({
        eventId: event.eventId,
        type: event.type,
        version: event.version,
        occurredAt: event.occurredAt,
        reservation,
        providerId,
      })),
      { before: deliveryRows },
    );
    for (const [i, { index, event, reservation, providerId }] of effects.entries()) {
      const endpoint = endpoints.get(providerId);
      const { eventId, type, version, occurredAt } = event;
      const claimed: Delivery | undefined =
        plan[i] === 'claimed' && endpoint
          ? {
              eventId,
              providerId,
              reservationId: reservation.id,
              attempts: 0,
              url: endpoint.url as string,
              secrets: secretColumnsOf(endpoint),
              notification: { eventId, type, version, occurredAt, reservation },
            }
          : undefined;
      outcomes[index] = { kind: 'processed', providerId, providerSeq: seqs[i] as number, ...(claimed ? { claimed } : {}) };
    }
    return { outcomes, record };
  }

  return { processBatch };
}

export type EventProcessor = ReturnType<typeof createEventProcessor>;
