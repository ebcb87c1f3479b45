import type { Redis } from 'ioredis';
import { createLRU } from 'lru.min';
import type { RedisGuard } from './clients/redis.ts';

/** Where Redis publishes client-side caching invalidations for a REDIRECT client (RESP2). */
export const INVALIDATION_CHANNEL = '__redis__:invalidate';

export interface NearCacheOptions {
  /** The most entries held; the least recently used goes first. */
  maxEntries: number;
  /** An entry older than this is not served, however quiet Redis has been (a bound, should an invalidation ever be lost). */
  maxAgeMs: number;
  now?: () => number;
}

/** What a near cache counts, for metrics. */
export interface NearCacheStats {
  hits: number;
  misses: number;
  invalidations: number;
  flushes: number;
  size: number;
}

/** A read of Redis in flight: whether an invalidation for its key arrived while it was out. */
interface Flight {
  readers: number;
  invalidated: boolean;
}

/** A tracked read, from `begin` to `finish`. */
export interface TrackedRead {
  key: string;
  epoch: number;
  flight: Flight;
}

/**
 * The bookkeeping of a process-local cache in front of Redis, kept coherent by Redis's
 * client-side caching (CLIENT TRACKING): Redis remembers which keys this client read and sends
 * an invalidation when one changes. No I/O here; `trackInvalidations` wires it to Redis.
 *
 * Entries are served only while tracking is known to be on (`regain` after CLIENT TRACKING was
 * accepted, `lose` on any disconnect, which flushes everything: invalidations may have been
 * missed). A read's result is kept only if nothing could have made it stale on the way: the
 * connection epoch is the one it started in, and no invalidation of its key arrived while it was
 * out (an invalidation can overtake the reply it concerns, as they travel on different
 * connections; the Redis docs' "race condition" of client-side caching).
 */
export class NearCache<V> {
  readonly #entries;
  readonly #inFlight = new Map<string, Flight>();
  readonly #maxAgeMs: number;
  readonly #now: () => number;
  #coherent = false;
  #epoch = 0;
  #stats = { hits: 0, misses: 0, invalidations: 0, flushes: 0 };

  constructor({ maxEntries, maxAgeMs, now = Date.now }: NearCacheOptions) {
    this.#entries = createLRU<string, { value: V; storedAt: number }>({ max: maxEntries });
    this.#maxAgeMs = maxAgeMs;
    this.#now = now;
  }

  /** True while entries may be served (tracking on, no disconnect since). */
  get coherent(): boolean {
    return this.#coherent;
  }

  get epoch(): number {
    return this.#epoch;
  }

  get(key: string): V | undefined {
    const held = this.#coherent ? this.#entries.get(key) : undefined;
    if (held && this.#now() - held.storedAt <= this.#maxAgeMs) {
      this.#stats.hits++;
      return held.value;
    }
    if (held) this.#entries.delete(key);
    this.#stats.misses++;
    return undefined;
  }

  /** Call before sending the read; undefined when its result could not be kept anyway. */
  begin(key: string): TrackedRead | undefined {
    if (!this.#coherent) return undefined;
    let flight = this.#inFlight.get(key);
    if (!flight) {
      flight = { readers: 0, invalidated: false };
      this.#inFlight.set(key, flight);
    }
    flight.readers++;
    return { key, epoch: this.#epoch, flight };
  }

  /** Call with what the read brought back (undefined: nothing to keep); keeps it only if still coherent. */
  finish(read: TrackedRead, value: V | undefined): void {
    const { key, epoch, flight } = read;
    if (--flight.readers === 0 && this.#inFlight.get(key) === flight) this.#inFlight.delete(key);
    if (value === undefined || flight.invalidated || epoch !== this.#epoch || !this.#coherent) return;
    this.#entries.set(key, { value, storedAt: this.#now() });
  }

  /** Redis says these keys changed; null means everything (FLUSHALL, FLUSHDB). */
  invalidate(keys: readonly string[] | null): void {
    if (keys === null) {
      this.#flush();
      return;
    }
    for (const key of keys) {
      this.#stats.invalidations++;
      this.#entries.delete(key);
      const flight = this.#inFlight.get(key);
      if (flight) flight.invalidated = true;
    }
  }

  /** A connection dropped: invalidations may be lost, so nothing held or in flight is trusted. */
  lose(): void {
    this.#coherent = false;
    this.#flush();
  }

  /** Tracking was switched on for the current connections, in the epoch `since` names. */
  regain(since: number): void {
    if (since === this.#epoch) this.#coherent = true;
  }

  stats(): NearCacheStats {
    return { ...this.#stats, size: this.#entries.size };
  }

  #flush(): void {
    this.#stats.flushes++;
    this.#epoch++;
    this.#entries.clear();
    for (const flight of this.#inFlight.values()) flight.invalidated = true;
    this.#inFlight.clear();
  }
}

export interface TrackingOptions {
  /** Told when switching tracking on fails; the near cache stays off until the next (re)connect. */
  onError: (err: unknown) => void;
  /**
   * The breaker of the data connection: while it is open, Redis is failing without a disconnect
   * (a Redis that hangs keeps its connections), so invalidations may be held up as well and the
   * near cache is flushed and off; when it closes, tracking is switched on again before entries
   * are kept.
   */
  guard?: RedisGuard;
}

/**
 * Switches CLIENT TRACKING on for `redis` (the connection whose reads fill the near cache), with
 * the invalidations redirected to a subscriber connection of its own, and keeps it on across
 * reconnects of either: each reconnect flushes the near cache and turns tracking on again (the
 * subscriber's client id changes with it). Returns a function that closes the subscriber.
 */
export function trackInvalidations<V>(redis: Redis, near: NearCache<V>, { onError, guard }: TrackingOptions): () => void {
  // RESP2 on purpose: Redis sends a RESP2 redirect target the invalidations as Pub/Sub messages
  // on INVALIDATION_CHANNEL, a RESP3 one as `invalidate` pushes, which ioredis drops. The
  // subscriber asks for its id before it subscribes (a subscribed RESP2 connection takes no other
  // command), so it subscribes itself on every connect.
  const subscriber = redis.duplicate({
    protocol: 2,
    autoResubscribe: false,
    enableAutoPipelining: false,
    enableOfflineQueue: false,
    // Named after its data connection, so CLIENT LIST shows which is which.
    connectionName: `${redis.options.connectionName || 'near-cache'}:invalidations`,
  });
  let subscriberId: number | undefined;

  const switchOn = async () => {
    const id = subscriberId;
    if (id === undefined || redis.status !== 'ready') return;
    const since = near.epoch;
    try {
      await redis.client('TRACKING', 'ON', 'REDIRECT', id);
      if (id === subscriberId) near.regain(since);
    } catch (err) {
      onError(err);
    }
  };

  subscriber.on('ready', async () => {
    try {
      const id = (await subscriber.client('ID')) as number;
      await subscriber.subscribe(INVALIDATION_CHANNEL);
      subscriberId = id;
      await switchOn();
    } catch (err) {
      onError(err);
    }
  });
  subscriber.on('messageBuffer', (channel: Buffer, message: Buffer[] | Buffer | null) => {
    if (channel.toString() !== INVALIDATION_CHANNEL) return;
    near.invalidate(message === null ? null : (Array.isArray(message) ? message : [message]).map(String));
  });
  subscriber.on('close', () => {
    subscriberId = undefined;
    near.lose();
  });
  // ioredis reports errors through 'error'; the reconnects above are what matter here.
  subscriber.on('error', () => undefined);
  redis.on('close', () => near.lose());
  redis.on('ready', () => void switchOn());
  if (redis.status === 'ready') void switchOn();
  guard?.onChange((up) => {
    if (up) void switchOn();
    else near.lose();
  });

  return () => {
    subscriber.disconnect();
    near.lose();
  };
}
