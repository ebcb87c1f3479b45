import type { AnalysisRun, AnalysisTemplate, Reservation } from '../../api/v1alpha1/reservation.ts';
import type { KubeClient } from '../../kube/client.ts';
import { type Judgement, judge, type Measurement } from './judge.ts';
import type { AnalysisMetrics } from './metrics.ts';
import { createMetricsSource } from './metrics-source.ts';
import { listScrapeTargets, type ReservationRef, type ScrapeTarget } from './pods.ts';
import { createPrometheusSource } from './prometheus-source.ts';
import { recordMeasurement, startAnalysis } from './run.ts';

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
export { analysisIntervalMs, recordMeasurement, resultOf, startAnalysis } from './run.ts';

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
    const taken = await sources.take({ namespace: cr.metadata.namespace, name: cr.metadata.name }, template, signal);
    return taken ? recordMeasurement(current, template, taken.measurement, taken.judgement, now()) : current;
  };
}
