import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { waitUntil } from '@reservations/testkit';
import type { FastifyInstance } from 'fastify';
import mysql from 'mysql2/promise';
import { sweepExpiredKeys } from '../src/workers/idempotency-sweeper.ts';
import { bearer, freshDatabase, testApp } from './support/app.ts';
import { book, createResource, sql } from './support/fixtures.ts';

let app: FastifyInstance;
let db: Awaited<ReturnType<typeof freshDatabase>>;
let resource: string;

beforeAll(async () => {
  db = await freshDatabase('rsv_idempotency');
  await db.migrate();
  ({ app } = await testApp({ MYSQL_PRIMARY_URL: db.primaryUrl }));
  resource = await createResource(app);
});
afterAll(async () => {
  await app?.close();
});

const at = (h: number) => new Date(Date.UTC(2031, 5, 1, h)).toISOString();

/**
 * Holds the resource's row from a connection of the test's own, so a booking on it stops inside
 * its transaction (its key's lease taken); `waiting()` is the id of the service's connection once
 * it is waiting there.
 */
async function holdResource() {
  const blocker = await mysql.createConnection(db.primaryUrl);
  await blocker.query('START TRANSACTION');
  await blocker.query('SELECT id FROM resources WHERE id = ? FOR UPDATE', [resource]);
  const waiting = async (): Promise<number> => {
    let id: number | undefined;
    await waitUntil(
      'a booking waits for the resource row',
      async () => {
        const [rows] = (await blocker.query(
          "SELECT ID AS id FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT%FROM resources%FOR UPDATE%' AND ID <> CONNECTION_ID()",
        )) as unknown as [{ id: number }[]];
        id = rows[0]?.id;
        return id !== undefined;
      },
      { intervalMs: 25 },
    );
    return id as number;
  };
  return { blocker, waiting };
}

describe('Idempotency-Key', () => {
  it('50 concurrent requests with one key make one reservation; every answer is the first one, byte for byte', async () => {
    const responses = await Promise.all(Array.from({ length: 50 }, () => book(app, resource, at(9), at(10), { key: 'k-concurrent' })));
    const created = responses.filter((r) => r.statusCode === 201);
    // A duplicate while the first holds the key's lease gets 409 in-progress; none may do anything else.
    for (const r of responses.filter((r) => r.statusCode !== 201)) expect(r.json().type).toMatch(/\/idempotency-in-progress$/);
    expect(created.length).toBeGreaterThanOrEqual(1);
    expect(new Set(created.map((r) => r.body)).size).toBe(1);
    expect(new Set(created.map((r) => r.headers.location)).size).toBe(1);
    expect(await sql(db.primaryUrl, 'SELECT id FROM reservations WHERE starts_at = ?', [new Date(at(9))])).toHaveLength(1);
    expect(
      await sql(db.primaryUrl, "SELECT id FROM outbox WHERE type = 'reservation.created' AND aggregate_id = ?", [created[0]?.json().id]),
    ).toHaveLength(1);

    const replay = await book(app, resource, at(9), at(10), { key: 'k-concurrent' });
    expect(replay.statusCode).toBe(201);
    expect(replay.body).toBe(created[0]?.body);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.headers.etag).toBe(created[0]?.headers.etag);
  });

  it('a duplicate while the first request is still running is a 409 with Retry-After; once it is done, a retry replays it', async () => {
    const { blocker, waiting } = await holdResource();
    try {
      const first = book(app, resource, at(25), at(26), { key: 'k-running' });
      await waiting();
      const duplicate = await book(app, resource, at(25), at(26), { key: 'k-running' });
      expect(duplicate.statusCode).toBe(409);
      expect(duplicate.json().type).toMatch(/\/idempotency-in-progress$/);
      expect(duplicate.headers['retry-after']).toBe('1');

      await blocker.query('COMMIT');
      const done = await first;
      expect(done.statusCode).toBe(201);
      const replay = await book(app, resource, at(25), at(26), { key: 'k-running' });
      expect(replay.statusCode).toBe(201);
      expect(replay.body).toBe(done.body);
      expect(await sql(db.primaryUrl, 'SELECT id FROM reservations WHERE starts_at = ?', [new Date(at(25))])).toHaveLength(1);
    } finally {
      await blocker.end();
    }
  });

  it('a request whose database connection dies mid-transaction stores nothing and frees the key for a retry', async () => {
    const { blocker, waiting } = await holdResource();
    try {
      const failing = book(app, resource, at(27), at(28), { key: 'k-killed' });
      await blocker.query(`KILL CONNECTION ${await waiting()}`);
      expect((await failing).statusCode).toBeGreaterThanOrEqual(500);
    } finally {
      await blocker.query('ROLLBACK');
      await blocker.end();
    }
    expect(await sql(db.primaryUrl, "SELECT idempotency_key FROM idempotency_keys WHERE idempotency_key = 'k-killed'")).toEqual([]);
    const retry = await book(app, resource, at(27), at(28), { key: 'k-killed' });
    expect(retry.statusCode).toBe(201);
    expect(await sql(db.primaryUrl, 'SELECT id FROM reservations WHERE starts_at = ?', [new Date(at(27))])).toHaveLength(1);
  });

  it('the same key with another body is a 422 and writes nothing', async () => {
    const first = await book(app, resource, at(11), at(12), { key: 'k-mismatch' });
    expect(first.statusCode).toBe(201);
    const other = await book(app, resource, at(13), at(14), { key: 'k-mismatch' });
    expect(other.statusCode).toBe(422);
    expect(other.json().type).toMatch(/\/idempotency-key-reused$/);
    expect(await sql(db.primaryUrl, 'SELECT id FROM reservations WHERE starts_at = ?', [new Date(at(13))])).toHaveLength(0);
  });

  it('a key is scoped to the caller: another customer with the same key gets its own answer', async () => {
    const mine = await book(app, resource, at(15), at(16), { key: 'k-shared', customer: 'alice' });
    const theirs = await book(app, resource, at(15), at(16), { key: 'k-shared', customer: 'bob' });
    expect(mine.statusCode).toBe(201);
    expect(theirs.statusCode).toBe(409);
  });

  it('a refusal is remembered too: the retry of a 409 replays the 409 even after the window frees up', async () => {
    const taken = await book(app, resource, at(17), at(18), { customer: 'carol' });
    const refused = await book(app, resource, at(17), at(18), { key: 'k-refused' });
    expect(refused.statusCode).toBe(409);
    await app.inject({ method: 'POST', url: `/v1/reservations/${taken.json().id}/cancel`, headers: bearer('customer', 'carol') });
    const retry = await book(app, resource, at(17), at(18), { key: 'k-refused' });
    expect(retry.statusCode).toBe(409);
    expect(retry.body).toBe(refused.body);
  });

  it('an expired key is new again', async () => {
    const first = await book(app, resource, at(19), at(20), { key: 'k-expired' });
    await sql(db.primaryUrl, "UPDATE idempotency_keys SET expires_at = NOW(3) - INTERVAL 1 SECOND WHERE idempotency_key = 'k-expired'");
    const again = await book(app, resource, at(21), at(22), { key: 'k-expired' });
    expect(again.statusCode).toBe(201);
    expect(again.json().id).not.toBe(first.json().id);
  });

  it('the sweeper deletes expired keys only', async () => {
    await book(app, resource, at(30), at(31), { key: 'k-old' });
    await book(app, resource, at(32), at(33), { key: 'k-fresh' });
    await sql(db.primaryUrl, "UPDATE idempotency_keys SET expires_at = NOW(3) - INTERVAL 1 SECOND WHERE idempotency_key = 'k-old'");
    expect(await sweepExpiredKeys(app.db, 1)).toBeGreaterThanOrEqual(1);
    const left = await sql<{ idempotency_key: string }>(
      db.primaryUrl,
      "SELECT idempotency_key FROM idempotency_keys WHERE idempotency_key IN ('k-old', 'k-fresh')",
    );
    expect(left).toEqual([{ idempotency_key: 'k-fresh' }]);
  });

  it('confirm and cancel honour the key per reservation', async () => {
    const held = await book(app, resource, at(23), at(24), { hold: true });
    const confirm = (key: string) =>
      app.inject({
        method: 'POST',
        url: `/v1/reservations/${held.json().id}/confirm`,
        headers: { ...bearer('customer', 'customer-1'), 'idempotency-key': key },
      });
    const first = await confirm('k-confirm');
    const second = await confirm('k-confirm');
    expect([first.statusCode, second.statusCode]).toEqual([200, 200]);
    expect(second.body).toBe(first.body);
    expect(
      await sql(db.primaryUrl, "SELECT id FROM outbox WHERE type = 'reservation.confirmed' AND aggregate_id = ?", [held.json().id]),
    ).toHaveLength(1);
  });
});
