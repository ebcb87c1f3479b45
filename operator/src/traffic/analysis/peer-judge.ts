import { differenceInterval, type Interval, quantileInterval } from './confidence-sequence.ts';
import { type Bucket, histogramQuantile } from './histogram.ts';
import { formatCount, formatMs, percent, type Verdict } from './judge.ts';

/**
 * Green judged against blue over the same window (pure): this cluster's error rate and latency
 * quantile against the peer cluster's, each with an anytime-valid confidence sequence
 * (confidence-sequence.ts), so the verdict may be read after every measurement.
 *
 * - error rate: a (1 − α/2m) confidence sequence for each cluster's error rate (m: the metrics
 *   compared), so the difference self − peer lies in [low_self − high_peer, high_self − low_peer]
 *   with confidence 1 − α/m. `failed` when even its low end is above the allowed increase,
 *   `ok` when its high end is at or below it;
 * - latency: the same for the q-quantile of each cluster's histogram. `failed` when self's
 *   quantile is surely above (1 + tolerance) × the peer's (self's low end above the peer's high
 *   end × (1 + tolerance)), `ok` when self's high end is at or below the peer's low end × (1 + tolerance);
 * - `inconclusive` (no verdict yet) otherwise, or while either cluster has fewer than
 *   `minRequests` in the window.
 * By the union bound the whole comparison errs (fails a cluster that is within the allowance,
 * or passes one that is not) with probability at most α = 1 − confidence, however often it is read.
 */

/**
 * The spread of error-rate differences the mixture test is tuned to (a share): it detects
 * differences around 1 point soonest, and any size eventually.
 */
export const ERROR_RATE_TAU = 0.01;

export interface ClusterCounts {
  /** The value of the cluster label (blue, green, ...). */
  cluster: string;
  /** Requests answered in the window, every status. */
  requests: number;
  /** Of those, answered with a 5xx. */
  errors: number;
  /** The request-duration histogram over the window (seconds), cumulative, the last bucket +Inf. */
  buckets: Bucket[];
}

export interface PeerSettings {
  /** 0-1: the chance that the comparison's verdict is right, however often it is read. */
  confidence: number;
  /** Fewer requests than this in either cluster: no verdict on that metric. */
  minRequests: number;
  /** Compare error rates: fail when self's is more than `maxIncrease` (a share: 0.001 is 0.1 points) above the peer's. */
  errorRate?: { maxIncrease: number };
  /** Compare a latency quantile: fail when self's is more than `maxIncreasePercent` % above the peer's. */
  latency?: { quantile: number; maxIncreasePercent: number };
}

export interface ErrorRateComparison {
  verdict: Verdict;
  self: number;
  peer: number;
  /** self − peer, with the settings' confidence. */
  difference: Interval;
}

export interface LatencyComparison {
  verdict: Verdict;
  /** histogram_quantile's estimate, seconds. */
  self: number;
  peer: number;
  /** Each cluster's quantile, seconds, with the settings' confidence (both at once). */
  selfInterval: Interval;
  peerInterval: Interval;
}

export interface PeerJudgement {
  verdict: Verdict;
  message: string;
  errorRate?: ErrorRateComparison;
  latency?: LatencyComparison;
}

/** The verdict on self against peer, both counted over the same window. */
export function judgePeer(settings: PeerSettings, self: ClusterCounts, peer: ClusterCounts): PeerJudgement {
  const metrics = (settings.errorRate ? 1 : 0) + (settings.latency ? 1 : 0);
  if (metrics === 0) throw new RangeError('a peer comparison needs errorRate, latency or both');
  if (!(settings.confidence > 0 && settings.confidence < 1)) {
    throw new RangeError(`confidence must be between 0 and 1, not ${settings.confidence}`);
  }
  // α shared out over the metrics and the two clusters (Bonferroni).
  const alpha = (1 - settings.confidence) / (2 * metrics);
  const parts: string[] = [];
  const result: Omit<PeerJudgement, 'verdict' | 'message'> = {};
  const verdicts: Verdict[] = [];

  const floor = floorProblem(settings.minRequests, self, peer);
  if (settings.errorRate) {
    if (floor) {
      verdicts.push('inconclusive');
      parts.push(`error rate: ${floor}`);
    } else {
      const c = compareErrorRates(settings.errorRate.maxIncrease, self, peer, alpha);
      result.errorRate = c;
      verdicts.push(c.verdict);
      parts.push(errorRateMessage(c, settings, self.cluster, peer.cluster));
    }
  }
  if (settings.latency) {
    const { quantile, maxIncreasePercent } = settings.latency;
    const counted = { ...self, requests: observations(self.buckets) };
    const latencyFloor = floorProblem(settings.minRequests, counted, { ...peer, requests: observations(peer.buckets) });
    if (latencyFloor) {
      verdicts.push('inconclusive');
      parts.push(`${quantileName(quantile)}: ${latencyFloor}`);
    } else {
      const c = compareLatency(quantile, maxIncreasePercent / 100, self.buckets, peer.buckets, alpha);
      result.latency = c;
      verdicts.push(c.verdict);
      parts.push(latencyMessage(c, settings, self.cluster, peer.cluster));
    }
  }
  const verdict: Verdict = verdicts.includes('failed') ? 'failed' : verdicts.every((v) => v === 'ok') ? 'ok' : 'inconclusive';
  const traffic = `${self.cluster} ${formatCount(self.requests)}, ${peer.cluster} ${formatCount(peer.requests)} requests`;
  return { verdict, message: `${parts.join('; ')} (${traffic}, ${percent(settings.confidence)} confidence)`, ...result };
}

export function compareErrorRates(maxIncrease: number, self: ClusterCounts, peer: ClusterCounts, alpha: number): ErrorRateComparison {
  const difference = differenceInterval(self.errors, self.requests, peer.errors, peer.requests, 2 * alpha, ERROR_RATE_TAU);
  const verdict: Verdict = difference.low > maxIncrease ? 'failed' : difference.high <= maxIncrease ? 'ok' : 'inconclusive';
  return { verdict, self: self.errors / self.requests, peer: peer.errors / peer.requests, difference };
}

export function compareLatency(
  quantile: number,
  tolerance: number,
  self: readonly Bucket[],
  peer: readonly Bucket[],
  alpha: number,
): LatencyComparison {
  const selfInterval = quantileInterval(self, quantile, alpha);
  const peerInterval = quantileInterval(peer, quantile, alpha);
  const allowed = (x: number) => x * (1 + tolerance);
  const verdict: Verdict =
    selfInterval.low > allowed(peerInterval.high) ? 'failed' : selfInterval.high <= allowed(peerInterval.low) ? 'ok' : 'inconclusive';
  return { verdict, self: histogramQuantile(quantile, self), peer: histogramQuantile(quantile, peer), selfInterval, peerInterval };
}

function observations(buckets: readonly Bucket[]): number {
  return buckets.reduce((max, b) => Math.max(max, b.count), 0);
}

function floorProblem(minRequests: number, self: ClusterCounts, peer: ClusterCounts): string | undefined {
  const few = [self, peer].filter((c) => !(c.requests >= minRequests) || c.requests === 0);
  if (few.length === 0) return undefined;
  const counts = few.map((c) => `${c.cluster} ${formatCount(Number.isFinite(c.requests) ? c.requests : 0)}`).join(', ');
  return `too few requests to compare (${counts}; minRequests ${formatCount(minRequests)} each)`;
}

const quantileName = (q: number) => `p${Number((q * 100).toFixed(3))}`;

/** 0.0042 → "+0.42 points". */
function points(share: number): string {
  const p = share * 100;
  const digits = Math.abs(p) < 0.1 && p !== 0 ? 3 : 2;
  return `${p >= 0 ? '+' : '−'}${Math.abs(p).toFixed(digits)} points`;
}

function errorRateMessage(c: ErrorRateComparison, settings: PeerSettings, self: string, peer: string): string {
  const allowed = points(settings.errorRate?.maxIncrease ?? 0);
  const range = `${points(c.difference.low)} to ${points(c.difference.high)}`;
  const what = c.verdict === 'failed' ? 'worse than allowed' : c.verdict === 'ok' ? 'within allowed' : 'not yet decided against allowed';
  return `error rate ${self} ${percent(c.self)} vs ${peer} ${percent(c.peer)}: difference ${range}, ${what} ${allowed}`;
}

function latencyMessage(c: LatencyComparison, settings: PeerSettings, self: string, peer: string): string {
  const { quantile = 0.99, maxIncreasePercent = 0 } = settings.latency ?? {};
  const ms = (seconds: number) => formatMs(seconds * 1000);
  const range = (i: Interval) => `${ms(i.low)}-${Number.isFinite(i.high) ? ms(i.high) : '∞'}`;
  const what = c.verdict === 'failed' ? 'more than' : c.verdict === 'ok' ? 'within' : 'not yet decided against';
  return (
    `${quantileName(quantile)} ${self} ${ms(c.self)} (${range(c.selfInterval)}) vs ${peer} ${ms(c.peer)} (${range(c.peerInterval)}): ` +
    `${what} ${maxIncreasePercent}% above ${peer}'s`
  );
}
