import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { FastifyInstance } from 'fastify';
import { bearer, freshDatabase, testApp } from './support/app.ts';
import { book, createResource, sql } from './support/fixtures.ts';

// Identities are JWT `sub` strings, compared exactly: a variant differing in case, accent or a
// trailing space is someone else, refused like anyone else (404: ids do not leak).

let app: FastifyInstance;
let db: Awaited<ReturnType<typeof freshDatabase>>;
let acmeResource: string;

beforeAll(async () => {
  db = await freshDatabase('rsv_identities');
  await db.migrate();
  ({ app } = await testApp({ MYSQL_PRIMARY_URL: db.as.reservationApi.primaryUrl }));
  acmeResource = await createResource(app, { providerId: 'acme', capacity: 10 });
});
afterAll(async () => {
  await app?.close();
});

let hour = 0;
const at = (h: number) => new Date(Date.UTC(2036, 2, 1, h)).toISOString();
async function reservationOf(customer: string): Promise<string> {
  hour += 2;
  const response = await book(app, acmeResource, at(hour), at(hour + 1), { customer, hold: true });
  expect(response.statusCode).toBe(201);
  return response.json<{ id: string }>().id;
}

const confirm = (id: string, headers: Record<string, string>) =>
  app.inject({ method: 'POST', url: `/v1/reservations/${id}/confirm`, headers });
const cancel = (id: string, headers: Record<string, string>) =>
  app.inject({ method: 'POST', url: `/v1/reservations/${id}/cancel`, headers });
const reschedule = (id: string, headers: Record<string, string>) =>
  app.inject({
    method: 'PATCH',
    url: `/v1/reservations/${id}`,
    headers: { ...headers, 'if-match': '"1"' },
    payload: { startsAt: at(500), endsAt: at(501) },
  });

describe('exact identities', () => {
  it.each([
    ['customer', 'Alice', 'alice'],
    ['customer', 'ALICE', 'alice'],
    ['customer', 'cafe', 'café'],
    ['customer', 'café', 'cafe'],
    ['customer', 'alice ', 'alice'],
  ] as const)('%s %j cannot confirm, cancel or reschedule the reservation of %j (404), which stays untouched', async (role, who, owner) => {
    const id = await reservationOf(owner);
    for (const act of [confirm, cancel, reschedule]) {
      const response = await act(id, bearer(role, who));
      expect(response.statusCode).toBe(404);
      expect(response.json().type).toMatch(/\/reservation-not-found$/);
    }
    expect(await sql(db.primaryUrl, 'SELECT customer_id, status, version FROM reservations WHERE id = ?', [id])).toEqual([
      { customer_id: owner, status: 'held', version: 1 },
    ]);
    // Its owner, exactly, still can.
    expect((await confirm(id, bearer('customer', owner))).statusCode).toBe(200);
  });

  it.each(['ACME', 'Acme', 'acmé', 'acme '])('provider %j cannot act on the reservations of acme’s resources (404)', async (provider) => {
    const id = await reservationOf('bob');
    for (const act of [confirm, cancel, reschedule]) expect((await act(id, bearer('provider', provider))).statusCode).toBe(404);
    expect((await cancel(id, bearer('provider', 'acme'))).statusCode).toBe(200);
  });

  it('a customer books for itself only: customerId "alice" from "Alice" is refused (403)', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/reservations',
      headers: bearer('customer', 'Alice'),
      payload: { resourceId: acmeResource, startsAt: at(100), endsAt: at(101), customerId: 'alice' },
    });
    expect(response.statusCode).toBe(403);
  });

  // Keys are visible ASCII (accents and spaces are a 400), so case is the variant left.
  it.each([
    ['K', 'k'],
    ['Order-7A', 'order-7a'],
  ])('Idempotency-Keys %j and %j from the same caller are two keys: two bookings, no replay', async (first, second) => {
    hour += 2;
    const a = await book(app, acmeResource, at(hour), at(hour + 1), { customer: 'carol', key: first });
    const b = await book(app, acmeResource, at(hour), at(hour + 1), { customer: 'carol', key: second });
    expect([a.statusCode, b.statusCode]).toEqual([201, 201]);
    expect(b.headers['idempotent-replayed']).toBeUndefined();
    expect(b.json().id).not.toBe(a.json().id);
    // Each key replays its own booking.
    const again = await book(app, acmeResource, at(hour), at(hour + 1), { customer: 'carol', key: second });
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json().id).toBe(b.json().id);
  });

  it('one Idempotency-Key from "alice" and "Alice" is two callers’ keys: Alice never gets alice’s stored response', async () => {
    hour += 2;
    const mine = await book(app, acmeResource, at(hour), at(hour + 1), { customer: 'alice', key: 'shared-key' });
    const theirs = await book(app, acmeResource, at(hour), at(hour + 1), { customer: 'Alice', key: 'shared-key' });
    expect([mine.statusCode, theirs.statusCode]).toEqual([201, 201]);
    expect(theirs.headers['idempotent-replayed']).toBeUndefined();
    expect(theirs.json()).toMatchObject({ customerId: 'Alice' });
    expect(theirs.json().id).not.toBe(mine.json().id);
  });
});
