import { type Static, Type } from 'typebox';

/**
 * The `Reservation` API, v1alpha1: one installation of the platform in one cluster.
 *
 * This file is the single source of truth: the TypeScript types below are `Static<>` of these
 * schemas, and `crds/` is generated from them (`npm run generate:crds`, checked by a test).
 * Conventions the generator relies on:
 * - every property has a description (it is what `kubectl explain rsv.spec...` prints);
 * - a property with a `default` is written as required here, because the API server fills it
 *   in before anyone reads the object; the generator drops it from the CRD's `required`;
 * - cross-field rules are CEL (`x-kubernetes-validations`) with messages for an SRE.
 */

export const GROUP = 'platform.reservations.dev';
export const VERSION = 'v1alpha1';
export const KIND = 'Reservation';
export const PLURAL = 'reservations';
export const API_VERSION = `${GROUP}/${VERSION}`;

/** The services the platform runs; their keys in `spec.services` and `status.services`. */
export const SERVICE_NAMES = ['reservationApi', 'queryApi', 'notifier'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/**
 * How an SRE (or `kubectl reservation promote|pause|resume|abort|retry`) asks a running cutover to
 * act: the annotation's value is a verb, optionally `<verb>/<token>` so the same verb can be asked
 * again. The operator acts on each distinct value once (status.traffic.cutover.handledRequest).
 */
export const CUTOVER_REQUEST_ANNOTATION = `${GROUP}/cutover-request`;
export const CUTOVER_VERBS = ['pause', 'resume', 'promote', 'promote-full', 'abort', 'retry'] as const;
export type CutoverVerb = (typeof CUTOVER_VERBS)[number];

export const CUTOVER_PHASES = ['Progressing', 'Paused', 'Analyzing', 'Succeeded', 'Aborted', 'Degraded'] as const;

type Rule = { rule: string; message: string; fieldPath?: string; reason?: string };
const rules = (...list: Rule[]) => ({ 'x-kubernetes-validations': list });

const DNS_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
const HOSTNAME = '^([a-z0-9]([-a-z0-9]*[a-z0-9])?\\.)+[a-z]{2,63}$';
const QUANTITY = '^[0-9]+(\\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$';
const DURATION = '^([0-9]+(s|m|h))+$';

const Enum = <const T extends string[]>(values: readonly [...T], options: { description: string; default?: T[number] }) =>
  Type.Enum(values, options);

const SecretKeyRef = (what: string, defaultKey: string) =>
  Type.Object(
    {
      name: Type.String({
        pattern: DNS_LABEL,
        maxLength: 253,
        description: `name of the Secret, in the Reservation's namespace, that holds ${what}`,
      }),
      key: Type.String({ minLength: 1, default: defaultKey, description: `key in that Secret (default "${defaultKey}")` }),
    },
    { description: `where ${what} comes from; credentials are never inline` },
  );

const Resources = Type.Object(
  {
    requests: Type.Object(
      {
        cpu: Type.String({ pattern: QUANTITY, default: '100m', description: 'CPU the scheduler reserves per pod, e.g. 250m' }),
        memory: Type.String({ pattern: QUANTITY, default: '128Mi', description: 'memory the scheduler reserves per pod, e.g. 256Mi' }),
      },
      { default: {}, description: 'what each pod is guaranteed; HPA CPU utilisation is a percentage of requests.cpu' },
    ),
    limits: Type.Object(
      {
        memory: Type.String({ pattern: QUANTITY, default: '512Mi', description: 'memory limit per pod; above it the container is killed' }),
      },
      { default: {}, description: 'hard limits per pod; CPU is deliberately not limited (throttling hurts latency)' },
    ),
  },
  { default: {}, description: 'compute resources of each pod of this service' },
);

const EnvVar = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$', description: 'environment variable name' }),
    value: Type.String({ description: 'its value (use backends.* Secret references for credentials, not this)' }),
  },
  { description: 'an extra environment variable' },
);

const serviceProperties = (defaults: { min: number; max: number }) => ({
  image: Type.Optional(
    Type.String({
      minLength: 1,
      description: 'full image reference for this service; default <spec.image.repository>/<service>:<spec.version>',
    }),
  ),
  replicas: Type.Object(
    {
      min: Type.Integer({ minimum: 1, maximum: 1000, default: defaults.min, description: 'fewest pods the autoscaler keeps' }),
      max: Type.Integer({ minimum: 1, maximum: 1000, default: defaults.max, description: 'most pods the autoscaler may run' }),
    },
    {
      default: {},
      description: 'replica bounds of the HorizontalPodAutoscaler',
      ...rules({ rule: 'self.min <= self.max', message: 'replicas.min must not be greater than replicas.max' }),
    },
  ),
  targetCPUUtilization: Type.Integer({
    minimum: 1,
    maximum: 100,
    default: 70,
    description: 'average CPU use, in percent of requests.cpu, that the autoscaler aims for',
  }),
  resources: Resources,
  env: Type.Array(EnvVar, {
    maxItems: 64,
    default: [],
    description: 'extra environment variables for this service',
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['name'],
  }),
});

const ApiService = (what: string, defaults: { min: number; max: number }) =>
  Type.Object(serviceProperties(defaults), { default: {}, description: what });

const NotifierService = Type.Object(
  {
    ...serviceProperties({ min: 1, max: 10 }),
    targetQueueDepthPerReplica: Type.Integer({
      minimum: 1,
      default: 100,
      description: 'visible SQS messages per notifier pod that the autoscaler aims for (an External metric)',
    }),
  },
  { default: {}, description: 'the SQS consumer that notifies providers (webhook and SSE)' },
);

const Edge = Type.Object(
  {
    host: Type.String({
      pattern: HOSTNAME,
      description: "this cluster's public hostname for the API, e.g. api.blue.reservations.example.com",
    }),
    kind: Enum(['HTTPRoute', 'Ingress'] as const, {
      default: 'HTTPRoute',
      description: 'HTTPRoute (Gateway API, method matches) or Ingress (AWS Load Balancer Controller, method conditions)',
    }),
    parentRef: Type.Optional(
      Type.Object(
        {
          name: Type.String({ pattern: DNS_LABEL, description: 'name of the Gateway' }),
          namespace: Type.Optional(
            Type.String({ pattern: DNS_LABEL, description: "the Gateway's namespace (default: the Reservation's)" }),
          ),
          sectionName: Type.Optional(Type.String({ pattern: DNS_LABEL, description: 'a listener of that Gateway' })),
        },
        { description: 'the Gateway the HTTPRoute attaches to (kind HTTPRoute only)' },
      ),
    ),
    ingressClassName: Type.String({ default: 'alb', description: 'IngressClass (kind Ingress only)' }),
    certificateArn: Type.Optional(
      Type.String({ pattern: '^arn:aws:acm:', description: 'ACM certificate for HTTPS on the ALB (kind Ingress only)' }),
    ),
  },
  {
    description: 'the public entry: writes go to reservation-api, reads to query-api, the notification stream to notifier',
    ...rules({
      rule: "self.kind != 'HTTPRoute' || has(self.parentRef)",
      message: 'edge.parentRef (the Gateway) is required when edge.kind is HTTPRoute',
    }),
  },
);

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

const PrometheusSource = Type.Object(
  {
    url: Type.String({ pattern: '^https?://', description: 'base URL of the Prometheus HTTP API, e.g. http://prometheus.monitoring:9090' }),
    successRate: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'PromQL giving one number, the share of requests answered without a 5xx (0-1); {{namespace}} and {{name}} are replaced; ' +
          "default: from the services' http_request_duration_seconds_count over {{interval}}",
      }),
    ),
    latencyP99: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          "PromQL giving one number, the p99 request latency in seconds; default: histogram_quantile over the services' histogram",
      }),
    ),
  },
  { description: 'measure with PromQL against a Prometheus server' },
);

const AnalysisTemplate = Type.Object(
  {
    name: Type.String({ pattern: DNS_LABEL, maxLength: 63, description: 'what analysis steps call it by' }),
    prometheus: Type.Optional(PrometheusSource),
    metrics: Type.Optional(
      Type.Object(
        {},
        {
          description:
            "measure by scraping the services' own /metrics (admin port) in this cluster at the start and end of each interval; needs no Prometheus",
        },
      ),
    ),
    successRateMin: Type.Number({
      minimum: 0,
      maximum: 1,
      default: 0.99,
      description: 'a measurement fails when fewer than this share of requests succeed (no 5xx), e.g. 0.99',
    }),
    latencyP99MaxMs: Type.Integer({ minimum: 1, default: 500, description: 'a measurement fails when p99 latency is above this, ms' }),
    interval: Type.String({ pattern: DURATION, default: '30s', description: 'time between measurements, and the window each one covers' }),
    count: Type.Integer({ minimum: 1, maximum: 100, default: 3, description: 'measurements per analysis step' }),
    failureLimit: Type.Integer({ minimum: 0, default: 0, description: 'failed measurements tolerated; one more aborts the cutover' }),
    minRequests: Type.Integer({
      minimum: 0,
      default: 20,
      description: 'a measurement with fewer requests than this has no data (inconclusive)',
    }),
    inconclusive: Enum(['Pause', 'Abort'] as const, {
      default: 'Pause',
      description: 'what an analysis without enough data does: Pause (wait for a person) or Abort',
    }),
  },
  {
    description: 'SLO checks an analysis step runs: success rate and p99 latency of this cluster’s services',
    ...rules({
      rule: 'has(self.prometheus) != has(self.metrics)',
      message: 'an analysis needs exactly one source: prometheus (a URL and PromQL) or metrics (scrape the services)',
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
        { description: "wait until the peer's own request rate has fallen, as well as the TTLs" },
      ),
    ),
    connectionClose: Type.Boolean({
      default: false,
      description:
        "while draining, the peer's services answer with Connection: close, so keep-alive clients reconnect and resolve the name again",
    }),
  },
  { default: {}, description: 'after the peer reaches weight 0: how long to keep it before the cutover counts as done' },
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
    ),
  },
);

const Traffic = Type.Object(
  {
    cluster: Type.String({ pattern: DNS_LABEL, maxLength: 128, description: "this cluster's Route53 set identifier, e.g. eks-green" }),
    dns: Type.Object(
      {
        hostedZoneId: Type.String({ pattern: '^Z[A-Z0-9]{1,32}$', description: 'Route53 hosted zone of the name' }),
        name: Type.String({ pattern: HOSTNAME, description: 'the weighted record name clients use, e.g. api.reservations.example.com' }),
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

export const ReservationSpec = Type.Object(
  {
    version: Type.String({
      pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$',
      description: 'image tag of every service unless a service sets its own image',
    }),
    image: Type.Object(
      {
        repository: Type.String({ minLength: 1, description: 'registry and path; each image is <repository>/<service>:<version>' }),
        pullPolicy: Enum(['IfNotPresent', 'Always', 'Never'] as const, {
          default: 'IfNotPresent',
          description: 'imagePullPolicy of every container',
        }),
      },
      { description: 'where the images come from' },
    ),
    services: Type.Object(
      {
        reservationApi: ApiService('the command side: create, confirm, cancel, reschedule', { min: 2, max: 20 }),
        queryApi: ApiService('the read side: cached reads from the replica', { min: 2, max: 40 }),
        notifier: NotifierService,
      },
      { default: {}, description: 'per service: image, replica bounds, autoscaling target, resources, extra env' },
    ),
    backends: Type.Object(
      {
        mysql: Type.Object(
          {
            primarySecretRef: SecretKeyRef('the MySQL primary URL (mysql://user:password@host:port/db)', 'url'),
            replicaSecretRef: SecretKeyRef('the MySQL read replica URL', 'url'),
          },
          { description: 'MySQL: writes to the primary, reads from the replica' },
        ),
        redis: Type.Object({ secretRef: SecretKeyRef('the Redis URL (redis://...)', 'url') }, { description: 'Redis, the read cache' }),
        sqs: Type.Object(
          {
            queueUrl: Type.String({ pattern: '^https?://', description: 'URL of the event queue (FIFO)' }),
            deadLetterQueueUrl: Type.String({ pattern: '^https?://', description: 'URL of its dead-letter queue' }),
          },
          { description: 'SQS queues of the event pipeline; access comes from the pod identity (IRSA)' },
        ),
        jwt: Type.Object(
          {
            algorithm: Enum(['RS256', 'HS256'] as const, {
              default: 'RS256',
              description: "RS256: the Secret holds the issuer's public key (PEM); HS256: a shared secret of 32+ characters",
            }),
            secretRef: SecretKeyRef('the JWT verification key', 'key'),
          },
          { description: 'how the APIs verify bearer tokens' },
        ),
      },
      { description: 'the data stores and queues the services use' },
    ),
    serviceAccount: Type.Optional(
      Type.Object(
        {
          annotations: Type.Optional(
            Type.Object(
              {},
              {
                additionalProperties: Type.String({ maxLength: 4096 }),
                maxProperties: 64,
                description:
                  "annotations of the services' ServiceAccount, e.g. eks.amazonaws.com/role-arn: the IAM role (IRSA) that reaches the SQS queues",
              },
            ),
          ),
        },
        { description: 'the ServiceAccount the three services run as (named after the Reservation)' },
      ),
    ),
    edge: Type.Optional(Edge),
    traffic: Type.Optional(Traffic),
  },
  { description: 'the desired installation of the reservation platform in this cluster' },
);

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

const AnalysisRun = Type.Object(
  {
    template: Type.String({ description: 'the analysis template' }),
    step: Type.Integer({ description: 'the plan step (0-based) that ran it' }),
    result: Enum(['Running', 'Successful', 'Failed', 'Inconclusive'] as const, { description: 'Running until every measurement is in' }),
    measurements: Type.Integer({ description: 'measurements taken' }),
    failures: Type.Integer({ description: 'measurements that broke a threshold' }),
    inconclusive: Type.Integer({ description: 'measurements without enough data' }),
    successRate: Type.Optional(Type.Number({ description: 'the last measured share of requests without a 5xx (0-1)' })),
    latencyP99Ms: Type.Optional(Type.Number({ description: 'the last measured p99 latency, ms' })),
    requests: Type.Optional(Type.Number({ description: 'requests in the last measurement window' })),
    message: Type.String({ description: 'the last measurement, for people' }),
    startedAt: Type.String({ format: 'date-time', description: 'when the analysis began' }),
    measuredAt: Type.Optional(Type.String({ format: 'date-time', description: 'when the last measurement was taken' })),
  },
  { description: 'an analysis step and its measurements' },
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

export type ReservationSpec = Static<typeof ReservationSpec>;
export type ReservationStatus = Static<typeof ReservationStatus>;
export type Condition = Static<typeof Condition>;
export type ServiceStatus = Static<typeof ServiceStatus>;
export type TrafficStatus = Static<typeof TrafficStatus>;
export type CutoverStatus = Static<typeof CutoverStatus>;
export type AnalysisRun = Static<typeof AnalysisRun>;
export type AnalysisTemplate = Static<typeof AnalysisTemplate>;
export type Prescale = Static<typeof Prescale>;
export type Drain = Static<typeof Drain>;
export type ServiceSpec = ReservationSpec['services'][ServiceName];

export interface Reservation {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    generation?: number;
    resourceVersion?: string;
    deletionTimestamp?: string | Date;
    finalizers?: string[];
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: ReservationSpec;
  status?: ReservationStatus;
}
