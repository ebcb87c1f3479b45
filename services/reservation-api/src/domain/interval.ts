/** A half-open interval of instants, `[start, end)`: back-to-back bookings do not overlap. */
export interface Interval {
  start: Date;
  end: Date;
}

export function overlaps(a: Interval, b: Interval): boolean {
  return a.start < b.end && b.start < a.end;
}

/**
 * The most intervals of `taken` that cover any single instant of `window`. Coverage only rises
 * at a start, so it is enough to look at the window's start and every start inside it; this is
 * what the database computes when it admits a booking (see reservation-store.ts).
 */
export function peakOverlap(taken: Interval[], window: Interval): number {
  const inside = taken.filter((t) => overlaps(t, window));
  const points = [window.start, ...inside.map((t) => t.start).filter((s) => s > window.start)];
  return Math.max(0, ...points.map((p) => inside.filter((t) => t.start <= p && t.end > p).length));
}

/** ISO 8601 in UTC with milliseconds, the form every instant leaves this API in. */
export function toIso(d: Date): string {
  return d.toISOString();
}
