import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BOOKING_CACHE_PREFIX } from '@reservations/contracts';
import { createMysqlEventHistory } from '@reservations/database';
import { createEventProcessor, primaryPool } from '@reservations/notifier/testing';
import { ADMIN, book, createResource, toEnvelope } from '@reservations/reservation-api/testing';
import { harnessEnv, waitForReplica, waitUntil } from '@reservations/testkit';
import type { FastifyInstance } from 'fastify';
import type { RowDataPacket } from 'mysql2/promise';
import { bearer, bothApps } from './support/apps.ts';

let writer: FastifyInstance;
let reader: FastifyInstance;
let registry: import('prom-client').Registry;
let primary: string;
let resourceId: string;
const ids = {} as { a1: string; a2: string; b1: string };
let createdBody: string;

const replicated = () =>
  waitForReplica({
    MYSQL_PRIMARY_ADMIN_URL: harnessEnv('MYSQL_PRIMARY_ADMIN_URL'),
    MYSQL_REPLICA_ADMIN_URL: harnessEnv('MYSQL_REPLICA_ADMIN_URL'),
  });

beforeAll(async () => {
  ({ writer, reader, registry, primary } = await bothApps('qry_reads'));
  resourceId = await createResource(writer, { providerId: 'prov-a', timeZone: 'Europe/Paris', capacity: 1 });
  // Alice books 10:00–11:00 and 13:00–14:00 UTC on 2030-01-01, Bob 15:00–16:00.
  ids.a1 = (await book(writer, resourceId, '2030-01-01T10:00:00Z', '2030-01-01T11:00:00Z', { customer: 'alice' })).json().id;
  ids.a2 = (await book(writer, resourceId, '2030-01-01T13:00:00Z', '2030-01-01T14:00:00Z', { customer: 'alice' })).json().id;
  const bob = await book(writer, resourceId, '2030-01-01T15:00:00Z', '2030-01-01T16:00:00Z', { customer: 'bob' });
  ids.b1 = bob.json().id;
  createdBody = bob.body;
  await replicated();
});
afterAll(async () => {
  await Promise.all([writer?.close(), reader?.close()]);
});

const get = (url: string, headers: Record<string, string> = bearer('customer', 'alice')) => reader.inject({ method: 'GET', url, headers });

const counter = async (name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(await registry.metrics())?.[1] ?? 0);

/**
 * Deletes a reservation's Redis entry and waits until the reader's near cache has dropped it too.
 * Two reads first leave the key tracked for the reader whatever state it was in (a fill's own
 * write invalidates it, the read after it tracks it again), so the delete is sure to be reported.
 */
async function evict(id: string) {
  await get(`/v1/reservations/${id}`, ADMIN);
  await get(`/v1/reservations/${id}`, ADMIN);
  const before = await counter('near_cache_invalidations_total');
  await reader.redis.del(`${BOOKING_CACHE_PREFIX}${id}`);
  // The default wait: Redis's invalidation travels on another connection, late on a loaded machine.
  await waitUntil('the near cache hears of the delete', async () => (await counter('near_cache_invalidations_total')) > before);
}

describe('GET /v1/reservations/:id', () => {
  it.each([
    ['its customer', 200, bearer('customer', 'alice')],
    ['another customer', 404, bearer('customer', 'bob')],
    ['the provider of its resource', 200, bearer('provider', 'prov-a')],
    ['another provider', 404, bearer('provider', 'prov-b')],
    ['an admin', 200, ADMIN],
  ])('alice’s reservation read by %s → %i', async (_who, status, headers) => {
    expect((await get(`/v1/reservations/${ids.a1}`, headers)).statusCode).toBe(status);
  });

  it('without a token → 401', async () => {
    expect((await get(`/v1/reservations/${ids.a1}`, {})).statusCode).toBe(401);
  });

  it('serves from the cache after the first read, the same bytes the 201 had, and counts hits and misses', async () => {
    await evict(ids.b1);
    const first = await get(`/v1/reservations/${ids.b1}`, ADMIN);
    const second = await get(`/v1/reservations/${ids.b1}`, ADMIN);
    expect(first.body).toBe(createdBody);
    expect(second.body).toBe(createdBody);
    expect(second.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(second.headers.etag).toBe('"1"');
    const metrics = await registry.metrics();
    expect(metrics).toMatch(/cache_lookups_total\{result="hit"\} [1-9]/);
  });

  it('concurrent misses on one key make one database read (single flight)', async () => {
    await evict(ids.a1);
    const fills = async () => Number(/cache_fills_total\S* (\d+)/.exec(await registry.metrics())?.[1] ?? 0);
    const before = await fills();
    const responses = await Promise.all(Array.from({ length: 30 }, () => get(`/v1/reservations/${ids.a1}`, ADMIN)));
    expect(new Set(responses.map((r) => r.statusCode))).toEqual(new Set([200]));
    expect(new Set(responses.map((r) => r.body)).size).toBe(1);
    expect((await fills()) - before).toBe(1);
  });

  it('a repeated read is served from process memory, and a change made through reservation-api reaches it', async () => {
    // Dana's, on a resource of its own, so the listing tests below do not see it.
    const dana = bearer('customer', 'dana');
    const resource = await createResource(writer, { providerId: 'prov-d', timeZone: 'UTC', capacity: 1 });
    const id = (await book(writer, resource, '2030-01-03T10:00:00Z', '2030-01-03T11:00:00Z', { customer: 'dana' })).json().id;
    await get(`/v1/reservations/${id}`, dana);
    await get(`/v1/reservations/${id}`, dana);
    const hits = await counter('near_cache_lookups_total\\{result="hit"\\}');
    expect((await get(`/v1/reservations/${id}`, dana)).json()).toMatchObject({ status: 'confirmed', version: 1 });
    expect(await counter('near_cache_lookups_total\\{result="hit"\\}')).toBe(hits + 1);
    expect(await counter('near_cache_entries')).toBeGreaterThan(0);

    const cancelled = await writer.inject({ method: 'POST', url: `/v1/reservations/${id}/cancel`, headers: dana });
    expect(cancelled.statusCode).toBe(200);
    const read = async () => (await get(`/v1/reservations/${id}`, dana)).json();
    // The near cache drops the old version when Redis's invalidation arrives, a moment after the write.
    await waitUntil('the cancel is read without a token', async () => (await read()).status === 'cancelled');
    expect(await read()).toMatchObject({ status: 'cancelled', version: 2 });
  });

  it('a bad consistency token is a 400 naming the header', async () => {
    const response = await get(`/v1/reservations/${ids.a1}`, { ...bearer('customer', 'alice'), 'x-consistency-token': 'drop table' });
    expect(response.statusCode).toBe(400);
    expect(response.json().errors).toEqual([{ field: 'headers/x-consistency-token', message: 'is not a consistency token' }]);
  });
});

describe('GET /v1/reservations', () => {
  it('a customer sees only its own, oldest first, page by page with an opaque cursor', async () => {
    const page1 = await get('/v1/reservations?limit=1');
    expect(page1.statusCode).toBe(200);
    expect(page1.json().items.map((r: { id: string }) => r.id)).toEqual([ids.a1]);
    const page2 = await get(`/v1/reservations?limit=1&cursor=${page1.json().nextCursor}`);
    // The last page says so: no cursor to an empty page.
    expect(page2.json()).toMatchObject({ items: [{ id: ids.a2 }], nextCursor: null });
  });

  it('a customer asking for another customer → 403; a provider sees its resources; filters by time', async () => {
    expect((await get('/v1/reservations?customerId=bob')).statusCode).toBe(403);
    const provider = await get(`/v1/reservations?resourceId=${resourceId}`, bearer('provider', 'prov-a'));
    expect(provider.json().items).toHaveLength(3);
    expect((await get(`/v1/reservations?resourceId=${resourceId}`, bearer('provider', 'prov-b'))).json().items).toHaveLength(0);
    const window = await get(`/v1/reservations?from=2030-01-01T12:00:00Z&to=2030-01-01T15:30:00Z`, ADMIN);
    expect(window.json().items.map((r: { id: string }) => r.id)).toEqual([ids.a2, ids.b1]);
  });

  it.each([
    ['cursor=garbage', 'querystring/cursor'],
    ['limit=0', 'querystring/limit'],
    ['limit=abc', 'querystring/limit'],
    ['status=lost', 'querystring/status'],
    ['from=yesterday', 'querystring/from'],
    ['from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z', 'querystring/to'],
    ['colour=red', 'querystring/colour'],
  ])('?%s → 400 naming %s', async (query, field) => {
    const response = await get(`/v1/reservations?${query}`, ADMIN);
    expect(response.statusCode).toBe(400);
    expect(response.json().errors.map((e: { field: string }) => e.field)).toContain(field);
  });
});

describe('GET /v1/resources/:id/availability', () => {
  it('free windows in the resource’s time zone (Paris is UTC+1 in January)', async () => {
    const response = await get(`/v1/resources/${resourceId}/availability?from=2030-01-01T09:00:00Z&to=2030-01-01T17:00:00Z`);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      resourceId,
      timeZone: 'Europe/Paris',
      capacity: 1,
      free: [
        { startsAt: '2030-01-01T10:00:00.000+01:00', endsAt: '2030-01-01T11:00:00.000+01:00' },
        { startsAt: '2030-01-01T12:00:00.000+01:00', endsAt: '2030-01-01T14:00:00.000+01:00' },
        { startsAt: '2030-01-01T15:00:00.000+01:00', endsAt: '2030-01-01T16:00:00.000+01:00' },
        { startsAt: '2030-01-01T17:00:00.000+01:00', endsAt: '2030-01-01T18:00:00.000+01:00' },
      ],
    });
  });

  it('a range over 31 days or backwards is a 400; an unknown resource a 404', async () => {
    expect((await get(`/v1/resources/${resourceId}/availability?from=2030-01-01T00:00:00Z&to=2030-03-01T00:00:00Z`)).statusCode).toBe(400);
    expect((await get(`/v1/resources/${resourceId}/availability?from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z`)).statusCode).toBe(400);
    const unknown = await get(
      '/v1/resources/00000000-0000-4000-8000-000000000000/availability?from=2030-01-01T00:00:00Z&to=2030-01-02T00:00:00Z',
    );
    expect(unknown.statusCode).toBe(404);
  });
});

describe('GET /v1/reservations/:id/events', () => {
  it('lists the history the notifier recorded, in order, to those who may see it', async () => {
    await writer.inject({ method: 'POST', url: `/v1/reservations/${ids.a2}/cancel`, headers: bearer('customer', 'alice') });
    // The notifier's processor records the outbox events, as it does for a batch from SQS.
    const pool = primaryPool(primary, 2);
    const processor = createEventProcessor({ pool, history: createMysqlEventHistory(), leaseMs: 1000 });
    const [rows] = await pool.query<RowDataPacket[]>('SELECT * FROM outbox ORDER BY id');
    await processor.processBatch(rows.map((row) => toEnvelope(row as Parameters<typeof toEnvelope>[0])));
    await pool.end();
    await replicated();
    const events = await get(`/v1/reservations/${ids.a2}/events`, bearer('customer', 'alice'));
    expect(events.statusCode).toBe(200);
    expect(events.json().items.map((e: { type: string; version: number }) => [e.type, e.version])).toEqual([
      ['reservation.created', 1],
      ['reservation.cancelled', 2],
    ]);
    expect((await get(`/v1/reservations/${ids.a2}/events`, bearer('customer', 'bob'))).statusCode).toBe(404);
  });
});

describe('OpenAPI', () => {
  it('documents every route', async () => {
    const doc = await reader.inject({ method: 'GET', url: '/docs/json' });
    expect(Object.keys(doc.json().paths).sort()).toEqual([
      '/v1/reservations',
      '/v1/reservations/{id}',
      '/v1/reservations/{id}/events',
      '/v1/resources/{id}/availability',
    ]);
  });
});
