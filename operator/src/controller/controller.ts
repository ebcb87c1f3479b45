import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { ControllerMetrics } from '../metrics.ts';
import { type Clock, realClock, type WorkQueue } from './workqueue.ts';

/**
 * The reconcile contract (controller-runtime's): `reconcile(key, signal)` brings the object
 * named by `key` (namespace/name) to what its spec asks, reading it afresh, and resolves with
 * when to look again, or throws to be retried with backoff. `signal` aborts once the reconcile
 * is past its deadline; the reconcile passes it to every call it makes outside the process.
 */
export interface ReconcileResult {
  requeueAfterMs?: number;
}

export type Reconcile = (key: string, signal: AbortSignal) => Promise<ReconcileResult>;

/** The reason a reconcile's signal aborts at its deadline; it names what the reconcile was still waiting on, when known. */
export class ReconcileTimeoutError extends Error {
  override name = 'ReconcileTimeoutError';
  readonly timeoutMs: number;
  readonly waitingOn: readonly string[];
  constructor(timeoutMs: number, waitingOn: readonly string[] = []) {
    super(`reconcile took longer than ${timeoutMs} ms${waitingOn.length ? `; still waiting on ${waitingOn.join(', ')}` : ''}`);
    this.timeoutMs = timeoutMs;
    this.waitingOn = waitingOn;
  }
}

export interface ControllerOptions {
  name: string;
  queue: WorkQueue;
  reconcile: Reconcile;
  workers: number;
  logger: Logger;
  metrics: ControllerMetrics;
  timeoutMs?: number;
  clock?: Clock;
  /** What a reconcile given `signal` is waiting on (its API requests in flight): named in the error of one past its deadline. */
  waitingOn?: (signal: AbortSignal) => readonly string[];
}

/**
 * Runs `workers` loops that take keys from the queue and reconcile them: success forgets the
 * key's failures; `requeueAfterMs` brings it back later; an error retries it with backoff;
 * a reconcile that hangs past `timeoutMs` has its signal aborted and counts as an error.
 * Each reconcile logs with its own id.
 */
export function runController(options: ControllerOptions) {
  const { name, queue, reconcile, workers, logger, metrics, timeoutMs = 60_000, clock = realClock, waitingOn } = options;
  async function worker() {
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      const log = logger.child({ controller: name, key, reconcileId: randomUUID() });
      const started = process.hrtime.bigint();
      let result: 'success' | 'error' | 'requeue_after' = 'success';
      const abort = new AbortController();
      // An async wrapper: a reconcile that throws before its first await fails like any other.
      const running = (async () => reconcile(key, abort.signal))();
      let late = false;
      try {
        const outcome = await withDeadline(running, abort, timeoutMs, clock, () => waitingOn?.(abort.signal) ?? []);
        queue.forget(key);
        if (outcome.requeueAfterMs !== undefined) {
          result = 'requeue_after';
          queue.addAfter(key, outcome.requeueAfterMs);
        }
      } catch (err) {
        result = 'error';
        late = abort.signal.aborted;
        metrics.reconcileErrors.inc({ controller: name });
        queue.addRateLimited(key);
        log.warn({ err: err instanceof Error ? err.message : err, retries: queue.retries(key) }, 'reconcile failed; will retry');
      }
      metrics.reconcileTotal.inc({ controller: name, result });
      metrics.reconcileTime.observe({ controller: name }, Number(process.hrtime.bigint() - started) / 1e9);
      // One reconcile per key at a time, even past its deadline: the key stays held until the
      // call has returned, or another worker could act on the same object alongside it.
      if (late) {
        await running.catch(() => {});
        log.info('a reconcile past its deadline has returned; its key is free again');
      }
      queue.done(key);
    }
  }
  const running = Array.from({ length: workers }, () => worker());
  return {
    /** Stops taking work and waits for the reconciles in flight. */
    async stop() {
      queue.shutDown();
      await Promise.all(running);
    },
  };
}

/**
 * `promise`, or a ReconcileTimeoutError after `ms`, when `abort` is aborted with that same error
 * (naming what `waitingOn` says is still pending, read before the abort ends it).
 */
function withDeadline<T>(
  promise: Promise<T>,
  abort: AbortController,
  ms: number,
  clock: Clock,
  waitingOn: () => readonly string[],
): Promise<T> {
  let handle: unknown;
  const deadline = new Promise<never>((_, reject) => {
    handle = clock.setTimeout(() => {
      const err = new ReconcileTimeoutError(ms, waitingOn());
      abort.abort(err);
      reject(err);
    }, ms);
  });
  return Promise.race([promise, deadline]).finally(() => clock.clearTimeout(handle));
}
