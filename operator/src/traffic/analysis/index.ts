import type { AnalysisRun, AnalysisTemplate, Reservation } from '../../api/v1alpha1/reservation.ts';
import type { KubeClient } from '../../kube/client.ts';
import { type Judgement, judge, type Measurement } from './judge.ts';
import type { AnalysisMetrics } from './metrics.ts';
import { createMetricsSource } from './metrics-source.ts';
import { judgePeer, type PeerJudgement } from './peer-judge.ts';
import { measurePeer, type PeerClusters, type PeerCounts } from './peer-source.ts';
import { listScrapeTargets, type ReservationRef, type ScrapeTarget } from './pods.ts';
import { createPrometheusSource } from './prometheus-source.ts';
import { analysisIntervalMs, recordComparison, recordMeasurement, startAnalysis } from './run.ts';

/**
 * What a cutover's analysis step calls: a source per template, and `take`, which measures,
 * judges and records the operator's metrics in one call. The pure parts (judge, the run's
 * bookkeeping) are re-exported here so the executor imports one module.
 */

export type { Judgement, Measurement, Verdict } from './judge.ts';
export { judge } from './judge.ts';
export { type AnalysisMetrics, createAnalysisMetrics } from './metrics.ts';
export type { ReservationRef, ScrapeTarget } from './pods.ts';
export { DEFAULT_QUERIES } from './promql.ts';
export { analysisIntervalMs, recordComparison, recordMeasurement, resultOf, startAnalysis } from './run.ts';

export interface PeerLook {
  judgement: PeerJudgement;
  /** Undefined when Prometheus could not answer (the judgement says why). */
  counts?: PeerCounts;
}

export interface AnalysisSource {
  /**
   * One measurement of the window that ends now. Throws when it cannot measure (Prometheus
   * unreachable, no pod answered); `take` turns that into an inconclusive verdict.
   * `undefined` (the metrics source only): it took its baseline and has nothing to report yet;
   * record nothing and call again after the template's interval. `signal` gives up the
   * measurement (its reconcile is past its deadline).
   */
  measure(target: ReservationRef, template: AnalysisTemplate, signal?: AbortSignal): Promise<Measurement | undefined>;
}

export interface TakenMeasurement {
  measurement: Measurement;
  judgement: Judgement;
}

export interface AnalysisSources {
  forTemplate(template: AnalysisTemplate): AnalysisSource;
  /**
   * Measures with the template's source, judges, and records the verdict in the operator's
   * metrics. Never throws: a source error is an inconclusive measurement whose message says
   * what went wrong, unless `signal` gave the measurement up: that throws its reason, since
   * no measurement was made. `undefined`: a baseline was taken (see AnalysisSource.measure).
   */
  take(target: ReservationRef, template: AnalysisTemplate, signal?: AbortSignal): Promise<TakenMeasurement | undefined>;
  /**
   * A peer comparison over the last `windowMs`: both clusters' counts from the template's
   * Prometheus, judged. Never throws (a Prometheus error is an inconclusive look saying what went
   * wrong) unless `signal` gave it up.
   */
  comparePeer(
    target: ReservationRef,
    template: AnalysisTemplate,
    clusters: PeerClusters,
    windowMs: number,
    signal?: AbortSignal,
  ): Promise<PeerLook>;
  /** Drops the metrics source's baselines and the gauges of a Reservation whose cutover ended. */
  forget(target: ReservationRef): void;
}

export interface AnalysisDeps {
  /** Lists the Reservation's pods for the metrics source. */
  kube?: KubeClient;
  /** Instead of `kube`: the pods' `/metrics` URLs (tests). */
  listTargets?: (target: ReservationRef, signal?: AbortSignal) => Promise<ScrapeTarget[]>;
  metrics?: AnalysisMetrics;
  now?: () => number;
  prometheusTimeoutMs?: number;
  scrapeTimeoutMs?: number;
}

export function createAnalysisSources(deps: AnalysisDeps): AnalysisSources {
  const { kube, metrics, now, prometheusTimeoutMs, scrapeTimeoutMs } = deps;
  const listTargets =
    deps.listTargets ??
    ((target: ReservationRef, signal?: AbortSignal) => {
      if (!kube) throw new Error('the metrics analysis source needs a kube client to list pods');
      return listScrapeTargets(kube, target, signal);
    });
  const prometheus = createPrometheusSource({ timeoutMs: prometheusTimeoutMs });
  const scraper = createMetricsSource({ listTargets, now, scrapeTimeoutMs });

  const forTemplate = (template: AnalysisTemplate): AnalysisSource => {
    if (template.prometheus) return prometheus;
    if (template.metrics) return scraper;
    throw new Error(`analysis "${template.name}" needs exactly one source: prometheus or metrics`);
  };

  return {
    forTemplate,
    async take(target, template, signal) {
      let measurement: Measurement | undefined;
      let judgement: Judgement;
      try {
        measurement = await forTemplate(template).measure(target, template, signal);
        if (measurement === undefined) return undefined;
        judgement = judge(template, measurement);
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        measurement = { requests: Number.NaN };
        judgement = { verdict: 'inconclusive', message: `could not measure: ${(err as Error).message}` };
      }
      metrics?.record(target, template.name, measurement, judgement.verdict);
      return { measurement, judgement };
    },
    async comparePeer(target, template, clusters, windowMs, signal) {
      const settings = template.peer;
      if (!settings || !template.prometheus)
        throw new Error(`analysis "${template.name}" is not a peer comparison with a prometheus source`);
      let look: PeerLook;
      try {
        const counts = await measurePeer(template.prometheus.url, target, clusters, windowMs, { timeoutMs: prometheusTimeoutMs, signal });
        const judgement = judgePeer(settings, counts.self, counts.peer);
        if (counts.missing.length > 0) {
          const none = counts.missing.map((c) => `${clusters.label}="${c}"`).join(' or ');
          judgement.message += `; Prometheus has no request series with ${none} (check the label and its values)`;
        }
        look = { judgement, counts };
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        look = { judgement: { verdict: 'inconclusive', message: `could not measure: ${(err as Error).message}` } };
      }
      const self = look.counts?.self;
      const measurement: Measurement = self
        ? { requests: self.requests, successRate: self.requests > 0 ? 1 - self.errors / self.requests : Number.NaN, windowMs }
        : { requests: Number.NaN };
      metrics?.record(target, template.name, measurement, look.judgement.verdict);
      return look;
    },
    forget(target) {
      scraper.forget(target);
      metrics?.forget(target);
    },
  };
}

/**
 * The traffic controller's analysis hook: one measurement for an analysis step's run (a new run
 * when `run` is undefined). A baseline (the metrics source's first scrape) leaves the run as it
 * is; the cutover asks again one interval later.
 */
export function analysisStep(sources: AnalysisSources, now: () => Date = () => new Date()) {
  return async (
    cr: Reservation,
    template: AnalysisTemplate,
    run: AnalysisRun | undefined,
    step: number,
    signal?: AbortSignal,
  ): Promise<AnalysisRun> => {
    const current = run ?? startAnalysis(template, step, now());
    if (template.peer) {
      // Cumulative since one interval before the run began (the first look has a full interval),
      // so every look reads a window that contains the previous one, as the confidence sequences need.
      const windowMs = now().getTime() - Date.parse(current.startedAt) + analysisIntervalMs(template);
      const look = await sources.comparePeer(
        { namespace: cr.metadata.namespace, name: cr.metadata.name },
        template,
        peerClusters(cr, template),
        windowMs,
        signal,
      );
      return recordComparison(current, template, { ...look, windowMs }, now());
    }
    const taken = await sources.take({ namespace: cr.metadata.namespace, name: cr.metadata.name }, template, signal);
    return taken ? recordMeasurement(current, template, taken.measurement, taken.judgement, now()) : current;
  };
}

/** The cluster label values a peer template compares: its own, or this cluster's and the cutover's `from`. */
export function peerClusters(cr: Reservation, template: AnalysisTemplate): PeerClusters {
  const traffic = cr.spec.traffic;
  const self = template.peer?.thisCluster ?? traffic?.cluster;
  const peer = template.peer?.peerCluster ?? traffic?.cutover?.from;
  if (!self || !peer)
    throw new Error(`analysis "${template.name}": a peer comparison runs in a cutover (spec.traffic.cluster and cutover.from)`);
  return { label: template.peer?.label ?? 'cluster', self, peer };
}
