import { randomUUID } from 'node:crypto';
import { Problem } from '@reservations/service-kit';
import type { PoolConnection, RowDataPacket } from 'mysql2/promise';
import type { Static } from 'typebox';
import { problems } from '../errors.ts';
import type { CreateResourceBody, ResourceSchema, UpdateResourceBody } from '../schemas/resource.ts';
import { appendEvent } from './outbox.ts';

export type Resource = Static<typeof ResourceSchema>;

interface ResourceRow extends RowDataPacket {
  id: string;
  name: string;
  provider_id: string;
  time_zone: string;
  capacity: number;
  max_duration_minutes: number | null;
  booking_horizon_days: number | null;
  longest_reservation_ms: number | string;
  version: number;
  created_at: Date;
  updated_at: Date;
}

export function toResource(row: ResourceRow): Resource {
  return {
    id: row.id,
    name: row.name,
    providerId: row.provider_id,
    timeZone: row.time_zone,
    capacity: Number(row.capacity),
    maxDurationMinutes: row.max_duration_minutes === null ? null : Number(row.max_duration_minutes),
    bookingHorizonDays: row.booking_horizon_days === null ? null : Number(row.booking_horizon_days),
    version: Number(row.version),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

/**
 * Locks the resource row for the rest of the transaction. Every change that can take time on a
 * resource goes through here first, which serialises them per resource (and only per resource).
 */
export async function lockResource(conn: PoolConnection, id: string): Promise<Resource> {
  return (await lockResourceForBooking(conn, id)).resource;
}

/** A resource with what a booking's overlap check needs besides: the longest window it has had. */
export interface BookingBasis {
  resource: Resource;
  longestMs: number;
}

/** The statement that locks resource `:resource` (a named placeholder) for the rest of the transaction. */
export const LOCK_RESOURCE = 'SELECT * FROM resources WHERE id = :resource FOR UPDATE';

/** A row of `SELECT * FROM resources` as a booking's basis; a 404 when there is none. */
export function bookingBasis(id: string, row: RowDataPacket | undefined): BookingBasis {
  if (!row) throw new Problem(problems, 'resource-not-found', `resource ${id} does not exist`);
  return { resource: toResource(row as ResourceRow), longestMs: Number(row.longest_reservation_ms) };
}

/** lockResource, with the booking's basis. */
export async function lockResourceForBooking(conn: PoolConnection, id: string): Promise<BookingBasis> {
  const [[row]] = await conn.query<ResourceRow[]>({ sql: LOCK_RESOURCE, namedPlaceholders: true }, { resource: id });
  return bookingBasis(id, row);
}

/** The booking's basis as last committed, without a lock: what a booking checks before it takes the lock. */
export async function readResourceForBooking(conn: PoolConnection, id: string): Promise<BookingBasis> {
  const [[row]] = await conn.query<ResourceRow[]>('SELECT * FROM resources WHERE id = ?', [id]);
  return bookingBasis(id, row);
}

/**
 * Raises the resource's longest window to the one just written, if longer (the resource is
 * locked): the overlap checks' reach (earliestOverlappingStart) must cover every reservation.
 */
export async function recordLongest(conn: PoolConnection, id: string, longestMs: number, window: { start: Date; end: Date }) {
  const length = window.end.getTime() - window.start.getTime();
  if (length <= longestMs) return;
  await conn.query('UPDATE resources SET longest_reservation_ms = GREATEST(longest_reservation_ms, ?) WHERE id = ?', [length, id]);
}

export async function createResource(conn: PoolConnection, body: Static<typeof CreateResourceBody>): Promise<Resource> {
  const id = randomUUID();
  await conn.query(
    `INSERT INTO resources (id, name, provider_id, time_zone, capacity, max_duration_minutes, booking_horizon_days)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
    [id, body.name, body.providerId, body.timeZone, body.capacity ?? 1, body.maxDurationMinutes ?? null, body.bookingHorizonDays ?? null],
  );
  const resource = await lockResource(conn, id);
  await appendEvent(conn, { aggregateType: 'resource', aggregateId: id, type: 'resource.created', version: 1, payload: resource });
  return resource;
}

/**
 * Lowering the capacity, the maximum duration or the horizon leaves existing reservations alone;
 * it only limits new ones. A policy setting sent as null goes back to the service's default.
 */
export async function updateResource(conn: PoolConnection, id: string, body: Static<typeof UpdateResourceBody>): Promise<Resource> {
  await lockResource(conn, id);
  await conn.query(
    `UPDATE resources SET name = COALESCE(?, name), time_zone = COALESCE(?, time_zone), capacity = COALESCE(?, capacity),
       max_duration_minutes = IF(?, ?, max_duration_minutes), booking_horizon_days = IF(?, ?, booking_horizon_days),
       version = version + 1, updated_at = NOW(3) WHERE id = ?`,
    [
      body.name ?? null,
      body.timeZone ?? null,
      body.capacity ?? null,
      body.maxDurationMinutes !== undefined,
      body.maxDurationMinutes ?? null,
      body.bookingHorizonDays !== undefined,
      body.bookingHorizonDays ?? null,
      id,
    ],
  );
  const resource = await lockResource(conn, id);
  await appendEvent(conn, {
    aggregateType: 'resource',
    aggregateId: id,
    type: 'resource.updated',
    version: resource.version,
    payload: resource,
  });
  return resource;
}
