import { describe, expect, it } from '@jest/globals';
import type { AnalysisTemplate } from '../../../src/api/v1alpha1/reservation.ts';
import { formatCount, formatMs, judge, type Measurement, percent } from '../../../src/traffic/analysis/judge.ts';
import { formatDuration } from '../../../src/traffic/plan.ts';
import { template } from './templates.ts';

describe('judge', () => {
  const cases: Array<[string, Measurement, Partial<AnalysisTemplate>, 'ok' | 'failed' | 'inconclusive', string]> = [
    [
      'healthy',
      { requests: 1204, successRate: 0.998, latencyP99Ms: 212.4 },
      {},
      'ok',
      'success rate 99.8% ≥ 99%, p99 212 ms ≤ 500 ms over 30s (1,204 requests)',
    ],
    [
      'too many 5xx',
      { requests: 1204, successRate: 0.972, latencyP99Ms: 212 },
      {},
      'failed',
      'success rate 97.2% < 99%, p99 212 ms ≤ 500 ms over 30s (1,204 requests)',
    ],
    [
      'too slow',
      { requests: 50, successRate: 1, latencyP99Ms: 2500 },
      {},
      'failed',
      'p99 2.5 s > 500 ms, success rate 100% ≥ 99% over 30s (50 requests)',
    ],
    [
      'both broken',
      { requests: 50, successRate: 0.5, latencyP99Ms: 900 },
      {},
      'failed',
      'success rate 50% < 99%, p99 900 ms > 500 ms over 30s (50 requests)',
    ],
    [
      'exactly the thresholds pass',
      { requests: 20, successRate: 0.99, latencyP99Ms: 500 },
      {},
      'ok',
      'success rate 99% ≥ 99%, p99 500 ms ≤ 500 ms over 30s (20 requests)',
    ],
    [
      'just below the minimum prints enough digits to differ',
      { requests: 100_000, successRate: 0.98996, latencyP99Ms: 10 },
      {},
      'failed',
      'success rate 98.996% < 99%, p99 10 ms ≤ 500 ms over 30s (100,000 requests)',
    ],
    ['no traffic', { requests: 0 }, {}, 'inconclusive', 'no requests over 30s: no traffic to judge'],
    [
      'no traffic even with minRequests 0',
      { requests: 0, successRate: Number.NaN },
      { minRequests: 0 },
      'inconclusive',
      'no requests over 30s: no traffic to judge',
    ],
    [
      'too few requests, even all failing',
      { requests: 3, successRate: 0, latencyP99Ms: 10 },
      {},
      'inconclusive',
      'only 3 requests over 30s, fewer than minRequests 20: not enough traffic to judge',
    ],
    [
      'a fractional count (increase() extrapolates) is rounded down',
      { requests: 19.6, successRate: 1, latencyP99Ms: 10 },
      {},
      'inconclusive',
      'only 19 requests over 30s, fewer than minRequests 20: not enough traffic to judge',
    ],
    [
      'a fractional count below 10',
      { requests: 0.75, successRate: 1, latencyP99Ms: 10 },
      { minRequests: 1 },
      'inconclusive',
      'only 0.7 requests over 30s, fewer than minRequests 1: not enough traffic to judge',
    ],
    [
      'one request',
      { requests: 1, successRate: 1, latencyP99Ms: 1 },
      { minRequests: 2 },
      'inconclusive',
      'only 1 request over 30s, fewer than minRequests 2: not enough traffic to judge',
    ],
    [
      'NaN success rate from Prometheus',
      { requests: 40, successRate: Number.NaN, latencyP99Ms: 12 },
      {},
      'inconclusive',
      'no success rate (the source had no data), p99 12 ms ≤ 500 ms over 30s (40 requests)',
    ],
    [
      'missing p99',
      { requests: 40, successRate: 1 },
      {},
      'inconclusive',
      'no p99 latency (the source had no data), success rate 100% ≥ 99% over 30s (40 requests)',
    ],
    [
      'a missing value does not hide a broken one',
      { requests: 40, successRate: 0.5 },
      {},
      'failed',
      'success rate 50% < 99%, no p99 latency (the source had no data) over 30s (40 requests)',
    ],
    [
      'a success rate that is not a share',
      { requests: 40, successRate: 1.7, latencyP99Ms: 12 },
      {},
      'inconclusive',
      'success rate 1.7 is not a share between 0 and 1, p99 12 ms ≤ 500 ms over 30s (40 requests)',
    ],
    [
      'unknown request count',
      { requests: Number.NaN, successRate: 1, latencyP99Ms: 12 },
      {},
      'inconclusive',
      'no request count over 30s (the source found no series), so minRequests 20 cannot be checked',
    ],
    [
      'unknown request count with minRequests 0 (custom queries)',
      { requests: Number.NaN, successRate: 0.9, latencyP99Ms: 12 },
      { minRequests: 0 },
      'failed',
      'success rate 90% < 99%, p99 12 ms ≤ 500 ms over 30s (request count unknown)',
    ],
    [
      'the window the source measured',
      { requests: 40, successRate: 1, latencyP99Ms: 0.42, windowMs: 61_000 },
      { interval: '1m' },
      'ok',
      'success rate 100% ≥ 99%, p99 0.42 ms ≤ 500 ms over 1m1s (40 requests)',
    ],
    [
      'an infinite p99 fails',
      { requests: 40, successRate: 1, latencyP99Ms: Number.POSITIVE_INFINITY },
      {},
      'failed',
      'p99 Infinity ms > 500 ms, success rate 100% ≥ 99% over 30s (40 requests)',
    ],
  ];
  it.each(cases)('%s', (_, measurement, overrides, verdict, message) => {
    expect(judge(template(overrides), measurement)).toEqual({ verdict, message });
  });
});

describe('formatting', () => {
  it.each([
    [0.972, undefined, '97.2%'],
    [1, undefined, '100%'],
    [0.99, undefined, '99%'],
    [0.98999, 0.99, '98.999%'],
    [0.99999, 1, '99.999%'],
  ])('percent(%p, %p) is %s', (share, against, text) => expect(percent(share, against)).toBe(text));

  it.each([
    [0, '0'],
    [999, '999'],
    [1_000, '1,000'],
    [1_204.9, '1,204'],
    [1_234_567, '1,234,567'],
    [-1_234, '-1,234'],
    [9.87, '9.8'],
  ])('formatCount(%p) is %s', (n, text) => expect(formatCount(n)).toBe(text));

  it.each([
    [212.4, '212 ms'],
    [0.42, '0.42 ms'],
    [2500, '2.5 s'],
    [9.87, '9.9 ms'],
  ])('formatMs(%p) is %s', (ms, text) => expect(formatMs(ms)).toBe(text));

  it.each([
    [30_000, '30s'],
    [1_500, '1.5s'],
    [90_000, '1m30s'],
    [3_600_000, '1h'],
    [undefined, undefined],
    [Number.NaN, undefined],
  ])('formatDuration(%p) is %p', (ms, text) => expect(formatDuration(ms)).toBe(text));
});
