import type { AnalysisTemplate } from '../../api/v1alpha1/reservation.ts';
import { SERVICES } from '../../desired/metadata.ts';

/**
 * The PromQL the prometheus source runs, with `{{namespace}}`, `{{name}}` (the Reservation) and
 * `{{interval}}` (the template's interval, a PromQL duration such as 30s or 1m30s) filled in.
 *
 * The default queries pick the Reservation's pods by the `namespace` and `pod` labels, which
 * every usual way of scraping pods in Kubernetes attaches (the Prometheus Operator's
 * ServiceMonitor and PodMonitor, the `kubernetes-pods` job of Prometheus's example
 * configuration), and the pod names its Deployments give (`<name>-<service>-<hash>-<id>`).
 */

const components = Object.values(SERVICES)
  .map((s) => s.component)
  .join('|');

/** The Reservation's pods, as a PromQL label matcher. */
export const POD_SELECTOR = `namespace="{{namespace}}",pod=~"{{name}}-(${components})-[a-z0-9]+-[a-z0-9]+"`;

const count = (extra = '') => `http_request_duration_seconds_count{${POD_SELECTOR}${extra}}`;

export const DEFAULT_QUERIES = {
  /** Requests answered in the window, every status code: the traffic minRequests is checked against. */
  requests: `sum(increase(${count()}[{{interval}}]))`,
  /**
   * 1 - the 5xx share. Written this way round so that a window with only 5xx answers gives 0
   * (a `status_code!~"5.."` numerator would have no series at all, and so no answer); `or
   * vector(0)` stands for "no 5xx series yet". No traffic: 0/0, NaN, inconclusive.
   */
  successRate: `1 - ((sum(rate(${count(',status_code=~"5.."')}[{{interval}}])) or vector(0)) / sum(rate(${count()}[{{interval}}])))`,
  /** Seconds. Every request counts, whatever its status. */
  latencyP99: `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{${POD_SELECTOR}}[{{interval}}])))`,
} as const;

export type QueryName = keyof typeof DEFAULT_QUERIES;

export interface QueryTarget {
  namespace: string;
  name: string;
}

/** The three queries for `template` and `target`: the template's own where it has them, else the defaults. */
export function analysisQueries(template: AnalysisTemplate, target: QueryTarget): Record<QueryName, string> {
  const own = template.prometheus;
  const vars = { namespace: target.namespace, name: target.name, interval: template.interval };
  const render = (field: QueryName, query: string) => renderQuery(query, vars, `analysis "${template.name}": prometheus.${field}`);
  return {
    requests: render('requests', DEFAULT_QUERIES.requests),
    successRate: render('successRate', own?.successRate ?? DEFAULT_QUERIES.successRate),
    latencyP99: render('latencyP99', own?.latencyP99 ?? DEFAULT_QUERIES.latencyP99),
  };
}

/** Replaces `{{namespace}}`, `{{name}}`, `{{interval}}` (spaces inside the braces allowed); any other placeholder is an error. */
export function renderQuery(query: string, vars: Record<'namespace' | 'name' | 'interval', string>, where = 'query'): string {
  return query.replace(/\{\{\s*([^}\s]*)\s*\}\}/g, (_, key: string) => {
    if (key in vars) return vars[key as keyof typeof vars];
    throw new Error(`${where}: unknown placeholder {{${key}}}; known: {{namespace}}, {{name}}, {{interval}}`);
  });
}

/**
 * A peer comparison's queries: both clusters' counts over the same window, one series per value
 * of `label` (the source picks this cluster's and the peer's), as cumulative counts that the
 * confidence sequences read. `{{interval}}` is the window since the comparison began.
 */
export function peerQueries(label: string, target: QueryTarget, window: string): Record<'requests' | 'errors' | 'buckets', string> {
  const vars = { namespace: target.namespace, name: target.name, interval: window };
  const increase = (metric: string, extra = '') => `increase(${metric}{${POD_SELECTOR}${extra}}[{{interval}}])`;
  return {
    requests: renderQuery(`sum by (${label}) (${increase('http_request_duration_seconds_count')})`, vars),
    errors: renderQuery(`sum by (${label}) (${increase('http_request_duration_seconds_count', ',status_code=~"5.."')})`, vars),
    buckets: renderQuery(`sum by (${label}, le) (${increase('http_request_duration_seconds_bucket')})`, vars),
  };
}
