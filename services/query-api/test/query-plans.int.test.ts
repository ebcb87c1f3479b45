// Every statement of the booking paths, explained on seeded data (a few hot resources, a long cold
// tail, holds and cancels): no full scan, no filesort, and the index each one is meant to use.
// The statements are the services' own: their stores run against a connection that explains each
// statement before running it (`explaining` in testkit), so a changed query is checked as it is.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { customerId, type SeedReport, seedDatabase } from '@reservations/database';
import { createReservationStore, freshDatabase } from '@reservations/reservation-api/testing';
import type { Principal } from '@reservations/service-kit';
import { type ExplainedStatement, explaining, harnessEnv, planFindings, waitForReplica } from '@reservations/testkit';
import mysql, { type Pool, type PoolConnection, type RowDataPacket } from 'mysql2/promise';
import { createReservationReader } from '../src/stores/reservation-reader.ts';

const RESOURCES = 2000;
const RESERVATIONS = 50_000;
const DAY = 86_400_000;
/** The overlap checks' reads of the resource's reservations (`c`, `s`; the 409's `r`): a range of starts near the window. */
const WINDOW = { c: 'starts_at', s: 'starts_at', r: 'starts_at' };
/** The index those reads name (`NEAR_WINDOW`), which holds every column they test: they never read a row. */
const NEAR = 'reservations_resource_window';

let primary: Pool;
let replica: Pool;
let seeded: SeedReport;
const reader = createReservationReader();
// reservation-api's defaults: a day at most per window, a year ahead, 5 holds.
const store = createReservationStore({
  holdTtlMs: 600_000,
  policy: { maxDurationMinutes: 1440, horizonDays: 365, clockSkewSeconds: 60 },
  maxActiveHolds: 5,
});

beforeAll(async () => {
  const db = await freshDatabase('qry_plans');
  await db.migrate();
  seeded = await seedDatabase(db.primaryUrl, { resources: RESOURCES, reservations: RESERVATIONS, now: new Date() });
  await waitForReplica({
    MYSQL_PRIMARY_ADMIN_URL: harnessEnv('MYSQL_PRIMARY_ADMIN_URL'),
    MYSQL_REPLICA_ADMIN_URL: harnessEnv('MYSQL_REPLICA_ADMIN_URL'),
  });
  // As the services' pools: the write side sends a write and its read-back in one round trip.
  const pool = (uri: string) => mysql.createPool({ uri, timezone: 'Z', connectionLimit: 2, multipleStatements: true });
  [primary, replica] = [pool(db.primaryUrl), pool(db.replicaUrl)];
}, 120_000);

afterAll(async () => {
  await Promise.all([primary?.end(), replica?.end()]);
});

interface Expected {
  /** Table alias → the index its read must use (or one of them). */
  uses: Record<string, string | string[]>;
  /** At most this many rows estimated for any read of a table. */
  maxRows?: number;
  /**
   * Table alias → the index column its read must seek a range on. The estimate alone cannot tell:
   * MariaDB estimates a `ref` on `resource_id` from the average resource, and that ref reads every
   * reservation of a hot one.
   */
  seeks?: Record<string, string>;
  /** The statements' LIMIT: an index read in order that stops there is no scan (planFindings). */
  limit?: number;
  /** Table aliases read from the index alone, without looking up each entry's row. */
  covered?: string[];
}

/** Everything wrong with the statements' plans, each naming its statement: [] when all is well. */
function problems(statements: ExplainedStatement[], expected: Expected): string[] {
  const found: string[] = [];
  if (statements.length === 0) found.push('no statement was explained');
  for (const { sql, plan } of statements) {
    for (const finding of planFindings(plan, { limit: expected.limit })) found.push(`${finding}: ${sql}`);
    for (const a of plan.accesses) {
      if (expected.maxRows !== undefined && a.rows > expected.maxRows) {
        found.push(`${a.table} reads ~${a.rows} rows through ${a.key} (at most ${expected.maxRows}): ${sql}`);
      }
    }
  }
  for (const [table, column] of Object.entries(expected.seeks ?? {})) {
    for (const a of statements.flatMap((st) => st.plan.accesses.filter((x) => x.table === table))) {
      if (a.access !== 'range' || !a.keyParts.includes(column)) {
        found.push(`${table} read by ${a.access} on ${a.key}(${a.keyParts.join(', ')}), not a range on ${column}`);
      }
    }
  }
  for (const table of expected.covered ?? []) {
    for (const a of statements.flatMap((st) => st.plan.accesses.filter((x) => x.table === table))) {
      if (!a.indexOnly) found.push(`${table} read through ${a.key} and then each entry's row, not from the index alone`);
    }
  }
  for (const [table, keys] of Object.entries(expected.uses)) {
    const reads = statements.flatMap((s) => s.plan.accesses.filter((a) => a.table === table));
    if (reads.length === 0 || !reads.every((a) => a.key !== null && [keys].flat().includes(a.key))) {
      found.push(`${table} read through ${JSON.stringify(reads.map((a) => a.key))}, not ${[keys].flat().join(' or ')}`);
    }
  }
  return found;
}

/** The reads, on the replica as query-api reads. */
async function explainReads<T>(read: (pool: Pool) => Promise<T>): Promise<{ result: T; statements: ExplainedStatement[] }> {
  const statements: ExplainedStatement[] = [];
  const result = await read(explaining(replica, statements));
  return { result, statements };
}

/** A command's transaction, on the primary as reservation-api runs it. */
async function explainCommand<T>(command: (conn: PoolConnection) => Promise<T>, statements: ExplainedStatement[] = []) {
  const conn = await primary.getConnection();
  try {
    await conn.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED');
    await conn.beginTransaction();
    const result = await command(explaining(conn, statements));
    await conn.commit();
    return { result, statements };
  } catch (err) {
    await conn.rollback();
    throw err;
  } finally {
    conn.release();
  }
}

/** A free 5-minute window on the resource, the day after tomorrow or later (the test's own SQL). */
async function freeSlot(resourceId: string): Promise<{ start: Date; end: Date }> {
  const [[row]] = await primary.query<RowDataPacket[]>(
    `SELECT a.ends_at FROM reservations a WHERE a.resource_id = ? AND a.starts_at > NOW(3) + INTERVAL 2 DAY
       AND NOT EXISTS (SELECT 1 FROM reservations b WHERE b.resource_id = a.resource_id
                       AND b.starts_at < a.ends_at + INTERVAL 5 MINUTE AND b.ends_at > a.ends_at)
     ORDER BY a.starts_at LIMIT 1`,
    [resourceId],
  );
  if (!row) throw new Error(`resource ${resourceId} has no free 5 minutes after its reservations`);
  const start = row.ends_at as Date;
  return { start, end: new Date(start.getTime() + 5 * 60_000) };
}

const customer = (id: string): Principal => ({ id, role: 'customer' });
const hot = () => seeded.hot[0] ?? { id: '', providerId: '' };
/** A day of the hot resource, in the future: the seed's busiest resource has dozens of reservations on it. */
const busyDay = () => {
  const start = new Date(Math.floor(Date.now() / DAY) * DAY + 3 * DAY);
  return { start, end: new Date(start.getTime() + DAY) };
};

describe('query plans of the booking paths, on seeded data', () => {
  it('the data is what the plans are judged on: a hot resource with thousands of reservations, and a cold one', async () => {
    const [[counts]] = await primary.query<RowDataPacket[]>(
      'SELECT (SELECT COUNT(*) FROM reservations) AS total, (SELECT COUNT(*) FROM reservations WHERE resource_id = ?) AS hot, (SELECT COUNT(*) FROM reservations WHERE resource_id = ?) AS cold',
      [hot().id, seeded.cold.id],
    );
    expect(Number(counts?.total)).toBe(RESERVATIONS);
    expect(Number(counts?.hot)).toBeGreaterThan(1000);
    expect(Number(counts?.cold)).toBeLessThan(50);
  });

  const listCases: [string, Parameters<typeof reader.list>[1], string][] = [
    ['a customer', { customerId: customerId(0), limit: 20 }, 'reservations_customer_time'],
    ['a provider', { providerId: 'provider-0000', limit: 20 }, 'reservations_provider_time'],
    ['the admin (no filter)', { limit: 20 }, 'reservations_time'],
    ['the admin, by status', { status: 'held', limit: 20 }, 'reservations_status_time'],
    ['a resource', { resourceId: '', limit: 20 }, 'reservations_resource_start'],
  ];
  it.each(listCases)('the list of %s, its first page and a cursor page deep in it, in the index order', async (_, raw, index) => {
    const filter = raw.resourceId === '' ? { ...raw, resourceId: hot().id } : raw;
    const first = await explainReads((pool) => reader.list(pool, filter));
    expect(first.result.items).toHaveLength(20);
    expect(problems(first.statements, { uses: { r: index }, limit: 21 })).toEqual([]);
    // Five pages on, through the cursors the API hands out.
    let next = first.result.next;
    for (let page = 0; page < 5 && next; page++) next = (await reader.list(replica, { ...filter, after: next })).next;
    if (!next) throw new Error('the list ended before its sixth page');
    const deep = await explainReads((pool) => reader.list(pool, { ...filter, after: next }));
    expect(deep.result.items).toHaveLength(20);
    expect(problems(deep.statements, { uses: { r: index }, limit: 21 })).toEqual([]);
  });

  it('one reservation by id, and a resource, by their primary keys', async () => {
    const [[one]] = await primary.query<RowDataPacket[]>('SELECT id FROM reservations WHERE resource_id = ? LIMIT 1', [hot().id]);
    const byId = await explainReads((pool) => reader.byId(pool, String(one?.id)));
    expect(byId.result?.fields.providerId).toBe(hot().providerId);
    expect(problems(byId.statements, { uses: { r: 'PRIMARY', s: 'PRIMARY' } })).toEqual([]);
  });

  it('availability of the hot resource for a busy day and for a month reads only the reservations near the window, from the index alone', async () => {
    const day = busyDay();
    const resource = await explainReads((pool) => reader.resource(pool, hot().id));
    expect(resource.result?.id).toBe(hot().id);
    const takenDay = await explainReads((pool) => reader.taken(pool, hot().id, day));
    expect(takenDay.result.length).toBeGreaterThan(2);
    expect(
      problems([...resource.statements, ...takenDay.statements], {
        uses: { r: NEAR },
        seeks: { r: 'starts_at' },
        maxRows: 200,
        covered: ['r'],
      }),
    ).toEqual([]);
    const month = { start: day.start, end: new Date(day.start.getTime() + 31 * DAY) };
    const takenMonth = await explainReads((pool) => reader.taken(pool, hot().id, month));
    expect(takenMonth.result.length).toBeGreaterThan(60);
    expect(
      problems(takenMonth.statements, {
        uses: { r: NEAR },
        seeks: { r: 'starts_at' },
        maxRows: takenMonth.result.length * 3,
        covered: ['r'],
      }),
    ).toEqual([]);
  });

  it('a booking on the hot resource, a cold one and the busiest of capacity 2: the overlap checks read the window’s neighbourhood only, from the index alone', async () => {
    const [[shared]] = await primary.query<RowDataPacket[]>(
      `SELECT r.resource_id AS id, COUNT(*) AS n FROM reservations r JOIN resources s ON s.id = r.resource_id
       WHERE s.capacity = 2 GROUP BY r.resource_id ORDER BY n DESC LIMIT 1`,
    );
    expect(Number(shared?.n)).toBeGreaterThan(100);
    // Capacity 1 asks whether anything overlaps (`c`); more, the peak overlap (`c` at each start of `s`).
    const cases: [{ id: string }, Record<string, string>][] = [
      [hot(), { c: NEAR }],
      [seeded.cold, { c: NEAR }],
      [{ id: String(shared?.id) }, { c: NEAR, s: NEAR }],
    ];
    for (const [resource, uses] of cases) {
      const window = await freeSlot(resource.id);
      const { result, statements } = await explainCommand((conn) =>
        store.create(conn, { resourceId: resource.id, customerId: 'plans-booker', window, hold: false, notes: null }),
      );
      expect(result.reservation).toMatchObject({ resourceId: resource.id, status: 'confirmed', startsAt: window.start.toISOString() });
      expect(problems(statements, { uses, seeks: WINDOW, maxRows: 200, covered: Object.keys(uses) })).toEqual([]);
    }
  });

  it('a hold, its confirmation, a cancel and a reschedule; a refused booking and a refused hold', async () => {
    const holder = 'plans-holder';
    const window = await freeSlot(hot().id);
    const hold = await explainCommand((conn) =>
      store.create(conn, { resourceId: hot().id, customerId: holder, window, hold: true, notes: null }),
    );
    expect(hold.result.reservation.status).toBe('held');
    expect(
      problems(hold.statements, {
        uses: { h: 'reservations_customer_holds', c: NEAR },
        seeks: WINDOW,
        maxRows: 200,
        covered: ['c'],
      }),
    ).toEqual([]);
    const id = hold.result.reservation.id;
    const confirm = await explainCommand((conn) => store.confirm(conn, customer(holder), id));
    expect(confirm.result.reservation.status).toBe('confirmed');
    expect(problems(confirm.statements, { uses: { reservations: 'PRIMARY', resources: 'PRIMARY' } })).toEqual([]);

    const later = { start: new Date(window.start.getTime() + 60_000), end: window.end };
    const moved = await explainCommand((conn) =>
      store.reschedule(conn, customer(holder), id, confirm.result.reservation.version, { start: later.start }),
    );
    expect(moved.result.reservation.startsAt).toBe(later.start.toISOString());
    expect(problems(moved.statements, { uses: { c: NEAR }, seeks: WINDOW, maxRows: 200, covered: ['c'] })).toEqual([]);

    // The same window again: the conditional INSERT writes nothing and the 409 names what is in the way.
    for (const asHold of [false, true]) {
      const statements: ExplainedStatement[] = [];
      const refused = explainCommand(
        (conn) => store.create(conn, { resourceId: hot().id, customerId: 'plans-other', window: later, hold: asHold, notes: null }),
        statements,
      );
      await expect(refused).rejects.toMatchObject({ code: 'slot-unavailable' });
      const uses: Record<string, string> = asHold ? { r: NEAR, h: 'reservations_customer_holds' } : { r: NEAR };
      expect(problems(statements, { uses, seeks: WINDOW, maxRows: 200, covered: ['r'] })).toEqual([]);
    }

    const cancel = await explainCommand((conn) => store.cancel(conn, customer(holder), id));
    expect(cancel.result.reservation.status).toBe('cancelled');
    expect(problems(cancel.statements, { uses: { reservations: 'PRIMARY' } })).toEqual([]);
  });
});
