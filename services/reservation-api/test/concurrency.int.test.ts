import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { waitUntil } from '@reservations/testkit';
import type { FastifyInstance } from 'fastify';
import mysql from 'mysql2/promise';
import { bearer, freshDatabase, testApp } from './support/app.ts';
import { book, createResource, sql } from './support/fixtures.ts';

let app: FastifyInstance;
let registry: import('prom-client').Registry;
let db: Awaited<ReturnType<typeof freshDatabase>>;

beforeAll(async () => {
  db = await freshDatabase('rsv_concurrency');
  await db.migrate();
  // 200 creates at once queue for the pool's connections: this file is about no double booking, so
  // none is turned away (the queue's bound has its own test, pool-bounds.int.test.ts).
  ({ app, registry } = await testApp({ MYSQL_PRIMARY_URL: db.as.reservationApi.primaryUrl, HOLD_TTL_SECONDS: 2, MYSQL_QUEUE_LIMIT: 1000 }));
});
afterAll(async () => {
  await app?.close();
});

const at = (minutes: number) => new Date(Date.UTC(2030, 0, 1, 10, 0, 0) + minutes * 60_000).toISOString();

function statuses(responses: { statusCode: number }[]) {
  const counts: Record<number, number> = {};
  for (const r of responses) counts[r.statusCode] = (counts[r.statusCode] ?? 0) + 1;
  return counts;
}

describe('no double booking', () => {
  it('200 concurrent creates for the same window: exactly one 201 and 199 409 slot-unavailable', async () => {
    const resource = await createResource(app);
    const responses = await Promise.all(Array.from({ length: 200 }, (_, i) => book(app, resource, at(0), at(60), { customer: `c${i}` })));
    expect(statuses(responses)).toEqual({ 201: 1, 409: 199 });
    const conflict = responses.find((r) => r.statusCode === 409);
    expect(conflict?.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(conflict?.json()).toMatchObject({
      type: 'https://reservations.dev/problems/slot-unavailable',
      status: 409,
      conflict: { startsAt: at(0), endsAt: at(60) },
    });
    const rows = await sql(db.primaryUrl, 'SELECT id FROM reservations WHERE resource_id = ?', [resource]);
    expect(rows).toHaveLength(1);
    const events = await sql(db.primaryUrl, "SELECT type FROM outbox WHERE aggregate_type = 'reservation' AND aggregate_id = ?", [
      rows[0]?.id,
    ]);
    expect(events).toEqual([{ type: 'reservation.created' }]);
    const metrics = await registry.metrics();
    expect(metrics).toContain('reservations_total{result="created"} 1');
    expect(metrics).toContain('reservations_total{result="conflict"} 199');
  });

  it('200 concurrent creates for different windows that all share an instant: exactly one 201', async () => {
    const resource = await createResource(app);
    // Window i starts i×10 s after 10:00 and lasts an hour: all of them cover 10:33:10–11:00.
    const windows = Array.from({ length: 200 }, (_, i) => [at(i / 6), at(i / 6 + 60)] as const);
    const responses = await Promise.all(windows.map(([s, e], i) => book(app, resource, s, e, { customer: `c${i}` })));
    expect(statuses(responses)).toEqual({ 201: 1, 409: 199 });
  });

  it('overlap is of intervals: [10:00,11:00) blocks [10:30,11:30) but not the adjacent [11:00,12:00) or [09:00,10:00)', async () => {
    const resource = await createResource(app);
    expect((await book(app, resource, at(0), at(60))).statusCode).toBe(201);
    expect((await book(app, resource, at(30), at(90))).statusCode).toBe(409);
    expect((await book(app, resource, at(-30), at(1))).statusCode).toBe(409);
    expect((await book(app, resource, at(10), at(20))).statusCode).toBe(409);
    const [after, before] = await Promise.all([book(app, resource, at(60), at(120)), book(app, resource, at(-60), at(0))]);
    expect([after.statusCode, before.statusCode]).toEqual([201, 201]);
  });

  it('offsets are instants: 11:00+01:00 is 10:00Z and conflicts', async () => {
    const resource = await createResource(app);
    expect((await book(app, resource, '2030-01-01T10:00:00Z', '2030-01-01T11:00:00Z')).statusCode).toBe(201);
    const clash = await book(app, resource, '2030-01-01T11:30:00+01:00', '2030-01-01T12:30:00+01:00');
    expect(clash.statusCode).toBe(409);
  });

  it('a resource of capacity 3 admits exactly 3 of 30 concurrent creates', async () => {
    const resource = await createResource(app, { capacity: 3 });
    const responses = await Promise.all(Array.from({ length: 30 }, (_, i) => book(app, resource, at(0), at(60), { customer: `c${i}` })));
    expect(statuses(responses)).toEqual({ 201: 3, 409: 27 });
  });

  it('capacity counts reservations at each instant, not every overlap of the window', async () => {
    const resource = await createResource(app, { capacity: 2 });
    expect((await book(app, resource, at(0), at(60))).statusCode).toBe(201);
    expect((await book(app, resource, at(60), at(120))).statusCode).toBe(201);
    // Never more than one of the two above at once, so a window across both still fits…
    expect((await book(app, resource, at(0), at(120))).statusCode).toBe(201);
    // …and now every instant of 10:00–12:00 has two.
    expect((await book(app, resource, at(90), at(100))).statusCode).toBe(409);
  });

  // A booking checks the resource as last committed, then locks it and inserts in one round trip:
  // a change committed while it waited for the lock must decide it, in either direction.
  it.each([
    ['lowered from 2 to 1: refused, as the resource now is', 2, 1, 409],
    ['raised from 1 to 2: admitted, as the resource now is', 1, 2, 201],
  ])('a capacity %s, when the change commits while the booking waits for the resource’s lock', async (_, before, after, expected) => {
    const resource = await createResource(app, { capacity: before });
    expect((await book(app, resource, at(0), at(60), { customer: 'first' })).statusCode).toBe(201);
    const changer = await mysql.createConnection(db.adminUrl);
    const watcher = await mysql.createConnection(db.adminUrl);
    try {
      await changer.beginTransaction();
      await changer.query('SELECT id FROM resources WHERE id = ? FOR UPDATE', [resource]);
      await changer.query('UPDATE resources SET capacity = ?, version = version + 1 WHERE id = ?', [after, resource]);
      const booking = book(app, resource, at(0), at(60), { customer: 'second' });
      // InnoDB refreshes these tables at most every 100 ms: a wait is known by its row, this resource.
      await waitUntil('the booking waiting for the resource’s lock', async () => {
        const [[row]] = (await watcher.query(
          `SELECT COUNT(*) AS n FROM information_schema.INNODB_LOCK_WAITS w
           JOIN information_schema.INNODB_LOCKS l ON l.lock_id = w.requested_lock_id WHERE l.lock_table = ? AND l.lock_data = ?`,
          [`\`${db.name}\`.\`resources\``, `'${resource}'`],
        )) as unknown as [{ n: number }[]];
        return Number(row?.n) === 1;
      });
      await changer.commit();
      expect((await booking).statusCode).toBe(expected);
      const rows = await sql(db.primaryUrl, 'SELECT customer_id FROM reservations WHERE resource_id = ? ORDER BY customer_id', [resource]);
      expect(rows.map((r) => r.customer_id)).toEqual(expected === 201 ? ['first', 'second'] : ['first']);
    } finally {
      await Promise.all([changer.end(), watcher.end()]);
    }
  });

  it('cancelling frees the window at once', async () => {
    const resource = await createResource(app);
    const first = await book(app, resource, at(0), at(60));
    expect((await book(app, resource, at(0), at(60), { customer: 'other' })).statusCode).toBe(409);
    const cancel = await app.inject({
      method: 'POST',
      url: `/v1/reservations/${first.json().id}/cancel`,
      headers: bearer('customer', 'customer-1'),
    });
    expect(cancel.statusCode).toBe(200);
    expect(cancel.json()).toMatchObject({ status: 'cancelled', version: 2 });
    expect((await book(app, resource, at(0), at(60), { customer: 'other' })).statusCode).toBe(201);
    const events = await sql(db.primaryUrl, 'SELECT type, version FROM outbox WHERE aggregate_id = ? ORDER BY id', [first.json().id]);
    expect(events).toEqual([
      { type: 'reservation.created', version: 1 },
      { type: 'reservation.cancelled', version: 2 },
    ]);
  });

  it('an expired hold frees the window, and can no longer be confirmed', async () => {
    const resource = await createResource(app);
    const hold = await book(app, resource, at(0), at(60), { hold: true });
    expect(hold.statusCode).toBe(201);
    expect(hold.json()).toMatchObject({ status: 'held', expiresAt: expect.any(String) });
    expect((await book(app, resource, at(0), at(60), { customer: 'other' })).statusCode).toBe(409);
    // The hold lasts 2 s in this app (long enough for the two requests above on a loaded machine);
    // the database clock decides when it is over.
    await sql(db.primaryUrl, 'DO SLEEP(2.1)');
    expect((await book(app, resource, at(0), at(60), { customer: 'other' })).statusCode).toBe(201);
    const confirm = await app.inject({
      method: 'POST',
      url: `/v1/reservations/${hold.json().id}/confirm`,
      headers: bearer('customer', 'customer-1'),
    });
    expect(confirm.statusCode).toBe(409);
    expect(confirm.json().type).toMatch(/\/hold-expired$/);
  });

  it('a hold confirmed in time keeps the window', async () => {
    const resource = await createResource(app);
    const hold = await book(app, resource, at(0), at(60), { hold: true });
    const confirm = await app.inject({
      method: 'POST',
      url: `/v1/reservations/${hold.json().id}/confirm`,
      headers: bearer('customer', 'customer-1'),
    });
    expect(confirm.statusCode).toBe(200);
    expect(confirm.json()).toMatchObject({ status: 'confirmed', expiresAt: null, version: 2 });
    // Past the hold's 2 s: the sleep is what this proves the confirmed reservation outlasts.
    await sql(db.primaryUrl, 'DO SLEEP(2.1)');
    expect((await book(app, resource, at(0), at(60), { customer: 'other' })).statusCode).toBe(409);
  });
});
