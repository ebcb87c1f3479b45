import { randomUUID } from 'node:crypto';
import { type Booking, mayAccessBooking, type BookingRow as Row, toBooking } from '@reservations/contracts';
import { activeReservation, NEAR_WINDOW } from '@reservations/database';
import { type Principal, Problem } from '@reservations/service-kit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { type BookingPolicy, policyFor, windowViolations } from '../domain/booking-policy.ts';
import { earliestOverlappingStart, type Interval, overlapReachMs } from '../domain/interval.ts';
import { problems } from '../errors.ts';
import { appendEvent, type EventType } from './outbox.ts';
import {
  type BookingBasis,
  bookingBasis,
  LOCK_RESOURCE,
  lockResourceForBooking,
  type Resource,
  readResourceForBooking,
  recordLongest,
} from './resource-store.ts';

export type { Booking };

type ReservationRow = Row & RowDataPacket;

/**
 * The most active reservations of the resource (other than `:self`) covering any one instant of
 * `[:start, :end)`. Coverage only rises where a reservation starts, so the peak is at `:start` or
 * at a start inside the window (the same reasoning as `peakOverlap`, unit-tested there). Every
 * reservation that can cover an instant of the window starts in `[:earliest, :end)`
 * (earliestOverlappingStart): a constant range on `reservations_resource_window`, so each count reads
 * the reservations near the window, not every one the resource had before it (NEAR_WINDOW names
 * the index: left to itself, MariaDB reads a hot resource's by `resource_id` alone).
 */
const PEAK_OVERLAP = `(
  SELECT COALESCE(MAX(covering), 0) FROM (
    SELECT (SELECT COUNT(*) FROM reservations c ${NEAR_WINDOW}
            WHERE c.resource_id = :resource AND c.starts_at >= :earliest AND c.starts_at < :end
              AND c.id <> :self AND ${activeReservation('c')} AND c.starts_at <= p.t AND c.ends_at > p.t) AS covering
    FROM (SELECT CAST(:start AS DATETIME(3)) AS t
          UNION SELECT s.starts_at FROM reservations s ${NEAR_WINDOW}
          WHERE s.resource_id = :resource AND s.id <> :self AND ${activeReservation('s')} AND s.starts_at > :start AND s.starts_at < :end) p
  ) peaks
)`;

/**
 * Capacity 1, most resources: the window fits when no active reservation of the resource (other
 * than `:self`) overlaps it, which is what `PEAK_OVERLAP < 1` says, in one range read that stops
 * at the first reservation in the way and a statement MariaDB plans in a fraction of the time.
 * This check runs under the resource's lock, so its cost bounds one resource's bookings per second.
 */
const NO_OVERLAP = `NOT EXISTS (
  SELECT 1 FROM reservations c ${NEAR_WINDOW}
  WHERE c.resource_id = :resource AND c.starts_at >= :earliest AND c.starts_at < :end
    AND c.id <> :self AND ${activeReservation('c')} AND c.ends_at > :start
)`;

/** The condition under which a window fits a resource of `capacity` (named parameters as above, and `:capacity`). */
const fits = (capacity: number) => (capacity === 1 ? NO_OVERLAP : `${PEAK_OVERLAP} < :capacity`);

export interface StoreOptions {
  holdTtlMs: number;
  /** The service's defaults; a resource may set its own duration and horizon. */
  policy: BookingPolicy;
  /** Unconfirmed, unexpired holds one customer may have at once. */
  maxActiveHolds: number;
  now?: () => Date;
}

/** Active holds of `:customer`, any resource. */
const ACTIVE_HOLDS = `(SELECT COUNT(*) FROM reservations h WHERE h.customer_id = :customer AND h.status = 'held' AND h.expires_at > NOW(3))`;

export interface NewBooking {
  resourceId: string;
  customerId: string;
  window: Interval;
  hold: boolean;
  notes: string | null;
}

export interface Change {
  reservation: Booking;
  resource: Resource;
  /** False when the command changed nothing (confirming a confirmed reservation). */
  changed: boolean;
}

export function createReservationStore({ holdTtlMs, policy, maxActiveHolds, now = () => new Date() }: StoreOptions) {
  /** A 400 naming each field of the window the resource's policy refuses. */
  function checkPolicy(window: Interval, resource: Resource, options?: { startChanged: boolean }) {
    const errors = windowViolations(window, policyFor(resource, policy), now(), options);
    if (errors.length > 0) {
      throw new Problem(problems, 'validation-failed', errors.map((e) => `${e.field} ${e.message}`).join('; '), {
        extensions: { errors },
      });
    }
  }

  async function readRow(conn: PoolConnection, id: string, lock: boolean): Promise<ReservationRow | undefined> {
    const [[row]] = await conn.query<ReservationRow[]>(`SELECT * FROM reservations WHERE id = ?${lock ? ' FOR UPDATE' : ''}`, [id]);
    return row;
  }

  /** Reads, locks (resource first, then reservation: the order every command takes) and checks access. */
  async function lockForChange(conn: PoolConnection, principal: Principal, id: string) {
    const unlocked = await readRow(conn, id, false);
    const notFound = new Problem(problems, 'reservation-not-found', `reservation ${id} does not exist`);
    if (!unlocked) throw notFound;
    const { resource, longestMs } = await lockResourceForBooking(conn, unlocked.resource_id);
    const row = await readRow(conn, id, true);
    if (!row || !mayAccessBooking(principal, toBooking(row), resource)) throw notFound;
    return { row, resource, longestMs };
  }

  /** Only on a refused hold: the cap's check travels inside the INSERT. */
  async function activeHolds(conn: PoolConnection, customer: string): Promise<number> {
    const [[row]] = await conn.query<RowDataPacket[]>({ sql: `SELECT ${ACTIVE_HOLDS} AS n`, namedPlaceholders: true }, { customer });
    return Number(row?.n);
  }

  /** How far before a window the overlap checks on `resource` must look (earliestOverlappingStart). */
  function earliest(window: Interval, resource: Resource, longestMs: number): Date {
    return earliestOverlappingStart(window, overlapReachMs(longestMs, policyFor(resource, policy).maxDurationMinutes));
  }

  /** The first active reservation in the way, for the 409's `conflict` member. */
  async function conflictFor(conn: PoolConnection, resourceId: string, self: string, window: Interval, from: Date) {
    const [[row]] = await conn.query<RowDataPacket[]>(
      `SELECT r.starts_at, r.ends_at FROM reservations r ${NEAR_WINDOW}
       WHERE r.resource_id = ? AND r.starts_at >= ? AND r.starts_at < ? AND r.id <> ? AND ${activeReservation('r')} AND r.ends_at > ?
       ORDER BY r.starts_at LIMIT 1`,
      [resourceId, from, window.end, self, window.start],
    );
    const conflict = row ? { startsAt: (row.starts_at as Date).toISOString(), endsAt: (row.ends_at as Date).toISOString() } : undefined;
    return new Problem(
      problems,
      'slot-unavailable',
      conflict
        ? `the resource is taken from ${conflict.startsAt} to ${conflict.endsAt}`
        : `the resource is taken between ${window.start.toISOString()} and ${window.end.toISOString()}`,
      { extensions: conflict ? { conflict } : {} },
    );
  }

  /**
   * A statement that writes reservation `id`, and the row read back in the same round trip (the
   * primary pool allows multipleStatements), after `LOCK_RESOURCE` when `lock` is set: the fewer
   * round trips while the resource is locked, the more bookings one resource takes per second.
   */
  async function writeAndRead(conn: PoolConnection, sql: string, params: Record<string, unknown>, id: string, lock = false) {
    const statements = [...(lock ? [LOCK_RESOURCE] : []), sql, 'SELECT * FROM reservations WHERE id = :readBack'];
    const [results] = (await conn.query(
      { sql: statements.join('; '), namedPlaceholders: true },
      { ...params, readBack: id },
    )) as unknown as [unknown[]];
    const [written, rows] = results.slice(lock ? 1 : 0) as [ResultSetHeader, ReservationRow[]];
    return { affected: written.affectedRows, row: rows[0], locked: lock ? (results[0] as RowDataPacket[])[0] : undefined };
  }

  /**
   * The conditional INSERT of a new reservation on the resource as `basis` describes it. It writes
   * only while the resource row is still that one (its version and longest window): a booking
   * checks the resource read without a lock, then locks it and inserts in one round trip.
   */
  function insertOne(id: string, basis: BookingBasis, input: NewBooking) {
    const { resource, longestMs } = basis;
    return {
      sql: `INSERT INTO reservations (id, resource_id, customer_id, provider_id, starts_at, ends_at, status, expires_at, notes)
         SELECT :id, :resource, :customer, :provider, :start, :end, :status,
                IF(:hold, NOW(3) + INTERVAL :holdMs * 1000 MICROSECOND, NULL), :notes
         FROM DUAL WHERE (SELECT version = :version AND longest_reservation_ms = :longest FROM resources WHERE id = :resource)
           AND ${fits(resource.capacity)} AND (NOT :hold OR ${ACTIVE_HOLDS} < :maxHolds)`,
      params: {
        id,
        self: id,
        resource: resource.id,
        version: resource.version,
        longest: longestMs,
        customer: input.customerId,
        provider: resource.providerId,
        start: input.window.start,
        earliest: earliest(input.window, resource, longestMs),
        end: input.window.end,
        status: input.hold ? 'held' : 'confirmed',
        hold: input.hold,
        holdMs: holdTtlMs,
        notes: input.notes,
        capacity: resource.capacity,
        maxHolds: maxActiveHolds,
      },
    };
  }

  async function finish(conn: PoolConnection, id: string, resource: Resource, type: EventType, readBack?: ReservationRow): Promise<Change> {
    const row = readBack ?? (await readRow(conn, id, false));
    if (!row) throw new Error(`reservation ${id} vanished inside its own transaction`);
    const reservation = toBooking(row);
    await appendEvent(conn, { aggregateType: 'reservation', aggregateId: id, type, version: reservation.version, payload: reservation });
    return { reservation, resource, changed: true };
  }

  function checkVersion(row: ReservationRow, expected: number | undefined | null) {
    if (expected !== undefined && expected !== Number(row.version)) {
      throw new Problem(
        problems,
        'version-mismatch',
        `If-Match names version ${expected ?? '(unparsable)'}, the reservation is at ${row.version}`,
      );
    }
  }

  return {
    /**
     * Inserts only if, with the resource row locked, fewer than `capacity` active reservations
     * cover any instant of the window: one conditional INSERT … SELECT, so the check and the
     * write are the same statement (never a check in application code, then an insert).
     *
     * The policy is checked on the resource as read without a lock; the lock is taken in the
     * INSERT's round trip, so it is held from there to COMMIT only (one round trip, not two: on a
     * resource everyone books at once, that is its bookings per second). When the locked row is
     * no longer the one read (the resource was changed, or a longer booking raised its reach),
     * the INSERT has written nothing and is redone on the locked row, policy first.
     */
    async create(conn: PoolConnection, input: NewBooking): Promise<Change> {
      const seen = await readResourceForBooking(conn, input.resourceId);
      checkPolicy(input.window, seen.resource);
      const id = randomUUID();
      const first = insertOne(id, seen, input);
      let { affected, row, locked } = await writeAndRead(conn, first.sql, first.params, id, true);
      const basis = bookingBasis(input.resourceId, locked);
      if (affected === 0 && (basis.resource.version !== seen.resource.version || basis.longestMs !== seen.longestMs)) {
        checkPolicy(input.window, basis.resource);
        const again = insertOne(id, basis, input);
        ({ affected, row } = await writeAndRead(conn, again.sql, again.params, id));
      }
      const { resource, longestMs } = basis;
      if (affected === 0) {
        if (input.hold && (await activeHolds(conn, input.customerId)) >= maxActiveHolds) {
          throw new Problem(
            problems,
            'hold-limit-reached',
            `${input.customerId} already holds ${maxActiveHolds} reservations unconfirmed`,
            {
              extensions: { limit: maxActiveHolds },
            },
          );
        }
        throw await conflictFor(conn, resource.id, id, input.window, earliest(input.window, resource, longestMs));
      }
      await recordLongest(conn, resource.id, longestMs, input.window);
      return finish(conn, id, resource, 'reservation.created', row);
    },

    async confirm(conn: PoolConnection, principal: Principal, id: string, expectedVersion?: number | null): Promise<Change> {
      const { row, resource } = await lockForChange(conn, principal, id);
      checkVersion(row, expectedVersion);
      if (row.status === 'confirmed') return { reservation: toBooking(row), resource, changed: false };
      if (row.status === 'cancelled') throw new Problem(problems, 'reservation-cancelled', `reservation ${id} is cancelled`);
      // The expiry is decided by the same clock (NOW(3)) that lets a new booking take the time.
      const [result] = await conn.query<ResultSetHeader>(
        `UPDATE reservations SET status = 'confirmed', expires_at = NULL, version = version + 1, updated_at = NOW(3)
         WHERE id = ? AND status = 'held' AND expires_at > NOW(3)`,
        [id],
      );
      if (result.affectedRows === 0) {
        throw new Problem(problems, 'hold-expired', `the hold on reservation ${id} expired at ${row.expires_at?.toISOString()}`);
      }
      return finish(conn, id, resource, 'reservation.confirmed');
    },

    /** Cancelling frees the time at once: cancelled rows never count as active. */
    async cancel(conn: PoolConnection, principal: Principal, id: string, expectedVersion?: number | null): Promise<Change> {
      const { row, resource } = await lockForChange(conn, principal, id);
      checkVersion(row, expectedVersion);
      if (row.status === 'cancelled') return { reservation: toBooking(row), resource, changed: false };
      await conn.query(
        `UPDATE reservations SET status = 'cancelled', expires_at = NULL, version = version + 1, updated_at = NOW(3) WHERE id = ?`,
        [id],
      );
      return finish(conn, id, resource, 'reservation.cancelled');
    },

    /** Moves the window under the same rule as create, not counting the reservation's own old window. */
    async reschedule(
      conn: PoolConnection,
      principal: Principal,
      id: string,
      expectedVersion: number | null,
      change: { start?: Date; end?: Date; notes?: string | null },
    ): Promise<Change & { window: Interval }> {
      const { row, resource, longestMs } = await lockForChange(conn, principal, id);
      checkVersion(row, expectedVersion);
      if (row.status === 'cancelled') throw new Problem(problems, 'reservation-cancelled', `reservation ${id} is cancelled`);
      const window = { start: change.start ?? row.starts_at, end: change.end ?? row.ends_at };
      if (window.end <= window.start) {
        throw new Problem(problems, 'validation-failed', 'endsAt must be after startsAt', {
          extensions: { errors: [{ field: 'body/endsAt', message: 'must be after startsAt' }] },
        });
      }
      if (change.start !== undefined || change.end !== undefined) {
        checkPolicy(window, resource, { startChanged: change.start !== undefined && change.start.getTime() !== row.starts_at.getTime() });
      }
      const { affected, row: moved } = await writeAndRead(
        conn,
        `UPDATE reservations SET starts_at = :start, ends_at = :end, notes = :notes, version = version + 1, updated_at = NOW(3)
         WHERE id = :self AND ${activeReservation('reservations')} AND ${fits(resource.capacity)}`,
        {
          self: id,
          resource: resource.id,
          start: window.start,
          end: window.end,
          earliest: earliest(window, resource, longestMs),
          notes: change.notes === undefined ? row.notes : change.notes,
          capacity: resource.capacity,
        },
        id,
      );
      if (affected === 0) {
        if (row.status === 'held' && row.expires_at && row.expires_at <= new Date()) {
          throw new Problem(problems, 'hold-expired', `the hold on reservation ${id} has expired`);
        }
        throw await conflictFor(conn, resource.id, id, window, earliest(window, resource, longestMs));
      }
      await recordLongest(conn, resource.id, longestMs, window);
      return { ...(await finish(conn, id, resource, 'reservation.rescheduled', moved)), window };
    },
  };
}

export type ReservationStore = ReturnType<typeof createReservationStore>;

declare module 'fastify' {
  interface FastifyInstance {
    reservations: ReservationStore;
  }
}

export const reservationStore = fp<StoreOptions>(
  async (app: FastifyInstance, options) => {
    app.decorate('reservations', createReservationStore(options));
  },
  { name: 'reservation-store' },
);
