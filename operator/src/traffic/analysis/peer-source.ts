import type { Bucket } from './histogram.ts';
import type { ClusterCounts } from './peer-judge.ts';
import type { ReservationRef } from './pods.ts';
import { QUERY_TIMEOUT_MS, type QueryOptions, type SeriesValue, vectorQuery } from './prometheus-source.ts';
import { peerQueries } from './promql.ts';

/**
 * A peer comparison's measurement: this cluster's and the peer's request counts, 5xx counts and
 * latency buckets over the same window, from one Prometheus that scrapes both clusters and tells
 * them apart by a label. Throws when Prometheus cannot answer; a cluster without series counts 0
 * requests (and `missing` says so, since a wrong label value looks exactly like no traffic).
 */

export interface PeerClusters {
  /** The label whose value tells the clusters apart. */
  label: string;
  self: string;
  peer: string;
}

export interface PeerCounts {
  self: ClusterCounts;
  peer: ClusterCounts;
  /** Cluster values for which Prometheus had no request series at all. */
  missing: string[];
}

export async function measurePeer(
  url: string,
  target: ReservationRef,
  clusters: PeerClusters,
  windowMs: number,
  { timeoutMs = QUERY_TIMEOUT_MS, signal, allowedHosts }: QueryOptions = {},
): Promise<PeerCounts> {
  const queries = peerQueries(clusters.label, target, `${Math.max(1, Math.ceil(windowMs / 1000))}s`);
  const [requests, errors, buckets] = await Promise.all([
    vectorQuery(url, queries.requests, { timeoutMs, signal, allowedHosts }),
    vectorQuery(url, queries.errors, { timeoutMs, signal, allowedHosts }),
    vectorQuery(url, queries.buckets, { timeoutMs, signal, allowedHosts }),
  ]);
  const counts = (cluster: string): ClusterCounts => ({
    cluster,
    requests: valueFor(requests, clusters.label, cluster),
    // Rounding can make the 5xx increase a hair larger than the total's; a share is at most 1.
    errors: Math.min(valueFor(errors, clusters.label, cluster), valueFor(requests, clusters.label, cluster)),
    buckets: bucketsFor(buckets, clusters.label, cluster),
  });
  const missing = [clusters.self, clusters.peer].filter((c) => !requests.some((s) => s.labels[clusters.label] === c));
  return { self: counts(clusters.self), peer: counts(clusters.peer), missing };
}

/**
 * Only the request counts of both clusters over the window (the settle rule's observed share):
 * the same query as a peer comparison's, by the same label.
 */
export async function measureRequests(
  query: (promql: string) => Promise<SeriesValue[]>,
  target: ReservationRef,
  clusters: PeerClusters,
  windowMs: number,
): Promise<{ self: number; peer: number; missing: string[] }> {
  const requests = await query(peerQueries(clusters.label, target, `${Math.max(1, Math.ceil(windowMs / 1000))}s`).requests);
  const missing = [clusters.self, clusters.peer].filter((c) => !requests.some((s) => s.labels[clusters.label] === c));
  return { self: valueFor(requests, clusters.label, clusters.self), peer: valueFor(requests, clusters.label, clusters.peer), missing };
}

export function valueFor(series: readonly SeriesValue[], label: string, cluster: string): number {
  const value = series.find((s) => s.labels[label] === cluster)?.value;
  return value !== undefined && Number.isFinite(value) && value > 0 ? value : 0;
}

function bucketsFor(series: readonly SeriesValue[], label: string, cluster: string): Bucket[] {
  return series
    .filter((s) => s.labels[label] === cluster && s.labels.le !== undefined && Number.isFinite(s.value))
    .map((s) => ({ le: s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le), count: Math.max(0, s.value) }))
    .filter((b) => !Number.isNaN(b.le))
    .sort((a, b) => a.le - b.le);
}
