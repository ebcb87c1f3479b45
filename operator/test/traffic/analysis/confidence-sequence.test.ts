import { describe, expect, it } from '@jest/globals';
import {
  differenceInterval,
  logGamma,
  proportionInterval,
  quantileInterval,
  rankInterval,
  valueAtRank,
} from '../../../src/traffic/analysis/confidence-sequence.ts';
import { binomial, seededRandom } from '../../support/analysis-simulation.ts';

describe('logGamma', () => {
  it('matches ln((n − 1)!) and Γ(½) = √π', () => {
    expect(logGamma(1)).toBeCloseTo(0, 12);
    expect(logGamma(5)).toBeCloseTo(Math.log(24), 12);
    expect(logGamma(101)).toBeCloseTo(363.73937555556347, 9);
    expect(logGamma(0.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI)), 12);
  });
});

describe('proportionInterval (beta-binomial mixture)', () => {
  it('knows nothing without trials, and little after 3 clean requests', () => {
    expect(proportionInterval(0, 0, 0.05)).toEqual({ low: 0, high: 1 });
    const three = proportionInterval(0, 3, 0.05);
    expect(three.low).toBe(0);
    expect(three.high).toBeGreaterThan(0.5);
  });

  it('holds the observed rate and narrows as requests grow', () => {
    const small = proportionInterval(10, 1000, 0.05);
    const large = proportionInterval(100, 10_000, 0.05);
    for (const i of [small, large]) {
      expect(i.low).toBeLessThan(0.01);
      expect(i.high).toBeGreaterThan(0.01);
    }
    expect(large.high - large.low).toBeLessThan(small.high - small.low);
    expect(proportionInterval(50, 50, 0.05).high).toBe(1);
  });

  it('refuses counts that are not counts', () => {
    expect(() => proportionInterval(4, 3, 0.05)).toThrow('counts must satisfy 0 ≤ s ≤ n, not s=4, n=3');
    expect(() => proportionInterval(1, 3, 0)).toThrow('alpha must be between 0 and 1, not 0');
  });

  it('covers the true rate at every look in at least 1 − α of 500 seeded runs, looked at 20 times each', () => {
    const random = seededRandom(18);
    let missed = 0;
    for (let run = 0; run < 500; run++) {
      let s = 0;
      for (let n = 250; n <= 5000; n += 250) {
        s += binomial(250, 0.02, random);
        const i = proportionInterval(s, n, 0.05);
        if (i.low > 0.02 || i.high < 0.02) {
          missed++;
          break;
        }
      }
    }
    expect(missed).toBeLessThanOrEqual(25);
  });
});

describe('differenceInterval (normal-mixture SPRT)', () => {
  it('is centred on the observed difference and never of width 0, even without errors', () => {
    const i = differenceInterval(66, 6000, 6, 6000, 0.05, 0.01);
    expect(i.low).toBeLessThan(0.01);
    expect(i.high).toBeGreaterThan(0.01);
    const clean = differenceInterval(0, 3, 0, 3, 0.05, 0.01);
    expect(clean.low).toBeLessThan(-0.1);
    expect(clean.high).toBeGreaterThan(0.1);
  });

  it('refuses an empty window', () => {
    expect(() => differenceInterval(0, 0, 0, 10, 0.05, 0.01)).toThrow('counts must satisfy 0 ≤ s ≤ n and n > 0, not s=0, n=0');
  });
});

describe('rankInterval and quantileInterval', () => {
  // 1,000 observations: 900 up to 0.1 s, 95 more up to 0.25 s, 5 up to 0.5 s.
  const buckets = [
    { le: 0.1, count: 900 },
    { le: 0.25, count: 995 },
    { le: 0.5, count: 1000 },
    { le: Number.POSITIVE_INFINITY, count: 1000 },
  ];

  it('brackets the expected count below the quantile', () => {
    const r = rankInterval(1000, 0.99, 0.05);
    expect(r.low).toBeLessThan(990);
    expect(r.high).toBeGreaterThan(990);
    expect(r.high).toBeLessThanOrEqual(1000);
  });

  it('reads order statistics from the buckets as histogram_quantile does', () => {
    expect(valueAtRank(buckets, 900)).toBeCloseTo(0.1, 12);
    expect(valueAtRank(buckets, 995)).toBeCloseTo(0.25, 12);
    expect(valueAtRank(buckets, 947.5)).toBeCloseTo(0.175, 12);
  });

  it('gives p99 an interval around its estimate, unbounded above when the rank may reach the last observation', () => {
    const i = quantileInterval(buckets, 0.99, 0.05);
    expect(i.low).toBeGreaterThan(0.1);
    expect(i.low).toBeLessThan(0.24);
    expect(i.high).toBeGreaterThan(0.25);
    const p50 = quantileInterval(buckets, 0.5, 0.05);
    expect(p50.high).toBeLessThanOrEqual(0.1);
  });

  it('has no upper bound in the +Inf bucket and no interval without observations', () => {
    const slow = [
      { le: 0.1, count: 10 },
      { le: Number.POSITIVE_INFINITY, count: 1000 },
    ];
    expect(quantileInterval(slow, 0.99, 0.05)).toEqual({ low: 0.1, high: Number.POSITIVE_INFINITY });
    expect(quantileInterval([{ le: Number.POSITIVE_INFINITY, count: 0 }], 0.99, 0.05)).toEqual({ low: 0, high: Number.POSITIVE_INFINITY });
  });
});
