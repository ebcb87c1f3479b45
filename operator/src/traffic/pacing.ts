import type { Pacing } from '../api/v1alpha1/reservation.ts';
import { formatCount } from './analysis/judge.ts';
import { formatDuration, parseDuration } from './plan.ts';

/**
 * Steps paced by the error budget (pure): instead of a fixed dwell, a step lasts until this
 * cluster has served enough requests at its share to be trusted with the next one, bounded by
 * minDwell and maxDwell, and the multi-window, multi-burn-rate rule of the Google SRE Workbook
 * ("Alerting on SLOs", chapter 5: a fast burn of 14.4× over both 1 h and 5 min spends 2 % of a
 * 30-day budget in an hour; a slow burn of 6× over both 6 h and 30 min spends 5 % in six hours)
 * aborts on a fast burn and pauses on a slow one.
 *
 * The request target: the error budget is (1 − objective) × the requests of one SLO window at the
 * current total rate, and a step waits for `budgetFraction` of that many requests, so that even
 * if every one of them had failed the step would have spent at most that fraction of the budget.
 * Low traffic makes steps longer, high traffic shorter.
 */

export interface PacingSettings {
  /** The SLO, e.g. 0.999. */
  objective: number;
  /** The SLO's window, days (30). */
  windowDays: number;
  /** The share of the budget one step may put at risk, e.g. 0.01. */
  budgetFraction: number;
  minDwellMs: number;
  maxDwellMs: number;
  /** Burn rates, multiples of the budget's even spend: 14.4 and 6 in the SRE Workbook. */
  fastBurn: number;
  slowBurn: number;
}

/** This cluster's burn rates (error ratio ÷ (1 − objective)) over the four windows; NaN when unknown. */
export interface BurnRates {
  /** 5 min and 1 h in the Workbook. */
  fastShort: number;
  fastLong: number;
  /** 30 min and 6 h. */
  slowShort: number;
  slowLong: number;
}

export interface PacingInput {
  /** The step's number, 1-based, for the message. */
  step: number;
  /** This cluster's share now, percent. */
  sharePercent: number;
  /** Since the step's weights were verified. */
  elapsedMs: number;
  /** Requests this cluster answered since then. */
  requests: number;
  /** Both clusters' request rate now, per second: the budget's size. */
  totalRatePerSecond: number;
  burn: BurnRates;
}

/** What Prometheus says for a pacing decision: PacingInput's measured part. */
export type PacingMeasurement = Pick<PacingInput, 'requests' | 'totalRatePerSecond' | 'burn'>;

/** Pacing reads cutover.prometheus: without it (the CRD refuses that) a plan cannot run. */
export const PACING_NEEDS_PROMETHEUS = 'pacing needs traffic.cutover.prometheus, where it counts requests and 5xx answers';

/** spec.traffic.cutover.pacing as the decisions read it; throws naming the first setting that cannot pace a step. */
export function pacingSettings(spec: Pacing): PacingSettings {
  const duration = (field: 'minDwell' | 'maxDwell') => {
    const ms = parseDuration(spec[field]);
    if (ms === undefined) throw new RangeError(`pacing.${field} must be like 30s, 5m or 1h30m, not "${spec[field]}"`);
    return ms;
  };
  return checkPacing({
    objective: spec.objective,
    windowDays: spec.windowDays,
    budgetFraction: spec.budgetFraction,
    minDwellMs: duration('minDwell'),
    maxDwellMs: duration('maxDwell'),
    fastBurn: spec.fastBurn,
    slowBurn: spec.slowBurn,
  });
}

/**
 * How long a step at `sharePercent` is expected to dwell when the traffic stays at
 * `totalRatePerSecond` and nothing burns: its requests at its share, within minDwell and maxDwell.
 */
export function expectedDwellMs(s: PacingSettings, totalRatePerSecond: number, sharePercent: number): number {
  const rate = (Math.max(0, totalRatePerSecond) * sharePercent) / 100;
  const ms = rate > 0 ? (requestsNeeded(s, totalRatePerSecond) / rate) * 1000 : Number.POSITIVE_INFINITY;
  return Math.min(s.maxDwellMs, Math.max(s.minDwellMs, ms));
}

export type PacingAction = 'abort' | 'pause' | 'wait' | 'advance';

export interface PacingDecision {
  action: PacingAction;
  /** For status and `kubectl reservation status`: what the step waits for, or why it stops. */
  message: string;
  requestsNeeded: number;
  /** With `wait`: when to look again. */
  waitMs?: number;
  /** With `advance`: true when maxDwell ended the step before its requests were in (a Warning). */
  shortOfRequests?: boolean;
}

/** Throws naming the first setting that cannot pace a step. */
export function checkPacing(s: PacingSettings): PacingSettings {
  const problems: Array<[boolean, string]> = [
    [s.objective > 0 && s.objective < 1, `pacing.objective must be between 0 and 1 (e.g. 0.999), not ${s.objective}`],
    [s.windowDays > 0, `pacing.windowDays must be above 0, not ${s.windowDays}`],
    [
      s.budgetFraction > 0 && s.budgetFraction <= 1,
      `pacing.budgetFraction must be above 0 and at most 1 (e.g. 0.01), not ${s.budgetFraction}`,
    ],
    [s.minDwellMs >= 0, `pacing.minDwell must not be negative`],
    [s.maxDwellMs >= s.minDwellMs, 'pacing.maxDwell must not be shorter than minDwell'],
    [s.fastBurn > s.slowBurn && s.slowBurn > 0, `pacing.fastBurn (${s.fastBurn}) must be above slowBurn (${s.slowBurn}), and both above 0`],
  ];
  const problem = problems.find(([ok]) => !ok);
  if (problem) throw new RangeError(problem[1]);
  return s;
}

/** The error budget in requests: how many may fail in one SLO window at `totalRatePerSecond`. */
export function errorBudget(s: PacingSettings, totalRatePerSecond: number): number {
  return (1 - s.objective) * Math.max(0, totalRatePerSecond) * s.windowDays * 86_400;
}

/** Requests a step waits for: all of them failing would spend `budgetFraction` of the budget. */
export function requestsNeeded(s: PacingSettings, totalRatePerSecond: number): number {
  // To 12 digits first: 1 − 0.999 is 0.0010000000000000009 in floating point, and 2,592 must not become 2,593.
  return Math.ceil(Number((s.budgetFraction * errorBudget(s, totalRatePerSecond)).toPrecision(12)));
}

/** The error ratio as a multiple of the budget's even spend (1× spends it exactly over the window). */
export function burnRate(errorRatio: number, objective: number): number {
  return errorRatio / (1 - objective);
}

/** `fast` or `slow` when both of that pair's windows burn at or above its threshold (unknown never alerts). */
export function burnAlert(s: PacingSettings, burn: BurnRates): 'fast' | 'slow' | undefined {
  const both = (a: number, b: number, threshold: number) => a >= threshold && b >= threshold;
  if (both(burn.fastShort, burn.fastLong, s.fastBurn)) return 'fast';
  if (both(burn.slowShort, burn.slowLong, s.slowBurn)) return 'slow';
  return undefined;
}

export function pace(s: PacingSettings, input: PacingInput): PacingDecision {
  const needed = requestsNeeded(s, input.totalRatePerSecond);
  const { burn } = input;
  const x = (n: number) => (Number.isFinite(n) ? `${Number(n.toFixed(1))}×` : 'unknown');
  const progress = `step ${input.step}: ${formatCount(input.requests)} of ${formatCount(needed)} requests at ${input.sharePercent} %, burn ${x(burn.fastShort)}`;
  const decision = (action: PacingAction, message: string, extra: Partial<PacingDecision> = {}): PacingDecision => ({
    action,
    message,
    requestsNeeded: needed,
    ...extra,
  });

  switch (burnAlert(s, burn)) {
    case 'fast':
      return decision(
        'abort',
        `${progress}: fast burn, ${x(burn.fastShort)} over the short window and ${x(burn.fastLong)} over the long one (abort at ${s.fastBurn}× on both)`,
      );
    case 'slow':
      return decision(
        'pause',
        `${progress}: slow burn, ${x(burn.slowShort)} over the short window and ${x(burn.slowLong)} over the long one (pause at ${s.slowBurn}× on both)`,
      );
  }
  if (input.elapsedMs < s.minDwellMs) {
    return decision('wait', `${progress}; minDwell ${formatDuration(s.minDwellMs)} not over`, { waitMs: s.minDwellMs - input.elapsedMs });
  }
  const calm = burn.slowShort < s.slowBurn && burn.slowLong < s.slowBurn;
  if (input.requests >= needed && calm) return decision('advance', `${progress}: enough requests, burn below ${s.slowBurn}×`);
  if (input.elapsedMs >= s.maxDwellMs) {
    if (!calm) {
      return decision(
        'pause',
        `${progress}: maxDwell ${formatDuration(s.maxDwellMs)} over and the burn not shown below ${s.slowBurn}× on both slow windows`,
      );
    }
    return decision('advance', `${progress}: maxDwell ${formatDuration(s.maxDwellMs)} over before the requests were in`, {
      shortOfRequests: true,
    });
  }
  const waiting = calm ? '' : `, waiting for the burn to fall below ${s.slowBurn}× on both slow windows`;
  const rate = (input.totalRatePerSecond * input.sharePercent) / 100;
  const left = rate > 0 ? ((needed - input.requests) / rate) * 1000 : Number.POSITIVE_INFINITY;
  const waitMs = Math.max(1000, Math.min(input.requests >= needed ? 30_000 : left, s.maxDwellMs - input.elapsedMs));
  return decision('wait', `${progress}${waiting}`, { waitMs });
}
