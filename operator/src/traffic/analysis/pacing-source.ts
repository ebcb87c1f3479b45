import { burnRate, type PacingMeasurement } from '../pacing.ts';
import { measureRequests, type PeerClusters, valueFor } from './peer-source.ts';
import type { ReservationRef } from './pods.ts';
import type { SeriesValue } from './prometheus-source.ts';
import { peerQueries } from './promql.ts';

/**
 * Pacing's measurement, from one Prometheus that scrapes both clusters and tells them apart by a
 * label (the peer comparison's queries): this cluster's requests since the step began, both
 * clusters' request rate now (the error budget's size), and this cluster's burn rate over the
 * four windows of the SRE Workbook's multi-window, multi-burn-rate alerts (as multiples of the
 * budget's even spend at `objective`).
 */

/** The Workbook's windows: a fast burn is judged over 5 min and 1 h, a slow one over 30 min and 6 h. */
export const BURN_WINDOWS = { fastShort: '5m', fastLong: '1h', slowShort: '30m', slowLong: '6h' } as const;
/** Both clusters' request rate is their requests over this window, per second. */
export const TOTAL_RATE_WINDOW_SECONDS = 120;

export interface PacingCounts extends PacingMeasurement {
  /** `label="value"` of each cluster Prometheus had no request series for (a wrong value looks like no traffic). */
  missing: string[];
}

export async function measurePacing(
  query: (promql: string) => Promise<SeriesValue[]>,
  target: ReservationRef,
  clusters: PeerClusters,
  sinceMs: number,
  objective: number,
): Promise<PacingCounts> {
  const errors = (window: string) => query(peerQueries(clusters.label, target, window).errors);
  const requests = (window: string) => query(peerQueries(clusters.label, target, window).requests);
  const windows = Object.entries(BURN_WINDOWS) as [keyof typeof BURN_WINDOWS, string][];
  const [step, recent, ...perWindow] = await Promise.all([
    measureRequests(query, target, clusters, sinceMs),
    measureRequests(query, target, clusters, TOTAL_RATE_WINDOW_SECONDS * 1000),
    ...windows.flatMap(([, window]) => [requests(window), errors(window)]),
  ]);
  const self = (series: SeriesValue[]) => valueFor(series, clusters.label, clusters.self);
  const burn = {} as PacingMeasurement['burn'];
  windows.forEach(([name], i) => {
    const answered = self(perWindow[2 * i] as SeriesValue[]);
    const failed = Math.min(self(perWindow[2 * i + 1] as SeriesValue[]), answered);
    // Nothing answered: no burn rate, rather than 0/0 passing for "no errors".
    burn[name] = answered > 0 ? burnRate(failed / answered, objective) : Number.NaN;
  });
  return {
    requests: step.self,
    totalRatePerSecond: (recent.self + recent.peer) / TOTAL_RATE_WINDOW_SECONDS,
    burn,
    missing: recent.missing.map((c) => `${clusters.label}="${c}"`),
  };
}
