import { type Static, Type } from 'typebox';
import { AnalysisTemplate } from './analysis.ts';
import { DNS_LABEL, DURATION, HOSTNAME, rules } from './schema.ts';

/** spec.traffic: this cluster's weighted Route53 record, and the cutover plan that moves traffic here (steps, prescale, drain). */

const Step = Type.Object(
  {
    setShare: Type.Optional(Type.Integer({ minimum: 0, maximum: 100, description: "set this cluster's share of traffic to this percent" })),
    pause: Type.Optional(
      Type.Object(
        {
          duration: Type.Optional(
            Type.String({ pattern: DURATION, description: 'how long to wait, e.g. 5m; without it, wait for a promote' }),
          ),
        },
        { description: 'wait, for a duration or until promoted' },
      ),
    ),
    analysis: Type.Optional(
      Type.Object(
        { template: Type.String({ minLength: 1, description: 'name of an analysis in spec.traffic.cutover.analysis' }) },
        { description: 'check the SLOs before going on' },
      ),
    ),
  },
  {
    description: 'one step of the plan: exactly one of setShare, pause or analysis',
    ...rules({
      rule: '[has(self.setShare), has(self.pause), has(self.analysis)].filter(x, x).size() == 1',
      message: 'each cutover step must set exactly one of setShare, pause or analysis',
    }),
  },
);

const Prescale = Type.Object(
  {
    prometheus: Type.Object(
      {
        url: Type.String({ pattern: '^https?://', description: 'base URL of the Prometheus HTTP API that sees both clusters' }),
        query: Type.String({
          minLength: 1,
          default: 'sum(rate(http_request_duration_seconds_count{service="{{service}}"}[2m]))',
          description:
            "PromQL giving one number: a service's total request rate, both clusters together, per second; {{service}} is the service's name (reservation-api, query-api)",
        }),
        peerReady: Type.String({
          minLength: 1,
          default:
            'sum(kube_deployment_status_replicas_available{cluster="{{peer}}",namespace="{{namespace}}",deployment="{{deployment}}"})',
          description:
            "PromQL giving one number: the peer's ready pods of a service (kube-state-metrics by default), read before an abort's first step down to check the peer can take the traffic back; {{peer}} is the peer's set identifier, {{namespace}} this Reservation's, {{deployment}} <name>-<service>, {{service}} the service's name",
        }),
      },
      { description: 'where the current load comes from' },
    ),
    requestsPerPod: Type.Object(
      {
        reservationApi: Type.Number({ description: 'requests per second one reservation-api pod serves at its CPU target' }),
        queryApi: Type.Number({ description: 'requests per second one query-api pod serves at its CPU target' }),
      },
      {
        description: 'what one pod of each HTTP service serves; the notifier scales on its queue and is not pre-scaled',
        // CEL, not `minimum`: the API server let a 0 through `minimum: 0.01` on a number field.
        ...rules({
          rule: 'self.reservationApi > 0.0 && self.queryApi > 0.0',
          message: 'prescale.requestsPerPod must be above 0 for each service',
        }),
      },
    ),
    headroomPercent: Type.Integer({ minimum: 0, maximum: 400, default: 25, description: 'capacity above the projected load, percent' }),
  },
  {
    description:
      "before a share rises, raise the HPAs' minReplicas to carry that share of the current total load (plus headroom) and wait until the pods are available",
  },
);

const Drain = Type.Object(
  {
    ttls: Type.Integer({
      minimum: 1,
      maximum: 100,
      default: 2,
      description: "after the peer's weight 0 is in sync: wait this many TTLs (resolvers that cached the old answer) before Succeeded",
    }),
    peerRate: Type.Optional(
      Type.Object(
        {
          prometheus: Type.Object(
            {
              url: Type.String({ pattern: '^https?://', description: "base URL of a Prometheus HTTP API that sees the peer's services" }),
              query: Type.String({
                minLength: 1,
                description: "PromQL giving one number: the peer's request rate per second; {{peer}} is the peer's set identifier",
              }),
            },
            { description: "where the peer's request rate comes from" },
          ),
          below: Type.Number({
            minimum: 0,
            default: 1,
            description: 'Succeeded only once the peer serves fewer requests per second than this (clients that ignore DNS TTLs)',
          }),
        },
        {
          description: "wait until the peer's own request rate has fallen, as well as the TTLs",
          // A rate is never below 0: the drain would never end. CEL for the same reason as requestsPerPod.
          ...rules({
            rule: 'self.below > 0.0',
            message: 'drain.peerRate.below must be above 0: no request rate is below 0, so the drain would never end',
          }),
        },
      ),
    ),
    connectionClose: Type.Boolean({
      default: false,
      description:
        "the peer's services close keep-alive connections as traffic leaves them, so those clients reconnect and resolve the name again: at each step that lowers the peer's share, that share of its connections over one TTL; while draining, every response (Connection: close)",
    }),
  },
  { default: {}, description: 'after the peer reaches weight 0: how long to keep it before the cutover counts as done' },
);

/** The Prometheus that scrapes both clusters, telling them apart by a label: what settle and pacing read. */
const ClusterPrometheus = Type.Object(
  {
    url: Type.String({ pattern: '^https?://', description: 'base URL of a Prometheus HTTP API that scrapes both clusters' }),
    label: Type.String({
      pattern: '^[a-zA-Z_][a-zA-Z0-9_]*$',
      maxLength: 128,
      default: 'cluster',
      description: 'the series label whose value tells the two clusters apart (as for a peer analysis)',
    }),
    thisCluster: Type.Optional(
      Type.String({ minLength: 1, maxLength: 128, description: "this cluster's value of the label; default: spec.traffic.cluster" }),
    ),
    peerCluster: Type.Optional(
      Type.String({ minLength: 1, maxLength: 128, description: "the peer's value of the label; default: spec.traffic.cutover.from" }),
    ),
  },
  {
    description:
      "where both clusters' requests and 5xx answers come from (the services' http_request_duration_seconds_count, the Reservation's pods): settle and pacing read it",
    ...rules({
      rule: '!has(self.thisCluster) || !has(self.peerCluster) || self.thisCluster != self.peerCluster',
      message: 'cutover.prometheus.thisCluster and peerCluster are the same label value: the two clusters must be told apart',
    }),
  },
);

const Settle = Type.Object(
  {
    tolerancePoints: Type.Integer({
      minimum: 1,
      maximum: 50,
      default: 3,
      description: "a step is settled once this cluster's observed share of the requests is within this many points of the step's share",
    }),
    window: Type.String({
      pattern: DURATION,
      default: '30s',
      description: 'the observed share is the requests of the last window (never reaching back before the step was in sync)',
    }),
    maxWait: Type.String({
      pattern: DURATION,
      default: '5m',
      description:
        'the bound: a step whose observed share is still outside the tolerance this long after its TTL goes on anyway, with a Warning event and the condition reason ObservedShareBehind',
    }),
  },
  {
    description:
      "a setShare step counts once the traffic has moved, not only the weights: this cluster's share of both clusters' requests (from cutover.prometheus) within a tolerance of the step's share, or a bound; without settle, once in sync for a TTL",
  },
);

const Pacing = Type.Object(
  {
    // Bounds as CEL rules: the API server prints a fractional bound as 0 in its own message.
    objective: Type.Number({ description: 'the SLO: the share of requests answered without a 5xx, e.g. 0.999' }),
    windowDays: Type.Integer({ minimum: 1, maximum: 365, default: 30, description: "the SLO's window, days: the error budget's period" }),
    budgetFraction: Type.Number({
      default: 0.01,
      description:
        'the share of the error budget one step may put at risk: a step lasts until this cluster has served that many requests at its share (had they all failed, that much of the budget would be spent)',
    }),
    minDwell: Type.String({
      pattern: DURATION,
      maxLength: 32,
      default: '1m',
      description: 'the shortest a step lasts, however busy the traffic',
    }),
    maxDwell: Type.String({
      pattern: DURATION,
      maxLength: 32,
      default: '30m',
      description: 'the longest a step waits for its requests; then it goes on with a warning (if the burn is below slowBurn)',
    }),
    fastBurn: Type.Number({
      default: 14.4,
      description: "abort when this cluster's burn rate is at least this over both 5 min and 1 h (the SRE Workbook's 14.4)",
    }),
    slowBurn: Type.Number({
      default: 6,
      description: "pause when this cluster's burn rate is at least this over both 30 min and 6 h (the SRE Workbook's 6)",
    }),
  },
  {
    description:
      'steps paced by the error budget instead of fixed pauses (reading cutover.prometheus): each setShare step, once in sync and held for a TTL, lasts until this cluster has served enough requests at its share; a fast burn aborts, a slow burn pauses',
    ...rules(
      { rule: 'self.objective > 0.0 && self.objective < 1.0', message: 'pacing.objective must be between 0 and 1, e.g. 0.999' },
      {
        rule: 'self.budgetFraction > 0.0 && self.budgetFraction <= 1.0',
        message: 'pacing.budgetFraction must be above 0 and at most 1, e.g. 0.01 (1% of the error budget per step)',
      },
      {
        rule: 'self.slowBurn > 0.0 && self.fastBurn > self.slowBurn',
        message: 'pacing.fastBurn must be above pacing.slowBurn, and both above 0 (the SRE Workbook: 14.4 and 6)',
      },
      { rule: 'duration(self.maxDwell) >= duration(self.minDwell)', message: 'pacing.maxDwell must not be shorter than pacing.minDwell' },
    ),
  },
);

const Cutover = Type.Object(
  {
    from: Type.String({ pattern: DNS_LABEL, maxLength: 128, description: 'set identifier of the peer cluster whose traffic moves here' }),
    steps: Type.Optional(Type.Array(Step, { minItems: 1, maxItems: 64, description: 'the plan, step by step' })),
    stepPercent: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 100, description: 'shortcut plan: raise the share by this many points per step' }),
    ),
    maxPercent: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'shortcut plan: stop at this share (default 100)' })),
    prescale: Type.Optional(Prescale),
    drain: Drain,
    prometheus: Type.Optional(ClusterPrometheus),
    settle: Type.Optional(Settle),
    pacing: Type.Optional(Pacing),
    analysis: Type.Optional(
      Type.Array(AnalysisTemplate, {
        maxItems: 16,
        description: 'the analyses that steps run, by name',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['name'],
      }),
    ),
  },
  {
    description: 'moving traffic here from a peer cluster (the traffic controller runs it)',
    ...rules(
      {
        rule: 'has(self.steps) != has(self.stepPercent)',
        message: 'a cutover needs either steps or stepPercent (the shortcut form), not both',
      },
      { rule: '!has(self.maxPercent) || has(self.stepPercent)', message: 'maxPercent only goes with stepPercent' },
      {
        rule: '!has(self.steps) || self.steps.all(s, !has(s.analysis) || (has(self.analysis) && self.analysis.exists(a, a.name == s.analysis.template)))',
        message: 'an analysis step names a template that is not in traffic.cutover.analysis',
      },
      {
        rule: '!has(self.pacing) || has(self.prometheus)',
        message:
          'pacing needs traffic.cutover.prometheus: the Prometheus that scrapes both clusters, where it counts requests and 5xx answers',
      },
      {
        rule: '!has(self.settle) || has(self.prometheus)',
        message: "settle needs traffic.cutover.prometheus: the Prometheus that scrapes both clusters, where it counts each one's requests",
      },
    ),
  },
);

/**
 * The record this Reservation owns is (hosted zone, name, set identifier). Changing one would
 * leave the old record serving its weight with nobody owning it, and point a new one at this
 * cluster without a cutover; so they are fixed once set. A transition rule on a field runs only
 * when the old and the new object both have it, which is what is wanted: setting
 * spec.traffic for the first time stays allowed.
 */
const fixed = (field: string, what: string) =>
  rules({
    rule: 'self == oldSelf',
    message: `${field} cannot change: it names this cluster's weighted record (${what}); create a new Reservation (and move the traffic with a cutover) instead`,
  });

export const Traffic = Type.Object(
  {
    cluster: Type.String({
      pattern: DNS_LABEL,
      maxLength: 128,
      description: "this cluster's Route53 set identifier, e.g. eks-green; fixed once set",
      ...fixed('spec.traffic.cluster', 'its set identifier'),
    }),
    dns: Type.Object(
      {
        hostedZoneId: Type.String({
          pattern: '^Z[A-Z0-9]{1,32}$',
          maxLength: 33,
          description: 'Route53 hosted zone of the name; fixed once set',
          ...fixed('spec.traffic.dns.hostedZoneId', 'its hosted zone'),
        }),
        name: Type.String({
          pattern: HOSTNAME,
          maxLength: 253,
          description: 'the weighted record name clients use, e.g. api.reservations.example.com; fixed once set',
          ...fixed('spec.traffic.dns.name', 'its name'),
        }),
        ttl: Type.Integer({ minimum: 1, maximum: 86400, default: 60, description: 'TTL of the weighted records, seconds' }),
      },
      { description: 'the weighted DNS record shared by the clusters' },
    ),
    weight: Type.Integer({
      minimum: 0,
      maximum: 255,
      default: 0,
      description: "this cluster's Route53 weight when no cutover runs (0-255)",
    }),
    target: Type.Optional(Type.String({ pattern: HOSTNAME, description: "record target; default: the edge's load balancer hostname" })),
    cutover: Type.Optional(Cutover),
  },
  {
    description: "this cluster's weighted Route53 record and the cutover plan",
    ...rules({
      rule: '!has(self.cutover) || self.cutover.from != self.cluster',
      message: 'traffic.cutover.from must name the peer cluster, not this one (traffic.cluster)',
    }),
  },
);

export type Prescale = Static<typeof Prescale>;
export type Drain = Static<typeof Drain>;
export type Settle = Static<typeof Settle>;
export type Pacing = Static<typeof Pacing>;
export type ClusterPrometheus = Static<typeof ClusterPrometheus>;
