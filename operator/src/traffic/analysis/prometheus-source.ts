import type { AnalysisTemplate } from '../../api/v1alpha1/reservation.ts';
import type { Measurement } from './judge.ts';
import type { ReservationRef } from './pods.ts';
import { analysisQueries } from './promql.ts';
import { analysisIntervalMs } from './run.ts';

/**
 * The `prometheus` source: three instant queries (requests, success rate, p99) on the
 * template's Prometheus, over the last `interval`. Stateless: every call is a full measurement.
 * Any failure (Prometheus unreachable or slow, a query error, an answer that is not one
 * number) throws an Error saying which; the caller turns it into an inconclusive measurement.
 */

export const QUERY_TIMEOUT_MS = 10_000;

interface ApiAnswer {
  status: 'success' | 'error';
  errorType?: string;
  error?: string;
  data?: { resultType: string; result: unknown };
}

/** One series of an instant query's vector: its labels and its number (NaN as Prometheus gives it). */
export interface SeriesValue {
  labels: Record<string, string>;
  value: number;
}

/**
 * One instant query (`POST /api/v1/query`, https://prometheus.io/docs/prometheus/latest/querying/api/):
 * its number, NaN as Prometheus gives it, `undefined` when the vector is empty (no series matched).
 */
export async function instantQuery(
  baseUrl: string,
  query: string,
  options: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<number | undefined> {
  const series = await vectorQuery(baseUrl, query, options);
  if (series.length > 1) {
    throw new Error(
      `Prometheus at ${baseUrl}: the query gave ${series.length} series, not one number (aggregate it, e.g. with sum()): ${query}`,
    );
  }
  return series[0]?.value;
}

/** One instant query whose answer may be several series (a `sum by`); a scalar is one series without labels. */
export async function vectorQuery(
  baseUrl: string,
  query: string,
  { timeoutMs = QUERY_TIMEOUT_MS, signal }: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<SeriesValue[]> {
  const url = `${baseUrl.replace(/\/+$/, '')}/api/v1/query`;
  let response: Response;
  let text: string;
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    // POST: the default queries are long, and a GET URL has limits on the way.
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ query }),
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    text = await response.text();
  } catch (err) {
    // The caller giving up (a reconcile past its deadline) is not Prometheus's failure.
    if (signal?.aborted) throw signal.reason;
    const reason = timeout.aborted
      ? `no answer in ${timeoutMs / 1000} s`
      : ((err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message);
    throw new Error(`Prometheus at ${baseUrl}: ${reason}`, { cause: err });
  }
  let answer: ApiAnswer;
  try {
    answer = JSON.parse(text) as ApiAnswer;
  } catch {
    throw new Error(`Prometheus at ${baseUrl}: HTTP ${response.status}, not the query API's JSON: ${text.slice(0, 200)}`);
  }
  if (answer.status !== 'success' || !answer.data) {
    throw new Error(
      `Prometheus at ${baseUrl}: ${answer.errorType ?? `HTTP ${response.status}`}: ${answer.error ?? 'no data'} (query: ${query})`,
    );
  }
  const { resultType, result } = answer.data;
  if (resultType === 'scalar') return [{ labels: {}, value: Number((result as [number, string])[1]) }];
  if (resultType === 'vector') {
    const series = result as Array<{ metric: Record<string, string>; value: [number, string] }>;
    return series.map((s) => ({ labels: s.metric, value: Number(s.value[1]) }));
  }
  throw new Error(`Prometheus at ${baseUrl}: the query gave a ${resultType}, not one number: ${query}`);
}

export function createPrometheusSource({ timeoutMs = QUERY_TIMEOUT_MS }: { timeoutMs?: number } = {}) {
  return {
    async measure(target: ReservationRef, template: AnalysisTemplate, signal?: AbortSignal): Promise<Measurement> {
      if (!template.prometheus) throw new Error(`analysis "${template.name}" has no prometheus source`);
      const { url } = template.prometheus;
      const windowMs = analysisIntervalMs(template);
      const queries = analysisQueries(template, target);
      const [requests, successRate, p99Seconds] = await Promise.all([
        instantQuery(url, queries.requests, { timeoutMs, signal }),
        instantQuery(url, queries.successRate, { timeoutMs, signal }),
        instantQuery(url, queries.latencyP99, { timeoutMs, signal }),
      ]);
      return {
        requests: requests ?? Number.NaN,
        successRate,
        latencyP99Ms: p99Seconds === undefined ? undefined : p99Seconds * 1000,
        windowMs,
      };
    },
  };
}
