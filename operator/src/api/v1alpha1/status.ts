import { type Static, Type } from 'typebox';
import { AnalysisRun } from './analysis.ts';
import { Enum } from './schema.ts';

/** status: what the operator observed: conditions, replicas, and the traffic record with its cutover. */

export const CUTOVER_PHASES = ['Progressing', 'Paused', 'Analyzing', 'Succeeded', 'Aborted', 'Degraded'] as const;

const Condition = Type.Object(
  {
    type: Type.String({ description: 'Ready, Progressing, Degraded, TrafficReady or DeletionHeld' }),
    status: Enum(['True', 'False', 'Unknown'] as const, { description: 'True, False or Unknown' }),
    reason: Type.String({ description: 'CamelCase reason for the last transition' }),
    message: Type.String({ description: 'what happened, for people' }),
    lastTransitionTime: Type.String({ format: 'date-time', description: 'when status last changed' }),
    observedGeneration: Type.Optional(Type.Integer({ description: 'the generation this condition was computed from' })),
  },
  { description: 'a metav1.Condition' },
);

const ServiceStatus = Type.Object(
  {
    desired: Type.Integer({ description: 'replicas the Deployment wants' }),
    ready: Type.Integer({ description: 'pods passing readiness' }),
    available: Type.Integer({ description: 'pods ready for at least minReadySeconds' }),
    updated: Type.Integer({ description: 'pods running the current template' }),
  },
  { description: "a service's replica counts" },
);

const ShareWeights = (what: string) =>
  Type.Object(
    {
      self: Type.Integer({ description: "this cluster's weight" }),
      peer: Type.Integer({ description: "the peer's weight" }),
    },
    { description: what },
  );

const CutoverStatus = Type.Object(
  {
    phase: Enum(CUTOVER_PHASES, {
      description: 'Progressing, Paused, Analyzing, Succeeded, Aborted (returning or returned to the start) or Degraded',
    }),
    from: Type.String({ description: "the peer's set identifier" }),
    plan: Type.String({ description: 'fingerprint of the plan being run; a changed plan restarts from the current share' }),
    step: Type.Integer({ description: 'the current step, 0-based; equal to steps once the plan is done' }),
    steps: Type.Integer({ description: 'steps in the plan' }),
    stepStartedAt: Type.String({ format: 'date-time', description: 'when the current step began' }),
    startShare: Type.Integer({ description: "this cluster's share when the cutover began; an abort returns to it" }),
    share: Type.Integer({ description: "this cluster's share (percent) the plan asks for now" }),
    weights: ShareWeights('the weights the plan asks for now'),
    verifiedWeights: Type.Optional(ShareWeights('the weights Route53 serves everywhere (INSYNC)')),
    verifiedShare: Type.Optional(Type.Number({ description: "this cluster's share of Route53's answers, from the verified weights" })),
    syncedAt: Type.Optional(
      Type.String({ format: 'date-time', description: 'when the current weights were verified INSYNC; the step counts one TTL later' }),
    ),
    aborting: Type.Optional(Type.Boolean({ description: 'true while an abort walks the share back to startShare' })),
    held: Type.Optional(
      Type.Boolean({ description: 'true while held by a pause request or an inconclusive analysis; resume or promote goes on' }),
    ),
    message: Type.String({ description: 'what the cutover is doing or waiting for' }),
    observed: Type.Optional(
      Type.Object(
        {
          configuredShare: Type.Integer({ description: 'the share of the step this observation was taken for, percent' }),
          share: Type.Optional(
            Type.Number({
              description: "this cluster's share of both clusters' requests over the window, percent; absent without requests",
            }),
          ),
          requests: Type.Optional(
            Type.Object(
              {
                self: Type.Number({ description: "this cluster's requests in the window" }),
                peer: Type.Number({ description: "the peer's requests in the window" }),
              },
              { description: 'what the share was computed from' },
            ),
          ),
          windowSeconds: Type.Optional(Type.Integer({ description: 'the window the requests were counted over' })),
          at: Type.Optional(Type.String({ format: 'date-time', description: 'when it was measured' })),
          settled: Type.Optional(
            Enum(['Observed', 'Bound'] as const, {
              description: 'how the step settled: Observed (within the tolerance) or Bound (settle.maxWait passed without it)',
            }),
          ),
          message: Type.String({ description: 'the observation in words, or why there is none' }),
        },
        {
          description:
            "the share of requests this cluster really receives (spec.traffic.cutover.settle), beside the configured share: the last setShare step's",
        },
      ),
    ),
    takeBack: Type.Optional(
      Type.Object(
        {
          state: Enum(['Raising', 'Ready', 'Short', 'Unknown'] as const, {
            description:
              "Raising: the peer's floors are raised and the walk back waits for its pods; Ready: it has them; Short: it still lacked them after the wait, and the walk back went on; Unknown: Prometheus could not say",
          }),
          floors: Type.Optional(
            Type.Object(
              {
                reservationApi: Type.Optional(Type.Integer({ description: 'reservation-api pods' })),
                queryApi: Type.Optional(Type.Integer({ description: 'query-api pods' })),
              },
              { description: 'the pods per service the peer needs for the traffic it gets back, asked of it through its TXT' },
            ),
          ),
          since: Type.String({ format: 'date-time', description: 'when the abort checked' }),
          message: Type.String({ description: 'what was found' }),
        },
        { description: "with prescale: whether the peer can take the traffic back, checked before an abort's first step down" },
      ),
    ),
    pacing: Type.Optional(
      Type.Object(
        {
          step: Type.Integer({ description: 'the step measured, 0-based' }),
          requests: Type.Number({ description: 'requests this cluster answered since the step was in sync and held for a TTL' }),
          requestsNeeded: Type.Number({ description: 'requests the step waits for: all failing would spend budgetFraction of the budget' }),
          burnRates: Type.Object(
            {
              fastShort: Type.Optional(Type.Number({ description: 'over 5 min' })),
              fastLong: Type.Optional(Type.Number({ description: 'over 1 h' })),
              slowShort: Type.Optional(Type.Number({ description: 'over 30 min' })),
              slowLong: Type.Optional(Type.Number({ description: 'over 6 h' })),
            },
            {
              description: "this cluster's 5xx ratio as a multiple of the budget's even spend; absent when it served nothing in the window",
            },
          ),
          measuredAt: Type.String({ format: 'date-time', description: 'when Prometheus was asked' }),
        },
        { description: 'with spec.traffic.cutover.pacing: what the current step has served and its burn rates' },
      ),
    ),

    lastAnalysis: Type.Optional(AnalysisRun),
    handledRequest: Type.Optional(
      Type.String({ description: 'the last platform.reservations.dev/cutover-request annotation value acted on' }),
    ),
    history: Type.Array(
      Type.Object(
        {
          at: Type.String({ format: 'date-time', description: 'when' }),
          step: Type.Integer({ description: 'the step' }),
          event: Type.String({ description: 'what happened, CamelCase (StepStarted, WeightsVerified, Paused, AnalysisFailed, ...)' }),
          message: Type.String({ description: 'for people' }),
        },
        { description: 'one thing that happened' },
      ),
      { maxItems: 20, description: 'the last things that happened, newest last' },
    ),
    startedAt: Type.String({ format: 'date-time', description: 'when the cutover began' }),
    finishedAt: Type.Optional(Type.String({ format: 'date-time', description: 'when it Succeeded or finished aborting' })),
  },
  { description: 'the cutover this cluster runs (spec.traffic.cutover)' },
);

const Handover = Type.Object(
  {
    by: Type.String({ description: "the owner id of the peer's operator that writes this cluster's weight during its cutover" }),
    since: Type.String({ format: 'date-time', description: 'when the handover was first seen' }),
    weight: Type.Integer({ description: "this cluster's weight as the peer's cutover last set it" }),
    connectionClose: Type.Optional(
      Type.Boolean({ description: "true while the peer's cutover drains this cluster and asks its services for Connection: close" }),
    ),
    rebalance: Type.Optional(
      Type.Object(
        {
          fromShare: Type.Integer({ description: "this cluster's share before the step, percent" }),
          toShare: Type.Integer({ description: "this cluster's share after the step, percent" }),
          fraction: Type.Number({ description: 'the share of keep-alive connections opened before `since` that are closed, 0-1' }),
          since: Type.String({
            format: 'date-time',
            description: 'when this operator saw the step; the closes are spread over one TTL from then',
          }),
        },
        {
          description:
            "the last step of the peer's cutover that lowered this cluster's share (with drain.connectionClose): the services close that share of their keep-alive connections, so those clients resolve again and follow the weights",
        },
      ),
    ),
  },
  { description: "a peer's cutover writes this cluster's weight; this operator leaves the weight alone and keeps its capacity" },
);

const TrafficStatus = Type.Object(
  {
    recordName: Type.String({ description: 'the weighted record this cluster owns (spec.traffic.dns.name)' }),
    setIdentifier: Type.String({ description: "this cluster's set identifier (spec.traffic.cluster)" }),
    target: Type.Optional(Type.String({ description: 'where the record points: spec.traffic.target or the edge hostname' })),
    owner: Type.Optional(
      Type.String({
        description: "owner id in the record set's ExternalDNS ownership TXT record: this operator's, or whoever else owns it",
      }),
    ),
    desiredWeight: Type.Integer({ description: 'the weight this cluster should have now (spec.traffic.weight while no cutover runs)' }),
    verifiedWeight: Type.Optional(
      Type.Integer({ description: "this cluster's weight as Route53 serves it: set by a change that GetChange reported INSYNC" }),
    ),
    verifiedAt: Type.Optional(Type.String({ format: 'date-time', description: 'when verifiedWeight was confirmed INSYNC' })),
    lastChange: Type.Optional(
      Type.Object(
        {
          id: Type.String({ description: 'the Route53 change id (GetChange)' }),
          status: Enum(['PENDING', 'INSYNC'] as const, { description: 'PENDING until every Route53 server has it, then INSYNC' }),
          weight: Type.Integer({ description: 'the weight this change sets' }),
          peerWeight: Type.Optional(Type.Integer({ description: "the peer's weight this change sets, during a cutover" })),
          submittedAt: Type.String({ format: 'date-time', description: 'when the change batch was accepted' }),
        },
        { description: 'the last change batch this operator made to the record set' },
      ),
    ),
    cutover: Type.Optional(CutoverStatus),
    handover: Type.Optional(Handover),
    minReplicas: Type.Optional(
      Type.Object(
        {
          reservationApi: Type.Optional(Type.Integer({ description: 'floor for reservation-api' })),
          queryApi: Type.Optional(Type.Integer({ description: 'floor for query-api' })),
          notifier: Type.Optional(Type.Integer({ description: 'floor for the notifier' })),
        },
        {
          description:
            "floors on the HPAs' minReplicas set by the traffic controller: pre-scaling before this cluster's share rises, or keeping this cluster warm while a peer's cutover drains it (never above replicas.max)",
        },
      ),
    ),
    weightOverride: Type.Optional(
      Type.Object(
        {
          weight: Type.Integer({ description: 'the weight a finished cutover left this cluster at' }),
          specWeight: Type.Integer({ description: 'spec.traffic.weight at the time; changing it ends the override' }),
          by: Type.String({ description: 'who set it' }),
        },
        {
          description:
            "a peer's cutover moved this cluster's weight; it stays until spec.traffic.weight changes, so the old spec never pulls traffic back",
        },
      ),
    ),
  },
  { description: "this cluster's weighted Route53 record" },
);

export const ReservationStatus = Type.Object(
  {
    observedGeneration: Type.Optional(Type.Integer({ description: 'the spec generation this status describes' })),
    phase: Type.Optional(Type.String({ description: 'Idle, Progressing, Paused, Analyzing, Succeeded, Aborted or Degraded' })),
    replicas: Type.Optional(Type.String({ description: 'available/desired pods over all services, e.g. 5/6' })),
    conditions: Type.Optional(
      Type.Array(Condition, {
        description: 'Ready, Progressing, Degraded; TrafficReady with spec.traffic; DeletionHeld while a finalizer waits',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type'],
      }),
    ),
    services: Type.Optional(
      Type.Object(
        { reservationApi: Type.Optional(ServiceStatus), queryApi: Type.Optional(ServiceStatus), notifier: Type.Optional(ServiceStatus) },
        { description: 'replica counts per service' },
      ),
    ),
    edge: Type.Optional(
      Type.Object(
        { hostname: Type.Optional(Type.String({ description: "the load balancer's hostname, where the weighted record points" })) },
        { description: 'the public entry' },
      ),
    ),
    traffic: Type.Optional(TrafficStatus),
  },
  { description: 'what the operator observed' },
);

export type ReservationStatus = Static<typeof ReservationStatus>;
export type Condition = Static<typeof Condition>;
export type ServiceStatus = Static<typeof ServiceStatus>;
export type TrafficStatus = Static<typeof TrafficStatus>;
export type CutoverStatus = Static<typeof CutoverStatus>;
