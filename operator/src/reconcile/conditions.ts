import type { Condition } from '../api/v1alpha1/reservation.ts';
import { iso } from '../kube/time.ts';
import { TRAFFIC_REASON } from '../traffic/reasons.ts';

/** Condition types and reasons, in one place (metav1.Condition: CamelCase reasons). */
export const CONDITION = {
  Ready: 'Ready',
  Progressing: 'Progressing',
  Degraded: 'Degraded',
  /** With spec.traffic: this cluster's weighted record is as the spec says, and Route53 serves it. */
  TrafficReady: 'TrafficReady',
  /** While deleting: a finalizer waits for an external cleanup (why, in the message). */
  DeletionHeld: 'DeletionHeld',
  /** The database connections the services may open at their maxima, against DB_MAX_CONNECTIONS. */
  ConnectionBudget: 'ConnectionBudget',
} as const;

export const REASON = {
  AllServicesAvailable: 'AllServicesAvailable',
  ServicesUnavailable: 'ServicesUnavailable',
  RollingOut: 'RollingOut',
  RolloutComplete: 'RolloutComplete',
  ProgressDeadlineExceeded: 'ProgressDeadlineExceeded',
  ApplyFailed: 'ApplyFailed',
  ObjectOwnedByOther: 'ObjectOwnedByOther',
  AsExpected: 'AsExpected',
  // TrafficReady
  ...TRAFFIC_REASON,
  // DeletionHeld
  ExternalCleanupPending: 'ExternalCleanupPending',
} as const;

/**
 * Sets a condition in a list the metav1 way: lastTransitionTime moves only when the status
 * flips; reason, message and observedGeneration follow the latest reconcile.
 */
export function setCondition(conditions: readonly Condition[], next: Omit<Condition, 'lastTransitionTime'>, now: Date): Condition[] {
  const previous = conditions.find((c) => c.type === next.type);
  const lastTransitionTime = previous && previous.status === next.status ? previous.lastTransitionTime : iso(now);
  const updated = { ...next, lastTransitionTime };
  return previous ? conditions.map((c) => (c.type === next.type ? updated : c)) : [...conditions, updated];
}
