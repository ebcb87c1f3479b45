import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ADMIN, BOOKING_SIGNING_KEYS, book, createResource } from '@reservations/reservation-api/testing';
import { SigningKeys, signConsistencyToken } from '@reservations/service-kit';
import { harnessEnv, waitForReplica } from '@reservations/testkit';
import type { FastifyInstance } from 'fastify';
import { bearer, bothApps } from './support/apps.ts';

// Identities are JWT `sub` strings, compared exactly: a variant differing in case, accent or a
// trailing space is someone else, whether the answer comes from MySQL or from the cache.

let writer: FastifyInstance;
let reader: FastifyInstance;
let registry: import('prom-client').Registry;
const keys = new SigningKeys(BOOKING_SIGNING_KEYS);
const ids = {} as { alice: string; café: string; token: string };

beforeAll(async () => {
  ({ writer, reader, registry } = await bothApps('qry_identities'));
  const resource = await createResource(writer, { providerId: 'acme', timeZone: 'UTC', capacity: 1 });
  ids.alice = (await book(writer, resource, '2031-04-01T10:00:00Z', '2031-04-01T11:00:00Z', { customer: 'alice' })).json().id;
  const cafe = await book(writer, resource, '2031-04-01T12:00:00Z', '2031-04-01T13:00:00Z', { customer: 'café' });
  ids.café = cafe.json().id;
  ids.token = cafe.headers['x-consistency-token'] as string;
  await waitForReplica({
    MYSQL_PRIMARY_ADMIN_URL: harnessEnv('MYSQL_PRIMARY_ADMIN_URL'),
    MYSQL_REPLICA_ADMIN_URL: harnessEnv('MYSQL_REPLICA_ADMIN_URL'),
  });
});
afterAll(async () => {
  await Promise.all([writer?.close(), reader?.close()]);
});

const get = (url: string, headers: Record<string, string>) => reader.inject({ method: 'GET', url, headers });
const listed = async (headers: Record<string, string>, query = '') =>
  (await get(`/v1/reservations${query}`, headers)).json<{ items: { id: string }[] }>().items.map((r) => r.id);

/** Hits of both cache layers (process memory and Redis). */
const cacheHits = async () =>
  [...(await registry.metrics()).matchAll(/cache_lookups_total\{result="hit"\} (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);

describe('exact identities', () => {
  it.each([
    ['customer', 'Alice', []],
    ['customer', 'ALICE', []],
    ['customer', 'alice ', []],
    ['customer', 'cafe', []],
    ['customer', 'alice', ['alice']],
    ['customer', 'café', ['café']],
    ['provider', 'ACME', []],
    ['provider', 'acmé', []],
    ['provider', 'acme', ['alice', 'café']],
  ] as const)('%s %j lists exactly its own reservations', async (role, who, expected) => {
    expect(await listed(bearer(role, who))).toEqual(expected.map((k) => ids[k]));
  });

  it('a filter on customerId is exact too', async () => {
    expect(await listed(ADMIN, '?customerId=Alice')).toEqual([]);
    expect(await listed(ADMIN, '?customerId=cafe')).toEqual([]);
    expect(await listed(ADMIN, `?customerId=${encodeURIComponent('café')}`)).toEqual([ids.café]);
    expect((await get('/v1/reservations?customerId=alice', bearer('customer', 'Alice'))).statusCode).toBe(403);
  });

  it.each([
    ['customer', 'Alice', 'alice'],
    ['customer', 'alice ', 'alice'],
    ['customer', 'cafe', 'café'],
    ['provider', 'ACME', 'alice'],
    ['provider', 'Acme', 'café'],
  ] as const)(
    '%s %j reads %s’s reservation and its events as anyone else’s: 404, from the cache and from MySQL',
    async (role, who, whose) => {
      const id = ids[whose];
      // The owner's read leaves the entry (with its customerId and providerId) in the cache.
      expect((await get(`/v1/reservations/${id}`, ADMIN)).statusCode).toBe(200);
      const hits = await cacheHits();
      const cached = await get(`/v1/reservations/${id}`, bearer(role, who));
      expect(cached.statusCode).toBe(404);
      expect(cached.json().type).toMatch(/\/reservation-not-found$/);
      expect(await cacheHits()).toBeGreaterThan(hits);
      // A consistency token (their own, for the same write) skips the cache: the access decision is on the row.
      const [gtid] = ids.token.split('.');
      const token = signConsistencyToken(keys, { gtid: gtid as string, principal: { id: who, role }, ttlSeconds: 600 });
      const fromDb = await get(`/v1/reservations/${id}`, { ...bearer(role, who), 'x-consistency-token': token });
      expect(fromDb.statusCode).toBe(404);
      expect((await get(`/v1/reservations/${id}/events`, bearer(role, who))).statusCode).toBe(404);
    },
  );

  it('a reservation id is exact: its upper-case spelling is no reservation (404)', async () => {
    expect((await get(`/v1/reservations/${ids.alice.toUpperCase()}`, ADMIN)).statusCode).toBe(404);
  });
});
