import type { AnalysisTemplate } from '../../api/v1alpha1/reservation.ts';
import { addTotals, deltaTotals, type HttpTotals, histogramQuantile, NO_REQUESTS, successRate, wentDown } from './histogram.ts';
import type { Measurement } from './judge.ts';
import type { ReservationRef, ScrapeTarget } from './pods.ts';
import { analysisIntervalMs } from './run.ts';
import { type PodScrape, SCRAPE_TIMEOUT_MS, scrape } from './scrape.ts';

/**
 * The `metrics` source: no Prometheus, the operator scrapes the services' own `/metrics` (admin
 * port) itself and does Prometheus's arithmetic on the request histogram.
 *
 * It keeps the last scrape of each (Reservation, template) in memory, and each `measure` returns
 * what happened since the previous call: one call per interval gives one measurement per
 * interval, and no worker waits for a window to pass. The first call (and the first after the
 * previous scrape has grown older than two intervals, or after an operator restart) only takes
 * the baseline and returns `undefined`: nothing to record, call again after the interval.
 */

/** The pods' histograms at one moment. A pod whose scrape failed keeps its last good scrape, or `unknown`. */
export interface Snapshot {
  at: number;
  pods: ReadonlyMap<string, PodScrape | 'unknown'>;
}

/**
 * What one pod answered in the window. A pod that restarted (another process start time, or a
 * counter that went down) counts from its restart; a pod that appears in the window counts
 * everything it answered (it was not Ready before, so it got no traffic); a pod that was listed
 * but did not answer at the start of the window counts nothing until its next scrape.
 */
export function podDelta(before: PodScrape | 'unknown' | undefined, after: PodScrape): HttpTotals {
  if (before === 'unknown') return NO_REQUESTS;
  if (before === undefined) return after.totals;
  const restarted =
    (before.startSeconds !== undefined && after.startSeconds !== undefined && before.startSeconds !== after.startSeconds) ||
    wentDown(before.totals, after.totals);
  return restarted ? after.totals : deltaTotals(before.totals, after.totals);
}

/** The measurement of the window from `before` to `at`, from the pods that answered at `at`. */
export function measurementBetween(before: Snapshot, scrapes: readonly PodScrape[], at: number): Measurement {
  const total = scrapes.reduce((sum, s) => addTotals(sum, podDelta(before.pods.get(s.key), s)), NO_REQUESTS);
  return {
    requests: total.requests,
    successRate: successRate(total),
    latencyP99Ms: histogramQuantile(0.99, total.buckets) * 1000,
    windowMs: at - before.at,
  };
}

/** The snapshot after this scrape: the pods that answered, and the last good scrape (or `unknown`) of those that did not. */
export function nextSnapshot(
  before: Snapshot | undefined,
  scrapes: readonly PodScrape[],
  failed: readonly ScrapeTarget[],
  at: number,
): Snapshot {
  const pods = new Map<string, PodScrape | 'unknown'>(scrapes.map((s) => [s.key, s]));
  for (const t of failed) pods.set(t.key, before?.pods.get(t.key) ?? 'unknown');
  return { at, pods };
}

export interface MetricsSourceOptions {
  listTargets: (target: ReservationRef, signal?: AbortSignal) => Promise<ScrapeTarget[]>;
  now?: () => number;
  scrapeTimeoutMs?: number;
}

export function createMetricsSource({ listTargets, now = Date.now, scrapeTimeoutMs = SCRAPE_TIMEOUT_MS }: MetricsSourceOptions) {
  const snapshots = new Map<string, Snapshot>();
  const keyOf = (target: ReservationRef, template: AnalysisTemplate) => `${target.namespace}/${target.name}/${template.name}`;

  return {
    async measure(target: ReservationRef, template: AnalysisTemplate, signal?: AbortSignal): Promise<Measurement | undefined> {
      const intervalMs = analysisIntervalMs(template);
      const targets = await listTargets(target, signal);
      if (targets.length === 0) {
        throw new Error(`no Ready pods of ${target.namespace}/${target.name}'s services to scrape`);
      }
      const results = await Promise.allSettled(targets.map((t) => scrape(t, scrapeTimeoutMs, signal)));
      // Past the reconcile's deadline: give up, rather than measure only the pods that answered in time.
      if (signal?.aborted) throw signal.reason;
      const at = now();
      const scrapes = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      const failed = targets.filter((_, i) => results[i]?.status === 'rejected');
      const reasons = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
      if (scrapes.length === 0) throw new Error(`no pod answered its scrape: ${reasons.join('; ')}`);

      const key = keyOf(target, template);
      const before = snapshots.get(key);
      snapshots.set(key, nextSnapshot(before, scrapes, failed, at));
      // A baseline older than two intervals would stretch the window (the executor paused, say).
      if (!before || at - before.at > 2 * intervalMs || at <= before.at) return undefined;
      const measurement = measurementBetween(before, scrapes, at);
      if (failed.length > 0) {
        measurement.note = `${failed.length} of ${targets.length} pods did not answer their scrape and are left out: ${reasons.join('; ')}`;
      }
      return measurement;
    },
    /** Drops what is kept for a Reservation (its cutover ended, or it was deleted). */
    forget(target: ReservationRef): void {
      const prefix = `${target.namespace}/${target.name}/`;
      for (const key of snapshots.keys()) if (key.startsWith(prefix)) snapshots.delete(key);
    },
  };
}
