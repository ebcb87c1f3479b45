import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { runDir, startRedis, waitUntil } from '@reservations/testkit';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { freshDatabase, testApp } from './support/app.ts';
import { book, createResource, sql } from './support/fixtures.ts';

/**
 * The Idempotency-Key without its Redis lease: Redis stopped, then frozen (SIGSTOP). The lease is
 * skipped and counted; the key's row, written at COMMIT under its unique key, keeps every
 * guarantee: one reservation per key, every answer the first one's.
 */

// Redis of its own: stopping or freezing the harness's would fail every other test file running now.
const dir = runDir('reservations-idem-redis-');
let redis: Awaited<ReturnType<typeof startRedis>>;
let app: FastifyInstance;
let registry: Registry;
let db: Awaited<ReturnType<typeof freshDatabase>>;
let resource: string;

beforeAll(async () => {
  redis = await startRedis(dir);
  db = await freshDatabase('rsv_idem_redis');
  await db.migrate();
  ({ app, registry } = await testApp({
    MYSQL_PRIMARY_URL: db.primaryUrl,
    REDIS_URL: redis.env.REDIS_URL,
    REDIS_COMMAND_TIMEOUT_MS: 200,
    REDIS_BREAKER_RESET_MS: 500,
  }));
  resource = await createResource(app, { capacity: 100 });
}, 60_000);

afterAll(async () => {
  await app?.close();
  for (const server of redis?.servers ?? []) {
    try {
      process.kill(-server.pid, 'SIGCONT'); // a stopped process does not act on SIGTERM
    } catch {
      // already gone
    }
    await server.stop();
  }
});

const leases = async (result: string) =>
  Number(new RegExp(`^idempotency_leases_total\\{result="${result}"\\} (\\d+)`, 'm').exec(await registry.metrics())?.[1] ?? 0);
const at = (h: number) => new Date(Date.UTC(2032, 2, 1, h)).toISOString();
const reservationsAt = async (h: number) => sql(db.primaryUrl, 'SELECT id FROM reservations WHERE starts_at = ?', [new Date(at(h))]);

describe('Idempotency-Key while Redis is out', () => {
  it('uses the lease while Redis answers: a duplicate of an answered request is replayed without running', async () => {
    const first = await book(app, resource, at(1), at(2), { key: 'k-up' });
    expect(first.statusCode).toBe(201);
    const acquiredBefore = await leases('acquired');
    const replay = await book(app, resource, at(1), at(2), { key: 'k-up' });
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toBe(first.body);
    expect(await leases('done')).toBeGreaterThanOrEqual(1);
    expect(await leases('acquired')).toBe(acquiredBefore);
  });

  it('with Redis frozen, skips the lease after its timeout; concurrent duplicates still make one reservation and one answer', async () => {
    const server = redis.servers[0];
    if (!server) throw new Error('no redis server');
    process.kill(-server.pid, 'SIGSTOP');
    try {
      const skippedBefore = await leases('skipped');
      const responses = await Promise.all(Array.from({ length: 8 }, () => book(app, resource, at(3), at(4), { key: 'k-frozen' })));
      expect(responses.map((r) => r.statusCode)).toEqual(Array(8).fill(201));
      expect(new Set(responses.map((r) => r.body)).size).toBe(1);
      // The first to commit wrote the key; the others ran, met its row at COMMIT, rolled back and replayed it.
      expect(responses.filter((r) => r.headers['idempotent-replayed'] === 'true')).toHaveLength(7);
      expect(await reservationsAt(3)).toHaveLength(1);
      expect(
        await sql(db.primaryUrl, "SELECT id FROM outbox WHERE type = 'reservation.created' AND aggregate_id = ?", [
          responses[0]?.json().id,
        ]),
      ).toHaveLength(1);
      expect(await leases('skipped')).toBeGreaterThanOrEqual(skippedBefore + 8);
    } finally {
      process.kill(-server.pid, 'SIGCONT');
    }
  });

  it('with Redis stopped, books and replays from the database; once Redis is back, leases are taken again', async () => {
    const server = redis.servers[0];
    if (!server) throw new Error('no redis server');
    await server.stop();
    const first = await book(app, resource, at(5), at(6), { key: 'k-down' });
    expect(first.statusCode).toBe(201);
    const retry = await book(app, resource, at(5), at(6), { key: 'k-down' });
    expect(retry.statusCode).toBe(201);
    expect(retry.body).toBe(first.body);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    const other = await book(app, resource, at(7), at(8), { key: 'k-down' });
    expect(other.statusCode).toBe(422);
    expect(await reservationsAt(5)).toHaveLength(1);
    expect(await reservationsAt(7)).toHaveLength(0);

    redis = await startRedis(dir, { port: Number(new URL(redis.env.REDIS_URL).port) });
    const acquiredBefore = await leases('acquired');
    let n = 0;
    await waitUntil(
      'a lease taken again once Redis is back',
      async () => {
        const booked = await book(app, resource, at(9), at(10), { key: `k-back-${n++}`, customer: `c-${n}` });
        if (booked.statusCode !== 201) throw new Error(`booking answered ${booked.statusCode}: ${booked.body}`);
        return (await leases('acquired')) > acquiredBefore;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
  });
});
