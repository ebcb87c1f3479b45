import { createRequire } from 'node:module';
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

type Incr = (
  key: string,
  cb: (err: Error | null, result?: { current: number; ttl: number }) => void,
  timeWindow: number,
  max: number,
) => void;
interface Store {
  incr: Incr;
  child(routeOptions: unknown): Store;
}

// The plugin's own stores (the Lua script that makes INCR and its expiry one step, the local LRU
// window), which it does not export; a custom store composes them.
const require = createRequire(import.meta.url);
const RedisStore = require('@fastify/rate-limit/store/RedisStore.js') as new (
  continueExceeding: boolean,
  exponentialBackoff: boolean,
  redis: Redis,
  key: string,
) => Store;
const LocalStore = require('@fastify/rate-limit/store/LocalStore.js') as new (
  continueExceeding: boolean,
  exponentialBackoff: boolean,
  cache: number,
) => Store;

/**
 * Limits each principal's requests per route class, counted in Redis so every replica of every
 * service shares one count (@fastify/rate-limit's Redis store, a fixed window). Past the limit:
 * a 429 problem with `Retry-After` and the `RateLimit-Limit`/`-Remaining`/`-Reset` headers of
 * the IETF draft on every response. Redis down, refusing or slower than `redisTimeoutMs`: each
 * process counts on its own (the plugin's local store) for `fallbackMs`, then tries Redis again;
 * the limit is then per process (at most replicas × the limit across the platform), never none,
 * and a request is never failed for it. Routes without a principal (public ones) are not limited.
 */
export const rateLimit = fp<RateLimitOptions>(
  async (app: FastifyInstance, options) => {
    const now = options.now ?? Date.now;
    // Its own client, with a timeout on every call: a call made while Redis is unreachable waits in
    // ioredis's offline queue (so the first requests after a start wait for the connection instead
    // of counting locally) but never longer than the timeout.
    const redis = createRedis(options.redisUrl, { commandTimeout: options.redisTimeoutMs });
    redis.on('error', () => {}); // counted and logged per switch below; ioredis reconnects by itself
    const shared = new RedisStore(false, false, redis, 'rate-limit:');
    const local = new LocalStore(false, false, 10_000);
    const breaker = createStoreBreaker(options.fallbackMs, now);
    const fallbacks = new Counter({
      name: 'rate_limit_store_fallbacks_total',
      help: 'Times this process stopped counting in Redis (down, refusing or slow) and limited on its own',
      registers: [options.registry],
    });

    class FallbackStore implements Store {
      incr: Incr = (key, cb, timeWindow, max) => {
        if (!breaker.useShared()) return local.incr(key, cb, timeWindow, max);
        shared.incr(
          key,
          (err, result) => {
            if (!err) return cb(null, result);
            if (breaker.failed()) {
              fallbacks.inc();
              app.log.warn({ err }, `rate limits: Redis failed, counting in this process for ${options.fallbackMs} ms`);
            }
            local.incr(key, cb, timeWindow, max);
          },
          timeWindow,
          max,
        );
      };
      child() {
        return this;
      }
    }

    const limitClass = (request: FastifyRequest) => rateLimitClassOf(request.method, request.routeOptions.config.rateLimitClass);
    await app.register(rateLimitPlugin, {
      global: true,
      store: FallbackStore,
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
      redis.disconnect();
    });
  },
  { name: 'rate-limit', fastify: '5.x', dependencies: ['auth'] },
);
