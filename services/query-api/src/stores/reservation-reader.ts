import { type BookingRow, type CachedBooking, cachedBooking, toBooking } from '@reservations/contracts';
import { activeReservation, createMysqlEventHistory, NEAR_WINDOW, RESOURCE_LIST } from '@reservations/database';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { Cursor } from '../domain/cursor.ts';
import type { Interval } from '../domain/free-windows.ts';

type Row = BookingRow & RowDataPacket;

export interface ListFilter {
  resourceId?: string;
  customerId?: string;
  providerId?: string;
  status?: 'held' | 'confirmed' | 'cancelled';
  from?: Date;
  to?: Date;
  after?: Cursor;
  limit: number;
}

export interface ResourceInfo {
  id: string;
  providerId: string;
  timeZone: string;
  capacity: number;
}

/** Plain reads; which pool (replica or primary) is the caller's choice. */
export function createReservationReader() {
  const history = createMysqlEventHistory();
  return {
    async byId(pool: Pool, id: string): Promise<CachedBooking | undefined> {
      // The resource's provider: a row written before the reservation carried its own has none.
      const [[row]] = await pool.query<(Row & { owner_id: string })[]>(
        'SELECT r.*, s.provider_id AS owner_id FROM reservations r JOIN resources s ON s.id = r.resource_id WHERE r.id = ?',
        [id],
      );
      return row ? cachedBooking(toBooking(row), row.owner_id) : undefined;
    },

    /** Keyset pagination on (starts_at, id): stable under inserts, no OFFSET scans. */
    async list(pool: Pool, f: ListFilter) {
      const where: string[] = [];
      const params: unknown[] = [];
      const add = (clause: string, ...values: unknown[]) => {
        where.push(clause);
        params.push(...values);
      };
      if (f.resourceId) add('r.resource_id = ?', f.resourceId);
      if (f.customerId) add('r.customer_id = ?', f.customerId);
      if (f.providerId) add('r.provider_id = ?', f.providerId);
      if (f.status) add('r.status = ?', f.status);
      if (f.from) add('r.ends_at > ?', f.from);
      if (f.to) add('r.starts_at < ?', f.to);
      // (starts_at, id) > cursor, spelled so the index's range starts at the cursor: MariaDB does
      // not seek on a row comparison, and would read every earlier row of the list to skip it.
      if (f.after) {
        const after = new Date(f.after.startsAt);
        add('r.starts_at >= ? AND (r.starts_at > ? OR r.id > ?)', after, after, f.after.id);
      }
      const [rows] = await pool.query<Row[]>(
        // A customer's rows are fewer than a hot resource's: with both, MariaDB chooses.
        `SELECT r.* FROM reservations r ${f.resourceId && !f.customerId ? RESOURCE_LIST : ''}
         ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY r.starts_at, r.id LIMIT ?`,
        [...params, f.limit + 1],
      );
      const page = rows.slice(0, f.limit).map(toBooking);
      const last = page.at(-1);
      return { items: page, next: rows.length > f.limit && last ? { startsAt: last.startsAt, id: last.id } : undefined };
    },

    async resource(pool: Pool, id: string): Promise<ResourceInfo | undefined> {
      const [[row]] = await pool.query<RowDataPacket[]>('SELECT id, provider_id, time_zone, capacity FROM resources WHERE id = ?', [id]);
      return row ? { id: row.id, providerId: row.provider_id, timeZone: row.time_zone, capacity: Number(row.capacity) } : undefined;
    },

    /**
     * The active reservations overlapping `window`. None is longer than the resource's
     * `longest_reservation_ms`, so they all start in `[from − longest, to)`: the resource row is a
     * constant of the statement (its primary key), so that is the range read on
     * `reservations_resource_window`, in the statement's one snapshot, from the index alone.
     */
    async taken(pool: Pool, resourceId: string, window: Interval): Promise<Interval[]> {
      const [rows] = await pool.query<RowDataPacket[]>(
        `SELECT r.starts_at, r.ends_at FROM resources s JOIN reservations r ${NEAR_WINDOW} ON r.resource_id = s.id
         WHERE s.id = ? AND r.starts_at >= ? - INTERVAL s.longest_reservation_ms * 1000 MICROSECOND AND r.starts_at < ?
           AND ${activeReservation('r')} AND r.ends_at > ?`,
        [resourceId, window.start, window.end, window.start],
      );
      return rows.map((r) => ({ start: r.starts_at as Date, end: r.ends_at as Date }));
    },

    /** The reservation's history, as the notifier recorded it (the event pipeline, docs/events.md). */
    events: (pool: Pool, id: string) => history.forReservation(pool, id),
  };
}

declare module 'fastify' {
  interface FastifyInstance {
    reader: ReturnType<typeof createReservationReader>;
  }
}

export const reservationReader = fp(
  async (app: FastifyInstance) => {
    app.decorate('reader', createReservationReader());
  },
  { name: 'reservation-reader' },
);
