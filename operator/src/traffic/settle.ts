import type { CutoverStatus } from '../api/v1alpha1/reservation.ts';
import { iso } from '../kube/time.ts';

/**
 * When a setShare step counts (pure): not only once Route53 serves its weights and a TTL has
 * passed, but once the traffic has followed. Clients that keep their connection (mobile apps,
 * connection pools) stay where they were whatever DNS says, so the share of requests a cluster
 * receives lags its weight; an analysis or an SRE reading status at that step would judge a
 * share that is not there. With a Prometheus that scrapes both clusters (spec.traffic.cutover
 * .settle), the step waits until this cluster's share of both clusters' requests is within the
 * tolerance of the step's share, measured every OBSERVE_POLL_MS, or until settle.maxWait has
 * passed since the TTL: then it goes on with a Warning, so a lagging share never holds a cutover
 * forever. Without a Prometheus it counts as before, and says so.
 */

export type ObservedShare = NonNullable<CutoverStatus['observed']>;

export interface SettleSettings {
  /** Whether a Prometheus is configured to observe both clusters' requests. */
  observed: boolean;
  tolerancePoints: number;
  /** How far back the requests are counted (never before the step was in sync). */
  windowMs: number;
  /** The bound: how long after the step's TTL it may wait for the observed share. */
  maxWaitMs: number;
}

/** One measurement of both clusters' requests over `windowMs`, or why there is none. */
export interface ShareMeasurement {
  at: Date;
  windowMs: number;
  requests?: { self: number; peer: number };
  error?: string;
}

export interface SettleInput {
  /** The step's share, percent. */
  share: number;
  /** When Route53 served the step everywhere (INSYNC); the TTL after it has passed. */
  syncedAt: Date;
  ttlMs: number;
  settings: SettleSettings;
  /** status.cutover.observed so far. */
  last?: ObservedShare;
  /** A measurement just taken for this decision. */
  measured?: ShareMeasurement;
  now: Date;
}

export type SettleDecision =
  /** `again`: the step had settled at an earlier decision (its event was sent then). */
  | { kind: 'settled'; how: 'Observed' | 'Bound' | 'Unobserved'; observed: ObservedShare; message: string; again?: true }
  /** Measure both clusters' requests over `windowMs` and decide again with it. */
  | { kind: 'measure'; windowMs: number; observed?: ObservedShare; message: string }
  | { kind: 'wait'; ms: number; observed: ObservedShare; message: string };

/** How often the observed share is measured again while a step waits for it. */
export const OBSERVE_POLL_MS = 5_000;

const round1 = (n: number) => Math.round(n * 10) / 10;

/** This cluster's share of both clusters' requests, percent (one decimal); undefined without requests. */
export function observedPercent(requests: { self: number; peer: number }): number | undefined {
  const total = requests.self + requests.peer;
  return total > 0 ? round1((requests.self * 100) / total) : undefined;
}

/** The observation as status keeps it, for the step of `share` (pure). */
export function observationOf(share: number, m: ShareMeasurement): ObservedShare {
  const windowSeconds = Math.round(m.windowMs / 1000);
  const base = { configuredShare: share, windowSeconds, at: iso(m.at) };
  if (m.error || !m.requests) return { ...base, message: `could not measure the observed share: ${m.error ?? 'no answer'}` };
  const percent = observedPercent(m.requests);
  const counted = `${Math.round(m.requests.self)} here, ${Math.round(m.requests.peer)} at the peer over ${windowSeconds}s`;
  if (percent === undefined) return { ...base, requests: m.requests, message: `no requests in either cluster over ${windowSeconds}s` };
  return { ...base, share: percent, requests: m.requests, message: `observed ${percent}% for ${share}% configured (${counted})` };
}

export function settleStep(input: SettleInput): SettleDecision {
  const { share, settings, now } = input;
  const settledFrom = input.syncedAt.getTime() + input.ttlMs;
  if (!settings.observed) {
    const message = `no settle (spec.traffic.cutover.settle, with .prometheus): ${share}% counts once in sync for a TTL, not by observed traffic`;
    return { kind: 'settled', how: 'Unobserved', observed: { configuredShare: share, message }, message };
  }
  // Only an observation of this step, taken once its TTL had passed, says anything about it.
  const ofThisStep = (o: ObservedShare | undefined) =>
    o?.configuredShare === share && o.at !== undefined && Date.parse(o.at) >= settledFrom ? o : undefined;
  const prior = ofThisStep(input.last);
  if (prior?.settled) return { kind: 'settled', how: prior.settled, observed: prior, message: prior.message, again: true };
  const last = input.measured ? observationOf(share, input.measured) : prior;
  const within = (o: ObservedShare | undefined) => o?.share !== undefined && Math.abs(o.share - share) <= settings.tolerancePoints;
  const tolerance = `±${settings.tolerancePoints} points`;

  if (last && within(last)) {
    return {
      kind: 'settled',
      how: 'Observed',
      observed: { ...last, settled: 'Observed' },
      message: `${last.message}: within ${tolerance}`,
    };
  }
  const boundAt = settledFrom + settings.maxWaitMs;
  if (now.getTime() >= boundAt) {
    const seen = last?.share !== undefined ? `observed ${last.share}%` : (last?.message ?? 'no observation');
    const message = `${share}% in sync, but ${seen}, outside ${tolerance} after ${Math.round(settings.maxWaitMs / 1000)}s (settle.maxWait): going on`;
    // Stamped when it was not measured, so later decisions know this step has settled.
    const observed: ObservedShare = { ...(last ?? { configuredShare: share, message, at: iso(now) }), settled: 'Bound' };
    return { kind: 'settled', how: 'Bound', observed, message };
  }
  const due = last?.at ? Date.parse(last.at) + OBSERVE_POLL_MS : now.getTime();
  if (!input.measured && now.getTime() >= due) {
    // The window never reaches back before the step was in sync: those requests followed the old
    // weights. So it starts at a TTL and grows to settle.window; a window shorter than two of
    // Prometheus's scrapes has no rate, and reads as no requests until it has grown.
    const since = now.getTime() - input.syncedAt.getTime();
    const windowMs = Math.max(1000, Math.min(settings.windowMs, Math.floor(since / 1000) * 1000));
    return {
      kind: 'measure',
      windowMs,
      ...(last ? { observed: last } : {}),
      message: `${share}% in sync for a TTL; measuring the observed share`,
    };
  }
  const observed = last ?? { configuredShare: share, message: 'not measured yet' };
  return {
    kind: 'wait',
    ms: Math.max(1000, Math.min(due, boundAt) - now.getTime()),
    observed,
    message: `${share}% in sync; waiting for the traffic to follow: ${observed.message}, outside ${tolerance} (going on anyway at ${iso(new Date(boundAt))})`,
  };
}
