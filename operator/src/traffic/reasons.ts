/**
 * The reasons of the TrafficReady condition, which the traffic step decides. They live beside
 * the step (and reconcile/conditions.ts lists them with the others) so that the traffic folder
 * never imports the reconciler that calls it.
 */
export const TRAFFIC_REASON = {
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
  /** The last step went on after settle.maxWait with the observed share still outside the tolerance. */
  ObservedShareBehind: 'ObservedShareBehind',
} as const;
