import type { PromAnswers, PromVector } from './model.ts';

/**
 * The dashboard's three Prometheus queries, by the `cluster` label Prometheus puts on each
 * cluster's targets. The services' RED histogram is http_request_duration_seconds (service-kit);
 * a short window so the observed share follows a step within seconds.
 */
export const QUERIES = {
  rate: 'sum by (cluster) (rate(http_request_duration_seconds_count[15s]))',
  errors: 'sum by (cluster) (rate(http_request_duration_seconds_count{status_code=~"5.."}[15s]))',
  p99: 'histogram_quantile(0.99, sum by (cluster, le) (rate(http_request_duration_seconds_bucket[15s])))',
} as const;

export const PROMETHEUS_TIMEOUT_MS = 2000;

/** Runs the three queries; throws with what went wrong (no answer in time, refused, an error status). */
export async function queryPrometheus(baseUrl: string, timeoutMs = PROMETHEUS_TIMEOUT_MS): Promise<PromAnswers> {
  const [rate, errors, p99] = await Promise.all([QUERIES.rate, QUERIES.errors, QUERIES.p99].map((q) => instant(baseUrl, q, timeoutMs)));
  return { rate: rate ?? [], errors: errors ?? [], p99: p99 ?? [] };
}

async function instant(baseUrl: string, query: string, timeoutMs: number): Promise<PromVector> {
  const url = new URL('/api/v1/query', baseUrl);
  url.searchParams.set('query', query);
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const cause = (err as Error).cause as Error | undefined;
    if ((err as Error).name === 'TimeoutError') throw new Error(`no answer from ${baseUrl} in ${timeoutMs / 1000} s`);
    throw new Error(`${baseUrl}: ${cause?.message ?? (err as Error).message}`);
  }
  const body = (await response.json().catch(() => undefined)) as
    | { status?: string; error?: string; data?: { resultType?: string; result?: PromVector } }
    | undefined;
  if (!response.ok || body?.status !== 'success') {
    throw new Error(`${baseUrl} answered ${response.status}${body?.error ? `: ${body.error}` : ''}`);
  }
  return body.data?.resultType === 'vector' ? (body.data.result ?? []) : [];
}
