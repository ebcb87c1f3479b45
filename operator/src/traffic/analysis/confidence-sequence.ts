import type { Bucket } from './histogram.ts';

/**
 * Confidence sequences for a Bernoulli probability: intervals that hold at every sample size at
 * once, so an analysis may look after every measurement and stop at the first clear answer
 * without inflating its error rate ("anytime-valid").
 *
 * The construction is Robbins' beta-binomial mixture (H. Robbins, "Statistical methods related
 * to the law of the iterated logarithm", Ann. Math. Statist. 41, 1970), as presented in
 * S. R. Howard, A. Ramdas, J. McAuliffe, J. Sekhon, "Time-uniform, nonparametric, nonasymptotic
 * confidence sequences", Ann. Statist. 49(2), 2021 (conjugate mixtures). With s successes in n
 * trials and a uniform mixing prior,
 *
 *   M_n(p) = B(s + 1, n − s + 1) / (p^s (1 − p)^(n − s))
 *
 * is a nonnegative martingale of mean 1 under the true p, so by Ville's inequality
 * P(∃n: M_n(p) ≥ 1/α) ≤ α, and {p : M_n(p) < 1/α} is a (1 − α) confidence sequence. log M_n is
 * convex in p and in s, so both sets below are intervals, found by bisection.
 *
 * Counts may be fractional (Prometheus's increase() extrapolates); the formulas take real s, n.
 */

export interface Interval {
  low: number;
  high: number;
}

/**
 * The (1 − α) confidence sequence for the difference of two error rates, a − b, after `sA` of
 * `nA` and `sB` of `nB` requests failed: the normal-mixture boundary of the mixture sequential
 * probability ratio test (R. Johari, P. Koomen, L. Pekelis, D. Walsh, "Always valid inference:
 * continuous monitoring of A/B tests", Operations Research 70(3), 2022; the boundary is Howard
 * et al. 2021's normal mixture, and its use with an estimated variance is justified
 * asymptotically by I. Waudby-Smith, D. Arbour, R. Sinha, E. H. Kennedy, A. Ramdas,
 * "Time-uniform central limit theory and asymptotic confidence sequences", Ann. Statist. 2024):
 *
 *   |θ̂ − θ| < sqrt( V (V + τ²) / τ² · ln((V + τ²) / (V α²)) )
 *
 * with θ̂ the observed difference, V its variance p̃a(1 − p̃a)/nA + p̃b(1 − p̃b)/nB and τ the
 * spread of the differences the test is tuned to find (`tau`, a share). p̃ = (s + ½)/(n + 1)
 * rather than s/n, so that a window without errors still has a variance (no interval of width 0
 * after a few requests). It is much narrower than two separate exact sequences combined, and the
 * unit tests check its error rates by simulation where the normal approximation is weakest
 * (rare errors, zero errors, the smallest samples the analysis accepts).
 */
export function differenceInterval(sA: number, nA: number, sB: number, nB: number, alpha: number, tau: number): Interval {
  const threshold = checkAlpha(alpha);
  for (const [s, n] of [
    [sA, nA],
    [sB, nB],
  ] as const) {
    if (!(n > 0) || !(s >= 0) || s > n) throw new RangeError(`counts must satisfy 0 ≤ s ≤ n and n > 0, not s=${s}, n=${n}`);
  }
  const smoothed = (s: number, n: number) => (s + 0.5) / (n + 1);
  const variance = (s: number, n: number) => (smoothed(s, n) * (1 - smoothed(s, n))) / n;
  const v = variance(sA, nA) + variance(sB, nB);
  const t2 = tau * tau;
  const radius = Math.sqrt(((v * (v + t2)) / t2) * (Math.log((v + t2) / v) + 2 * threshold));
  const difference = sA / nA - sB / nB;
  return { low: Math.max(-1, difference - radius), high: Math.min(1, difference + radius) };
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms: about 15 significant digits). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
    -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  const z = x - 1;
  let sum = c[0] as number;
  for (let i = 1; i < 9; i++) sum += (c[i] as number) / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

const xLogY = (x: number, y: number) => (x === 0 ? 0 : x * Math.log(y));

/** ln M_n(p) for s successes in n trials. */
export function logMixture(s: number, n: number, p: number): number {
  const logBeta = logGamma(s + 1) + logGamma(n - s + 1) - logGamma(n + 2);
  return logBeta - xLogY(s, p) - xLogY(n - s, 1 - p);
}

/** The boundary between a and b (f(a) inside, f(b) outside the set), by bisection. */
function boundary(inside: (x: number) => boolean, a: number, b: number): number {
  let lo = a;
  let hi = b;
  for (let i = 0; i < 100 && Math.abs(hi - lo) > 1e-12 * Math.max(1, Math.abs(lo)); i++) {
    const mid = (lo + hi) / 2;
    if (inside(mid)) lo = mid;
    else hi = mid;
  }
  // The side of the set's edge that keeps the interval conservative (wider).
  return hi;
}

function checkAlpha(alpha: number): number {
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`alpha must be between 0 and 1, not ${alpha}`);
  return Math.log(1 / alpha);
}

/**
 * The (1 − α) confidence sequence for a probability after `s` successes in `n` trials. With no
 * trials it is [0, 1]: nothing is known.
 */
export function proportionInterval(s: number, n: number, alpha: number): Interval {
  const threshold = checkAlpha(alpha);
  if (!(n >= 0) || !(s >= 0) || s > n) throw new RangeError(`counts must satisfy 0 ≤ s ≤ n, not s=${s}, n=${n}`);
  if (n === 0) return { low: 0, high: 1 };
  const inside = (p: number) => logMixture(s, n, p) < threshold;
  const hat = s / n;
  const low = s === 0 ? 0 : boundary(inside, hat, 0);
  const high = s === n ? 1 : boundary(inside, hat, 1);
  return { low: Math.max(0, Math.min(low, hat)), high: Math.min(1, Math.max(high, hat)) };
}

/**
 * The counts at or below the true q-quantile that the confidence sequence accepts after n
 * observations: with probability ≥ 1 − α, at every n, the number of observations ≤ the true
 * q-quantile lies in [low, high] (Howard and Ramdas, "Sequential estimation of quantiles with
 * applications to A/B-testing and best-arm identification", Bernoulli 28(3), 2022, take the
 * same route from a Bernoulli confidence sequence to one for a quantile).
 */
export function rankInterval(n: number, q: number, alpha: number): Interval {
  const threshold = checkAlpha(alpha);
  if (!(q > 0 && q < 1)) throw new RangeError(`quantile must be between 0 and 1, not ${q}`);
  if (!(n > 0)) return { low: 0, high: n };
  const inside = (s: number) => logMixture(s, n, q) < threshold;
  const centre = n * q;
  const low = inside(0) ? 0 : boundary(inside, centre, 0);
  const high = inside(n) ? n : boundary(inside, centre, n);
  return { low, high };
}

/**
 * A confidence interval for the q-quantile of the observations counted by cumulative `buckets`
 * (the last one +Inf), valid at every n at once (with probability ≥ 1 − α):
 * - the order statistics that bracket the quantile come from `rankInterval`: the quantile is at
 *   least the ⌈low⌉-th smallest observation and below the (⌊high⌋ + 1)-th;
 * - an order statistic's value is read from the buckets as Prometheus's histogram_quantile reads
 *   one (linear inside its bucket, the first bucket starting at 0), so the interval is as fine as
 *   the buckets and assumes, as histogram_quantile does, that observations spread evenly inside one;
 * - a rank in the +Inf bucket has no upper bound (Infinity); its lower bound is the highest finite `le`.
 * No observations: [0, Infinity].
 */
export function quantileInterval(buckets: readonly Bucket[], q: number, alpha: number): Interval {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const n = sorted.at(-1)?.count ?? 0;
  if (sorted.at(-1)?.le !== Number.POSITIVE_INFINITY || !(n > 0)) return { low: 0, high: Number.POSITIVE_INFINITY };
  const ranks = rankInterval(n, q, alpha);
  const lowRank = Math.ceil(ranks.low - 1e-9);
  const highRank = Math.floor(ranks.high + 1e-9) + 1;
  const highestFinite = sorted.at(-2)?.le ?? 0;
  return {
    low: lowRank <= 0 ? 0 : Math.min(valueAtRank(sorted, lowRank), highestFinite),
    high: highRank > n ? Number.POSITIVE_INFINITY : valueAtRank(sorted, highRank),
  };
}

/** The value of the rank-th smallest observation (1-based), interpolated in its bucket; Infinity in the +Inf bucket. */
export function valueAtRank(sorted: readonly Bucket[], rank: number): number {
  let below = 0;
  let start = 0;
  for (const { le, count } of sorted) {
    // Float error can make a higher bucket smaller than a lower one: even it out as histogram_quantile does.
    const cumulative = Math.max(count, below);
    if (cumulative >= rank) {
      if (le === Number.POSITIVE_INFINITY) return le;
      if (le <= 0) return le;
      return start + (le - start) * ((rank - below) / (cumulative - below));
    }
    below = cumulative;
    start = le;
  }
  return Number.POSITIVE_INFINITY;
}
