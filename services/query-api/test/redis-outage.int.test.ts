import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CONSISTENCY_HEADER } from '@reservations/contracts';
import { ADMIN, book, createResource } from '@reservations/reservation-api/testing';
import { harnessEnv, runDir, startRedis, waitForReplica, waitUntil } from '@reservations/testkit';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { bearer, bothApps } from './support/apps.ts';

// Redis of its own: stopping or freezing the harness's would fail every other test file running now.
const dir = runDir('reservations-redis-outage-');
let redis: Awaited<ReturnType<typeof startRedis>>;
let writer: FastifyInstance;
let reader: FastifyInstance;
let readerMetrics: Registry;
let writerMetrics: Registry;
let resourceId: string;

// Short, so the breakers judge and retry within a test; the commands' timeout bounds each call. The
// statement timeout well above its default: this test is about Redis, not a database a loaded
// machine starves (whose 503 is pool-bounds.int.test.ts's subject).
const REDIS = { REDIS_COMMAND_TIMEOUT_MS: 200, REDIS_BREAKER_RESET_MS: 500, MYSQL_QUERY_TIMEOUT_MS: 60_000 };

beforeAll(async () => {
  redis = await startRedis(dir);
  ({
    writer,
    reader,
    registry: readerMetrics,
    writerRegistry: writerMetrics,
  } = await bothApps('qry_redis_outage', { redis: redis.env.REDIS_URL }, { writer: REDIS, reader: REDIS }));
  resourceId = await createResource(writer, { providerId: 'prov-outage', capacity: 10_000 });
}, 60_000);

afterAll(async () => {
  await Promise.all([writer?.close(), reader?.close()]);
  for (const server of redis?.servers ?? []) {
    try {
      process.kill(-server.pid, 'SIGCONT'); // a stopped process does not act on SIGTERM
    } catch {
      // already gone
    }
    await server.stop();
  }
});

const replicated = () =>
  waitForReplica({
    MYSQL_PRIMARY_ADMIN_URL: harnessEnv('MYSQL_PRIMARY_ADMIN_URL'),
    MYSQL_REPLICA_ADMIN_URL: harnessEnv('MYSQL_REPLICA_ADMIN_URL'),
  });

const metric = async (registry: Registry, line: string) =>
  Number(new RegExp(`^${line.replace(/[{}"]/g, '\\$&')} (\\d+)`, 'm').exec(await registry.metrics())?.[1] ?? 0);

let slot = 0;
/** A window of its own for each booking (the resource's capacity is large anyway), a day from now. */
function window() {
  const start = Date.now() + 86_400_000 + slot++ * 60_000;
  return [new Date(start).toISOString(), new Date(start + 30 * 60_000).toISOString()] as const;
}

const versionOf = (body: string) => (JSON.parse(body) as { version: number }).version;

/** The last version each reservation was given by a write, as the writer answered it. */
const latest = new Map<string, number>();

async function hold(): Promise<{ id: string; token: string }> {
  const [startsAt, endsAt] = window();
  const created = await book(writer, resourceId, startsAt, endsAt, { customer: 'cust-outage', hold: true });
  if (created.statusCode !== 201) throw new Error(`booking answered ${created.statusCode}: ${created.body}`);
  latest.set(created.json().id, versionOf(created.body));
  return { id: created.json().id, token: String(created.headers[CONSISTENCY_HEADER]) };
}

async function confirm(id: string) {
  const confirmed = await writer.inject({ method: 'POST', url: `/v1/reservations/${id}/confirm`, headers: ADMIN });
  if (confirmed.statusCode !== 200) throw new Error(`confirm answered ${confirmed.statusCode}: ${confirmed.body}`);
  latest.set(id, versionOf(confirmed.body));
  return confirmed;
}

const read = (id: string, token?: string) =>
  reader.inject({
    method: 'GET',
    url: `/v1/reservations/${id}`,
    headers: { ...bearer('customer', 'cust-outage'), ...(token ? { [CONSISTENCY_HEADER]: token } : {}) },
  });

/**
 * Clients booking and reading back what they booked (with the write's consistency token, so the
 * read is exact whichever way it goes), until stopped: every answer is recorded, a failure with
 * what it said.
 */
function startLoad(clients = 4) {
  const statuses: (number | string)[] = [];
  let running = true;
  const loops = Array.from({ length: clients }, async () => {
    while (running) {
      try {
        const { id, token } = await hold();
        statuses.push(201);
        const back = await read(id, token);
        statuses.push(back.statusCode === 200 ? 200 : `read answered ${back.statusCode}: ${back.body}`);
      } catch (err) {
        statuses.push(String(err));
      }
    }
  });
  return {
    statuses,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return statuses;
    },
  };
}

/** Reservations cached in Redis (and the reader's near cache) before the outage: read twice each. */
async function warm(count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push((await hold()).id);
  await replicated();
  for (const id of ids) {
    expect((await read(id)).statusCode).toBe(200);
    expect((await read(id)).statusCode).toBe(200);
  }
  return ids;
}

async function bothBreakers(state: 'open' | 'closed') {
  await waitUntil(
    `both Redis breakers ${state}`,
    () => {
      const seen = { reader: reader.redisGuard.up, writer: writer.redisGuard.up };
      if (seen.reader !== (state === 'closed') || seen.writer !== (state === 'closed')) {
        throw new Error(`breakers closed: ${JSON.stringify(seen)}`);
      }
      return true;
    },
    { timeoutMs: 60_000 },
  );
}

/** Every reservation ever written reads back, through the cache, at the last version it was given. */
async function everyReadIsCurrent() {
  await replicated();
  const stale: string[] = [];
  for (const [id, version] of latest) {
    const response = await read(id);
    if (response.statusCode !== 200 || versionOf(response.body) !== version) {
      stale.push(`${id}: ${response.statusCode} v${response.statusCode === 200 ? versionOf(response.body) : '-'}, want v${version}`);
    }
  }
  expect(stale).toEqual([]);
}

describe('Redis down or hanging under load: the services answer from the database', () => {
  it('killed: no request fails, publishes are skipped and counted, and once Redis is back every read is current', async () => {
    const cached = await warm(5);
    const load = startLoad();
    await waitUntil('the load is running', () => load.statuses.length >= 8);

    await redis.servers[0]?.stop();
    await bothBreakers('open');
    const duringOutage = load.statuses.length;
    // Changed while Redis is gone: their publishes cannot happen.
    for (const id of cached) await confirm(id);
    await waitUntil('requests answered while Redis is down', () => load.statuses.length >= duringOutage + 8);
    await replicated();
    for (const id of cached) expect(versionOf((await read(id)).body)).toBe(latest.get(id));

    redis = await startRedis(dir, { port: Number(new URL(redis.env.REDIS_URL).port) });
    await bothBreakers('closed');
    const statuses = await load.stop();

    expect(statuses.filter((s) => s !== 200 && s !== 201)).toEqual([]);
    expect(await metric(writerMetrics, 'cache_publishes_total{result="skipped"}')).toBeGreaterThanOrEqual(cached.length);
    expect(await metric(readerMetrics, 'redis_calls_total{client="cache",result="skipped"}')).toBeGreaterThan(0);
    await everyReadIsCurrent();
  }, 180_000);

  it('frozen (SIGSTOP): no request waits on it for ever, and versions changed meanwhile are never served stale after it thaws', async () => {
    const cached = await warm(5); // v1 in Redis and in the reader's near cache
    const republished = await metric(writerMetrics, 'cache_publishes_total{result="republished"}');
    const load = startLoad();
    await waitUntil('the load is running', () => load.statuses.length >= 8);

    const pid = redis.servers[0]?.pid as number;
    process.kill(-pid, 'SIGSTOP');
    try {
      await bothBreakers('open');
      const duringOutage = load.statuses.length;
      for (const id of cached) await confirm(id); // v2: Redis, frozen, still holds v1
      await waitUntil('requests answered while Redis hangs', () => load.statuses.length >= duringOutage + 8);
      await replicated();
      // The near cache was dropped when Redis was judged failing: the database's version, not v1.
      for (const id of cached) expect(versionOf((await read(id)).body)).toBe(latest.get(id));
    } finally {
      process.kill(-pid, 'SIGCONT');
    }
    await bothBreakers('closed');
    await waitUntil('the skipped publishes republished', async () => {
      const now = await metric(writerMetrics, 'cache_publishes_total{result="republished"}');
      if (now < republished + cached.length) throw new Error(`${now - republished} republished`);
      return true;
    });
    const statuses = await load.stop();

    expect(statuses.filter((s) => s !== 200 && s !== 201)).toEqual([]);
    await everyReadIsCurrent();
    // And once the reader trusts Redis again (its reads are hits there), still the current versions.
    const hits = await metric(readerMetrics, 'cache_lookups_total{result="hit"}');
    await waitUntil('reads served from Redis again', async () => {
      for (const id of cached) await read(id);
      return (await metric(readerMetrics, 'cache_lookups_total{result="hit"}')) > hits;
    });
    await everyReadIsCurrent();
  }, 180_000);
});
