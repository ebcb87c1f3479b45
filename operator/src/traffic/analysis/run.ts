import type { AnalysisRun, AnalysisTemplate } from '../../api/v1alpha1/reservation.ts';
import { formatDuration, parseDuration } from '../plan.ts';
import type { Judgement, Measurement, Verdict } from './judge.ts';
import type { PeerJudgement } from './peer-judge.ts';
import type { PeerCounts } from './peer-source.ts';

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
  const { measurements, failures, inconclusive } = countVerdict(run, template, judgement.verdict);
  const result = resultOf({ measurements, failures, inconclusive }, template);
  const last = `measurement ${measurements}/${template.count} ${judgement.verdict}: ${judgement.message}`;

  const counts = { measurements, failures, inconclusive };
  const next = nextRun(run, result, counts, result === 'Running' ? last : `${summary(result, counts, template)}; ${last}`, now);
  // Only numbers: NaN or Infinity would be null in JSON, which the API server refuses for a number.
  const finite = (n: number | undefined) => n !== undefined && Number.isFinite(n);
  if (finite(measurement.successRate)) next.successRate = measurement.successRate;
  if (finite(measurement.latencyP99Ms)) next.latencyP99Ms = measurement.latencyP99Ms;
  if (finite(measurement.requests)) next.requests = measurement.requests;
  return next;
}

type Counts = Pick<AnalysisRun, 'measurements' | 'failures' | 'inconclusive'>;

/** The run after a measurement, before the measured values are added. */
function nextRun(run: AnalysisRun, result: AnalysisResult, counts: Counts, message: string, now: Date): AnalysisRun {
  return { template: run.template, step: run.step, result, ...counts, message, startedAt: run.startedAt, measuredAt: now.toISOString() };
}

/** The run's counts with one more verdict; throws if the run is another template's or has finished. */
function countVerdict(run: AnalysisRun, template: AnalysisTemplate, verdict: Verdict): Counts {
  if (run.template !== template.name) {
    throw new Error(`analysis run is for template "${run.template}", not "${template.name}"`);
  }
  if (run.result !== 'Running') {
    throw new Error(`analysis "${run.template}" of step ${run.step} has already finished (${run.result}); start a new one`);
  }
  return {
    measurements: run.measurements + 1,
    failures: run.failures + (verdict === 'failed' ? 1 : 0),
    inconclusive: run.inconclusive + (verdict === 'inconclusive' ? 1 : 0),
  };
}

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

/**
 * A peer comparison's run after one more look (pure). Each look judges everything counted since
 * the comparison began, and the statistics stay valid however often they are read, so the first
 * verdict ends the run: `Failed` or `Successful`. With no verdict after `count` looks it is
 * `Inconclusive` (too little traffic, or green too close to the allowance to tell): never a pass.
 */
export function recordComparison(
  run: AnalysisRun,
  template: AnalysisTemplate,
  look: { judgement: PeerJudgement; counts?: PeerCounts; windowMs: number },
  now: Date,
): AnalysisRun {
  const { judgement, counts, windowMs } = look;
  const { measurements, failures, inconclusive } = countVerdict(run, template, judgement.verdict);
  const result: AnalysisResult =
    judgement.verdict === 'failed'
      ? 'Failed'
      : judgement.verdict === 'ok'
        ? 'Successful'
        : measurements >= template.count
          ? 'Inconclusive'
          : 'Running';
  const self = counts?.self.cluster ?? 'this cluster';
  const peer = counts?.peer.cluster ?? 'the peer';
  const last = `look ${measurements}/${template.count} over ${formatDuration(windowMs) ?? `${windowMs} ms`}: ${judgement.message}`;
  const headline: Record<AnalysisResult, string> = {
    Running: '',
    Failed: `Failed: ${self} is worse than ${peer} by more than allowed`,
    Successful: `Successful: ${self} is within the allowances of ${peer}`,
    Inconclusive: `Inconclusive: no verdict after ${measurements} looks (too little traffic, or too close to the allowance to tell), so ${self} was not shown to be as good as ${peer} (policy: ${template.inconclusive})`,
  };
  const next = nextRun(
    run,
    result,
    { measurements, failures, inconclusive },
    result === 'Running' ? last : `${headline[result]}; ${last}`,
    now,
  );
  if (counts) {
    next.requests = counts.self.requests;
    next.comparison = comparisonStatus(judgement, counts, windowMs);
  }
  return next;
}

function comparisonStatus(judgement: PeerJudgement, counts: PeerCounts, windowMs: number): NonNullable<AnalysisRun['comparison']> {
  const finite = (n: number) => Number.isFinite(n);
  const cluster = (c: PeerCounts['self'], latency?: { estimate: number; low: number; high: number }) => {
    const totals: NonNullable<AnalysisRun['comparison']>['self'] = { cluster: c.cluster, requests: c.requests, errors: c.errors };
    // Only numbers: NaN or Infinity would be null in JSON, which the API server refuses for a number.
    if (latency && finite(latency.estimate)) totals.latencyMs = latency.estimate * 1000;
    if (latency && finite(latency.low)) totals.latencyLowMs = latency.low * 1000;
    if (latency && finite(latency.high)) totals.latencyHighMs = latency.high * 1000;
    return totals;
  };
  const l = judgement.latency;
  const status: NonNullable<AnalysisRun['comparison']> = {
    self: cluster(counts.self, l && { estimate: l.self, ...l.selfInterval }),
    peer: cluster(counts.peer, l && { estimate: l.peer, ...l.peerInterval }),
    windowSeconds: Math.round(windowMs / 100) / 10,
  };
  if (judgement.errorRate) {
    status.errorRateDifferenceLow = judgement.errorRate.difference.low;
    status.errorRateDifferenceHigh = judgement.errorRate.difference.high;
  }
  return status;
}
