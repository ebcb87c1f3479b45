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

/**
 * The earliest start a reservation overlapping `window` can have, when none is longer than
 * `longestMs`: it covers an instant t of the window, so it started after t − longestMs ≥
 * start − longestMs. The overlap checks read the resource's index from here to `window.end`
 * rather than from the resource's first reservation.
 */
export function earliestOverlappingStart(window: Interval, longestMs: number): Date {
  return new Date(window.start.getTime() - longestMs);
}

/**
 * How long a reservation of a resource can be, for the overlap checks: the longest it ever had
 * (kept by the writes of this build), or its policy's maximum, whichever is more, so a window an
 * older build wrote during a rollout (which does not keep the longest) is still within reach.
 */
export function overlapReachMs(longestMs: number, maxDurationMinutes: number): number {
  return Math.max(longestMs, maxDurationMinutes * 60_000);
}

/** ISO 8601 in UTC with milliseconds, the form every instant leaves this API in. */
export function toIso(d: Date): string {
  return d.toISOString();
}
