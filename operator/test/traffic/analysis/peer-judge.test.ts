import { describe, expect, it } from '@jest/globals';
import { type ClusterCounts, judgePeer, type PeerSettings } from '../../../src/traffic/analysis/peer-judge.ts';
import { type Scenario, simulateMany } from '../../support/analysis-simulation.ts';

const errorsOnly: PeerSettings = { confidence: 0.95, minRequests: 50, errorRate: { maxIncrease: 0.001 } };
const both: PeerSettings = { ...errorsOnly, latency: { quantile: 0.99, maxIncreasePercent: 10 } };
const noLatency = (cluster: string, requests: number, errors: number): ClusterCounts => ({ cluster, requests, errors, buckets: [] });

/** `requests` answered, all of them within `fast` seconds except `slow` of them up to `tail`. */
function timed(cluster: string, requests: number, errors: number, fast: number, slow: number, tail: number): ClusterCounts {
  return {
    cluster,
    requests,
    errors,
    buckets: [
      { le: fast, count: requests - slow },
      { le: tail, count: requests },
      { le: Number.POSITIVE_INFINITY, count: requests },
    ],
  };
}

describe('judgePeer', () => {
  it('fails a cluster whose error rate is clearly more than the allowance above its peer’s', () => {
    const j = judgePeer(errorsOnly, noLatency('green', 6000, 66), noLatency('blue', 6000, 6));
    expect(j.verdict).toBe('failed');
    expect(j.message).toMatch(
      /^error rate green 1\.1% vs blue 0\.1%: difference \+0\.\d\d points to \+1\.\d\d points, worse than allowed \+0\.10 points \(green 6,000, blue 6,000 requests, 95% confidence\)$/,
    );
    expect(j.errorRate?.difference.low).toBeGreaterThan(0.001);
  });

  it('passes equal, clean clusters once there is enough traffic, and not before', () => {
    expect(judgePeer(errorsOnly, noLatency('green', 20_000, 0), noLatency('blue', 20_000, 0)).verdict).toBe('ok');
    const early = judgePeer(errorsOnly, noLatency('green', 60, 0), noLatency('blue', 60, 0));
    expect(early.verdict).toBe('inconclusive');
    expect(early.message).toMatch(/not yet decided against allowed \+0\.10 points/);
  });

  it('never passes 3 requests against 3 (100% vs 100%): too few to compare, without dividing by zero', () => {
    const j = judgePeer(both, timed('green', 3, 0, 0.1, 0, 0.25), timed('blue', 3, 0, 0.1, 0, 0.25));
    expect(j).toEqual({
      verdict: 'inconclusive',
      message:
        'error rate: too few requests to compare (green 3, blue 3; minRequests 50 each); ' +
        'p99: too few requests to compare (green 3, blue 3; minRequests 50 each) (green 3, blue 3 requests, 95% confidence)',
    });
  });

  it('is inconclusive when one cluster had no traffic at all', () => {
    const j = judgePeer(errorsOnly, noLatency('green', 0, 0), noLatency('blue', 5000, 5));
    expect(j.verdict).toBe('inconclusive');
    expect(j.message).toContain('too few requests to compare (green 0; minRequests 50 each)');
  });

  it('fails a p99 surely more than 10% above the peer’s, and passes one that is the same', () => {
    // green: 2% of requests between 0.25 s and 1 s; blue: 0.2%.
    const slow = judgePeer(both, timed('green', 20_000, 0, 0.25, 400, 1), timed('blue', 20_000, 0, 0.25, 40, 1));
    expect(slow.verdict).toBe('failed');
    expect(slow.latency?.verdict).toBe('failed');
    expect(slow.message).toMatch(
      /p99 green [\d.]+ ms \([\d.]+ ms-[\d.]+ ms\) vs blue [\d.]+ ms \([\d.]+ ms-[\d.]+ ms\): more than 10% above blue's/,
    );
    const same = judgePeer(both, timed('green', 50_000, 0, 0.25, 400, 1), timed('blue', 50_000, 0, 0.25, 400, 1));
    expect(same.latency?.verdict).toBe('ok');
    expect(same.verdict).toBe('ok');
  });

  it('fails on either metric even while the other has no verdict', () => {
    const j = judgePeer(both, timed('green', 6000, 66, 0.1, 0, 0.25), timed('blue', 6000, 6, 0.1, 0, 0.25));
    expect(j.errorRate?.verdict).toBe('failed');
    expect(j.verdict).toBe('failed');
  });

  it('refuses settings without a metric or with a confidence outside 0-1', () => {
    expect(() => judgePeer({ confidence: 0.95, minRequests: 50 }, noLatency('g', 1, 0), noLatency('b', 1, 0))).toThrow(
      'a peer comparison needs errorRate, latency or both',
    );
    expect(() => judgePeer({ ...errorsOnly, confidence: 1 }, noLatency('g', 1, 0), noLatency('b', 1, 0))).toThrow(
      'confidence must be between 0 and 1, not 1',
    );
  });
});

describe('judgePeer over simulated analyses (seeded): read every 10 s, stopped at the first verdict', () => {
  const scenario = (blue: number, green: number, maxSeconds: number, settings = errorsOnly): Scenario => ({
    ratePerSecond: 100,
    selfShare: 0.5,
    self: { errorRate: green },
    peer: { errorRate: blue },
    intervalSeconds: 10,
    maxSeconds,
    settings,
  });

  it.each([
    ['no errors', 0],
    ['0.5% errors', 0.005],
    ['5% errors', 0.05],
  ])('A/A (%s on both): green is failed in at most α = 5%% of 1,000 analyses of 10 minutes', (_, rate) => {
    const r = simulateMany(scenario(rate, rate, 600), 1000, 1);
    expect(r.runs).toBe(1000);
    expect(r.failed).toBeLessThanOrEqual(50);
  });

  it('A/B: a +1 point regression (0.5% → 1.5%) at 50/50 and 100 req/s is failed within 2 minutes in ≥ 90% of 1,000 analyses', () => {
    const r = simulateMany(scenario(0.005, 0.015, 120), 1000, 2);
    expect(r.failed).toBeGreaterThanOrEqual(900);
    expect(r.ok).toBe(0);
  });

  it('just past the allowance (0.5% → 0.65%, allowed +0.1 points): passed in at most α of 1,000 analyses', () => {
    const r = simulateMany(scenario(0.005, 0.0065, 600), 1000, 3);
    expect(r.ok).toBeLessThanOrEqual(50);
  });

  it('latency A/A: green failed in at most α of 300 analyses; twice as slow: failed within 2 minutes in ≥ 90%', () => {
    const latency = (blue: number, green: number, maxSeconds: number): Scenario => ({
      ...scenario(0, 0, maxSeconds, { confidence: 0.95, minRequests: 50, latency: { quantile: 0.99, maxIncreasePercent: 10 } }),
      self: { errorRate: 0, latencyMedian: green, latencySigma: 0.5 },
      peer: { errorRate: 0, latencyMedian: blue, latencySigma: 0.5 },
    });
    expect(simulateMany(latency(0.05, 0.05, 300), 300, 4).failed).toBeLessThanOrEqual(15);
    expect(simulateMany(latency(0.05, 0.1, 120), 300, 5).failed).toBeGreaterThanOrEqual(270);
  });
});
