import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { FastifyInstance } from 'fastify';
import { bearer, freshDatabase, testApp } from './support/app.ts';
import { book, createResource, sql } from './support/fixtures.ts';

let app: FastifyInstance;
let db: Awaited<ReturnType<typeof freshDatabase>>;

beforeAll(async () => {
  db = await freshDatabase('rsv_reschedule');
  await db.migrate();
  ({ app } = await testApp({ MYSQL_PRIMARY_URL: db.as.reservationApi.primaryUrl }));
});
afterAll(async () => {
  await app?.close();
});

const at = (h: number) => new Date(Date.UTC(2032, 2, 3) + h * 3_600_000).toISOString();
const patch = (id: string, payload: object, ifMatch?: string) =>
  app.inject({
    method: 'PATCH',
    url: `/v1/reservations/${id}`,
    headers: { ...bearer('customer', 'customer-1'), ...(ifMatch ? { 'if-match': ifMatch } : {}) },
    payload,
  });

describe('PATCH /v1/reservations/:id (reschedule)', () => {
  it('moves the window under the same rule as create, with If-Match, and frees the old window', async () => {
    const resource = await createResource(app);
    const mine = await book(app, resource, at(9), at(10));
    await book(app, resource, at(12), at(13), { customer: 'other' });
    const id = mine.json().id;

    expect((await patch(id, { startsAt: at(10) })).statusCode).toBe(428);
    const clash = await patch(id, { startsAt: at(11), endsAt: at(13) }, '"1"');
    expect(clash.statusCode).toBe(409);
    expect(clash.json().conflict).toEqual({ startsAt: at(12), endsAt: at(13) });

    // Overlapping its own old window is fine: it does not count against itself.
    const moved = await patch(id, { startsAt: at(9.5), endsAt: at(11) }, '"1"');
    expect(moved.statusCode).toBe(200);
    expect(moved.json()).toMatchObject({ startsAt: at(9.5), endsAt: at(11), version: 2 });
    expect(moved.headers.etag).toBe('"2"');

    const stale = await patch(id, { notes: 'late' }, '"1"');
    expect(stale.statusCode).toBe(412);
    expect(stale.json().type).toMatch(/\/version-mismatch$/);

    expect((await book(app, resource, at(9), at(9.5), { customer: 'third' })).statusCode).toBe(201);
    const events = await sql(db.primaryUrl, 'SELECT type, version FROM outbox WHERE aggregate_id = ? ORDER BY id', [id]);
    expect(events).toEqual([
      { type: 'reservation.created', version: 1 },
      { type: 'reservation.rescheduled', version: 2 },
    ]);
  });

  it('refuses an end before the start, even when only one end is sent', async () => {
    const resource = await createResource(app);
    const mine = await book(app, resource, at(9), at(10));
    const response = await patch(mine.json().id, { endsAt: at(8) }, '"1"');
    expect(response.statusCode).toBe(400);
    expect(response.json().errors).toEqual([{ field: 'body/endsAt', message: 'must be after startsAt' }]);
  });

  it('a cancelled reservation cannot be rescheduled', async () => {
    const resource = await createResource(app);
    const mine = await book(app, resource, at(9), at(10));
    await app.inject({ method: 'POST', url: `/v1/reservations/${mine.json().id}/cancel`, headers: bearer('customer', 'customer-1') });
    const response = await patch(mine.json().id, { notes: 'x' }, '"2"');
    expect(response.statusCode).toBe(409);
    expect(response.json().type).toMatch(/\/reservation-cancelled$/);
  });
});
