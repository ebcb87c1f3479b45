import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { waitUntil } from '@reservations/testkit';
import type { FastifyInstance } from 'fastify';
import mysql from 'mysql2/promise';
import type { Registry } from 'prom-client';
import { freshDatabase, testApp } from './support/app.ts';
import { book, createResource, tableCounts } from './support/fixtures.ts';

let primaryUrl: string;
let serviceUrl: string;
const apps: FastifyInstance[] = [];
beforeAll(async () => {
  const db = await freshDatabase('rsv_pool_bounds');
  await db.migrate();
  primaryUrl = db.primaryUrl;
  serviceUrl = db.as.reservationApi.primaryUrl;
});
afterAll(async () => {
  await Promise.all(apps.map((app) => app.close()));
});

async function app(overrides: Parameters<typeof testApp>[0]) {
  const built = await testApp({ MYSQL_PRIMARY_URL: serviceUrl, ...overrides });
  apps.push(built.app);
  return built;
}

const tomorrow = (hour: number) =>
  new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate() + 1, hour)).toISOString();

const waiting = async (registry: Registry) =>
  Number(/^mysql_pool_connections\{pool="primary",state="waiting"\} (\d+)/m.exec(await registry.metrics())?.[1] ?? 0);

function expectOverloaded(response: Awaited<ReturnType<FastifyInstance['inject']>>, detail: RegExp) {
  expect(response.statusCode).toBe(503);
  expect(response.headers['retry-after']).toBe('1');
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(response.json()).toMatchObject({
    type: 'https://reservations.dev/problems/overloaded',
    status: 503,
    detail: expect.stringMatching(detail),
  });
}

describe('bounded MySQL pools', () => {
  it('a request finding the queue full is a 503 problem with Retry-After at once, not a wait; the queued one is served', async () => {
    const { app: api, registry } = await app({ MYSQL_POOL_SIZE: 1, MYSQL_QUEUE_LIMIT: 1 });
    const resource = await createResource(api);
    // Every connection of the pool busy (here: its only one, taken for the test).
    const busy = await api.db.getConnection();
    let queued: ReturnType<typeof book> | undefined;
    try {
      queued = book(api, resource, tomorrow(9), tomorrow(10));
      await waitUntil('a request waits for a connection', async () => {
        const n = await waiting(registry);
        if (n !== 1) throw new Error(`${n} waiting`);
        return true;
      });
      const before = await tableCounts(primaryUrl);
      expectOverloaded(await book(api, resource, tomorrow(11), tomorrow(12)), /waiting for a database connection/);
      expect(await tableCounts(primaryUrl)).toEqual(before);
    } finally {
      busy.release();
    }
    expect((await queued).statusCode).toBe(201);
  });

  it('a statement past MYSQL_QUERY_TIMEOUT_MS is aborted by the server: 503 with Retry-After, nothing written, the pool still serves', async () => {
    const { app: api } = await app({ MYSQL_QUERY_TIMEOUT_MS: 500 });
    const resource = await createResource(api);
    // Another session holds the resource's row, which every booking locks first: the booking's statement waits.
    const holder = await mysql.createConnection(primaryUrl);
    try {
      await holder.query('START TRANSACTION');
      await holder.query('SELECT id FROM resources WHERE id = ? FOR UPDATE', [resource]);
      const before = await tableCounts(primaryUrl);
      expectOverloaded(await book(api, resource, tomorrow(13), tomorrow(14)), /did not answer in time/);
      expect(await tableCounts(primaryUrl)).toEqual(before);
      await holder.query('ROLLBACK');
    } finally {
      await holder.end();
    }
    expect((await book(api, resource, tomorrow(13), tomorrow(14))).statusCode).toBe(201);
  });
});

const inLane = async (registry: Registry) => Number(/^bookings_waiting_for_resource (\d+)/m.exec(await registry.metrics())?.[1] ?? 0);

/** Another session holding a resource's row, which every booking of it locks first: its bookings wait. */
async function holdResource(resource: string) {
  const holder = await mysql.createConnection(primaryUrl);
  await holder.query('START TRANSACTION');
  await holder.query('SELECT id FROM resources WHERE id = ? FOR UPDATE', [resource]);
  return {
    release: async () => {
      await holder.query('COMMIT');
      await holder.end();
    },
  };
}

describe("a resource's lane", () => {
  it("a hot resource's waiting bookings hold no connection: another resource books while they wait, then they all book", async () => {
    const { app: api, registry } = await app({ MYSQL_POOL_SIZE: 4, BOOKING_LANE_WIDTH: 2 });
    const [hot, other] = [await createResource(api), await createResource(api)];
    const lock = await holdResource(hot);
    const answered: number[] = [];
    let queued: Promise<number[]> | undefined;
    try {
      // Ten bookings of the hot resource, more than the pool's four connections: two in a
      // transaction waiting for the row, eight in its lane.
      queued = Promise.all(
        Array.from({ length: 10 }, async (_, i) => {
          const response = await book(api, hot, tomorrow(i), tomorrow(i + 1));
          answered.push(response.statusCode);
          return response.statusCode;
        }),
      );
      await waitUntil('eight bookings wait in the lane', async () => (await inLane(registry)) === 8);
      expect((await book(api, other, tomorrow(9), tomorrow(10))).statusCode).toBe(201);
      expect(answered).toEqual([]); // the hot resource's row was held all along
    } finally {
      await lock.release();
    }
    expect(await queued).toEqual(Array(10).fill(201));
    expect(await inLane(registry)).toBe(0);
  }, 90_000); // without the lane, the other booking waits for the lock's 50 s timeout

  it('a booking finding MYSQL_QUEUE_LIMIT others of its resource waiting is a 503 with Retry-After at once; nothing written', async () => {
    const { app: api, registry } = await app({ BOOKING_LANE_WIDTH: 1, MYSQL_QUEUE_LIMIT: 2 });
    const resource = await createResource(api);
    const lock = await holdResource(resource);
    let queued: Promise<Awaited<ReturnType<typeof book>>[]> | undefined;
    try {
      queued = Promise.all([14, 15, 16].map((hour) => book(api, resource, tomorrow(hour), tomorrow(hour + 1))));
      await waitUntil('two bookings wait in the lane', async () => (await inLane(registry)) === 2);
      const before = await tableCounts(primaryUrl);
      expectOverloaded(await book(api, resource, tomorrow(17), tomorrow(18)), /too many bookings of this resource are waiting/);
      expect(await tableCounts(primaryUrl)).toEqual(before);
    } finally {
      await lock.release();
    }
    expect((await queued).map((r) => r.statusCode)).toEqual([201, 201, 201]);
  });
});
