import { timeoutSignal } from '@reservations/service-kit/timeout-signal';
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

/**
 * The URL comes from a Reservation's spec, so whoever may edit one chooses what the operator
 * fetches: it follows no redirect, reads at most this much of an answer (the largest it asks for,
 * latency buckets by cluster, is a few KB), and echoes no body into status or events.
 */
export const MAX_ANSWER_BYTES = 1024 * 1024;

export interface QueryOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  /** The operator's PROMETHEUS_ALLOWED_HOSTS: when set, a URL whose host is not in it is refused. */
  allowedHosts?: readonly string[];
}

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
export async function instantQuery(baseUrl: string, query: string, options: QueryOptions = {}): Promise<number | undefined> {
  return oneNumber(baseUrl, query, await vectorQuery(baseUrl, query, options));
}

/** The one number of a query's answer, `undefined` when it had no series; throws when it had several. */
export function oneNumber(baseUrl: string, query: string, series: readonly SeriesValue[]): number | undefined {
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
  { timeoutMs = QUERY_TIMEOUT_MS, signal, allowedHosts }: QueryOptions = {},
): Promise<SeriesValue[]> {
  const refused = urlError(baseUrl, allowedHosts);
  if (refused) throw new Error(`Prometheus at ${baseUrl}: ${refused}`);
  const url = `${baseUrl.replace(/\/+$/, '')}/api/v1/query`;
  let response: Response;
  let text: string;
  const call = timeoutSignal(timeoutMs, signal);
  try {
    // POST: the default queries are long, and a GET URL has limits on the way.
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ query }),
      signal: call.signal,
      redirect: 'manual',
    });
    if (response.status >= 300 && response.status < 400) {
      await response.body?.cancel();
      throw new Error(`answered with a redirect (HTTP ${response.status}), which the operator does not follow: give the API's own URL`);
    }
    text = await readCapped(response, MAX_ANSWER_BYTES);
  } catch (err) {
    // The caller giving up (a reconcile past its deadline) is not Prometheus's failure.
    if (signal?.aborted) throw signal.reason;
    const reason = call.timedOut
      ? `no answer in ${timeoutMs / 1000} s`
      : ((err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message);
    throw new Error(`Prometheus at ${baseUrl}: ${reason}`, { cause: err });
  } finally {
    call.clear();
  }
  let answer: ApiAnswer;
  try {
    answer = JSON.parse(text) as ApiAnswer;
  } catch {
    const type = printable(response.headers.get('content-type') ?? 'no content type', 60);
    throw new Error(`Prometheus at ${baseUrl}: HTTP ${response.status}, not the query API's JSON (${type})`);
  }
  if (answer.status !== 'success' || !answer.data) {
    // Prometheus's own error (a query that does not parse, say) is what an SRE needs: kept, short and printable.
    const type = typeof answer.errorType === 'string' ? printable(answer.errorType, 40) : `HTTP ${response.status}`;
    const error = typeof answer.error === 'string' ? printable(answer.error, 200) : 'no data';
    throw new Error(`Prometheus at ${baseUrl}: ${type}: ${error} (query: ${query})`);
  }
  const { resultType, result } = answer.data;
  if (resultType === 'scalar') return [{ labels: {}, value: Number((result as [number, string])[1]) }];
  if (resultType === 'vector') {
    const series = result as Array<{ metric: Record<string, string>; value: [number, string] }>;
    return series.map((s) => ({ labels: s.metric, value: Number(s.value[1]) }));
  }
  throw new Error(`Prometheus at ${baseUrl}: the query gave a ${resultType}, not one number: ${query}`);
}

/** Why the operator will not query this URL, if it will not (pure). */
export function urlError(baseUrl: string, allowedHosts: readonly string[] | undefined): string | undefined {
  const url = URL.canParse(baseUrl) ? new URL(baseUrl) : undefined;
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) return 'not an http(s) URL';
  if (url.username || url.password) return 'credentials in the URL are not sent';
  if (allowedHosts && allowedHosts.length > 0 && !allowedHosts.includes(url.hostname.toLowerCase())) {
    return `host ${url.hostname} is not in the operator's PROMETHEUS_ALLOWED_HOSTS (${allowedHosts.join(', ')})`;
  }
  return undefined;
}

/** A body as text, refusing one longer than `max` bytes without reading the rest. */
async function readCapped(response: Response, max: number): Promise<string> {
  const declared = Number(response.headers.get('content-length'));
  if (declared > max) {
    await response.body?.cancel();
    throw new Error(`answer of ${declared} bytes, more than the ${max} the operator reads`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body?.getReader();
  for (let part = await reader?.read(); part && !part.done; part = await reader?.read()) {
    size += part.value.byteLength;
    if (size > max) {
      // Stop the server's stream now, rather than leave it to the garbage collector.
      await reader?.cancel();
      throw new Error(`answer longer than the ${max} bytes the operator reads`);
    }
    chunks.push(part.value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** At most `max` characters of printable ASCII: what may go from an answer into status and events. */
function printable(text: string, max: number): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

export function createPrometheusSource({
  timeoutMs = QUERY_TIMEOUT_MS,
  allowedHosts,
}: {
  timeoutMs?: number;
  allowedHosts?: readonly string[];
} = {}) {
  return {
    async measure(target: ReservationRef, template: AnalysisTemplate, signal?: AbortSignal): Promise<Measurement> {
      if (!template.prometheus) throw new Error(`analysis "${template.name}" has no prometheus source`);
      const { url } = template.prometheus;
      const windowMs = analysisIntervalMs(template);
      const queries = analysisQueries(template, target);
      const [requests, successRate, p99Seconds] = await Promise.all([
        instantQuery(url, queries.requests, { timeoutMs, signal, allowedHosts }),
        instantQuery(url, queries.successRate, { timeoutMs, signal, allowedHosts }),
        instantQuery(url, queries.latencyP99, { timeoutMs, signal, allowedHosts }),
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
