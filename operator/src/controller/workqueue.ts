/**
 * A keyed work queue with client-go's guarantees: a key is processed by one worker at a
 * time, adding a key that is already waiting does nothing, a key added while it is being
 * processed runs once more afterwards, and failures come back after a rate-limited delay.
 * Time is injected so tests drive backoff without sleeping.
 */

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** How long a key waits before its next try. */
export interface RateLimiter {
  when(key: string): number;
  forget(key: string): void;
  retries(key: string): number;
}

/** Per key: base × 2^failures, capped (client-go: 5 ms doubling up to 1000 s). */
export function exponentialFailureRateLimiter(baseMs = 5, maxMs = 1_000_000): RateLimiter {
  const failures = new Map<string, number>();
  return {
    when(key) {
      const n = failures.get(key) ?? 0;
      failures.set(key, n + 1);
      return Math.min(baseMs * 2 ** n, maxMs);
    },
    forget: (key) => failures.delete(key),
    retries: (key) => failures.get(key) ?? 0,
  };
}

/** Over all keys: a token bucket of `qps` refills up to `burst` (client-go: 10 qps, burst 100). */
export function bucketRateLimiter(qps = 10, burst = 100, clock: Clock = realClock): RateLimiter {
  let tokens = burst;
  let last = clock.now();
  return {
    when() {
      const now = clock.now();
      tokens = Math.min(burst, tokens + ((now - last) / 1000) * qps);
      last = now;
      tokens -= 1; // reserve a token even if it is not there yet, like golang.org/x/time/rate
      return tokens >= 0 ? 0 : Math.ceil((-tokens / qps) * 1000);
    },
    forget: () => {},
    retries: () => 0,
  };
}

/** The longest delay any of `limiters` asks for (client-go's default controller limiter). */
export function maxOfRateLimiter(...limiters: RateLimiter[]): RateLimiter {
  return {
    when: (key) => Math.max(...limiters.map((l) => l.when(key))),
    forget: (key) => {
      for (const l of limiters) l.forget(key);
    },
    retries: (key) => Math.max(...limiters.map((l) => l.retries(key))),
  };
}

export function defaultControllerRateLimiter(clock: Clock = realClock): RateLimiter {
  return maxOfRateLimiter(exponentialFailureRateLimiter(), bucketRateLimiter(10, 100, clock));
}

/** What the queue reports, for metrics (workqueue_* in controller-runtime's names). */
export interface QueueObserver {
  depth(n: number): void;
  added(): void;
  retried(): void;
  waited(ms: number): void;
  worked(ms: number): void;
}

const silent: QueueObserver = { depth: () => {}, added: () => {}, retried: () => {}, waited: () => {}, worked: () => {} };

export class WorkQueue {
  readonly #queue: string[] = [];
  readonly #dirty = new Set<string>();
  readonly #processing = new Set<string>();
  readonly #addedAt = new Map<string, number>();
  readonly #startedAt = new Map<string, number>();
  readonly #delayed = new Map<string, { at: number; handle: unknown }>();
  readonly #waiters: ((key: string | undefined) => void)[] = [];
  readonly #rateLimiter: RateLimiter;
  readonly #clock: Clock;
  readonly #observer: QueueObserver;
  #shuttingDown = false;

  constructor({
    rateLimiter,
    clock = realClock,
    observer = silent,
  }: { rateLimiter?: RateLimiter; clock?: Clock; observer?: QueueObserver } = {}) {
    this.#clock = clock;
    this.#rateLimiter = rateLimiter ?? defaultControllerRateLimiter(clock);
    this.#observer = observer;
  }

  get length(): number {
    return this.#queue.length;
  }

  add(key: string): void {
    if (this.#shuttingDown || this.#dirty.has(key)) return;
    this.#observer.added();
    this.#dirty.add(key);
    this.#addedAt.set(key, this.#clock.now());
    if (this.#processing.has(key)) return; // done() queues it again
    this.#push(key);
  }

  /** Adds `key` after `ms`; of several pending delays for one key, the earliest wins. */
  addAfter(key: string, ms: number): void {
    if (this.#shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = this.#clock.now() + ms;
    const pending = this.#delayed.get(key);
    if (pending && pending.at <= at) return;
    if (pending) this.#clock.clearTimeout(pending.handle);
    const handle = this.#clock.setTimeout(() => {
      this.#delayed.delete(key);
      this.add(key);
    }, ms);
    this.#delayed.set(key, { at, handle });
  }

  /** Adds `key` after the rate limiter's delay: for a failure. */
  addRateLimited(key: string): void {
    this.#observer.retried();
    this.addAfter(key, this.#rateLimiter.when(key));
  }

  /** Clears `key`'s failure history: it succeeded. */
  forget(key: string): void {
    this.#rateLimiter.forget(key);
  }

  retries(key: string): number {
    return this.#rateLimiter.retries(key);
  }

  /** The next key to process, once there is one; undefined after shutDown. */
  get(): Promise<string | undefined> {
    const key = this.#queue.shift();
    if (key !== undefined) return Promise.resolve(this.#take(key));
    if (this.#shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Marks `key` processed; if it was added meanwhile, it goes back in the queue. */
  done(key: string): void {
    this.#processing.delete(key);
    const started = this.#startedAt.get(key);
    if (started !== undefined) this.#observer.worked(this.#clock.now() - started);
    this.#startedAt.delete(key);
    if (this.#dirty.has(key)) this.#push(key);
  }

  shutDown(): void {
    this.#shuttingDown = true;
    for (const { handle } of this.#delayed.values()) this.#clock.clearTimeout(handle);
    this.#delayed.clear();
    for (const wake of this.#waiters.splice(0)) wake(undefined);
  }

  #push(key: string): void {
    const waiter = this.#waiters.shift();
    if (waiter) {
      waiter(this.#take(key));
      return;
    }
    this.#queue.push(key);
    this.#observer.depth(this.#queue.length);
  }

  #take(key: string): string {
    this.#processing.add(key);
    this.#dirty.delete(key);
    this.#observer.depth(this.#queue.length);
    this.#observer.waited(this.#clock.now() - (this.#addedAt.get(key) ?? this.#clock.now()));
    this.#addedAt.delete(key);
    this.#startedAt.set(key, this.#clock.now());
    return key;
  }
}
