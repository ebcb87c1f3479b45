import { Redis, type RedisOptions } from 'ioredis';
import CircuitBreaker from 'opossum';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ReadinessCheck } from '../admin-server.ts';

/**
 * An ioredis client from a `redis://` URL. A command fails after one reconnect attempt instead
 * of queueing for long, and after `commandTimeout` ms in any case (a Redis that hangs rather than
 * refuses, frozen or partitioned, would otherwise hold the caller for ever): the cache is an
 * optimisation and callers fall back to the database.
 */
export function createRedis(url: string, options: RedisOptions = {}): Redis {
  return new Redis(url, { maxRetriesPerRequest: 1, connectTimeout: 2000, commandTimeout: 1000, ...options });
}

/** A call not made because the breaker is open: Redis failed lately and is left alone for a while. */
export class RedisUnavailable extends Error {
  override name = 'RedisUnavailable';
}

export interface RedisGuardOptions {
  /** The client's role, the `client` label of the metrics (cache, publisher, doorbell). */
  name: string;
  redis: Redis;
  /** How long calls skip Redis once it failed, before one trial call. */
  resetMs: number;
  registry: Registry;
  log: { warn: (obj: object, msg: string) => void; info: (msg: string) => void };
  /** A PING this often, so a Redis that hangs is noticed even while no request calls it. */
  heartbeatMs?: number;
}

/** A circuit breaker around one Redis client: calls go through `run`, which fails fast while it is open. */
export interface RedisGuard {
  run<T>(call: () => Promise<T>): Promise<T>;
  /** Closed: Redis answered the last calls. */
  readonly up: boolean;
  /** When it last closed after being open (0: never open). */
  readonly upSince: number;
  /** Told on every change: down when it opens, up when a trial call succeeded. */
  onChange(listener: (up: boolean) => void): void;
  close(): void;
}

/** The breaker's judgement: at least this many calls in the window, half of them failed. */
const WINDOW_MS = 5000;
const VOLUME = 5;
const ERROR_PERCENT = 50;
/** Redis answered, with an error about the command (a wrong type, a script error): Redis is up. */
const isReplyError = (err: unknown) => (err as Error | null)?.name === 'ReplyError';

const metricsByRegistry = new WeakMap<Registry, ReturnType<typeof guardMetrics>>();
function guardMetrics(registry: Registry) {
  return {
    calls: new Counter({
      name: 'redis_calls_total',
      help: 'Redis calls by client and result: ok, failed (error or timeout), skipped (the breaker was open)',
      labelNames: ['client', 'result'] as const,
      registers: [registry],
    }),
    state: new Gauge({
      name: 'redis_breaker_open',
      help: "1 while the client's circuit breaker is open or half-open (calls skip Redis), 0 while it is closed",
      labelNames: ['client'] as const,
      registers: [registry],
    }),
  };
}

/**
 * Guards one Redis client with a circuit breaker (opossum): once half of at least 5 calls in 5 s
 * failed (an error or the client's command timeout; a reply error means Redis is up), calls fail
 * fast with RedisUnavailable for `resetMs`, then one trial call decides. Callers treat a failure
 * as Redis being absent (read the database, skip the publish), so a Redis that is down or hangs
 * costs one timeout per reset period instead of one per request. A PING every `heartbeatMs` keeps
 * the judgement current when no request calls Redis, so a hang is noticed and a return is too.
 */
export function createRedisGuard({ name, redis, resetMs, registry, log, heartbeatMs = 1000 }: RedisGuardOptions): RedisGuard {
  let metrics = metricsByRegistry.get(registry);
  if (!metrics) {
    metrics = guardMetrics(registry);
    metricsByRegistry.set(registry, metrics);
  }
  const { calls, state } = metrics;
  const breaker = new CircuitBreaker((call: () => Promise<unknown>) => call(), {
    timeout: false, // the client's commandTimeout bounds each call; a second timer would only race it
    resetTimeout: resetMs,
    rollingCountTimeout: WINDOW_MS,
    volumeThreshold: VOLUME,
    errorThresholdPercentage: ERROR_PERCENT,
    errorFilter: isReplyError,
  });
  const listeners: ((up: boolean) => void)[] = [];
  let upSince = 0;
  state.set({ client: name }, 0);
  breaker.on('success', () => calls.inc({ client: name, result: 'ok' }));
  breaker.on('failure', () => calls.inc({ client: name, result: 'failed' }));
  breaker.on('reject', () => calls.inc({ client: name, result: 'skipped' }));
  breaker.on('open', () => {
    state.set({ client: name }, 1);
    log.warn({ client: name, resetMs }, `redis (${name}): failing, calls skip it for ${resetMs} ms at a time`);
    for (const listener of listeners) listener(false);
  });
  breaker.on('close', () => {
    state.set({ client: name }, 0);
    upSince = Date.now();
    log.info(`redis (${name}): answering again`);
    for (const listener of listeners) listener(true);
  });
  const heartbeat = setInterval(() => {
    breaker.fire(() => redis.ping()).catch(() => undefined);
  }, heartbeatMs);
  heartbeat.unref();

  return {
    async run<T>(call: () => Promise<T>): Promise<T> {
      try {
        return (await breaker.fire(call)) as T;
      } catch (err) {
        if ((err as { code?: string }).code === 'EOPENBREAKER') throw new RedisUnavailable(`redis (${name}) is failing; not called`);
        throw err;
      }
    },
    get up() {
      return breaker.closed;
    },
    get upSince() {
      return upSince;
    },
    onChange(listener) {
      listeners.push(listener);
    },
    close() {
      clearInterval(heartbeat);
      breaker.shutdown();
    },
  };
}

/**
 * Redis's state for /readyz, from the breaker (no call of its own, so a hanging Redis does not
 * hang the probe). Optional: Redis down leaves the pod ready, the services answer without it.
 */
export function redisCheck(guard: RedisGuard, name = 'redis'): ReadinessCheck {
  return {
    name,
    optional: true,
    check: async () => {
      if (!guard.up) throw new Error('failing: answering without it (circuit breaker open)');
    },
  };
}
