import type { Bucket } from '../../src/traffic/analysis/histogram.ts';
import { type ClusterCounts, judgePeer, type PeerSettings } from '../../src/traffic/analysis/peer-judge.ts';

/**
 * Simulated peer analyses with a seeded random source, for the statistics' unit tests and
 * `npm run bench:analysis`: two clusters share a request stream, each request fails with its
 * cluster's error rate and takes a log-normal time, bucketed like service-kit's histogram; the
 * analysis reads the cumulative counts after every interval and stops at its first verdict.
 */

/** mulberry32: a small, fast, seeded PRNG (uniform in [0, 1)). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** service-kit's request-duration buckets, seconds. */
export const SERVICE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export interface ClusterModel {
  errorRate: number;
  /** Median latency, seconds, of a log-normal; omit to simulate no latency histogram. */
  latencyMedian?: number;
  /** σ of ln(latency). */
  latencySigma?: number;
}

export interface Scenario {
  /** Requests per second across both clusters. */
  ratePerSecond: number;
  /** This cluster's share of them, 0-1. */
  selfShare: number;
  self: ClusterModel;
  peer: ClusterModel;
  intervalSeconds: number;
  maxSeconds: number;
  settings: PeerSettings;
}

export interface SimulatedAnalysis {
  verdict: 'ok' | 'failed' | 'inconclusive';
  /** When the verdict came (the end of the window for inconclusive). */
  seconds: number;
}

/**
 * A Binomial(n, p) draw by inversion with geometric gaps between successes: about n·min(p, 1 − p)
 * logarithms, not n random numbers (jest's VM context makes Math slow, and the tests draw millions).
 */
export function binomial(n: number, p: number, random: () => number): number {
  if (p <= 0 || n <= 0) return 0;
  if (p >= 1) return n;
  if (p > 0.5) return n - binomial(n, 1 - p, random);
  const logQ = Math.log(1 - p);
  let successes = 0;
  let position = 0;
  for (;;) {
    position += Math.floor(Math.log(1 - random()) / logQ) + 1;
    if (position > n) return successes;
    successes++;
  }
}

/** Φ(x), the standard normal CDF (Abramowitz and Stegun 7.1.26 for erf, error below 1.5e-7). */
function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const erf = 1 - t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.exp(-z * z);
  return x >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

function emptyCounts(cluster: string): ClusterCounts {
  return { cluster, requests: 0, errors: 0, buckets: [...SERVICE_BUCKETS, Number.POSITIVE_INFINITY].map((le) => ({ le, count: 0 })) };
}

/** `requests` more requests answered by a cluster: its errors, and its latencies bucketed (a multinomial, one binomial per bucket). */
function serve(counts: ClusterCounts, model: ClusterModel, requests: number, random: () => number): void {
  counts.requests += requests;
  counts.errors += binomial(requests, model.errorRate, random);
  if (model.latencyMedian === undefined) return;
  const sigma = model.latencySigma ?? 0.5;
  let left = requests;
  let below = 0;
  let cumulative = 0;
  for (const b of counts.buckets as Bucket[]) {
    const at = b.le === Number.POSITIVE_INFINITY ? 1 : normalCdf(Math.log(b.le / model.latencyMedian) / sigma);
    const share = left > 0 && below < 1 ? Math.min(1, (at - below) / (1 - below)) : 0;
    const here = binomial(left, share, random);
    cumulative += here;
    left -= here;
    below = at;
    b.count += cumulative;
  }
}

/**
 * One analysis: after each interval, the comparison of everything counted so far; stops at the
 * first verdict. The split between the clusters is the share exactly (the statistics judge
 * rates, whatever each cluster's count).
 */
export function simulateAnalysis(scenario: Scenario, random: () => number): SimulatedAnalysis {
  const self = emptyCounts('green');
  const peer = emptyCounts('blue');
  const perInterval = scenario.ratePerSecond * scenario.intervalSeconds;
  const toSelf = Math.round(perInterval * scenario.selfShare);
  for (let t = scenario.intervalSeconds; t <= scenario.maxSeconds; t += scenario.intervalSeconds) {
    serve(self, scenario.self, toSelf, random);
    serve(peer, scenario.peer, perInterval - toSelf, random);
    const { verdict } = judgePeer(scenario.settings, self, peer);
    if (verdict !== 'inconclusive') return { verdict, seconds: t };
  }
  return { verdict: 'inconclusive', seconds: scenario.maxSeconds };
}

export interface Rates {
  runs: number;
  failed: number;
  ok: number;
  inconclusive: number;
  /** Median seconds to a verdict among the runs that reached one. */
  medianSecondsToVerdict: number;
}

/** `runs` analyses of `scenario` from one seed. */
export function simulateMany(scenario: Scenario, runs: number, seed: number): Rates {
  const random = seededRandom(seed);
  const rates = { runs, failed: 0, ok: 0, inconclusive: 0 };
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const { verdict, seconds } = simulateAnalysis(scenario, random);
    rates[verdict]++;
    if (verdict !== 'inconclusive') times.push(seconds);
  }
  times.sort((a, b) => a - b);
  return { ...rates, medianSecondsToVerdict: times[Math.floor(times.length / 2)] ?? Number.NaN };
}
