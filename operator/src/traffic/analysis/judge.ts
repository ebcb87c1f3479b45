import type { AnalysisTemplate } from '../../api/v1alpha1/reservation.ts';
import { formatDuration } from '../plan.ts';

/**
 * One measurement of this cluster's services over one window, as a source reports it.
 * A value a source could not get (Prometheus had no series, or answered NaN: 0/0 with no
 * traffic) is `undefined` or `NaN`; `judge` turns either into an inconclusive verdict.
 */
export interface Measurement {
  /** Requests answered in the window (all status codes); NaN when the source could not count them. */
  requests: number;
  /** Share of those requests answered without a 5xx, 0-1. */
  successRate?: number;
  /** 99th percentile of request latency, milliseconds. */
  latencyP99Ms?: number;
  /** The window the values cover, when the source knows it exactly; else the template's interval. */
  windowMs?: number;
  /** Something the reader should know about how it was measured (pods that did not answer a scrape). */
  note?: string;
}

export type Verdict = 'ok' | 'failed' | 'inconclusive';

export interface Judgement {
  verdict: Verdict;
  /** For the SRE reading `kubectl describe`: the values, the thresholds, the window, the traffic. */
  message: string;
}

/**
 * The verdict on one measurement:
 * - `inconclusive` when there were no requests, or fewer than `minRequests` (a rate over a
 *   handful of requests says nothing; a cutover's first 1 % may see very few), or a value is
 *   missing or not a number, or the success rate is outside 0-1 (a custom query that does not
 *   give a share). An unknown request count (NaN: the source found no series to count) passes
 *   the traffic check only with `minRequests: 0`, for custom queries over other metrics;
 * - `failed` when the success rate is below `successRateMin` or the p99 above `latencyP99MaxMs`
 *   (the thresholds themselves pass);
 * - `ok` otherwise.
 * A value that breaks its threshold fails the measurement even when the other one is missing.
 */
export function judge(template: AnalysisTemplate, m: Measurement): Judgement {
  const { verdict, message } = judgeValues(template, m);
  return { verdict, message: m.note ? `${message}; ${m.note}` : message };
}

function judgeValues(template: AnalysisTemplate, m: Measurement): Judgement {
  const window = formatDuration(m.windowMs) ?? template.interval;
  const over = `over ${window}`;
  const counted = Number.isFinite(m.requests) && m.requests >= 0;
  if (!counted && template.minRequests > 0) {
    return {
      verdict: 'inconclusive',
      message: `no request count ${over} (the source found no series), so minRequests ${formatCount(template.minRequests)} cannot be checked`,
    };
  }
  const traffic = counted ? `${formatCount(m.requests)} ${m.requests === 1 ? 'request' : 'requests'}` : 'request count unknown';
  if (m.requests === 0) return { verdict: 'inconclusive', message: `no requests ${over}: no traffic to judge` };
  if (counted && m.requests < template.minRequests) {
    return {
      verdict: 'inconclusive',
      message: `only ${traffic} ${over}, fewer than minRequests ${formatCount(template.minRequests)}: not enough traffic to judge`,
    };
  }

  const problems: string[] = [];
  const passes: string[] = [];
  const missing: string[] = [];

  const rate = m.successRate;
  if (rate === undefined || Number.isNaN(rate)) missing.push('no success rate (the source had no data)');
  else if (rate < 0 || rate > 1) missing.push(`success rate ${rate} is not a share between 0 and 1`);
  else if (rate < template.successRateMin)
    problems.push(`success rate ${percent(rate, template.successRateMin)} < ${percent(template.successRateMin)}`);
  else passes.push(`success rate ${percent(rate, template.successRateMin)} ≥ ${percent(template.successRateMin)}`);

  const p99 = m.latencyP99Ms;
  if (p99 === undefined || Number.isNaN(p99)) missing.push('no p99 latency (the source had no data)');
  else if (p99 < 0) missing.push(`p99 latency ${p99} ms is negative`);
  else if (p99 > template.latencyP99MaxMs) problems.push(`p99 ${formatMs(p99)} > ${formatMs(template.latencyP99MaxMs)}`);
  else passes.push(`p99 ${formatMs(p99)} ≤ ${formatMs(template.latencyP99MaxMs)}`);

  const context = `${over} (${traffic})`;
  if (problems.length > 0) {
    return { verdict: 'failed', message: `${[...problems, ...passes, ...missing].join(', ')} ${context}` };
  }
  if (missing.length > 0) return { verdict: 'inconclusive', message: `${[...missing, ...passes].join(', ')} ${context}` };
  return { verdict: 'ok', message: `${passes.join(', ')} ${context}` };
}

/**
 * 0.972 → "97.2%". With `against`, enough decimals that the two never print the same while
 * they differ (0.98996 against 0.99 is "98.996%", not "99.0%").
 */
export function percent(share: number, against?: number): string {
  const text = (digits: number) => `${Number((share * 100).toFixed(digits))}%`;
  let digits = 1;
  if (against !== undefined && share !== against) {
    while (digits < 12 && text(digits) === `${Number((against * 100).toFixed(digits))}%`) digits++;
  }
  return text(digits);
}

/**
 * 1204 → "1,204". Prometheus's increase() extrapolates, so counts can be fractional: rounded
 * down (19.6 requests against minRequests 20 must not print as 20), with a decimal below 10.
 * Grouped by hand: toLocaleString loads ICU's number formats, about 7 MB of a process's RSS.
 */
export function formatCount(n: number): string {
  if (!Number.isInteger(n) && n < 10) return String(Math.floor(n * 10) / 10);
  return String(Math.floor(n)).replace(/\B(?=(\d{3})+$)/g, ',');
}

/** 212.4 → "212 ms", 0.42 → "0.42 ms", 2500 → "2.5 s". */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return `${ms} ms`;
  if (ms >= 1000) return `${Number((ms / 1000).toFixed(2))} s`;
  if (ms >= 10) return `${Math.round(ms)} ms`;
  return `${Number(ms.toPrecision(2))} ms`;
}
