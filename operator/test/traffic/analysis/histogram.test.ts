import { describe, expect, it } from '@jest/globals';
import { parseExposition } from '../../../src/traffic/analysis/exposition.ts';
import {
  addTotals,
  type Bucket,
  deltaTotals,
  type HttpTotals,
  histogramQuantile,
  httpTotals,
  processStartSeconds,
  successRate,
  wentDown,
} from '../../../src/traffic/analysis/histogram.ts';

const INF = Number.POSITIVE_INFINITY;
const b = (...pairs: Array<[number, number]>): Bucket[] => pairs.map(([le, count]) => ({ le, count }));

/** prom-client's text for one pod: (route, status, counts per bucket le 0.1, 0.5, +Inf) */
function scrape(series: Array<[string, string, [number, number, number]]>, start = 1000): string {
  const lines = [`process_start_time_seconds ${start}`];
  for (const [route, status, [a, c, inf]] of series) {
    const labels = `service="query-api",method="GET",route="${route}",status_code="${status}"`;
    lines.push(
      `http_request_duration_seconds_bucket{le="0.1",${labels}} ${a}`,
      `http_request_duration_seconds_bucket{le="0.5",${labels}} ${c}`,
      `http_request_duration_seconds_bucket{le="+Inf",${labels}} ${inf}`,
      `http_request_duration_seconds_sum{${labels}} 1.5`,
      `http_request_duration_seconds_count{${labels}} ${inf}`,
    );
  }
  lines.push('nodejs_heap_size_total_bytes 1e7');
  return lines.join('\n');
}

describe('httpTotals', () => {
  it('adds up every route and status, counting 5xx apart', () => {
    const samples = parseExposition(
      scrape([
        ['/a', '200', [8, 9, 10]],
        ['/a', '503', [1, 1, 2]],
        ['/b', '500', [0, 3, 3]],
        ['/b', '404', [5, 5, 5]],
      ]),
    );
    expect(httpTotals(samples)).toEqual({ requests: 20, serverErrors: 5, buckets: b([0.1, 14], [0.5, 18], [INF, 20]) });
    expect(processStartSeconds(samples)).toBe(1000);
  });

  it('is empty for a service that answered nothing yet (prom-client has no series then)', () => {
    expect(httpTotals(parseExposition('process_start_time_seconds 5'))).toEqual({ requests: 0, serverErrors: 0, buckets: [] });
    expect(processStartSeconds([])).toBeUndefined();
  });
});

describe('between two scrapes', () => {
  const before: HttpTotals = { requests: 100, serverErrors: 2, buckets: b([0.1, 90], [0.5, 98], [INF, 100]) };
  const after: HttpTotals = { requests: 150, serverErrors: 7, buckets: b([0.1, 120], [0.5, 145], [INF, 150]) };

  it('takes the difference', () => {
    expect(deltaTotals(before, after)).toEqual({ requests: 50, serverErrors: 5, buckets: b([0.1, 30], [0.5, 47], [INF, 50]) });
    expect(wentDown(before, after)).toBe(false);
  });

  it('counts a bucket that appeared since from 0', () => {
    expect(deltaTotals({ requests: 0, serverErrors: 0, buckets: [] }, after)).toEqual(after);
  });

  it('takes all of the later scrape after a counter reset (the pod restarted)', () => {
    const restarted: HttpTotals = { requests: 30, serverErrors: 0, buckets: b([0.1, 30], [0.5, 30], [INF, 30]) };
    expect(wentDown(before, restarted)).toBe(true);
    expect(deltaTotals(before, restarted)).toEqual(restarted);
  });

  it('sees a reset in a single bucket or in the errors alone', () => {
    expect(wentDown(before, { ...after, serverErrors: 1 })).toBe(true);
    expect(wentDown(before, { ...after, buckets: b([0.1, 80], [0.5, 145], [INF, 150]) })).toBe(true);
  });

  it('adds pods up bucket by bucket', () => {
    expect(addTotals(before, { requests: 1, serverErrors: 1, buckets: b([0.25, 0], [INF, 1]) })).toEqual({
      requests: 101,
      serverErrors: 3,
      buckets: b([0.1, 90], [0.25, 0], [0.5, 98], [INF, 101]),
    });
  });

  it('gives the success rate, NaN without requests', () => {
    expect(successRate(before)).toBe(0.98);
    expect(successRate({ requests: 0, serverErrors: 0, buckets: [] })).toBeNaN();
  });
});

describe('histogramQuantile, as Prometheus computes it', () => {
  it.each([
    // 100 observations: 90 ≤ 0.1, 8 in (0.1, 0.5], 2 above. Rank 99 is in (0.5, 1]: 0.5 + 0.5·(1/2).
    ['interpolates inside the bucket', 0.99, b([0.1, 90], [0.5, 98], [1, 100], [INF, 100]), 0.75],
    ['the lowest bucket starts at 0', 0.5, b([0.1, 100], [INF, 100]), 0.05],
    ['a rank in +Inf gives the highest finite bound', 0.99, b([0.1, 50], [0.5, 90], [INF, 100]), 0.5],
    ['the median on a bucket boundary', 0.5, b([1, 50], [2, 100], [INF, 100]), 1],
    ['unsorted input', 0.99, b([INF, 100], [1, 100], [0.1, 90], [0.5, 98]), 0.75],
    ['non-monotonic counts are evened out', 0.5, b([0.1, 60], [0.5, 55], [INF, 100]), 0.1 * (50 / 60)],
    ['q 0 is the lowest bucket start', 0, b([0.1, 10], [INF, 10]), 0],
    ['q 1 is the top of the last finite bucket with data', 1, b([0.1, 10], [0.5, 10], [INF, 10]), 0.1],
    ['a lowest bucket at or below 0', 0.5, b([0, 10], [1, 20], [INF, 20]), 0],
  ])('%s', (_, q, buckets, expected) => {
    expect(histogramQuantile(q, buckets)).toBeCloseTo(expected, 10);
  });

  it.each([
    ['no buckets', b()],
    ['no +Inf bucket', b([0.1, 5], [0.5, 10])],
    ['only +Inf', b([INF, 10])],
    ['no observations', b([0.1, 0], [INF, 0])],
  ])('is NaN with %s', (_, buckets) => {
    expect(histogramQuantile(0.99, buckets)).toBeNaN();
  });

  it('is ±Inf for q outside 0-1 and NaN for q NaN', () => {
    const buckets = b([0.1, 1], [INF, 1]);
    expect(histogramQuantile(-0.1, buckets)).toBe(Number.NEGATIVE_INFINITY);
    expect(histogramQuantile(1.1, buckets)).toBe(INF);
    expect(histogramQuantile(Number.NaN, buckets)).toBeNaN();
  });
});
