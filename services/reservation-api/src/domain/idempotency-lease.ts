import { createHash } from 'node:crypto';

/**
 * The in-flight guard of an Idempotency-Key (pure): a short lease in Redis, set if absent, while
 * the first request runs, and a done marker once it has answered. The key's row in MySQL, written
 * once at COMMIT, stays the final guarantee; the lease only spares duplicates the work.
 */

export const LEASE_PREFIX = 'idem:';
const RUNNING = 'r:';
const DONE = 'd';

/** One Redis key per (caller, route, key), whatever characters they hold: a fixed-length digest. */
export function leaseKey(scope: { caller: string; route: string; key: string }): string {
  return (
    LEASE_PREFIX +
    createHash('sha256')
      .update(JSON.stringify([scope.caller, scope.route, scope.key]))
      .digest('base64url')
  );
}

/** The lease's value while its request runs: the request's hash, for the record. */
export const runningValue = (hash: string) => `${RUNNING}${hash}`;
export const DONE_VALUE = DONE;

/**
 * What a set-if-absent found (the value SET ... NX GET returns): nothing, so this request holds
 * the lease; a request still running with the key (409, retry later); or one that has answered
 * (its stored response is in MySQL). Anything else (a value of another version) counts as running:
 * the lease expires on its own.
 */
export type LeaseOutcome = 'acquired' | 'running' | 'done';

export function leaseOutcome(previous: string | null): LeaseOutcome {
  if (previous === null) return 'acquired';
  return previous === DONE ? 'done' : 'running';
}
