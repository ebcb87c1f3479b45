import { describe, expect, it } from '@jest/globals';
import { waitUntil } from '@reservations/testkit';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { ReconcileTimeoutError, runController } from '../../src/controller/controller.ts';
import { exponentialFailureRateLimiter, WorkQueue } from '../../src/controller/workqueue.ts';
import { createControllerMetrics } from '../../src/metrics.ts';
import { ManualClock } from '../support/manual-clock.ts';

const settle = () => new Promise((resolve) => setImmediate(resolve));

function setup(
  reconcile: (key: string, signal: AbortSignal) => Promise<{ requeueAfterMs?: number }>,
  { timeoutMs = 60_000, waitingOn }: { timeoutMs?: number; waitingOn?: (signal: AbortSignal) => readonly string[] } = {},
) {
  const clock = new ManualClock();
  const registry = new Registry();
  const metrics = createControllerMetrics(registry, 'test');
  const queue = new WorkQueue({ clock, rateLimiter: exponentialFailureRateLimiter(100, 10_000), observer: metrics.queueObserver });
  const controller = runController({
    name: 'test',
    queue,
    reconcile,
    workers: 2,
    logger: pino({ level: 'silent' }),
    metrics,
    timeoutMs,
    clock,
    waitingOn,
  });
  const total = async (result: string) =>
    (await registry.getSingleMetric('controller_runtime_reconcile_total')?.get())?.values.find((v) => v.labels.result === result)?.value ??
    0;
  return { clock, queue, controller, total };
}

describe('runController', () => {
  it('retries a failing key with backoff until it succeeds, then forgets its failures', async () => {
    const calls: string[] = [];
    let failuresLeft = 2;
    const { clock, queue, controller, total } = setup(async (key) => {
      calls.push(key);
      if (failuresLeft-- > 0) throw new Error('API server said no');
      return {};
    });
    queue.add('ns/a');
    await settle();
    expect(calls).toEqual(['ns/a']);
    clock.advance(99);
    await settle();
    expect(calls).toHaveLength(1); // the first retry waits 100 ms
    clock.advance(1);
    await settle();
    expect(calls).toHaveLength(2);
    clock.advance(200); // the second waits 200 ms
    await settle();
    expect(calls).toHaveLength(3);
    expect(queue.retries('ns/a')).toBe(0);
    expect(await total('error')).toBe(2);
    expect(await total('success')).toBe(1);
    await controller.stop();
  });

  it('brings a key back after requeueAfterMs', async () => {
    let calls = 0;
    const { clock, queue, controller, total } = setup(async () => {
      calls += 1;
      return calls === 1 ? { requeueAfterMs: 5000 } : {};
    });
    queue.add('ns/a');
    await settle();
    clock.advance(4999);
    await settle();
    expect(calls).toBe(1);
    clock.advance(1);
    await settle();
    expect(calls).toBe(2);
    expect(await total('requeue_after')).toBe(1);
    await controller.stop();
  });

  it('stops taking work once stopped, after the reconcile in flight', async () => {
    let release: () => void = () => {};
    const started: string[] = [];
    const { queue, controller } = setup(async (key) => {
      started.push(key);
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      return {};
    });
    queue.add('ns/a');
    await settle();
    const stopped = controller.stop();
    queue.add('ns/b');
    release();
    await stopped;
    expect(started).toEqual(['ns/a']);
  });

  it('names in the deadline error what the reconcile was still waiting on, as it stood before the abort ended it', async () => {
    const pending = new Map<AbortSignal, string[]>();
    const reasons: unknown[] = [];
    const { clock, queue, controller } = setup(
      async (_key, signal) => {
        pending.set(signal, ['PATCH /apis/apps/v1/namespaces/shop/deployments/a (1.0 s so far)']);
        // What it waits on ends the moment the signal aborts, as a request given the signal does.
        await new Promise<void>((resolve) =>
          signal.addEventListener('abort', () => {
            pending.delete(signal);
            reasons.push(signal.reason);
            resolve();
          }),
        );
        return {};
      },
      { timeoutMs: 1000, waitingOn: (signal) => pending.get(signal) ?? [] },
    );
    queue.add('ns/a');
    await settle();
    clock.advance(1000);
    await waitUntil('the reconcile was aborted', () => reasons.length === 1);
    expect(reasons[0]).toBeInstanceOf(ReconcileTimeoutError);
    expect(reasons[0]).toMatchObject({
      message: 'reconcile took longer than 1000 ms; still waiting on PATCH /apis/apps/v1/namespaces/shop/deployments/a (1.0 s so far)',
      waitingOn: ['PATCH /apis/apps/v1/namespaces/shop/deployments/a (1.0 s so far)'],
    });
    await controller.stop();
  });

  it('keeps the key of a reconcile past its deadline held until the call returns, and aborts its signal at the deadline', async () => {
    const calls: { key: string; signal: AbortSignal }[] = [];
    let release: () => void = () => {};
    const { clock, queue, controller, total } = setup(
      async (key, signal) => {
        calls.push({ key, signal });
        if (calls.length > 1) return {};
        // The first call ignores its signal and runs on until the test lets it go.
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        return {};
      },
      { timeoutMs: 1000 },
    );
    queue.add('ns/a');
    await settle();
    const first = calls[0]?.signal;
    clock.advance(999);
    await settle();
    expect(first?.aborted).toBe(false);
    clock.advance(1);
    await settle();
    expect(first?.aborted).toBe(true);
    expect(first?.reason).toBeInstanceOf(ReconcileTimeoutError);
    expect(first?.reason).toMatchObject({ message: 'reconcile took longer than 1000 ms' });
    expect(await total('error')).toBe(1);

    // The retry's backoff is over and the key is wanted again, yet the first call still runs:
    // no second call for it, though a worker is free.
    queue.add('ns/a');
    clock.advance(10_000);
    await settle();
    expect(calls).toHaveLength(1);
    queue.add('ns/b'); // the other worker is not stuck
    await waitUntil('ns/b reconciled', () => calls.length === 2);
    expect(calls.map((c) => c.key)).toEqual(['ns/a', 'ns/b']);

    release();
    // The late call returns, its key is let go, and the wanted reconcile of ns/a runs: a few hops.
    await waitUntil('ns/a reconciled again', () => calls.length === 3);
    expect(calls.map((c) => c.key)).toEqual(['ns/a', 'ns/b', 'ns/a']);
    expect(calls[2]?.signal.aborted).toBe(false);
    await controller.stop();
  });
});
