import {
  type AnalysisRun,
  type AnalysisTemplate,
  type Condition,
  CUTOVER_VERBS,
  type CutoverStatus,
  type CutoverVerb,
  type Reservation,
  type TrafficStatus,
} from '../api/v1alpha1/reservation.ts';
import { iso } from '../kube/time.ts';
import { CONDITION } from '../reconcile/conditions.ts';
import { formatCount } from '../traffic/analysis/judge.ts';
import { buildPlan, describeStep, type PlanStep } from '../traffic/plan.ts';
import { verbError } from '../traffic/verbs.ts';
import { shareOf } from '../traffic/weights.ts';

/**
 * What `kubectl reservation status` shows, as data (pure): the Reservation's record, its plan
 * with each step's state, the cutover's weights and share, the last analysis, the history, the
 * handover or override and the TrafficReady condition. `status -o json` prints it as is, and the
 * text formatter (render.ts) is built on it, so both say the same; hence plain JSON values only,
 * nothing for layout, units in the field names. Step numbers are 1-based, as people count them
 * (the status's `step` fields are 0-based indexes).
 */

export interface CutoverView {
  /** When the view was built; every `...Seconds` age is counted up to it. */
  generatedAt: string;
  namespace: string;
  name: string;
  /** status.phase: Idle, Progressing, Paused, Analyzing, Succeeded, Aborted or Degraded. */
  phase: string;
  /** This cluster's weighted record; absent without spec.traffic (then there is no cutover either). */
  record?: RecordView;
  /** spec.traffic.cutover as the operator would run it; absent when it is not set. */
  plan?: PlanView;
  /** The cutover this cluster runs (status.traffic.cutover); absent until the operator starts one. */
  cutover?: CutoverRunView;
  /** A peer's cutover writes this cluster's weight; this operator leaves the weight alone meanwhile. */
  handover?: HandoverView;
  /** The weight a peer's finished cutover left this cluster at, instead of spec.traffic.weight. */
  weightOverride?: { weight: number; specWeight: number; by: string };
  trafficReady?: ConditionView;
  /** The verbs `kubectl reservation` (and the operator) accept now; empty without a running cutover. */
  allowedVerbs: CutoverVerb[];
  /** The peer cluster's Reservation as its own status says, when the caller read it too. */
  peer?: PeerView;
  /** Per HTTP service and the notifier: the traffic controller's replica floor against the pods ready. */
  capacity: CapacityView[];
  /** Whether traffic is being drained from a cluster, and how. */
  drain: DrainView;
}

export interface CapacityView {
  service: 'reservationApi' | 'queryApi' | 'notifier';
  /** status.traffic.minReplicas: pre-scaling before this cluster's share rises, or keeping it warm while it drains. */
  floor?: number;
  /** status.services: pods ready, and the replicas the Deployment wants. */
  ready?: number;
  desired?: number;
}

export interface DrainView {
  /** This cluster's cutover is past its last step, waiting before Succeeded (TTLs, the peer's rate). */
  drainingPeer: boolean;
  /** A peer's cutover drains this cluster: its services answer with Connection: close. */
  connectionClose: boolean;
  /** The cutover's message while it drains the peer. */
  message?: string;
}

export interface RecordView {
  name: string;
  setIdentifier: string;
  ttlSeconds: number;
  /** The weight this cluster should have now (spec.traffic.weight while no cutover runs). */
  desiredWeight: number;
  /** As Route53 serves it: set by a change reported INSYNC. */
  verifiedWeight?: number;
  verifiedAt?: string;
  /** The last change batch this operator made to the record set: PENDING until every Route53 server has it. */
  lastChange?: NonNullable<TrafficStatus['lastChange']>;
}

export interface PlanView {
  /** The peer's set identifier, whose traffic moves here. */
  from: string;
  /** Why the plan cannot run; empty when it can. */
  errors: string[];
  /** Empty when the plan cannot run. */
  steps: PlanStepView[];
}

export type StepState = 'done' | 'current' | 'failed' | 'pending';

export type PlanStepView = {
  number: number;
  /** As the plan and the operator's events write it: `setShare 40%`, `pause 5m`, `analysis smoke`. */
  description: string;
  /** `failed`: the step where the cutover aborted or is degraded; all `pending` before a cutover starts. */
  state: StepState;
} & (
  | { kind: 'setShare'; sharePercent: number; weights: { self: number; peer: number } }
  /** Without durationSeconds, the pause lasts until promoted. */
  | { kind: 'pause'; durationSeconds?: number }
  /** measurementsPlanned: the template's count, when the template is in spec.traffic.cutover.analysis. */
  | { kind: 'analysis'; template: string; measurementsPlanned?: number }
);

export interface CutoverRunView {
  phase: CutoverStatus['phase'];
  /** The peer's set identifier. */
  from: string;
  /** What the cutover is doing or waiting for, as the operator wrote it. */
  message: string;
  startedAt: string;
  ageSeconds: number;
  finishedAt?: string;
  finishedAgoSeconds?: number;
  stepCount: number;
  /** Equal to stepCount once the plan is done. */
  stepsDone: number;
  /** Absent once every step is done. */
  currentStep?: { number: number; startedAt: string; elapsedSeconds: number };
  /** True while an abort walks the share back to share.startPercent. */
  aborting: boolean;
  /** True while held by a pause request or an inconclusive analysis. */
  held: boolean;
  /** Why it is Paused: the request or inconclusive analysis that held it, else what it waits for. */
  pauseReason?: string;
  /** Why it is Aborted: the abort's event, else the operator's message. */
  abortReason?: string;
  /** This cluster's share of Route53's answers, in percent. */
  share: { startPercent: number; desiredPercent: number; verifiedPercent?: number };
  /** The share of requests this cluster really receives, from Prometheus (spec.traffic.cutover.settle), beside the configured one. */
  observed?: ObservedShareView;
  weights: { self: ClusterWeightView; peer: ClusterWeightView };
  lastAnalysis?: AnalysisRunView;
  /** With prescale, once an abort has checked: whether the peer had the pods to take the traffic back. */
  takeBack?: { state: NonNullable<CutoverStatus['takeBack']>['state']; message: string };
  /** With pacing, at a setShare step held for its requests: what it has served and its burn rates. */
  pacing?: PacingView;
  /** The last annotation value the operator acted on. */
  handledRequest?: string;
  /** Up to the 20 the status keeps, newest last. */
  history: { at: string; stepNumber: number; event: string; message: string }[];
}

export interface ObservedShareView {
  /** The share of the step the observation was taken for, percent. */
  configuredPercent: number;
  /** This cluster's share of both clusters' requests over the window; absent without requests or a Prometheus. */
  observedPercent?: number;
  requests?: { self: number; peer: number };
  windowSeconds?: number;
  measuredAt?: string;
  measuredAgoSeconds?: number;
  /** How the step settled: Observed (within the tolerance) or Bound (settle.maxWait passed without). */
  settled?: 'Observed' | 'Bound';
  message: string;
}

export interface PacingView {
  stepNumber: number;
  requests: number;
  requestsNeeded: number;
  /** Multiples of the budget's even spend over 5 min, 1 h, 30 min and 6 h; absent where nothing was served. */
  burnRates: NonNullable<CutoverStatus['pacing']>['burnRates'];
  measuredAt: string;
  measuredAgoSeconds: number;
  /** `step 3: 1,840 of 2,000 requests; burn 0.4× 5m, 0.35× 1h, 0.3× 30m, – 6h` */
  summary: string;
}

export interface ClusterWeightView {
  setIdentifier: string;
  /** The weight the plan asks for now. */
  desiredWeight: number;
  /** As Route53 serves it (INSYNC), once known. */
  verifiedWeight?: number;
}

export interface AnalysisRunView {
  template: string;
  stepNumber: number;
  /** The verdict: Running until every measurement is in. */
  result: AnalysisRun['result'];
  measurements: number;
  /** The template's count, when the template is in the spec. */
  measurementsPlanned?: number;
  failures: number;
  inconclusive: number;
  /** Shares of requests without a 5xx, 0-1: the last measured, and the template's minimum. */
  successRate?: number;
  successRateMin?: number;
  latencyP99Ms?: number;
  latencyP99MaxMs?: number;
  requests?: number;
  /** A peer analysis: both clusters over the same window, with the intervals its verdict read. */
  comparison?: AnalysisRun['comparison'];
  message: string;
  startedAt: string;
  measuredAt?: string;
  measuredAgoSeconds?: number;
}

export interface HandoverView {
  /** The owner id of the peer's operator whose cutover writes this cluster's weight. */
  by: string;
  since: string;
  ageSeconds: number;
  /** This cluster's weight as that cutover last set it. */
  weight: number;
  connectionClose: boolean;
  /** The last step that lowered this cluster's share: its services close that fraction of their keep-alive connections. */
  rebalance?: { fromPercent: number; toPercent: number; fraction: number; since: string };
}

export interface ConditionView {
  status: Condition['status'];
  reason: string;
  message: string;
  lastTransitionTime: string;
}

export interface PeerView {
  namespace: string;
  name: string;
  setIdentifier?: string;
  phase: string;
  desiredWeight?: number;
  verifiedWeight?: number;
  verifiedAt?: string;
}

/** The view of `reservation` at `now`; `peer` is the peer cluster's Reservation, if the caller has it. */
export function cutoverView(reservation: Reservation, peer: Reservation | undefined, now: Date): CutoverView {
  const traffic = reservation.spec.traffic;
  const status = reservation.status?.traffic;
  const cutover = status?.cutover;
  const secondsSince = (at: string) => (now.getTime() - Date.parse(at)) / 1000;
  const templates = traffic?.cutover?.analysis;
  const handover = status?.handover;
  const override = status?.weightOverride;
  const ready = reservation.status?.conditions?.find((c) => c.type === CONDITION.TrafficReady);
  const draining = cutover !== undefined && cutover.phase === 'Progressing' && cutover.step >= cutover.steps;
  return {
    generatedAt: iso(now),
    namespace: reservation.metadata.namespace,
    name: reservation.metadata.name,
    phase: reservation.status?.phase ?? 'Idle',
    record: traffic && {
      name: traffic.dns.name,
      setIdentifier: traffic.cluster,
      ttlSeconds: traffic.dns.ttl,
      desiredWeight: status?.desiredWeight ?? traffic.weight,
      verifiedWeight: status?.verifiedWeight,
      verifiedAt: status?.verifiedAt,
      lastChange: status?.lastChange,
    },
    plan: traffic?.cutover && planView(traffic.cutover, traffic.cluster, templates, cutover),
    cutover: traffic && cutover && cutoverRunView(cutover, traffic.cluster, status?.verifiedWeight, templates, secondsSince),
    handover: handover && {
      by: handover.by,
      since: handover.since,
      ageSeconds: secondsSince(handover.since),
      weight: handover.weight,
      connectionClose: handover.connectionClose ?? false,
      ...(handover.rebalance
        ? {
            rebalance: {
              fromPercent: handover.rebalance.fromShare,
              toPercent: handover.rebalance.toShare,
              fraction: handover.rebalance.fraction,
              since: handover.rebalance.since,
            },
          }
        : {}),
    },
    weightOverride: override && { weight: override.weight, specWeight: override.specWeight, by: override.by },
    trafficReady: ready && {
      status: ready.status,
      reason: ready.reason,
      message: ready.message,
      lastTransitionTime: ready.lastTransitionTime,
    },
    allowedVerbs: cutover ? CUTOVER_VERBS.filter((verb) => !verbError(verb, cutover)) : [],
    peer: peer && peerView(peer),
    capacity: capacityView(reservation.status),
    drain: {
      drainingPeer: draining,
      connectionClose: handover?.connectionClose ?? false,
      message: draining ? cutover?.message : undefined,
    },
  };
}

const SERVICES = ['reservationApi', 'queryApi', 'notifier'] as const;

/** The services with a floor or a replica count; empty before the operator reports either. */
function capacityView(status: Reservation['status']): CapacityView[] {
  return SERVICES.flatMap((service) => {
    const floor = status?.traffic?.minReplicas?.[service];
    const counts = status?.services?.[service];
    return floor === undefined && counts === undefined ? [] : [{ service, floor, ready: counts?.ready, desired: counts?.desired }];
  });
}

function planView(
  spec: NonNullable<NonNullable<Reservation['spec']['traffic']>['cutover']>,
  self: string,
  templates: AnalysisTemplate[] | undefined,
  cutover: CutoverStatus | undefined,
): PlanView {
  const built = buildPlan(spec, self);
  if (!built.ok) return { from: spec.from, errors: built.errors, steps: [] };
  return { from: spec.from, errors: [], steps: built.plan.steps.map((step, i) => stepView(step, i, templates, cutover)) };
}

function stepView(step: PlanStep, i: number, templates: AnalysisTemplate[] | undefined, cutover: CutoverStatus | undefined): PlanStepView {
  const number = i + 1;
  const description = describeStep(step);
  const state = stepState(i, cutover);
  switch (step.kind) {
    case 'setShare':
      return { number, kind: 'setShare', description, state, sharePercent: step.share, weights: step.weights };
    case 'pause':
      return {
        number,
        kind: 'pause',
        description,
        state,
        durationSeconds: step.durationMs === undefined ? undefined : step.durationMs / 1000,
      };
    case 'analysis': {
      const measurementsPlanned = templates?.find((t) => t.name === step.template)?.count;
      return { number, kind: 'analysis', description, state, template: step.template, measurementsPlanned };
    }
  }
}

function stepState(i: number, cutover: CutoverStatus | undefined): StepState {
  if (!cutover || i > cutover.step) return 'pending';
  if (i < cutover.step) return 'done';
  return cutover.phase === 'Aborted' || cutover.phase === 'Degraded' ? 'failed' : 'current';
}

function cutoverRunView(
  cutover: CutoverStatus,
  self: string,
  recordVerifiedWeight: number | undefined,
  templates: AnalysisTemplate[] | undefined,
  secondsSince: (at: string) => number,
): CutoverRunView {
  const done = cutover.step >= cutover.steps;
  const run = cutover.lastAnalysis;
  return {
    phase: cutover.phase,
    from: cutover.from,
    message: cutover.message,
    startedAt: cutover.startedAt,
    ageSeconds: secondsSince(cutover.startedAt),
    finishedAt: cutover.finishedAt,
    finishedAgoSeconds: cutover.finishedAt === undefined ? undefined : secondsSince(cutover.finishedAt),
    stepCount: cutover.steps,
    stepsDone: cutover.step,
    currentStep: done
      ? undefined
      : { number: cutover.step + 1, startedAt: cutover.stepStartedAt, elapsedSeconds: secondsSince(cutover.stepStartedAt) },
    aborting: cutover.aborting ?? false,
    held: cutover.held ?? false,
    pauseReason: cutover.phase === 'Paused' ? reasonFrom(cutover, PAUSE_EVENTS) : undefined,
    abortReason: cutover.phase === 'Aborted' ? reasonFrom(cutover, ABORT_EVENTS) : undefined,
    share: { startPercent: cutover.startShare, desiredPercent: cutover.share, verifiedPercent: verifiedShareOf(cutover) },
    observed: cutover.observed && {
      configuredPercent: cutover.observed.configuredShare,
      observedPercent: cutover.observed.share,
      requests: cutover.observed.requests,
      windowSeconds: cutover.observed.windowSeconds,
      measuredAt: cutover.observed.at,
      measuredAgoSeconds: cutover.observed.at === undefined ? undefined : secondsSince(cutover.observed.at),
      settled: cutover.observed.settled,
      message: cutover.observed.message,
    },
    weights: {
      self: {
        setIdentifier: self,
        desiredWeight: cutover.weights.self,
        verifiedWeight: cutover.verifiedWeights?.self ?? recordVerifiedWeight,
      },
      peer: { setIdentifier: cutover.from, desiredWeight: cutover.weights.peer, verifiedWeight: cutover.verifiedWeights?.peer },
    },
    lastAnalysis:
      run &&
      analysisView(
        run,
        templates?.find((t) => t.name === run.template),
        secondsSince,
      ),
    takeBack: cutover.takeBack && { state: cutover.takeBack.state, message: cutover.takeBack.message },
    pacing: cutover.pacing && cutover.pacing.step === cutover.step ? pacingView(cutover.pacing, secondsSince) : undefined,
    handledRequest: cutover.handledRequest,
    history: cutover.history.map(({ at, step, event, message }) => ({ at, stepNumber: step + 1, event, message })),
  };
}

function pacingView(p: NonNullable<CutoverStatus['pacing']>, secondsSince: (at: string) => number): PacingView {
  const windows = [
    ['5m', p.burnRates.fastShort],
    ['1h', p.burnRates.fastLong],
    ['30m', p.burnRates.slowShort],
    ['6h', p.burnRates.slowLong],
  ] as const;
  const burn = windows.map(([window, rate]) => `${rate === undefined ? '–' : `${rate}×`} ${window}`).join(', ');
  return {
    stepNumber: p.step + 1,
    requests: p.requests,
    requestsNeeded: p.requestsNeeded,
    burnRates: p.burnRates,
    measuredAt: p.measuredAt,
    measuredAgoSeconds: secondsSince(p.measuredAt),
    summary: `step ${p.step + 1}: ${formatCount(p.requests)} of ${formatCount(p.requestsNeeded)} requests; burn ${burn}`,
  };
}

/** The events the executor records when it holds a cutover, and when it starts an abort. */
const PAUSE_EVENTS = ['Paused', 'AnalysisInconclusive', 'SlowBurn'];
const ABORT_EVENTS = ['CutoverAborted'];

/**
 * The newest of `events` at the current step, which says why; else the status message (a pause
 * step waiting for promote has no event, and the status keeps only the last 20 events).
 */
function reasonFrom(cutover: CutoverStatus, events: readonly string[]): string {
  const entry = cutover.history.findLast((e) => e.step === cutover.step && events.includes(e.event));
  return entry?.message ?? cutover.message;
}

/** The status's verified share, or the share its verified weights give (equal weights of 0 answer half each). */
function verifiedShareOf(cutover: CutoverStatus): number | undefined {
  if (cutover.verifiedShare !== undefined) return cutover.verifiedShare;
  const w = cutover.verifiedWeights;
  return w ? shareOf('self', w) : undefined;
}

function analysisView(run: AnalysisRun, template: AnalysisTemplate | undefined, secondsSince: (at: string) => number): AnalysisRunView {
  return {
    template: run.template,
    stepNumber: run.step + 1,
    result: run.result,
    measurements: run.measurements,
    failures: run.failures,
    inconclusive: run.inconclusive,
    measurementsPlanned: template?.count,
    successRate: run.successRate,
    successRateMin: template?.successRateMin,
    latencyP99Ms: run.latencyP99Ms,
    latencyP99MaxMs: template?.latencyP99MaxMs,
    requests: run.requests,
    comparison: run.comparison,
    message: run.message,
    startedAt: run.startedAt,
    measuredAt: run.measuredAt,
    measuredAgoSeconds: run.measuredAt === undefined ? undefined : secondsSince(run.measuredAt),
  };
}

function peerView(peer: Reservation): PeerView {
  const status = peer.status?.traffic;
  return {
    namespace: peer.metadata.namespace,
    name: peer.metadata.name,
    phase: peer.status?.phase ?? 'Idle',
    setIdentifier: peer.spec.traffic?.cluster,
    desiredWeight: status?.desiredWeight,
    verifiedWeight: status?.verifiedWeight,
    verifiedAt: status?.verifiedAt,
  };
}
