import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { ControllerMetrics } from '../metrics.ts';
import type { ReconcileResult } from '../reconcile/reconciler.ts';
import type { WorkQueue } from './workqueue.ts';

export interface ControllerOptions {
  name: string;
  queue: WorkQueue;
  reconcile: (key: string) => Promise<ReconcileResult>;
  workers: number;
  logger: Logger;
  metrics: ControllerMetrics;
  timeoutMs?: number;
}

/**
 * Runs `workers` loops that take keys from the queue and reconcile them: success forgets the
 * key's failures; `requeueAfterMs` brings it back later; an error retries it with backoff;
 * a reconcile that hangs past `timeoutMs` counts as an error.
 * Each reconcile logs with its own id.
 */
export function runController({ name, queue, reconcile, workers, logger, metrics, timeoutMs = 60_000 }: ControllerOptions) {
  async function worker() {
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      const log = logger.child({ controller: name, key, reconcileId: randomUUID() });
      const started = process.hrtime.bigint();
      let result: 'success' | 'error' | 'requeue_after' = 'success';
      try {
        const outcome = await withTimeout(reconcile(key), timeoutMs);
        queue.forget(key);
        if (outcome.requeueAfterMs !== undefined) {
          result = 'requeue_after';
          queue.addAfter(key, outcome.requeueAfterMs);
        }
      } catch (err) {
        result = 'error';
        metrics.reconcileErrors.inc({ controller: name });
        queue.addRateLimited(key);
        log.warn({ err: err instanceof Error ? err.message : err, retries: queue.retries(key) }, 'reconcile failed; will retry');
      } finally {
        queue.done(key);
        metrics.reconcileTotal.inc({ controller: name, result });
        metrics.reconcileTime.observe({ controller: name }, Number(process.hrtime.bigint() - started) / 1e9);
      }
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

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`reconcile took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
