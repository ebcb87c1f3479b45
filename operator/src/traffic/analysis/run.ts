import type { AnalysisRun, AnalysisTemplate } from '../../api/v1alpha1/reservation.ts';
import { parseDuration } from '../plan.ts';
import type { Judgement, Measurement } from './judge.ts';

/**
 * An analysis step's bookkeeping (pure): the AnalysisRun kept in
 * status.traffic.cutover.lastAnalysis, one measurement at a time.
 *
 * The result, after each measurement:
 * - `Failed` as soon as more than `failureLimit` measurements have failed, even before all
 *   `count` are in: a cutover should not keep sending traffic to a cluster that broke its SLO;
 * - otherwise `Running` until `count` measurements are in (inconclusive ones count: they took
 *   their interval);
 * - then `Inconclusive` if any of them was inconclusive (too little traffic, no data, the source
 *   unreachable): the SLO was not shown to hold, so the template's `inconclusive` policy
 *   (Pause or Abort) decides, not the analysis. Failures within `failureLimit` do not change that;
 * - else `Successful`.
 */

export type AnalysisResult = AnalysisRun['result'];

/** The template's interval in ms; throws naming the field when it is not a duration. */
export function analysisIntervalMs(template: AnalysisTemplate): number {
  const ms = parseDuration(template.interval);
  if (ms === undefined || ms === 0) {
    throw new RangeError(`analysis "${template.name}": interval must be like 30s, 1m or 1m30s (more than 0), not "${template.interval}"`);
  }
  return ms;
}

export function startAnalysis(template: AnalysisTemplate, step: number, now: Date): AnalysisRun {
  const every = template.count === 1 ? '' : `, one every ${template.interval}`;
  return {
    template: template.name,
    step,
    result: 'Running',
    measurements: 0,
    failures: 0,
    inconclusive: 0,
    message: `waiting for the first of ${template.count} ${template.count === 1 ? 'measurement' : 'measurements'}${every}`,
    startedAt: now.toISOString(),
  };
}

/** The run after one more measurement and its verdict. Throws if the run has already finished. */
export function recordMeasurement(
  run: AnalysisRun,
  template: AnalysisTemplate,
  measurement: Measurement,
  judgement: Judgement,
  now: Date,
): AnalysisRun {
  if (run.template !== template.name) {
    throw new Error(`analysis run is for template "${run.template}", not "${template.name}"`);
  }
  if (run.result !== 'Running') {
    throw new Error(`analysis "${run.template}" of step ${run.step} has already finished (${run.result}); start a new one`);
  }
  const measurements = run.measurements + 1;
  const failures = run.failures + (judgement.verdict === 'failed' ? 1 : 0);
  const inconclusive = run.inconclusive + (judgement.verdict === 'inconclusive' ? 1 : 0);
  const result = resultOf({ measurements, failures, inconclusive }, template);
  const last = `measurement ${measurements}/${template.count} ${judgement.verdict}: ${judgement.message}`;

  const next: AnalysisRun = {
    template: run.template,
    step: run.step,
    result,
    measurements,
    failures,
    inconclusive,
    message: result === 'Running' ? last : `${summary(result, { measurements, failures, inconclusive }, template)}; ${last}`,
    startedAt: run.startedAt,
    measuredAt: now.toISOString(),
  };
  // Only numbers: NaN or Infinity would be null in JSON, which the API server refuses for a number.
  const finite = (n: number | undefined) => n !== undefined && Number.isFinite(n);
  if (finite(measurement.successRate)) next.successRate = measurement.successRate;
  if (finite(measurement.latencyP99Ms)) next.latencyP99Ms = measurement.latencyP99Ms;
  if (finite(measurement.requests)) next.requests = measurement.requests;
  return next;
}

type Counts = Pick<AnalysisRun, 'measurements' | 'failures' | 'inconclusive'>;

export function resultOf(counts: Counts, template: Pick<AnalysisTemplate, 'count' | 'failureLimit'>): AnalysisResult {
  if (counts.failures > template.failureLimit) return 'Failed';
  if (counts.measurements < template.count) return 'Running';
  if (counts.inconclusive > 0) return 'Inconclusive';
  return 'Successful';
}

function summary(result: Exclude<AnalysisResult, 'Running'>, c: Counts, template: AnalysisTemplate): string {
  const of = (n: number) => `${n} of ${c.measurements} ${c.measurements === 1 ? 'measurement' : 'measurements'}`;
  switch (result) {
    case 'Failed':
      return `Failed: ${of(c.failures)} failed, more than failureLimit ${template.failureLimit}`;
    case 'Inconclusive':
      return `Inconclusive: ${of(c.inconclusive)} had no verdict (too little traffic or no data), so the SLO was not shown to hold (policy: ${template.inconclusive})`;
    case 'Successful':
      return c.failures > 0
        ? `Successful: ${of(c.failures)} failed, within failureLimit ${template.failureLimit}`
        : `Successful: ${of(c.measurements)} within the SLO`;
  }
}
