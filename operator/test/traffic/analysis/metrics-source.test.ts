import { describe, expect, it } from '@jest/globals';
import type { Bucket, HttpTotals } from '../../../src/traffic/analysis/histogram.ts';
import { measurementBetween, nextSnapshot, podDelta, type Snapshot } from '../../../src/traffic/analysis/metrics-source.ts';
import type { PodScrape } from '../../../src/traffic/analysis/scrape.ts';

const INF = Number.POSITIVE_INFINITY;
const totals = (requests: number, serverErrors: number, fast = requests): HttpTotals => ({
  requests,
  serverErrors,
  buckets: [{ le: 0.1, count: fast } as Bucket, { le: 1, count: requests }, { le: INF, count: requests }],
});
const pod = (key: string, t: HttpTotals, startSeconds?: number): PodScrape => ({
  key,
  pod: key,
  totals: t,
  ...(startSeconds ? { startSeconds } : {}),
});

describe('one pod between two scrapes', () => {
  it('is the difference', () => {
    expect(podDelta(pod('a', totals(100, 1), 50), pod('a', totals(160, 4), 50))).toEqual({
      requests: 60,
      serverErrors: 3,
      buckets: [
        { le: 0.1, count: 60 },
        { le: 1, count: 60 },
        { le: INF, count: 60 },
      ],
    });
  });

  it('is everything since the restart when the process start time changed, even if the counters grew past the old ones', () => {
    expect(podDelta(pod('a', totals(100, 1), 50), pod('a', totals(150, 0), 70))).toEqual(totals(150, 0));
  });

  it('is everything since the restart when a counter went down', () => {
    expect(podDelta(pod('a', totals(100, 1)), pod('a', totals(30, 0)))).toEqual(totals(30, 0));
  });

  it('is everything for a pod that appeared in the window, nothing for one that did not answer at its start', () => {
    expect(podDelta(undefined, pod('a', totals(30, 2)))).toEqual(totals(30, 2));
    expect(podDelta('unknown', pod('a', totals(30, 2)))).toEqual({ requests: 0, serverErrors: 0, buckets: [] });
  });
});

describe('a window over several pods', () => {
  const before: Snapshot = {
    at: 1_000,
    pods: new Map([
      ['a', pod('a', totals(100, 0))],
      ['b', pod('b', totals(50, 0))],
    ]),
  };

  it('adds the pods up, rate and p99 included', () => {
    const m = measurementBetween(before, [pod('a', totals(190, 2, 180)), pod('b', totals(60, 0, 60)), pod('c', totals(0, 0, 0))], 31_000);
    // 90 + 10 requests, 2 errors; 90 of 100 under 0.1 s, rank 99 is 9/10 into (0.1, 1].
    expect(m).toEqual({ requests: 100, successRate: 0.98, latencyP99Ms: expect.closeTo(100 + 900 * 0.9, 9), windowMs: 30_000 });
  });

  it('has no rate and no p99 without requests', () => {
    const m = measurementBetween(before, [pod('a', totals(100, 0))], 31_000);
    expect(m.requests).toBe(0);
    expect(m.successRate).toBeNaN();
    expect(m.latencyP99Ms).toBeNaN();
  });

  it('keeps the last good scrape of a pod that did not answer, and marks one never scraped', () => {
    const after = nextSnapshot(
      before,
      [pod('a', totals(110, 0))],
      [
        { key: 'b', pod: 'b', url: 'x' },
        { key: 'c', pod: 'c', url: 'y' },
      ],
      2_000,
    );
    expect(after.at).toBe(2_000);
    expect([...after.pods]).toEqual([
      ['a', pod('a', totals(110, 0))],
      ['b', pod('b', totals(50, 0))],
      ['c', 'unknown'],
    ]);
  });
});
