import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from '@jest/globals';
import { harnessEnv, runDir, startRedis, waitUntil } from '@reservations/testkit';
import Fastify, { type FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { auth } from '../src/auth.ts';
import { problemHandler } from '../src/problem.ts';
import { type RateLimitOptions, rateLimit } from '../src/rate-limit.ts';
import { createTokenMinter } from '../src/token-minter.ts';

const secret = 'a-test-secret-that-is-at-least-32-bytes';
const mint = createTokenMinter({ issuer: 'https://idp.test/', audience: 'reservations', key: { secret } });
const bearer = (sub: string, role = 'customer') => ({ authorization: `Bearer ${mint({ sub, role })}` });

const apps: FastifyInstance[] = [];
const harnessRedis = new Redis(harnessEnv('REDIS_URL'));
afterAll(async () => {
  await Promise.all(apps.map((app) => app.close()));
  harnessRedis.disconnect();
});

/** A principal's count in Redis, over the windows it has keys for (a test spans one or two). */
async function sharedCount(key: string, redis: Redis = harnessRedis): Promise<number> {
  const keys = await redis.keys(`rate-limit:${key}:*`);
  const values = keys.length ? await redis.mget(...keys) : [];
  return values.reduce((sum, v) => sum + Number(v ?? 0), 0);
}

/** An API as registerApiFoundation sets it up (problems, auth, rate limits), with a route of each class. */
async function api(redisUrl: string, overrides: Partial<RateLimitOptions> = {}) {
  const registry = new Registry();
  const app = Fastify({ logger: false });
  await app.register(problemHandler);
  await app.register(auth, {
    secret,
    issuer: 'https://idp.test/',
    audience: 'reservations',
    maxTokenAgeSeconds: 3600,
    clockSkewSeconds: 30,
  });
  await app.register(rateLimit, {
    redisUrl,
    limits: { reads: 3, writes: 2, holds: 1 },
    windowMs: 60_000,
    // Generous: a loaded machine's slow call must not pass for a Redis failure; the fault tests set their own.
    redisTimeoutMs: 2000,
    fallbackMs: 60_000,
    syncMs: 50,
    registry,
    ...overrides,
  });
  app.get('/things', async () => ({ ok: true }));
  app.post('/things', async () => ({ ok: true }));
  app.post('/holds', { config: { rateLimitClass: 'holds' } }, async () => ({ ok: true }));
  app.get('/open', { config: { public: true } }, async () => ({ ok: true }));
  await app.ready();
  apps.push(app);
  const fallbacks = async () => (await registry.getSingleMetric('rate_limit_store_fallbacks_total')?.get())?.values[0]?.value ?? 0;
  return { app, fallbacks };
}

const expectRateLimited = (response: Awaited<ReturnType<FastifyInstance['inject']>>, limit: number, limitClass: string) => {
  expect(response.statusCode).toBe(429);
  expect(response.headers['content-type']).toBe('application/problem+json; charset=utf-8');
  expect(response.json()).toMatchObject({ type: 'https://reservations.dev/problems/rate-limited', status: 429, limit, class: limitClass });
  expect(Number(response.headers['retry-after'])).toBeGreaterThan(0);
  expect(response.headers['ratelimit-limit']).toBe(String(limit));
  expect(response.headers['ratelimit-remaining']).toBe('0');
  expect(Number(response.headers['ratelimit-reset'])).toBeGreaterThan(0);
};

describe('rate limits shared through Redis', () => {
  it('two instances share one count per principal and class; a 429 problem past it, with Retry-After and RateLimit-*', async () => {
    const [a, b] = [await api(harnessEnv('REDIS_URL')), await api(harnessEnv('REDIS_URL'))];
    const aliceId = `alice-${randomUUID()}`;
    const alice = bearer(aliceId);
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const response = await a.app.inject({ method: 'GET', url: '/things', headers: alice });
      expect(response.statusCode).toBe(200);
      expect(response.headers['ratelimit-limit']).toBe('3');
      remaining.push(String(response.headers['ratelimit-remaining']));
    }
    expect(remaining).toEqual(['2', '1', '0']);
    await waitUntil('a has added its three reads to Redis', async () => (await sharedCount(`reads:customer:${aliceId}`)) === 3);
    // b has not seen alice yet: her first request there waits for Redis's count, and is refused.
    expectRateLimited(await b.app.inject({ method: 'GET', url: '/things', headers: alice }), 3, 'reads');
    expectRateLimited(await a.app.inject({ method: 'GET', url: '/things', headers: alice }), 3, 'reads');

    // Other classes, other principals, the same subject in another role and public routes count apart.
    expect((await a.app.inject({ method: 'POST', url: '/things', headers: alice })).statusCode).toBe(200);
    expect((await b.app.inject({ method: 'POST', url: '/holds', headers: alice })).statusCode).toBe(200);
    expectRateLimited(await a.app.inject({ method: 'POST', url: '/holds', headers: alice }), 1, 'holds');
    expect((await a.app.inject({ method: 'GET', url: '/things', headers: bearer(`bob-${randomUUID()}`) })).statusCode).toBe(200);
    const sub = `shared-${randomUUID()}`;
    for (let i = 0; i < 3; i++) await a.app.inject({ method: 'GET', url: '/things', headers: bearer(sub, 'customer') });
    expect((await a.app.inject({ method: 'GET', url: '/things', headers: bearer(sub, 'provider') })).statusCode).toBe(200);
    for (let i = 0; i < 5; i++) expect((await b.app.inject({ method: 'GET', url: '/open' })).statusCode).toBe(200);
    expect(await a.fallbacks()).toBe(0);
  });

  it('a refused token is a 401, not counted', async () => {
    const { app } = await api(harnessEnv('REDIS_URL'));
    for (let i = 0; i < 5; i++) {
      expect((await app.inject({ method: 'GET', url: '/things', headers: { authorization: 'Bearer not.a.token' } })).statusCode).toBe(401);
    }
  });
});

describe('rate limits with Redis gone', () => {
  const dir = runDir('reservations-rate-limit-');
  let redis: Awaited<ReturnType<typeof startRedis>>;
  afterAll(async () => {
    for (const server of redis?.servers ?? []) {
      try {
        process.kill(server.pid, 'SIGCONT');
      } catch {
        // already gone
      }
      await server.stop();
    }
  });

  it('stopped: each instance limits on its own (never no limit, never a 5xx); back: counts in Redis again', async () => {
    redis = await startRedis(dir); // its own, never the harness's
    const url = redis.env.REDIS_URL;
    const { app, fallbacks } = await api(url, { fallbackMs: 300 });
    const carol = bearer(`carol-${randomUUID()}`);
    expect((await app.inject({ method: 'GET', url: '/things', headers: carol })).headers['ratelimit-remaining']).toBe('2');

    await redis.servers[0]?.stop();
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await app.inject({ method: 'GET', url: '/things', headers: carol })).statusCode);
    // The count goes on in the process from the last total Redis gave: two more, then the limit holds.
    expect(statuses).toEqual([200, 200, 429, 429, 429]);
    await waitUntil('the failed sync counted', async () => (await fallbacks()) === 1);

    redis = await startRedis(dir, { port: Number(new URL(url).port) });
    const dave = `dave-${randomUUID()}`;
    const check = new Redis(url);
    try {
      await waitUntil('counts in Redis again', async () => {
        await app.inject({ method: 'GET', url: '/things', headers: bearer(dave) });
        return (await sharedCount(`reads:customer:${dave}`, check)) > 0;
      });
    } finally {
      check.disconnect();
    }
  });

  it('frozen (SIGSTOP): a request waits at most the Redis timeout, then is limited locally', async () => {
    const { app, fallbacks } = await api(redis.env.REDIS_URL, { redisTimeoutMs: 300 });
    const erin = bearer(`erin-${randomUUID()}`);
    // Connected and counting in Redis first (another principal, so erin's count starts in the fallback).
    const warm = await app.inject({ method: 'GET', url: '/things', headers: bearer(`warm-${randomUUID()}`) });
    expect(warm.statusCode).toBe(200);
    expect(await fallbacks()).toBe(0);
    const pid = redis.servers[0]?.pid as number;
    process.kill(pid, 'SIGSTOP');
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await app.inject({ method: 'GET', url: '/things', headers: erin })).statusCode);
      // Her first request waited for the frozen Redis until the timeout, then counted here: 1, 2, 3, refused.
      expect(statuses).toEqual([200, 200, 200, 429]);
      expect(await fallbacks()).toBe(1);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  });
});
