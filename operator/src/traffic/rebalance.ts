import type { TrafficStatus } from '../api/v1alpha1/reservation.ts';

/**
 * The rebalance of long-lived connections (pure). A weight change moves new resolutions, but a
 * client that keeps its connection stays where it is: with 60 % of clients holding connections
 * for 10 TTLs, a step to 50 % showed 42 % observed. So when a cutover step lowers the peer's
 * share from `from` to `to`, the peer's services close a fraction of their keep-alive connections
 * (spread over a TTL by service-kit's drain switch) and those clients resolve again. A client
 * that resolves again lands by the new weights, so `to` of them come back: closing a fraction f
 * of the connections leaves the peer from × (1 − f) + from × f × to of them, which is `to` when
 *
 *   f = (from − to) / (from × (1 − to))        (shares as fractions)
 *
 * e.g. 75 % → 50 %: 2/3 of the connections; 100 % → 95 %: all of them (only 5 % of those that
 * resolve again leave); to 0: all of them, the drain.
 */

/** The share of this cluster's connections to close when its share falls from `from` to `to` percent. */
export function rebalanceFraction(from: number, to: number): number {
  if (!(from > 0) || !(to < from)) return 0;
  const f = from / 100;
  const t = Math.max(0, to) / 100;
  return Math.min(1, (f - t) / (f * (1 - t)));
}

export type Rebalance = NonNullable<NonNullable<TrafficStatus['handover']>['rebalance']>;

/**
 * The handover's rebalance after the peer's cutover asked for `asked` (the TXT's rebalance
 * label: this cluster's share before and after the step it wrote): a new one, since `now`, when
 * the step is not the one already under way; the current one otherwise.
 */
export function nextRebalance(current: Rebalance | undefined, asked: { from: number; to: number } | undefined, now: string) {
  if (!asked) return current;
  if (current && current.fromShare === asked.from && current.toShare === asked.to) return current;
  const fraction = rebalanceFraction(asked.from, asked.to);
  if (fraction === 0) return current;
  return { fromShare: asked.from, toShare: asked.to, fraction: Math.round(fraction * 10_000) / 10_000, since: now };
}

/**
 * The drain switch's file, as service-kit reads it: `true` while the peer drains this cluster;
 * the rebalance under way, with a TTL to spread its closes over; `false` otherwise.
 */
export function drainSwitchValue(handover: TrafficStatus['handover'], ttlSeconds: number): string {
  if (handover?.connectionClose) return 'true';
  const r = handover?.rebalance;
  if (!r) return 'false';
  return JSON.stringify({ fraction: r.fraction, since: r.since, spreadSeconds: ttlSeconds });
}

/**
 * The rebalance label a cutover's batch puts on the peer's TXT: this batch lowers the peer's share
 * from `from` to `to` (a new request), or else the label the TXT has (left as it is, so the next
 * batch does not rewrite the TXT only to take it away).
 */
export function rebalanceLabel(
  live: { self: number; peer: number },
  next: { self: number; peer: number },
  existing: { from: number; to: number } | undefined,
): { from: number; to: number } | undefined {
  const share = (w: { self: number; peer: number }) => (w.self + w.peer === 0 ? 50 : Math.round((w.peer * 100) / (w.self + w.peer)));
  const from = share(live);
  const to = share(next);
  if (live.self === next.self && live.peer === next.peer) return existing;
  return to < from ? { from, to } : undefined;
}
