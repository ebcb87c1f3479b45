import type { CutoverStatus, Reservation, ReservationStatus } from '../../src/api/v1alpha1/reservation.ts';
import { sampleReservation } from '../support/fixtures.ts';
import { template } from '../traffic/analysis/templates.ts';

/**
 * Reservations in the states an SRE meets during a cutover, with the status the executor writes
 * (status.traffic.cutover), for the renderer's tests and the plugin's integration test.
 */

export const NOW = new Date('2026-11-25T10:15:00Z');
const at = (minutesAgo: number) => new Date(NOW.getTime() - minutesAgo * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');

export const TRAFFIC = {
  cluster: 'eks-green',
  dns: { hostedZoneId: 'Z0123456789ABC', name: 'api.reservations.example.com', ttl: 30 },
  weight: 0,
};

/** setShare 10 → pause 5m → setShare 40 → analysis smoke → pause until promoted → setShare 100. */
export const CUTOVER = {
  from: 'eks-blue',
  steps: [
    { setShare: 10 },
    { pause: { duration: '5m' } },
    { setShare: 40 },
    { analysis: { template: 'smoke' } },
    { pause: {} },
    { setShare: 100 },
  ],
  analysis: [template({ name: 'smoke' })],
};

const readyCondition = (status: 'True' | 'False', reason: string, message: string) => ({
  type: 'TrafficReady',
  status,
  reason,
  message,
  lastTransitionTime: at(1),
  observedGeneration: 1,
});

function cutoverStatus(overrides: Partial<CutoverStatus>): CutoverStatus {
  return {
    phase: 'Progressing',
    from: 'eks-blue',
    plan: 'sha256:4f2a9c',
    step: 2,
    steps: 6,
    stepStartedAt: at(2),
    startShare: 0,
    share: 40,
    weights: { self: 40, peer: 60 },
    verifiedWeights: { self: 10, peer: 90 },
    verifiedShare: 10,
    syncedAt: at(8),
    message: 'waiting for Route53 to report weights 40/60 INSYNC',
    history: [
      { at: at(14), step: 0, event: 'StepStarted', message: 'setShare 10%' },
      { at: at(13), step: 0, event: 'WeightsVerified', message: 'eks-green 10, eks-blue 90 INSYNC' },
      { at: at(12), step: 1, event: 'StepStarted', message: 'pause 5m' },
      { at: at(7), step: 1, event: 'PauseEnded', message: 'paused 5m' },
      { at: at(2), step: 2, event: 'StepStarted', message: 'setShare 40%' },
    ],
    startedAt: at(14),
    ...overrides,
  };
}

function withStatus(
  status: ReservationStatus,
  traffic: Record<string, unknown> = { ...TRAFFIC, cutover: CUTOVER },
  name = 'booking',
): Reservation {
  return { ...sampleReservation({ traffic }, name), status };
}

const trafficStatus = (weight: number, extra: Partial<NonNullable<ReservationStatus['traffic']>> = {}) => ({
  recordName: TRAFFIC.dns.name,
  setIdentifier: TRAFFIC.cluster,
  owner: 'reservation-operator-eks-green',
  desiredWeight: weight,
  verifiedWeight: weight,
  verifiedAt: at(8),
  ...extra,
});

export const states = {
  progressing: () =>
    withStatus({
      phase: 'Progressing',
      conditions: [readyCondition('False', 'ChangePending', 'weight 40 submitted (change C0123), waiting for INSYNC')],
      traffic: { ...trafficStatus(10), desiredWeight: 40, cutover: cutoverStatus({}) },
    }),
  pausedForPromote: () =>
    withStatus({
      phase: 'Paused',
      traffic: {
        ...trafficStatus(40),
        cutover: cutoverStatus({
          phase: 'Paused',
          step: 4,
          stepStartedAt: at(1),
          share: 40,
          verifiedWeights: { self: 40, peer: 60 },
          verifiedShare: 40,
          message: 'waiting for promote: kubectl reservation promote booking',
          lastAnalysis: {
            template: 'smoke',
            step: 3,
            result: 'Successful',
            measurements: 3,
            failures: 0,
            inconclusive: 0,
            successRate: 0.9987,
            latencyP99Ms: 212.4,
            requests: 1520,
            message: 'success rate 99.87% ≥ 99%, p99 212 ms ≤ 500 ms',
            startedAt: at(3),
            measuredAt: at(1),
          },
        }),
      },
    }),
  analyzing: () =>
    withStatus({
      phase: 'Analyzing',
      traffic: {
        ...trafficStatus(40),
        cutover: cutoverStatus({
          phase: 'Analyzing',
          step: 3,
          share: 40,
          verifiedWeights: { self: 40, peer: 60 },
          verifiedShare: 40,
          message: 'analysis smoke: measurement 2 of 3',
          lastAnalysis: {
            template: 'smoke',
            step: 3,
            result: 'Running',
            measurements: 2,
            failures: 0,
            inconclusive: 0,
            successRate: 0.995,
            latencyP99Ms: 230,
            requests: 840,
            message: 'success rate 99.5% ≥ 99%, p99 230 ms ≤ 500 ms',
            startedAt: at(1),
            measuredAt: at(0.5),
          },
        }),
      },
    }),
  abortingBack: () =>
    withStatus({
      phase: 'Aborted',
      traffic: {
        ...trafficStatus(40, { desiredWeight: 0 }),
        cutover: cutoverStatus({
          phase: 'Aborted',
          aborting: true,
          step: 3,
          share: 0,
          weights: { self: 0, peer: 100 },
          verifiedWeights: { self: 40, peer: 60 },
          verifiedShare: 40,
          message: 'analysis smoke failed: p99 812 ms > 500 ms; walking back to 0%',
          lastAnalysis: {
            template: 'smoke',
            step: 3,
            result: 'Failed',
            measurements: 1,
            failures: 1,
            inconclusive: 0,
            successRate: 0.97,
            latencyP99Ms: 812,
            requests: 400,
            message: 'p99 812 ms > 500 ms',
            startedAt: at(1),
            measuredAt: at(0.5),
          },
        }),
      },
    }),
  succeeded: () =>
    withStatus({
      phase: 'Succeeded',
      conditions: [readyCondition('True', 'RecordInSync', 'api.reservations.example.com (eks-green) weight 100 is INSYNC')],
      traffic: {
        ...trafficStatus(100),
        cutover: cutoverStatus({
          phase: 'Succeeded',
          step: 6,
          share: 100,
          weights: { self: 100, peer: 0 },
          verifiedWeights: { self: 100, peer: 0 },
          verifiedShare: 100,
          message: 'the plan is done: eks-green has 100% of the answers',
          finishedAt: at(0.5),
        }),
      },
    }),
  degraded: () =>
    withStatus({
      phase: 'Degraded',
      conditions: [readyCondition('False', 'Route53Error', 'AccessDenied: not authorized to perform route53:ChangeResourceRecordSets')],
      traffic: {
        ...trafficStatus(10),
        cutover: cutoverStatus({
          phase: 'Degraded',
          message: 'Route53 refused the change: AccessDenied (not authorized to perform route53:ChangeResourceRecordSets)',
        }),
      },
    }),
  /** The peer (eks-blue) while eks-green's cutover writes its weight. */
  peerHandover: () =>
    withStatus(
      {
        phase: 'Idle',
        traffic: {
          recordName: TRAFFIC.dns.name,
          setIdentifier: 'eks-blue',
          owner: 'reservation-operator-eks-blue',
          desiredWeight: 100,
          verifiedWeight: 60,
          verifiedAt: at(1),
          handover: { by: 'reservation-operator-eks-green', since: at(14), weight: 60 },
        },
      },
      { ...TRAFFIC, cluster: 'eks-blue', weight: 100 },
    ),
  noCutover: () =>
    withStatus(
      {
        phase: 'Idle',
        conditions: [readyCondition('True', 'RecordInSync', 'api.reservations.example.com (eks-green) weight 10 is INSYNC')],
        traffic: trafficStatus(10),
      },
      { ...TRAFFIC, weight: 10 },
    ),
};
