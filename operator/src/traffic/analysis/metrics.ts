import { Counter, Gauge, type Registry } from 'prom-client';
import type { Measurement, Verdict } from './judge.ts';
import type { ReservationRef } from './pods.ts';

/**
 * The analysis in the operator's own metrics: every verdict counted, and the last measured
 * success rate and p99 per Reservation and template, for a dashboard beside the cutover.
 */
export function createAnalysisMetrics(registry: Registry) {
  const registers = [registry];
  const measurements = new Counter({
    name: 'cutover_analysis_measurements_total',
    help: 'Cutover analysis measurements per Reservation, template and verdict (ok, failed, inconclusive)',
    labelNames: ['namespace', 'name', 'template', 'verdict'] as const,
    registers,
  });
  const successRate = new Gauge({
    name: 'cutover_analysis_success_rate',
    help: 'Share of requests without a 5xx in the last cutover analysis measurement (0-1); absent when it had no data',
    labelNames: ['namespace', 'name', 'template'] as const,
    registers,
  });
  const latencyP99 = new Gauge({
    name: 'cutover_analysis_latency_p99_seconds',
    help: 'p99 request latency in the last cutover analysis measurement; absent when it had no data',
    labelNames: ['namespace', 'name', 'template'] as const,
    registers,
  });
  const templates = new Map<string, Set<string>>();

  return {
    record(target: ReservationRef, template: string, measurement: Measurement, verdict: Verdict): void {
      const labels = { namespace: target.namespace, name: target.name, template };
      measurements.inc({ ...labels, verdict });
      const rate = measurement.successRate;
      const p99 = measurement.latencyP99Ms;
      // No data is no series: a stale number would read as a measurement.
      if (rate !== undefined && Number.isFinite(rate)) successRate.set(labels, rate);
      else successRate.remove(labels);
      if (p99 !== undefined && Number.isFinite(p99)) latencyP99.set(labels, p99 / 1000);
      else latencyP99.remove(labels);
      const key = `${target.namespace}/${target.name}`;
      templates.set(key, (templates.get(key) ?? new Set()).add(template));
    },
    /** Removes a Reservation's gauges (its cutover ended or it was deleted); the counters stay. */
    forget(target: ReservationRef): void {
      const key = `${target.namespace}/${target.name}`;
      for (const template of templates.get(key) ?? []) {
        const labels = { namespace: target.namespace, name: target.name, template };
        successRate.remove(labels);
        latencyP99.remove(labels);
      }
      templates.delete(key);
    },
  };
}

export type AnalysisMetrics = ReturnType<typeof createAnalysisMetrics>;
