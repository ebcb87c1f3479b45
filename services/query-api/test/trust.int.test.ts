import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BOOKING_CACHE_PREFIX } from '@reservations/contracts';
import { BOOKING_SIGNING_KEYS, book, createResource } from '@reservations/reservation-api/testing';
import { SigningKeys, signConsistencyToken } from '@reservations/service-kit';
import { harnessEnv, runDir, startRedis, waitForReplica, waitUntil } from '@reservations/testkit';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { bearer, bothApps } from './support/apps.ts';

/**
 * What query-api takes from outside its own process and does not trust without the services'
 * MAC: the consistency token a client sends back, and the cache entries in Redis, whose ids
 * decide who may read a reservation.
 */

const replicated = () =>
  waitForReplica({
    MYSQL_PRIMARY_ADMIN_URL: harnessEnv('MYSQL_PRIMARY_ADMIN_URL'),
    MYSQL_REPLICA_ADMIN_URL: harnessEnv('MYSQL_REPLICA_ADMIN_URL'),
  });

const alice = bearer('customer', 'alice');
const mallory = bearer('customer', 'mallory');
const keys = new SigningKeys(BOOKING_SIGNING_KEYS);

describe('consistency tokens and cache entries', () => {
  let writer: FastifyInstance;
  let reader: FastifyInstance;
  let registry: Registry;
  let resourceId: string;
  let aliceBooking: { id: string; token: string };

  beforeAll(async () => {
    ({ writer, reader, registry } = await bothApps('qry_trust'));
    resourceId = await createResource(writer, { capacity: 10 });
    const created = await book(writer, resourceId, '2030-07-01T10:00:00Z', '2030-07-01T11:00:00Z', { customer: 'alice' });
    aliceBooking = { id: created.json().id, token: created.headers['x-consistency-token'] as string };
    await replicated();
  });
  afterAll(async () => {
    await Promise.all([writer?.close(), reader?.close()]);
  });

  const read = (id: string, headers: Record<string, string>) => reader.inject({ method: 'GET', url: `/v1/reservations/${id}`, headers });
  const counter = async (name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(await registry.metrics())?.[1] ?? 0);

  it("the token a write returns reads that write for its principal, and for no one else's", async () => {
    expect(aliceBooking.token).toMatch(/^\d+-\d+-\d+\.\d+\.[A-Za-z0-9_-]{43}$/);
    const own = await read(aliceBooking.id, { ...alice, 'x-consistency-token': aliceBooking.token });
    expect(own.statusCode).toBe(200);
    // An admin may read alice's reservation, but not with her token.
    const borrowed = await read(aliceBooking.id, { ...bearer('admin', 'root'), 'x-consistency-token': aliceBooking.token });
    expect(borrowed.statusCode).toBe(400);
  });

  const gtid = () => aliceBooking.token.split('.')[0] as string;
  it.each([
    ['the bare GTID (what an unsigned token looked like)', () => gtid(), 'is not a consistency token'],
    [
      'a token with its GTID raised',
      () => aliceBooking.token.replace(/^(\d+-\d+-)(\d+)/, (_m, p, n) => `${p}${Number(n) + 1000}`),
      'issued to you',
    ],
    [
      "another principal's token",
      () => signConsistencyToken(keys, { gtid: gtid(), principal: { id: 'bob', role: 'customer' }, ttlSeconds: 600 }),
      'issued to you',
    ],
    [
      'a token that expired an hour ago',
      () =>
        signConsistencyToken(keys, {
          gtid: gtid(),
          principal: { id: 'alice', role: 'customer' },
          ttlSeconds: 60,
          now: Date.now() - 3_600_000,
        }),
      'expired at',
    ],
    [
      'a token signed with a key the services do not have',
      () =>
        signConsistencyToken(new SigningKeys('x'.repeat(40)), {
          gtid: gtid(),
          principal: { id: 'alice', role: 'customer' },
          ttlSeconds: 600,
        }),
      'issued to you',
    ],
  ])('%s is a 400 naming the header, before any wait', async (_what, make, message) => {
    const waitsBefore = /consistent_reads_total\{source="(replica|primary)"\} (\d+)/g;
    const before = [...(await registry.metrics()).matchAll(waitsBefore)].map((m) => m[0]);
    const response = await read(aliceBooking.id, { ...alice, 'x-consistency-token': make() });
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    const problem = response.json();
    expect(problem.type).toBe('https://reservations.dev/problems/validation-failed');
    expect(problem.errors).toEqual([{ field: 'headers/x-consistency-token', message: expect.stringContaining(message) }]);
    expect([...(await registry.metrics()).matchAll(waitsBefore)].map((m) => m[0])).toEqual(before);
  });

  it("a forged entry in Redis grants nothing: mallory writing herself into alice's entry still gets a 404", async () => {
    const key = `${BOOKING_CACHE_PREFIX}${aliceBooking.id}`;
    const rejected = await counter('cache_entries_rejected_total');
    const body = JSON.stringify({ ...(await read(aliceBooking.id, alice)).json(), customerId: 'mallory', version: 999 });
    // Straight into the real Redis, as anyone with write access to it could.
    await reader.redis.hset(key, { version: '999', body, customerId: 'mallory', providerId: 'provider-1', mac: 'A'.repeat(43) });
    await waitUntil('the reader drops its own copy', async () => {
      const response = await read(aliceBooking.id, mallory);
      if (response.statusCode !== 404) throw new Error(`mallory got ${response.statusCode}: ${response.body}`);
      return true;
    });
    expect(await counter('cache_entries_rejected_total')).toBeGreaterThan(rejected);
    // The forged entry is gone; alice reads her own, as the database has it.
    const hers = await read(aliceBooking.id, alice);
    expect(hers.json()).toMatchObject({ customerId: 'alice', version: 1 });
  });

  it('an entry with no MAC (written by hand, or by a build that did not sign) grants nothing and is replaced by a signed one', async () => {
    const key = `${BOOKING_CACHE_PREFIX}${aliceBooking.id}`;
    const body = (await read(aliceBooking.id, alice)).body;
    await reader.redis.del(key);
    await reader.redis.hset(key, {
      version: '5000',
      body: body.replace('"alice"', '"mallory"'),
      customerId: 'mallory',
      providerId: 'provider-1',
    });
    await waitUntil('the unsigned entry is refused', async () => {
      const response = await read(aliceBooking.id, mallory);
      if (response.statusCode !== 404) throw new Error(`mallory got ${response.statusCode}: ${response.body}`);
      return true;
    });
    await waitUntil('a signed entry replaces it', async () => {
      await read(aliceBooking.id, alice);
      const entry = await reader.redis.hgetall(key);
      if (entry.version !== '1' || !entry.mac) throw new Error(`the entry is ${JSON.stringify(entry)}`);
      return true;
    });
  });

  it("a genuine entry moved under another reservation's key is refused too (the MAC names the key)", async () => {
    const own = await book(writer, resourceId, '2030-07-02T10:00:00Z', '2030-07-02T11:00:00Z', { customer: 'mallory' });
    const malloryId = own.json().id as string;
    await replicated();
    expect((await read(malloryId, mallory)).statusCode).toBe(200);
    const genuine = await reader.redis.hgetall(`${BOOKING_CACHE_PREFIX}${malloryId}`);
    expect(genuine.mac).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await reader.redis.hset(`${BOOKING_CACHE_PREFIX}${aliceBooking.id}`, { ...genuine, version: '1000' });
    await waitUntil('the moved entry is refused', async () => {
      const response = await read(aliceBooking.id, mallory);
      if (response.statusCode !== 404) throw new Error(`mallory got ${response.statusCode}: ${response.body}`);
      return true;
    });
    expect((await read(aliceBooking.id, alice)).json()).toMatchObject({ id: aliceBooking.id, customerId: 'alice' });
  });
});

describe('a publish that fails after the commit', () => {
  const dir = runDir('reservations-publish-');
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let writer: FastifyInstance;
  let reader: FastifyInstance;
  afterAll(async () => {
    await Promise.all([writer?.close(), reader?.close()]);
    for (const server of redis?.servers ?? []) await server.stop();
  });

  it('deletes the key, so readers go to the database instead of serving the old version until its TTL', async () => {
    redis = await startRedis(dir); // its own: this one is made to refuse writes
    ({ writer, reader } = await bothApps('qry_publish', { redis: redis.env.REDIS_URL }));
    const resource = await createResource(writer);
    const created = await book(writer, resource, '2030-07-03T10:00:00Z', '2030-07-03T11:00:00Z', { customer: 'alice' });
    const id = created.json().id as string;
    const key = `${BOOKING_CACHE_PREFIX}${id}`;
    expect(await writer.redis.hget(key, 'version')).toBe('1');

    // Full, refusing every write that needs memory (the publish's script); a DEL still frees memory and is allowed.
    await writer.redis.config('SET', 'maxmemory-policy', 'noeviction');
    await writer.redis.config('SET', 'maxmemory', '1');
    try {
      const cancelled = await writer.inject({ method: 'POST', url: `/v1/reservations/${id}/cancel`, headers: alice });
      expect(cancelled.statusCode).toBe(200);
      expect(await writer.redis.exists(key)).toBe(0);
    } finally {
      await writer.redis.config('SET', 'maxmemory', '0');
    }
    await replicated();
    expect((await read(reader, id)).json()).toMatchObject({ status: 'cancelled', version: 2 });
  });

  const read = (app: FastifyInstance, id: string) => app.inject({ method: 'GET', url: `/v1/reservations/${id}`, headers: alice });
});
