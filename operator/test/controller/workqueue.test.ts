import { describe, expect, it } from '@jest/globals';
import { bucketRateLimiter, exponentialFailureRateLimiter, maxOfRateLimiter, WorkQueue } from '../../src/controller/workqueue.ts';
import { ManualClock } from '../support/manual-clock.ts';

const pending = Symbol('pending');
/** What a get() has resolved with so far, without waiting for it. */
async function peek(promise: Promise<string | undefined>) {
  return Promise.race([promise, new Promise((resolve) => setImmediate(() => resolve(pending)))]);
}

describe('WorkQueue', () => {
  it('collapses duplicates of a key that is waiting', async () => {
    const q = new WorkQueue({ clock: new ManualClock() });
    q.add('ns/a');
    q.add('ns/b');
    q.add('ns/a');
    expect(q.length).toBe(2);
    expect(await q.get()).toBe('ns/a');
    expect(await q.get()).toBe('ns/b');
    expect(q.length).toBe(0);
  });

  it('never hands one key to two workers; a key added while processing runs once more after', async () => {
    const q = new WorkQueue({ clock: new ManualClock() });
    q.add('ns/a');
    expect(await q.get()).toBe('ns/a');
    q.add('ns/a');
    q.add('ns/a');
    const second = q.get();
    expect(await peek(second)).toBe(pending);
    q.done('ns/a');
    expect(await second).toBe('ns/a');
    q.done('ns/a');
    expect(q.length).toBe(0);
  });

  it('retries a failing key with per-key exponential backoff, and forget() resets it', async () => {
    const clock = new ManualClock();
    const q = new WorkQueue({ clock, rateLimiter: exponentialFailureRateLimiter(5, 1000) });
    const delays: number[] = [];
    for (let attempt = 0; attempt < 4; attempt++) {
      const start = clock.now();
      q.addRateLimited('ns/a');
      const next = q.get();
      let waited = 0;
      while ((await peek(next)) === pending) {
        clock.advance(1);
        waited += 1;
      }
      delays.push(clock.now() - start);
      expect(waited).toBeGreaterThan(0);
      q.done('ns/a');
    }
    expect(delays).toEqual([5, 10, 20, 40]);
    expect(q.retries('ns/a')).toBe(4);
    q.forget('ns/a');
    expect(q.retries('ns/a')).toBe(0);
  });

  it('keeps the earliest of several delayed adds of one key', async () => {
    const clock = new ManualClock();
    const q = new WorkQueue({ clock });
    q.addAfter('ns/a', 1000);
    q.addAfter('ns/a', 100);
    q.addAfter('ns/a', 5000);
    expect(clock.pendingTimers).toBe(1);
    clock.advance(100);
    expect(q.length).toBe(1);
    clock.advance(10_000);
    expect(q.length).toBe(1);
  });

  it('hands out nothing more after shutDown, and wakes waiting workers', async () => {
    const q = new WorkQueue({ clock: new ManualClock() });
    const waiting = q.get();
    q.shutDown();
    expect(await waiting).toBeUndefined();
    q.add('ns/a');
    expect(await q.get()).toBeUndefined();
  });
});

describe('rate limiters', () => {
  it('bucket: a burst passes at once, then one per 1/qps', () => {
    const clock = new ManualClock();
    const bucket = bucketRateLimiter(2, 3, clock);
    expect(['a', 'b', 'c', 'd', 'e'].map((k) => bucket.when(k))).toEqual([0, 0, 0, 500, 1000]);
    clock.advance(2000);
    expect(bucket.when('f')).toBe(0);
  });

  it('max of: the per-key backoff and the global bucket, whichever is longer', () => {
    const clock = new ManualClock();
    const limiter = maxOfRateLimiter(exponentialFailureRateLimiter(100, 10_000), bucketRateLimiter(1, 1, clock));
    expect(limiter.when('a')).toBe(100);
    expect(limiter.when('b')).toBe(1000);
    expect(limiter.retries('a')).toBe(1);
  });
});
