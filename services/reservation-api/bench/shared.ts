// What the booking core's benchmarks share: autocannon with the same settings and figures, the
// identity provider the services trust, and the services' environment as the image runs them.

import { createTokenMinter } from '@reservations/service-kit/token-minter';
import { type HarnessEnv, quantile } from '@reservations/testkit';
import autocannon from 'autocannon';

export const DURATION_S = Number(process.env.BENCH_SECONDS ?? 5);
export const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
/** Extra node flags for every server process (e.g. `--cpu-prof --cpu-prof-dir=/tmp/x`). */
export const SERVER_NODE_FLAGS = process.env.BENCH_SERVER_NODE_FLAGS ?? '';
const SECRET = 'bench-secret-that-is-at-least-32-bytes-long';
const ISSUER = 'https://bench.idp.test/';
const AUDIENCE = 'reservations';
export const sign = createTokenMinter({ issuer: ISSUER, audience: AUDIENCE, key: { secret: SECRET } });

export interface Figures {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  requests: number;
}

export function cannon(name: string, opts: Omit<autocannon.Options, 'connections' | 'pipelining' | 'duration'>): Promise<Figures> {
  return new Promise((resolve, reject) => {
    autocannon({ connections: CONNECTIONS, pipelining: 1, duration: DURATION_S, ...opts }, (err, result) => {
      if (err) return reject(err);
      const errors = result.errors + result.timeouts + result.non2xx;
      resolve({
        name,
        rps: result.requests.average,
        p50: result.latency.p50,
        p99: result.latency.p99,
        errors,
        requests: result.requests.total,
      });
    });
  });
}

/** A line of the results table. */
export const figuresRow = (f: Figures) =>
  `${f.name.padEnd(58)} ${f.rps.toFixed(0).padStart(8)} req/s  p50 ${String(f.p50).padStart(6)} ms  p99 ${String(f.p99).padStart(6)} ms  errors ${f.errors}`;

/** The harness's value, or a clear error. */
export function harnessValue(env: HarnessEnv, name: keyof HarnessEnv): string {
  const value = env[name];
  if (!value) throw new Error(`the harness did not export ${name}`);
  return value;
}

/** reservation-api's and query-api's environment on the harness, as the image runs them, for a bench. */
export function serviceEnv(env: HarnessEnv): Record<string, string> {
  return {
    MYSQL_PRIMARY_URL: harnessValue(env, 'MYSQL_PRIMARY_URL'),
    MYSQL_REPLICA_URL: harnessValue(env, 'MYSQL_REPLICA_URL'),
    REDIS_URL: harnessValue(env, 'REDIS_URL'),
    JWT_SECRET: SECRET,
    JWT_ISSUER: ISSUER,
    JWT_AUDIENCE: AUDIENCE,
    BOOKING_SIGNING_KEYS: 'bench-booking-signing-key-32-characters-long',
    // The benches book far ahead: a horizon that reaches it.
    BOOKING_HORIZON_DAYS: '36500',
    // A few principals make every request: limits they cannot reach, so the run measures the
    // limiter's cost (its Redis call per request), not its refusals.
    RATE_LIMIT_READS: '1000000000',
    RATE_LIMIT_WRITES: '1000000000',
    RATE_LIMIT_HOLDS: '1000000000',
    // What the operator's ConfigMap sets.
    LOG_LEVEL: 'info',
    // The booking core alone: the event pipeline has its own benchmark (services/notifier/bench).
    OUTBOX_RELAY: 'off',
    // Not a speed setting: the bench stops the servers without waiting for endpoints to update.
    SHUTDOWN_DELAY_MS: '0',
    NODE_OPTIONS: SERVER_NODE_FLAGS,
  };
}

/**
 * A baseline without HTTP: `CONNECTIONS` workers, each running `work` (one request's worth of SQL)
 * back to back for `DURATION_S`, as autocannon's connections do; each call's latency counted.
 */
export async function closedLoop(name: string, work: (worker: number) => Promise<unknown>): Promise<Figures> {
  const latencies: number[] = [];
  const until = Date.now() + DURATION_S * 1000;
  const worker = async (w: number) => {
    while (Date.now() < until) {
      const t0 = performance.now();
      await work(w);
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, (_, w) => worker(w)));
  const at = (q: number) => Math.round((quantile(latencies, q) ?? Number.NaN) * 100) / 100;
  return { name, rps: latencies.length / DURATION_S, p50: at(0.5), p99: at(0.99), errors: 0, requests: latencies.length };
}

/** The write side's pool and store, for a bench's raw baseline of POST in another package (query-api's million bench). */
export { primaryPool } from '../src/infra/db.ts';
export { createReservationStore } from '../src/stores/reservation-store.ts';
