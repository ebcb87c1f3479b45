import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, type Registry } from 'prom-client';
import { DONE_VALUE, type LeaseOutcome, leaseKey, leaseOutcome, runningValue } from '../domain/idempotency-lease.ts';
import type { KeyScope } from '../stores/idempotency-store.ts';

declare module 'fastify' {
  interface FastifyInstance {
    idempotencyLeases: IdempotencyLeases;
  }
}

/** `skipped`: Redis could not be asked (down, hanging, the breaker open); the unique key guards alone. */
export type LeaseResult = LeaseOutcome | 'skipped';

export interface IdempotencyLeases {
  acquire(scope: KeyScope, hash: string): Promise<LeaseResult>;
  /** The request has answered (stored or replayed): duplicates go straight to its stored response. */
  done(scope: KeyScope): Promise<void>;
  /** The request failed without storing anything (a 5xx): the key is free for a retry at once. */
  release(scope: KeyScope): Promise<void>;
}

export interface LeaseOptions {
  /** A little above the longest a command may run: a crashed request's lease frees the key this long after. */
  leaseMs: number;
  /** How long a duplicate skips the command and reads the stored response directly. */
  doneMs: number;
  registry: Registry;
}

/**
 * The Idempotency-Key's lease on the Redis client of the cache publisher (its breaker, command
 * timeout and auto-pipelining): one SET ... NX PX GET per keyed command, one SET when it answers.
 * Redis failing never fails a command: the lease is skipped and counted.
 */
export const idempotencyLeases = fp<LeaseOptions>(
  async (app: FastifyInstance, { leaseMs, doneMs, registry }) => {
    const leases = new Counter({
      name: 'idempotency_leases_total',
      help: 'Idempotency-Key leases: acquired, running (a duplicate answered 409), done (a duplicate replayed), skipped (Redis unavailable: the unique key alone guards)',
      labelNames: ['result'] as const,
      registers: [registry],
    });
    const { redis, redisGuard: guard } = app;
    const quietly = async (call: () => Promise<unknown>) => {
      await guard.run(call).catch(() => undefined);
    };
    const service: IdempotencyLeases = {
      async acquire(scope, hash) {
        let result: LeaseResult;
        try {
          const previous = await guard.run(() => redis.set(leaseKey(scope), runningValue(hash), 'PX', leaseMs, 'NX', 'GET'));
          result = leaseOutcome(previous);
        } catch {
          result = 'skipped';
        }
        leases.inc({ result });
        return result;
      },
      done: (scope) => quietly(() => redis.set(leaseKey(scope), DONE_VALUE, 'PX', doneMs)),
      release: (scope) => quietly(() => redis.del(leaseKey(scope))),
    };
    app.decorate('idempotencyLeases', service);
  },
  { name: 'idempotency-leases', dependencies: ['cache-publisher'] },
);
