import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BOOKING_CACHE_PREFIX, cachedBooking } from '@reservations/contracts';
import { migrateToLatest } from '@reservations/database';
import { BOOKING_SIGNING_KEYS, book, createResource } from '@reservations/reservation-api/testing';
import { SigningKeys, signConsistencyToken } from '@reservations/service-kit';
import {
  harnessEnv,
  type MariaDbEnv,
  runDir,
  type Server,
  setReplicaDelay,
  startMariaDbPair,
  stopServers,
  waitForReplica,
} from '@reservations/testkit';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { bearer, bothApps, queryApp } from './support/apps.ts';

// A MariaDB pair of its own: delaying the shared replica would slow every other test file.
let servers: Server[] = [];
let env: MariaDbEnv;
let writer: FastifyInstance;
let reader: FastifyInstance;
let registry: Registry;
// Far longer than the test needs, so "the replica is behind" holds even on a slow machine; it is reset before the end.
const DELAY_SECONDS = 10;

beforeAll(async () => {
  const pair = await startMariaDbPair(runDir());
  servers = pair.servers;
  env = pair.env;
  await migrateToLatest(env.MYSQL_PRIMARY_URL);
  ({ writer, reader, registry } = await bothApps('unused', {
    primary: env.MYSQL_PRIMARY_URL,
    replica: env.MYSQL_REPLICA_URL,
    redis: harnessEnv('REDIS_URL'),
  }));
  await waitForReplica(env);
  await setReplicaDelay(env.MYSQL_REPLICA_ADMIN_URL, DELAY_SECONDS);
}, 120_000);

afterAll(async () => {
  await Promise.all([writer?.close(), reader?.close()]);
  await stopServers(servers);
});

const alice = bearer('customer', 'alice');
const read = (id: string, token?: string) =>
  reader.inject({
    method: 'GET',
    url: `/v1/reservations/${id}`,
    headers: { ...alice, ...(token ? { 'x-consistency-token': token } : {}) },
  });

describe('read-your-writes with the replica 10 s behind', () => {
  it('a create, then a cancel, are visible on the very next read, with the token and through the cache', async () => {
    const resource = await createResource(writer);
    const created = await book(writer, resource, '2030-05-01T10:00:00Z', '2030-05-01T11:00:00Z', { customer: 'alice' });
    expect(created.statusCode).toBe(201);
    const id = created.json().id;
    const token = created.headers['x-consistency-token'] as string;
    expect(token).toMatch(/^\d+-\d+-\d+\.\d+\.[A-Za-z0-9_-]{43}$/);

    // The replica really is behind: a read that can only use it finds nothing yet.
    await reader.redis.del(`${BOOKING_CACHE_PREFIX}${id}`);
    const [[lagging]] = (await reader.dbs.replica.query('SELECT COUNT(*) AS n FROM reservations WHERE id = ?', [id])) as unknown as [
      { n: number }[],
    ];
    expect(Number(lagging?.n)).toBe(0);

    // With the token: the replica cannot reach the GTID in time, so the primary answers.
    const withToken = await read(id, token);
    expect(withToken.statusCode).toBe(200);
    expect(withToken.json()).toMatchObject({ id, status: 'confirmed', version: 1 });
    expect(await registry.metrics()).toMatch(/consistent_reads_total\{source="primary"\} 1/);

    // The cancel publishes version 2 to the cache; a read without a token sees it at once.
    const cancelled = await writer.inject({ method: 'POST', url: `/v1/reservations/${id}/cancel`, headers: alice });
    expect(cancelled.statusCode).toBe(200);
    const viaCache = await read(id);
    expect(viaCache.json()).toMatchObject({ status: 'cancelled', version: 2 });

    // A reader that fetched version 1 from somewhere stale cannot write it back over version 2.
    await reader.reservationCache.put(id, cachedBooking(withToken.json(), 'provider-1'));
    expect((await read(id)).json()).toMatchObject({ status: 'cancelled', version: 2 });

    // Once the replica has caught up, a token is served by the replica.
    await setReplicaDelay(env.MYSQL_REPLICA_ADMIN_URL, 0);
    await waitForReplica(env);
    const later = await read(id, cancelled.headers['x-consistency-token'] as string);
    expect(later.json()).toMatchObject({ status: 'cancelled', version: 2 });
    expect(await registry.metrics()).toMatch(/consistent_reads_total\{source="replica"\} 1/);
  });
});

describe('reads with a consistency token wait on a pool of their own', () => {
  it('past its queue they are a 503 with Retry-After, and reads without a token are not held up', async () => {
    const { app: small } = await queryApp({
      MYSQL_PRIMARY_URL: env.MYSQL_PRIMARY_URL,
      MYSQL_REPLICA_URL: env.MYSQL_REPLICA_URL,
      CONSISTENCY_WAIT_MS: 2000,
      CONSISTENCY_WAIT_POOL_SIZE: 1,
      CONSISTENCY_WAIT_QUEUE: 1,
    });
    try {
      await setReplicaDelay(env.MYSQL_REPLICA_ADMIN_URL, DELAY_SECONDS);
      const resource = await createResource(writer);
      const created = await book(writer, resource, '2030-06-01T10:00:00Z', '2030-06-01T11:00:00Z', { customer: 'alice' });
      const token = created.headers['x-consistency-token'] as string;
      const id = created.json().id;
      let pending = 5;
      const waiting = Array.from({ length: 5 }, () =>
        small
          .inject({ method: 'GET', url: `/v1/reservations/${id}`, headers: { ...alice, 'x-consistency-token': token } })
          .finally(() => pending--),
      );
      // The replica's own pool still serves a tokenless list while the waits hold theirs.
      const list = await small.inject({ method: 'GET', url: '/v1/reservations?limit=5', headers: alice });
      expect(list.statusCode).toBe(200);
      expect(pending).toBeGreaterThan(0);
      const answers = await Promise.all(waiting);
      // One waits on the pool's connection, one in its queue (both then read the primary); three are refused at once.
      expect(answers.map((a) => a.statusCode).sort()).toEqual([200, 200, 503, 503, 503]);
      const refused = answers.find((a) => a.statusCode === 503);
      expect(refused?.headers['retry-after']).toBe('1');
      expect(refused?.json()).toMatchObject({ type: 'https://reservations.dev/problems/overloaded', status: 503 });
    } finally {
      await setReplicaDelay(env.MYSQL_REPLICA_ADMIN_URL, 0);
      await small.close();
    }
  });
});

describe('a consistency token the primary has not reached', () => {
  // Signed with the services' key: a write on another database (a primary that lost
  // transactions in a failover, a misrouted writer) still names GTIDs this one never made.
  const keys = new SigningKeys(BOOKING_SIGNING_KEYS);
  it.each([
    ['far ahead in its domain', '0-1-999999999999'],
    ['of a domain the primary never wrote', '77-1-1'],
  ])('%s is a 400 naming the header, before any wait', async (_what, gtid) => {
    const token = signConsistencyToken(keys, { gtid, principal: { id: 'alice', role: 'customer' }, ttlSeconds: 600 });
    const response = await read('00000000-0000-4000-8000-000000000000', token);
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(response.json()).toMatchObject({
      type: 'https://reservations.dev/problems/validation-failed',
      errors: [{ field: 'headers/x-consistency-token', message: 'is ahead of the primary: no write has made it' }],
    });
    expect(await registry.metrics()).toMatch(/consistent_reads_total\{source="ahead"\} [1-9]/);
  });
});
