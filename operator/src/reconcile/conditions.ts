import type { Condition } from '../api/v1alpha1/reservation.ts';
import { iso } from '../kube/time.ts';

/** Condition types and reasons, in one place (metav1.Condition: CamelCase reasons). */
export const CONDITION = {
  Ready: 'Ready',
  Progressing: 'Progressing',
  Degraded: 'Degraded',
  /** With spec.traffic: this cluster's weighted record is as the spec says, and Route53 serves it. */
  TrafficReady: 'TrafficReady',
  /** While deleting: a finalizer waits for an external cleanup (why, in the message). */
  DeletionHeld: 'DeletionHeld',
} as const;

export const REASON = {
  AllServicesAvailable: 'AllServicesAvailable',
  ServicesUnavailable: 'ServicesUnavailable',
  RollingOut: 'RollingOut',
  RolloutComplete: 'RolloutComplete',
  ProgressDeadlineExceeded: 'ProgressDeadlineExceeded',
  ApplyFailed: 'ApplyFailed',
  AsExpected: 'AsExpected',
  // TrafficReady
  RecordInSync: 'RecordInSync',
  ChangePending: 'ChangePending',
  WaitingForTarget: 'WaitingForTarget',
  RecordOwnedByOther: 'RecordOwnedByOther',
  WeightRejected: 'WeightRejected',
  Route53NotConfigured: 'Route53NotConfigured',
  Route53Error: 'Route53Error',
  /** A peer's cutover writes this cluster's weight for now. */
  WeightsHandedOver: 'WeightsHandedOver',
  /** The Reservation is being deleted and its records are gone. */
  RecordRemoved: 'RecordRemoved',
  CutoverPlanInvalid: 'CutoverPlanInvalid',
  /** Waiting for pods before raising this cluster's share. */
  PreScaling: 'PreScaling',
  PeerRecordMissing: 'PeerRecordMissing',
  PeerRecordOwnedByOther: 'PeerRecordOwnedByOther',
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
