/**
 * The decisions of one batch's transaction, as plain functions: which events take effect and
 * which webhook deliveries the notifier claims for its fast path. The I/O is event-processor.ts.
 */

/**
 * For each event id in order: true if it takes effect now, false if it is a duplicate (already
 * in `processed`, or earlier in the same batch: SQS may hand out two copies of one event).
 */
export function firstOccurrences(eventIds: readonly string[], processed: ReadonlySet<string>): boolean[] {
  const seen = new Set(processed);
  return eventIds.map((id) => {
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

export interface DeliveryCandidate {
  providerId: string;
  reservationId: string;
  version: number;
}

/**
 * What each event's webhook delivery is: `none` (its provider has no endpoint), `claimed` (this
 * notifier POSTs it right after the commit) or `queued` (an earlier event of its reservation
 * still waits, in `earliestPending` or earlier in this batch: the poll claims it once that one is
 * delivered, so a reservation's webhooks go in version order).
 */
export function deliveryPlan(
  events: readonly DeliveryCandidate[],
  endpoints: ReadonlySet<string>,
  earliestPending: ReadonlyMap<string, number>,
): ('none' | 'claimed' | 'queued')[] {
  const lowest = new Map(earliestPending);
  return events.map(({ providerId, reservationId, version }) => {
    if (!endpoints.has(providerId)) return 'none';
    const pending = lowest.get(reservationId);
    if (pending === undefined || version < pending) lowest.set(reservationId, version);
    return pending !== undefined && pending < version ? 'queued' : 'claimed';
  });
}
