import type { ReservationSpec, TrafficStatus } from '../api/v1alpha1/reservation.ts';
import { TRAFFIC_REASON } from './reasons.ts';

/** What the traffic step of a reconcile gives back to the reconciler. */

export type TrafficSpec = NonNullable<ReservationSpec['traffic']>;

export interface TrafficEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** The TrafficReady condition as the traffic step decides it. */
export interface TrafficCondition {
  status: 'True' | 'False';
  reason: string;
  message: string;
}

export interface TrafficOutcome {
  status: TrafficStatus;
  condition: TrafficCondition;
  events: TrafficEvent[];
  requeueAfterMs?: number;
  /** Set when Route53 could not be reached or refused us: the reconcile fails and is retried with backoff. */
  error?: string;
}

export function outcomeOf(
  status: TrafficStatus,
  events: TrafficEvent[],
  condition: TrafficCondition,
  extra: Partial<Pick<TrafficOutcome, 'requeueAfterMs' | 'error'>> = {},
): TrafficOutcome {
  return { status, condition, events, ...extra };
}

/** TrafficReady when Route53 serves this cluster's weight everywhere. */
export function inSync(t: TrafficSpec, weight: number, override?: TrafficStatus['weightOverride']) {
  const why = override ? ` (left by ${override.by}; spec.traffic.weight ${override.specWeight} applies again once you change it)` : '';
  return {
    status: 'True' as const,
    reason: TRAFFIC_REASON.RecordInSync,
    message: `${t.dns.name} (${t.cluster}) has weight ${weight}, verified INSYNC in Route53${why}`,
  };
}
