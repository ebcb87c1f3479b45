import rateLimitPlugin from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import { Counter, type Registry } from 'prom-client';
import { createRedis } from './clients/redis.ts';
import { kitProblems, Problem } from './problem.ts';

/** What a route costs its caller: reads (GET, HEAD), writes (other methods), holds (a route that says so). */
export const RATE_LIMIT_CLASSES = ['reads', 'writes', 'holds'] as const;
export type RateLimitClass = (typeof RATE_LIMIT_CLASSES)[number];

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route's rate limit class when its method does not say it (a POST that places a hold). */
    rateLimitClass?: RateLimitClass;
  }
}

export interface RateLimitOptions {
  redisUrl: string;
  /** Requests a principal may make per class in one window. */
  limits: Record<RateLimitClass, number>;
  windowMs: number;
  /** A Redis call slower than this counts as a failure: the process limits on its own meanwhile. */
  redisTimeoutMs: number;
  /** After a Redis failure, how long the process limits on its own before it tries Redis again. */
  fallbackMs: number;
  /** How often this process's counts are added to Redis's. */
  syncMs: number;
  registry: Registry;
  now?: () => number;
}

/** The class a request counts against. */
export function rateLimitClassOf(method: string, routeClass: RateLimitClass | undefined): RateLimitClass {
  return routeClass ?? (method === 'GET' || method === 'HEAD' ? 'reads' : 'writes');
}

/**
 * Which counter a request increments: per class and per principal (role and subject, so a
 * customer and a provider that share a `sub` are two callers). The subject goes last, so no
 * subject can spell another key.
 */
export function rateLimitKey(limitClass: RateLimitClass, principal: { role: string; id: string }): string {
  return `${limitClass}:${principal.role}:${principal.id}`;
}

/**
 * Whether the shared store is to be used now: after a failure the process counts on its own for
 * `fallbackMs`, so a Redis that is down or hangs costs one timeout per `fallbackMs`, not one per
 * request, and the requests keep a limit (each process's own) instead of none.
 */
export function createStoreBreaker(fallbackMs: number, now: () => number) {
  let localUntil = 0;
  return {
    useShared: () => now() >= localUntil,
    /** Returns true when this failure switches to the local store (it was using the shared one). */
    failed: () => {
      const switched = now() >= localUntil;
      localUntil = now() + fallbackMs;
      return switched;
    },
  };
}

/** The fixed window an instant falls in (windows start at multiples of `windowMs` since the epoch, on every replica alike), and what is left of it. */
export function windowAt(at: number, windowMs: number): { window: number; ttl: number } {
  const window = Math.floor(at / windowMs);
  return { window, ttl: (window + 1) * windowMs - at };
}

interface Count {
  windowMs: number;
  window: number;
  /** The shared total as of the last sync (ours included), or the local count while Redis fails. */
  known: number;
  /** Ours since then, not yet sent; then in the sync under way. */
  pending: number;
  sending: number;
  /** The first sync of this key in this window, which its first requests wait for. */
  first: Promise<void> | undefined;
}

export interface SharedCounterOptions {
  redis: Redis;
  prefix: string;
  /** How often the counts of this process are added to Redis's (and Redis's totals read back). */
  syncMs: number;
  fallbackMs: number;
  now: () => number;
  /** Called when Redis fails after working (true) or works again (false). */
  onLocal: (local: boolean, err?: unknown) => void;
}

/** The count a request sees: the shared total as last known plus what this process has added since. */
const countOf = (count: Count) => count.known + count.sending + count.pending;

/**
 * Per-key request counts in fixed windows, shared through Redis without a Redis call per request:
 * the first request of a key in a window waits for one INCRBY (so a replica that has not seen the
 * key yet still refuses a principal the others have used up), later ones are counted in the
 * process and added to Redis in one pipeline per `syncMs`, each reply bringing back the shared
 * total. Across replicas a principal may so exceed its limit by what the replicas admit in one
 * sync interval. When Redis fails (down, refusing, slower than its command timeout), each process
 * goes on from the last total it knew with its own counts for `fallbackMs`, then tries Redis
 * again: a limit per process meanwhile, never none, and no request waits on a Redis known to fail.
 */
export function createSharedCounter({ redis, prefix, syncMs, fallbackMs, now, onLocal }: SharedCounterOptions) {
  const counts = new Map<string, Count>();
  const breaker = createStoreBreaker(fallbackMs, now);
  let local = false;
  let syncing: Promise<void> = Promise.resolve();

  async function sync(): Promise<void> {
    const batch: [string, Count][] = [];
    for (const [key, count] of counts) {
      if (count.pending === 0) continue;
      [count.sending, count.pending] = [count.pending, 0];
      batch.push([key, count]);
    }
    if (batch.length === 0) return;
    const keepLocally = () => {
      for (const [, count] of batch) [count.known, count.sending] = [count.known + count.sending, 0];
    };
    if (!breaker.useShared()) return keepLocally();
    try {
      const pipeline = redis.pipeline();
      for (const [key, count] of batch) {
        const redisKey = `${prefix}${key}:${count.window}`;
        pipeline.incrby(redisKey, count.sending);
        // A window's key outlives it by one more window, for replicas whose clocks differ a little.
        pipeline.pexpire(redisKey, 2 * count.windowMs);
      }
      const replies = (await pipeline.exec()) ?? [];
      const totals = batch.map((_, i) => {
        const [err, total] = replies[i * 2] ?? [new Error('Redis sent no reply')];
        if (err) throw err;
        return Number(total);
      });
      batch.forEach(([, count], i) => {
        [count.known, count.sending] = [totals[i] as number, 0];
      });
      if (local) {
        local = false;
        onLocal(false);
      }
    } catch (err) {
      keepLocally();
      if (breaker.failed()) {
        local = true;
        onLocal(true, err);
      }
    }
  }

  const flush = () => {
    syncing = syncing.then(sync);
    return syncing;
  };
  const timer = setInterval(() => {
    // A key whose window is over is forgotten once synced: the map holds one window's keys.
    const at = now();
    for (const [key, count] of counts) {
      if (count.pending === 0 && count.sending === 0 && windowAt(at, count.windowMs).window !== count.window) counts.delete(key);
    }
    void flush();
  }, syncMs);
  timer.unref();

  return {
    /** Counts one request of `key`; its count in this window, with the time left in it. */
    incr(key: string, windowMs: number): { current: number; ttl: number } | Promise<{ current: number; ttl: number }> {
      const { window, ttl } = windowAt(now(), windowMs);
      let count = counts.get(key);
      if (!count || count.window !== window) {
        const fresh: Count = { windowMs, window, known: 0, pending: 0, sending: 0, first: undefined };
        fresh.first = flush().then(() => {
          fresh.first = undefined;
        });
        counts.set(key, fresh);
        count = fresh;
      }
      count.pending++;
      const counted = count;
      if (counted.first) return counted.first.then(() => ({ current: countOf(counted), ttl }));
      return { current: countOf(counted), ttl };
    },
    close: () => clearInterval(timer),
  };
}

/**
 * Limits each principal's requests per route class with @fastify/rate-limit, counted through
 * Redis so every replica of every service shares one count (createSharedCounter: a fixed window,
 * synced every `syncMs`). Past the limit: a 429 problem with `Retry-After`; the
 * `RateLimit-Limit`/`-Remaining`/`-Reset` headers of the IETF draft on every response. Redis down,
 * refusing or slower than `redisTimeoutMs`: each process limits on its own for `fallbackMs`
 * (at most replicas × the limit across the platform meanwhile), never none, and no request fails
 * for it. Routes without a principal (public ones) are not limited.
 */
export const rateLimit = fp<RateLimitOptions>(
  async (app: FastifyInstance, options) => {
    const now = options.now ?? Date.now;
    // Its own client, with a timeout on every call: a call made while Redis is unreachable waits in
    // ioredis's offline queue (so the first requests after a start wait for the connection instead
    // of counting locally) but never longer than the timeout. It connects at its first call, so an
    // app whose start fails after this plugin (an old schema) leaves no connection open.
    const redis = createRedis(options.redisUrl, { commandTimeout: options.redisTimeoutMs, lazyConnect: true });
    redis.on('error', () => {}); // counted and logged per switch below; ioredis reconnects by itself
    const fallbacks = new Counter({
      name: 'rate_limit_store_fallbacks_total',
      help: 'Times this process stopped counting in Redis (down, refusing or slow) and limited on its own',
      registers: [options.registry],
    });
    const counter = createSharedCounter({
      redis,
      prefix: 'rate-limit:',
      syncMs: options.syncMs,
      fallbackMs: options.fallbackMs,
      now,
      onLocal: (local, err) => {
        if (!local) return app.log.info('rate limits: counting in Redis again');
        fallbacks.inc();
        app.log.warn({ err }, `rate limits: Redis failed, counting in this process for ${options.fallbackMs} ms`);
      },
    });

    // The store interface of @fastify/rate-limit (callback style); every route shares the counter.
    class SharedStore {
      incr(key: string, cb: (err: Error | null, result?: { current: number; ttl: number }) => void, timeWindow: number) {
        const counted = counter.incr(key, timeWindow);
        if (counted instanceof Promise) counted.then((result) => cb(null, result), cb);
        else cb(null, counted);
      }
      child() {
        return this;
      }
    }

    const limitClass = (request: FastifyRequest) => rateLimitClassOf(request.method, request.routeOptions.config.rateLimitClass);
    await app.register(rateLimitPlugin, {
      global: true,
      store: SharedStore,
      timeWindow: options.windowMs,
      max: (request) => options.limits[limitClass(request)],
      keyGenerator: (request) => (request.principal ? rateLimitKey(limitClass(request), request.principal) : ''),
      // No principal: a public route (auth lets nothing else through).
      allowList: (request) => !request.principal,
      // RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset and Retry-After.
      enableDraftSpec: true,
      errorResponseBuilder: (request, context) =>
        new Problem(
          kitProblems,
          'rate-limited',
          `more than ${context.max} ${limitClass(request)} in ${options.windowMs / 1000} s; retry in ${Math.ceil(context.ttl / 1000)} s`,
          { extensions: { limit: context.max, class: limitClass(request), retryAfterSeconds: Math.ceil(context.ttl / 1000) } },
        ),
    });
    app.addHook('onClose', async () => {
      counter.close();
      redis.disconnect();
    });
  },
  { name: 'rate-limit', fastify: '5.x', dependencies: ['auth'] },
);
