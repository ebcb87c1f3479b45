import type { Sample } from './exposition.ts';

/**
 * The services' request histogram, `http_request_duration_seconds{method,route,status_code}`
 * (service-kit's httpMetrics), added up over every label and pod, and the arithmetic the
 * metrics source does with it: the difference between two scrapes, the success rate, and the
 * p99 the way Prometheus's histogram_quantile computes it.
 */

export const HTTP_HISTOGRAM = 'http_request_duration_seconds';
export const PROCESS_START = 'process_start_time_seconds';

/** A cumulative bucket: `count` observations were ≤ `le` seconds. */
export interface Bucket {
  le: number;
  count: number;
}

export interface HttpTotals {
  /** Requests answered (the histogram's `_count`, every status code). */
  requests: number;
  /** Of those, answered with a 5xx. */
  serverErrors: number;
  /** Cumulative buckets sorted by `le`, the last one `+Inf`. */
  buckets: Bucket[];
}

export const NO_REQUESTS: HttpTotals = { requests: 0, serverErrors: 0, buckets: [] };

/** The metric names `httpTotals` reads, for parseExposition's `keep`. */
export function isHttpHistogramOrStart(name: string): boolean {
  return name === PROCESS_START || name === `${HTTP_HISTOGRAM}_count` || name === `${HTTP_HISTOGRAM}_bucket`;
}

/** One scrape's histogram series added up over all their labels. */
export function httpTotals(samples: readonly Sample[], metric = HTTP_HISTOGRAM): HttpTotals {
  let requests = 0;
  let serverErrors = 0;
  const buckets = new Map<number, number>();
  for (const s of samples) {
    if (s.name === `${metric}_count`) {
      requests += s.value;
      if (/^5\d\d$/.test(s.labels.status_code ?? '')) serverErrors += s.value;
    } else if (s.name === `${metric}_bucket` && s.labels.le !== undefined) {
      const le = s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le);
      if (!Number.isNaN(le)) buckets.set(le, (buckets.get(le) ?? 0) + s.value);
    }
  }
  return { requests, serverErrors, buckets: sortBuckets(buckets) };
}

/** `process_start_time_seconds` (prom-client's default metrics), when the scrape has it. */
export function processStartSeconds(samples: readonly Sample[]): number | undefined {
  return samples.find((s) => s.name === PROCESS_START)?.value;
}

/** Two totals added up (several pods); buckets are matched by `le`, as `sum by (le)` does. */
export function addTotals(a: HttpTotals, b: HttpTotals): HttpTotals {
  const buckets = new Map<number, number>();
  for (const { le, count } of [...a.buckets, ...b.buckets]) buckets.set(le, (buckets.get(le) ?? 0) + count);
  return { requests: a.requests + b.requests, serverErrors: a.serverErrors + b.serverErrors, buckets: sortBuckets(buckets) };
}

/**
 * True when a counter went down between two scrapes of the same pod: its process restarted
 * and the counters began again from 0 (what Prometheus's rate() calls a counter reset).
 */
export function wentDown(before: HttpTotals, after: HttpTotals): boolean {
  if (after.requests < before.requests || after.serverErrors < before.serverErrors) return true;
  const later = new Map(after.buckets.map((b) => [b.le, b.count]));
  return before.buckets.some((b) => (later.get(b.le) ?? 0) < b.count);
}

/**
 * What one pod answered between two scrapes: `after - before`, or all of `after` when the
 * counters were reset in between (like rate(), this misses what the old process answered
 * after `before` and before it stopped).
 */
export function deltaTotals(before: HttpTotals, after: HttpTotals): HttpTotals {
  if (wentDown(before, after)) return after;
  const earlier = new Map(before.buckets.map((b) => [b.le, b.count]));
  return {
    requests: after.requests - before.requests,
    serverErrors: after.serverErrors - before.serverErrors,
    buckets: after.buckets.map(({ le, count }) => ({ le, count: count - (earlier.get(le) ?? 0) })),
  };
}

/** Share of requests without a 5xx; NaN without requests (as 0/0 is in PromQL). */
export function successRate(t: HttpTotals): number {
  return t.requests > 0 ? (t.requests - t.serverErrors) / t.requests : Number.NaN;
}

/**
 * The φ-quantile of cumulative buckets as Prometheus's histogram_quantile computes it
 * (promql/quantile.go, bucketQuantile, v2.42): linear interpolation inside the bucket where the
 * rank falls, the lowest bucket starting at 0; a rank in the +Inf bucket gives the highest finite
 * bound; NaN without a +Inf bucket, with fewer than two buckets or without observations.
 */
export function histogramQuantile(q: number, buckets: readonly Bucket[]): number {
  if (Number.isNaN(q)) return Number.NaN;
  if (q < 0) return Number.NEGATIVE_INFINITY;
  if (q > 1) return Number.POSITIVE_INFINITY;
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const last = sorted.at(-1);
  if (!last || last.le !== Number.POSITIVE_INFINITY) return Number.NaN;
  // Float error can make a higher bucket smaller than a lower one; Prometheus evens it out.
  let max = Number.NEGATIVE_INFINITY;
  const counts = sorted.map((b) => {
    max = Math.max(max, b.count);
    return { le: b.le, count: max };
  });
  if (counts.length < 2) return Number.NaN;
  const observations = (counts.at(-1) as Bucket).count;
  if (observations === 0) return Number.NaN;
  let rank = q * observations;
  let b = counts.findIndex((bucket, i) => i < counts.length - 1 && bucket.count >= rank);
  if (b === -1) b = counts.length - 1;
  if (b === counts.length - 1) return (counts[counts.length - 2] as Bucket).le;
  const bucket = counts[b] as Bucket;
  if (b === 0 && bucket.le <= 0) return bucket.le;
  let start = 0;
  let count = bucket.count;
  if (b > 0) {
    const previous = counts[b - 1] as Bucket;
    start = previous.le;
    count -= previous.count;
    rank -= previous.count;
  }
  return start + (bucket.le - start) * (rank / count);
}

function sortBuckets(buckets: Map<number, number>): Bucket[] {
  return [...buckets].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
}
