// What the seed command writes, as plain data: resources and reservations with a production-like
// spread, the same for the same options (the seed and `now`). No I/O here; seed.ts loads it.

export interface SeedOptions {
  resources: number;
  reservations: number;
  providers: number;
  customers: number;
  /** The pseudo-random generator's seed: the same seed (and `now`) gives the same rows. */
  seed: number;
  /** The instant the data is laid around: `pastDays` before it, `futureDays` after. */
  now: Date;
  pastDays: number;
  futureDays: number;
  /** Zipf exponent of reservations over resources: a few hot resources, a long cold tail. */
  resourceSkew: number;
  /** Zipf exponent of reservations over customers. */
  customerSkew: number;
  /** Unconfirmed, unexpired holds one customer may have (reservation-api's MAX_ACTIVE_HOLDS_PER_CUSTOMER). */
  maxActiveHolds: number;
}

export const SEED_DEFAULTS: SeedOptions = {
  resources: 10_000,
  reservations: 1_000_000,
  providers: 500,
  customers: 100_000,
  seed: 1,
  now: new Date(0),
  pastDays: 365,
  futureDays: 180,
  resourceSkew: 0.8,
  customerSkew: 0.6,
  maxActiveHolds: 5,
};

export interface SeedResource {
  id: string;
  name: string;
  providerId: string;
  timeZone: string;
  capacity: number;
  /** The longest window among its reservations (resources.longest_reservation_ms). */
  longestMs: number;
}

export interface SeedReservation {
  id: string;
  resourceId: string;
  customerId: string;
  providerId: string;
  startsAt: Date;
  endsAt: Date;
  status: 'held' | 'confirmed' | 'cancelled';
  expiresAt: Date | null;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

const MINUTE = 60_000;
const DAY = 1440 * MINUTE;
/** Starts and ends fall on this grid, as people book. */
const GRID = 5 * MINUTE;
/** The shortest cell a reservation gets: a resource takes at most span / this. */
export const MIN_CELL_MS = 15 * MINUTE;
const DURATIONS_MIN = [15, 30, 30, 45, 60, 60, 60, 90, 120, 180, 240];
const TIME_ZONES = ['UTC', 'Europe/Paris', 'Europe/London', 'America/New_York', 'America/Los_Angeles', 'Asia/Tokyo', 'Australia/Sydney'];
const HOLD_TTL_MS = 10 * MINUTE;

/** sfc32: small, fast and good enough for test data; seeded through splitmix32. */
export function random(seed: number): () => number {
  let s = seed >>> 0;
  const split = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let [a, b, c, d] = [split(), split(), split(), split()];
  return () => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t / 4_294_967_296;
  };
}

/** A version 4 UUID (lowercase, as the API hands ids out) from the generator. */
export function uuid(rand: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(rand() * 16).toString(16));
  hex[12] = '4';
  hex[16] = (8 + Math.floor(rand() * 4)).toString(16);
  const h = hex.join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Zipf weights 1/rank^s, rank 1 first. */
export function zipfWeights(n: number, s: number): number[] {
  return Array.from({ length: n }, (_, i) => 1 / (i + 1) ** s);
}

/**
 * `total` split over the weights, each share at most `max`: what a capped share cannot take goes
 * to the others in proportion to their weights. Throws when `total` does not fit.
 */
export function allocate(total: number, weights: number[], max: number): number[] {
  if (total > weights.length * max) throw new Error(`${total} do not fit in ${weights.length} × ${max}`);
  const counts = new Array<number>(weights.length).fill(0);
  let left = total;
  while (left > 0) {
    const open = weights.map((w, i) => ((counts[i] as number) < max ? w : 0));
    const sum = open.reduce((a, b) => a + b, 0);
    let given = 0;
    for (let i = 0; i < counts.length && given < left; i++) {
      const room = max - (counts[i] as number);
      const share = Math.min(room, Math.floor((left * (open[i] as number)) / sum), left - given);
      counts[i] = (counts[i] as number) + share;
      given += share;
    }
    // Rounding left a few: one each to the heaviest shares with room.
    for (let i = 0; given === 0 && i < counts.length && left - given > 0; i++) {
      if ((counts[i] as number) < max) {
        counts[i] = (counts[i] as number) + 1;
        given++;
      }
    }
    left -= given;
  }
  return counts;
}

/** Draws an index with probability proportional to its weight (cumulative table, binary search). */
export function sampler(weights: number[], rand: () => number): () => number {
  const cumulative = new Float64Array(weights.length);
  let sum = 0;
  weights.forEach((w, i) => {
    sum += w;
    cumulative[i] = sum;
  });
  return () => {
    const x = rand() * sum;
    let [lo, hi] = [0, weights.length - 1];
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cumulative[mid] as number) > x) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
}

export const providerId = (n: number) => `provider-${String(n).padStart(4, '0')}`;
export const customerId = (n: number) => `customer-${String(n).padStart(6, '0')}`;

function check(options: SeedOptions) {
  const positive = ['resources', 'providers', 'customers', 'pastDays', 'futureDays', 'maxActiveHolds'] as const;
  for (const name of positive) {
    if (!Number.isInteger(options[name]) || options[name] < 1) throw new Error(`${name} must be a whole number ≥ 1, not ${options[name]}`);
  }
  if (!Number.isInteger(options.reservations) || options.reservations < 0) {
    throw new Error(`reservations must be a whole number ≥ 0, not ${options.reservations}`);
  }
  if (Number.isNaN(options.now.getTime())) throw new Error('now must be an instant');
}

/**
 * The resources and, resource by resource, their reservations. Each resource's share follows a
 * Zipf law (the first resources are the hot ones); its reservations lie in consecutive cells of
 * its time span, one reservation per cell, so no two of a resource's reservations overlap,
 * whatever their status: the no-double-booking rule holds for every capacity. Statuses depend
 * on where the reservation lies: in the past confirmed, cancelled or expired holds; in the future
 * also holds still active (at most `maxActiveHolds` per customer, as reservation-api allows).
 */
export function generateSeed(partial: Partial<SeedOptions> = {}): {
  resources: SeedResource[];
  reservations: () => Generator<SeedReservation>;
} {
  const options = { ...SEED_DEFAULTS, ...partial };
  check(options);
  const rand = random(options.seed);
  const now = options.now.getTime();
  const from = Math.floor((now - options.pastDays * DAY) / GRID) * GRID;
  const to = from + (options.pastDays + options.futureDays) * DAY;
  const maxPerResource = Math.floor((to - from) / MIN_CELL_MS);
  if (options.reservations > options.resources * maxPerResource) {
    throw new Error(
      `reservations: ${options.reservations} do not fit on ${options.resources} resources over ${options.pastDays + options.futureDays} days (at most ${maxPerResource} each)`,
    );
  }
  const counts = allocate(options.reservations, zipfWeights(options.resources, options.resourceSkew), maxPerResource);
  const resources: SeedResource[] = counts.map((_, i) => ({
    id: uuid(rand),
    name: `Resource ${i + 1}`,
    providerId: providerId(i % options.providers),
    timeZone: TIME_ZONES[i % TIME_ZONES.length] as string,
    capacity: i % 10 === 9 ? 2 + (i % 3) : 1,
    longestMs: 0,
  }));
  const pickCustomer = sampler(zipfWeights(options.customers, options.customerSkew), rand);

  function* reservations(): Generator<SeedReservation> {
    const activeHolds = new Map<number, number>();
    for (const [i, resource] of resources.entries()) {
      const n = counts[i] as number;
      const step = (to - from) / n;
      for (let k = 0; k < n; k++) {
        const cellStart = from + Math.ceil((k * step) / GRID) * GRID;
        const cellEnd = from + Math.floor(((k + 1) * step) / GRID) * GRID;
        const cell = cellEnd - cellStart;
        const wanted = (DURATIONS_MIN[Math.floor(rand() * DURATIONS_MIN.length)] as number) * MINUTE;
        const duration = Math.min(wanted, cell);
        const start = cellStart + Math.floor((rand() * (cell - duration)) / GRID) * GRID;
        const end = start + duration;
        const customer = pickCustomer();
        let createdAt = Math.min(now, start - Math.floor(rand() * 60 * DAY));
        const roll = rand();
        let status: SeedReservation['status'] = 'confirmed';
        let expiresAt: number | null = null;
        let updatedAt = createdAt;
        let version = 1;
        if (roll < 0.11) {
          status = 'cancelled';
          updatedAt = Math.min(now, createdAt + Math.floor(rand() * 7 * DAY));
          version = 2;
        } else if (roll < 0.15) {
          status = 'held';
          // A few holds of the future are still running (made in the last minutes); the rest expired.
          const held = activeHolds.get(customer) ?? 0;
          if (start > now && roll < 0.1505 && held < options.maxActiveHolds) {
            activeHolds.set(customer, held + 1);
            expiresAt = now + MINUTE + Math.floor(rand() * (HOLD_TTL_MS - MINUTE));
            createdAt = expiresAt - HOLD_TTL_MS;
          } else {
            createdAt = Math.min(createdAt, now - HOLD_TTL_MS - MINUTE);
            expiresAt = createdAt + HOLD_TTL_MS;
          }
          updatedAt = createdAt;
        }
        resource.longestMs = Math.max(resource.longestMs, duration);
        yield {
          id: uuid(rand),
          resourceId: resource.id,
          customerId: customerId(customer),
          providerId: resource.providerId,
          startsAt: new Date(start),
          endsAt: new Date(end),
          status,
          expiresAt: expiresAt === null ? null : new Date(expiresAt),
          version,
          createdAt: new Date(createdAt),
          updatedAt: new Date(updatedAt),
        };
      }
    }
  }
  return { resources, reservations };
}
