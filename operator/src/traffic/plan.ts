import type { ReservationSpec } from '../api/v1alpha1/reservation.ts';
import { shareError, weightsForShare } from './weights.ts';

/**
 * The cutover plan as the executor will run it (pure): the shortcut form expanded into steps,
 * every step checked, every setShare turned into the two weights it writes. The CRD's CEL rules
 * catch the shape (one action per step, steps xor stepPercent); this catches what CEL cannot
 * say well, with messages meant for the SRE who wrote the plan.
 */

export type Cutover = NonNullable<NonNullable<ReservationSpec['traffic']>['cutover']>;
/** The parts of spec.traffic.cutover that make the plan. */
export type PlanSpec = Pick<Cutover, 'from' | 'steps' | 'stepPercent' | 'maxPercent'>;

export type PlanStep =
  | { kind: 'setShare'; share: number; weights: { self: number; peer: number } }
  | { kind: 'pause'; durationMs?: number }
  | { kind: 'analysis'; template: string };

export interface Plan {
  /** The peer's set identifier: the record that gives up its traffic. */
  from: string;
  steps: PlanStep[];
}

export type PlanResult = { ok: true; plan: Plan } | { ok: false; errors: string[] };

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000 } as const;

/** `1h30m`, `5m`, `90s` → milliseconds; undefined for anything else. */
export function parseDuration(text: string): number | undefined {
  if (!/^(\d+[smh])+$/.test(text)) return undefined;
  let ms = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+)([smh])/g)) ms += Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
  return ms;
}

/** 90_000 → "1m30s", 30_000 → "30s", 1_500 → "1.5s" (the inverse of parseDuration); undefined stays undefined. */
export function formatDuration(ms: number | undefined): string | undefined {
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) return undefined;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(1))}s`;
  const totalSeconds = Math.round(ms / 1000);
  const h = Math.floor(totalSeconds / 3600);
  const m = Math.floor((totalSeconds % 3600) / 60);
  const s = totalSeconds % 60;
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${s}s` : ''}`;
}

/** A step as SREs read it: `setShare 40%`, `pause 5m`, `pause until promoted`, `analysis slo`. */
export function describeStep(step: PlanStep): string {
  switch (step.kind) {
    case 'setShare':
      return `setShare ${step.share}%`;
    case 'pause':
      return step.durationMs === undefined ? 'pause until promoted' : `pause ${formatDuration(step.durationMs)}`;
    case 'analysis':
      return `analysis ${step.template}`;
  }
}

/**
 * The shortcut form: `stepPercent` points per step up to `maxPercent` (default 100), the last
 * step landing exactly on the maximum: 30 → 30, 60, 90, 100.
 */
export function expandShortcut(stepPercent: number, maxPercent = 100): number[] {
  if (!Number.isInteger(stepPercent) || stepPercent < 1 || stepPercent > 100) {
    throw new RangeError(`stepPercent must be an integer from 1 to 100, not ${stepPercent}`);
  }
  if (!Number.isInteger(maxPercent) || maxPercent < 1 || maxPercent > 100) {
    throw new RangeError(`maxPercent must be an integer from 1 to 100, not ${maxPercent}`);
  }
  const shares: number[] = [];
  for (let share = stepPercent; share < maxPercent; share += stepPercent) shares.push(share);
  shares.push(maxPercent);
  return shares;
}

/** The plan of `cutover` for the cluster `self`, or every reason it cannot run. */
export function buildPlan(cutover: PlanSpec, self: string): PlanResult {
  const errors: string[] = [];
  if (cutover.from === self) errors.push(`cutover.from names this cluster (${self}); it must name the peer whose traffic moves here`);
  if (cutover.steps && cutover.stepPercent !== undefined) {
    errors.push('a cutover needs either steps or stepPercent (the shortcut form), not both');
  }
  if (cutover.maxPercent !== undefined && cutover.stepPercent === undefined) errors.push('maxPercent only goes with stepPercent');

  const steps: PlanStep[] = [];
  if (cutover.stepPercent !== undefined) {
    try {
      for (const share of expandShortcut(cutover.stepPercent, cutover.maxPercent)) steps.push(setShare(share));
    } catch (err) {
      errors.push((err as Error).message);
    }
  } else if (!cutover.steps || cutover.steps.length === 0) {
    errors.push('a cutover needs steps, or stepPercent for the shortcut form');
  } else {
    cutover.steps.forEach((step, i) => {
      const where = `steps[${i}]`;
      const actions = [step.setShare !== undefined, step.pause !== undefined, step.analysis !== undefined].filter(Boolean).length;
      if (actions !== 1) {
        errors.push(`${where} must set exactly one of setShare, pause or analysis`);
        return;
      }
      if (step.setShare !== undefined) {
        const error = shareError(step.setShare);
        if (error) errors.push(`${where}.setShare: ${error}`);
        else steps.push(setShare(step.setShare));
      } else if (step.pause) {
        const { duration } = step.pause;
        if (duration === undefined) steps.push({ kind: 'pause' });
        else {
          const durationMs = parseDuration(duration);
          if (durationMs === undefined || durationMs === 0) {
            errors.push(`${where}.pause.duration must be like 30s, 5m or 1h30m (more than 0), not "${duration}"`);
          } else steps.push({ kind: 'pause', durationMs });
        }
      } else if (step.analysis) {
        if (!step.analysis.template) errors.push(`${where}.analysis.template must name an analysis`);
        else steps.push({ kind: 'analysis', template: step.analysis.template });
      }
    });
    if (errors.length === 0 && !steps.some((s) => s.kind === 'setShare')) {
      errors.push('the plan has no setShare step, so it would never move any traffic');
    }
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, plan: { from: cutover.from, steps } };
}

const setShare = (share: number): PlanStep => ({ kind: 'setShare', share, weights: weightsForShare(share) });
