import { describe, expect, it } from '@jest/globals';
import type { AnalysisTemplate } from '../../../src/api/v1alpha1/reservation.ts';
import { judgePeer } from '../../../src/traffic/analysis/peer-judge.ts';
import type { PeerCounts } from '../../../src/traffic/analysis/peer-source.ts';
import { peerQueries } from '../../../src/traffic/analysis/promql.ts';
import { recordComparison, startAnalysis } from '../../../src/traffic/analysis/run.ts';
import { template } from './templates.ts';

const t0 = new Date('2026-12-03T10:00:00Z');
const at = (s: number) => new Date(t0.getTime() + s * 1000);
const peerTemplate = (overrides: Partial<AnalysisTemplate> = {}) =>
  template({
    name: 'vs-blue',
    metrics: undefined,
    prometheus: { url: 'http://prometheus:9090' },
    interval: '10s',
    count: 3,
    peer: { label: 'cluster', confidence: 0.95, minRequests: 50, errorRate: { maxIncrease: 0.001 } },
    ...overrides,
  });
const counts = (green: [number, number], blue: [number, number]): PeerCounts => ({
  self: { cluster: 'green', requests: green[0], errors: green[1], buckets: [] },
  peer: { cluster: 'blue', requests: blue[0], errors: blue[1], buckets: [] },
  missing: [],
});
const look = (t: AnalysisTemplate, c: PeerCounts, windowMs: number) => ({
  judgement: judgePeer(t.peer as NonNullable<AnalysisTemplate['peer']>, c.self, c.peer),
  counts: c,
  windowMs,
});

describe('recordComparison', () => {
  it('fails at the first look that shows green worse than allowed, with both clusters in the status', () => {
    const t = peerTemplate();
    const run = recordComparison(startAnalysis(t, 3, t0), t, look(t, counts([6000, 66], [6000, 6]), 120_000), at(110));
    expect(run).toMatchObject({ result: 'Failed', measurements: 1, failures: 1, inconclusive: 0, requests: 6000 });
    expect(run.message).toMatch(
      /^Failed: green is worse than blue by more than allowed; look 1\/3 over 2m: error rate green 1\.1% vs blue 0\.1%/,
    );
    expect(run.comparison).toMatchObject({
      self: { cluster: 'green', requests: 6000, errors: 66 },
      peer: { cluster: 'blue', requests: 6000, errors: 6 },
      windowSeconds: 120,
    });
    expect(run.comparison?.errorRateDifferenceLow).toBeGreaterThan(0.001);
    // Only numbers the API server accepts.
    expect(JSON.stringify(run)).not.toContain('null');
  });

  it('passes as soon as green is shown within the allowance', () => {
    const t = peerTemplate();
    const run = recordComparison(startAnalysis(t, 3, t0), t, look(t, counts([20_000, 0], [20_000, 0]), 400_000), at(390));
    expect(run.result).toBe('Successful');
    expect(run.message).toMatch(/^Successful: green is within the allowances of blue; /);
  });

  it('stays Running without a verdict, and is Inconclusive (never Successful) after count looks', () => {
    const t = peerTemplate();
    let run = startAnalysis(t, 3, t0);
    for (const [i, n] of [3, 6, 9].entries()) {
      run = recordComparison(run, t, look(t, counts([n, 0], [n, 0]), 10_000 * (i + 1)), at(10 * i));
      expect(run.result).toBe(i < 2 ? 'Running' : 'Inconclusive');
    }
    expect(run).toMatchObject({ measurements: 3, failures: 0, inconclusive: 3 });
    expect(run.message).toMatch(
      /^Inconclusive: no verdict after 3 looks \(too little traffic, or too close to the allowance to tell\), so green was not shown to be as good as blue \(policy: Pause\); look 3\/3 over 30s: error rate: too few requests to compare \(green 9, blue 9; minRequests 50 each\)/,
    );
    expect(() => recordComparison(run, t, look(t, counts([9, 0], [9, 0]), 40_000), at(40))).toThrow('has already finished (Inconclusive)');
  });

  it('counts a look Prometheus could not answer as without verdict', () => {
    const t = peerTemplate();
    const run = recordComparison(
      startAnalysis(t, 3, t0),
      t,
      {
        judgement: { verdict: 'inconclusive', message: 'could not measure: Prometheus at http://prometheus:9090: ECONNREFUSED' },
        windowMs: 10_000,
      },
      at(0),
    );
    expect(run).toMatchObject({
      result: 'Running',
      inconclusive: 1,
      message: 'look 1/3 over 10s: could not measure: Prometheus at http://prometheus:9090: ECONNREFUSED',
    });
    expect(run.comparison).toBeUndefined();
  });
});

describe('peerQueries', () => {
  it('counts both clusters over the same window, by the label, for the Reservation’s pods only', () => {
    const q = peerQueries('cluster', { namespace: 'shop', name: 'booking' }, '95s');
    const pods = 'namespace="shop",pod=~"booking-(reservation-api|query-api|notifier)-[a-z0-9]+-[a-z0-9]+"';
    expect(q).toEqual({
      requests: `sum by (cluster) (increase(http_request_duration_seconds_count{${pods}}[95s]))`,
      errors: `sum by (cluster) (increase(http_request_duration_seconds_count{${pods},status_code=~"5.."}[95s]))`,
      buckets: `sum by (cluster, le) (increase(http_request_duration_seconds_bucket{${pods}}[95s]))`,
    });
  });
});
