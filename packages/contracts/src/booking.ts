import { type Static, Type } from 'typebox';

/**
 * What reservation-api writes and query-api reads besides the database: a booking (the API's
 * `reservation` resource; "Booking" in code, so it is never confused with the operator's custom
 * resource) as both APIs render it, and the cache entry the write path publishes after each commit. One definition,
 * so the two sides cannot drift apart.
 */
const Instant = (description: string) => Type.String({ format: 'date-time', description });

export const BookingStatus = Type.Union([Type.Literal('held'), Type.Literal('confirmed'), Type.Literal('cancelled')]);

export const BookingSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    resourceId: Type.String({ format: 'uuid' }),
    customerId: Type.String(),
    startsAt: Instant('start, inclusive (UTC)'),
    endsAt: Instant('end, exclusive (UTC)'),
    status: BookingStatus,
    expiresAt: Type.Union([Instant('when an unconfirmed hold stops holding the time'), Type.Null()]),
    version: Type.Integer({ minimum: 1, description: 'increases with every change; send it back in If-Match' }),
    notes: Type.Union([Type.String(), Type.Null()]),
    createdAt: Instant('creation time'),
    updatedAt: Instant('last change'),
  },
  { description: 'a reservation' },
);
export type Booking = Static<typeof BookingSchema>;

/** A `reservations` row as mysql2 returns it (DATETIME as Date, with `timezone: 'Z'`). */
export interface BookingRow {
  id: string;
  resource_id: string;
  customer_id: string;
  starts_at: Date;
  ends_at: Date;
  status: 'held' | 'confirmed' | 'cancelled';
  expires_at: Date | null;
  version: number;
  notes: string | null;
  created_at: Date;
  updated_at: Date;
}

export function toBooking(row: BookingRow): Booking {
  return {
    id: row.id,
    resourceId: row.resource_id,
    customerId: row.customer_id,
    startsAt: row.starts_at.toISOString(),
    endsAt: row.ends_at.toISOString(),
    status: row.status,
    expiresAt: row.expires_at ? row.expires_at.toISOString() : null,
    version: Number(row.version),
    notes: row.notes,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

/**
 * The read side's cache entry for one reservation, a Redis hash under `BOOKING_CACHE_PREFIX + id`
 * (service-kit's versioned cache): the version, the reservation as GET sends it, and the customer and
 * the resource's provider, so access is decided from the cache alone and a hit is sent as stored.
 * v2: the hash; v1 was a `version:json` string.
 */
export interface CachedBooking {
  version: number;
  body: string;
  fields: Record<(typeof BOOKING_CACHE_FIELDS)[number], string>;
}
export const BOOKING_CACHE_PREFIX = 'reservation:v2:';
export const BOOKING_CACHE_FIELDS = ['customerId', 'providerId'] as const;

/** The entry both sides write; the body is the booking's JSON in schema order, as the routes' serializer writes it. */
export function cachedBooking(reservation: Booking, providerId: string): CachedBooking {
  return { version: reservation.version, body: JSON.stringify(reservation), fields: { customerId: reservation.customerId, providerId } };
}

/** Header with the commit's GTID: query-api waits for its replica to reach it (read-your-writes). */
export const CONSISTENCY_HEADER = 'x-consistency-token';

/**
 * Who may see or change a reservation: its customer, the provider that owns its resource, any
 * admin. Both APIs answer anyone else with a 404, not a 403, so reservation ids do not leak
 * (a 403 is for a role that may never do the thing at all). Ids compare exactly (===, as the
 * database's identity columns do): `Alice` is not `alice`. query-api decides from the cache entry's
 * fields with this same function.
 */
export function mayAccessBooking(
  principal: { id: string; role: 'customer' | 'provider' | 'admin' },
  reservation: { customerId: string },
  resource: { providerId: string },
): boolean {
  switch (principal.role) {
    case 'admin':
      return true;
    case 'provider':
      return resource.providerId === principal.id;
    case 'customer':
      return reservation.customerId === principal.id;
  }
}
