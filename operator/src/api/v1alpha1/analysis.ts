import { type Static, Type } from 'typebox';
import { DNS_LABEL, DURATION, Enum, rules } from './schema.ts';

/** Analysis: the SLO checks a cutover step runs (spec.traffic.cutover.analysis) and a run's record in the status. */

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

const PeerComparison = Type.Object(
  {
    label: Type.String({
      pattern: '^[a-zA-Z_][a-zA-Z0-9_]*$',
      maxLength: 128,
      default: 'cluster',
      description: 'the series label whose value tells the two clusters apart in Prometheus',
    }),
    thisCluster: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 128,
        description: "this cluster's value of the label; default: spec.traffic.cluster",
      }),
    ),
    peerCluster: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 128,
        description: "the peer cluster's value of the label; default: spec.traffic.cutover.from",
      }),
    ),
    // Bounds as CEL rules: the API server prints a fractional maximum as 0 in its own message.
    confidence: Type.Number({
      default: 0.95,
      description:
        'the chance that the verdict is right however often it is read, e.g. 0.95: a cluster within the allowance is failed, or one outside it passed, at most 5% of the time',
    }),
    minRequests: Type.Integer({
      minimum: 1,
      default: 50,
      description: 'fewer requests than this in either cluster since the analysis began: no verdict on that metric yet',
    }),
    errorRate: Type.Optional(
      Type.Object(
        {
          maxIncrease: Type.Number({
            minimum: 0,
            maximum: 1,
            default: 0.001,
            description:
              "the largest increase allowed of this cluster's 5xx share over the peer's, as a share: 0.001 is 0.1 points (0.2% against 0.1% passes, 0.3% fails)",
          }),
        },
        { description: "compare this cluster's share of 5xx answers with the peer's" },
      ),
    ),
    latency: Type.Optional(
      Type.Object(
        {
          quantile: Type.Number({
            default: 0.99,
            description: 'the latency quantile compared, e.g. 0.99 for p99',
          }),
          maxIncreasePercent: Type.Number({
            minimum: 0,
            maximum: 1000,
            default: 10,
            description: "how far above the peer's quantile this cluster's may be, percent: 10 allows 110 ms against 100 ms",
          }),
        },
        {
          description: "compare a quantile of this cluster's request latency (the histogram's buckets) with the peer's",
          ...rules({
            rule: 'self.quantile >= 0.5 && self.quantile < 1.0',
            message: 'peer.latency.quantile must be at least 0.5 and below 1, e.g. 0.99 for p99',
          }),
        },
      ),
    ),
  },
  {
    description:
      'judge this cluster against the peer over the same minutes, from Prometheus series of both clusters told apart by a label, with anytime-valid statistics: the step passes as soon as this cluster is shown within the allowances, fails as soon as it is shown outside them, and is inconclusive if count measurements go by without either',
    ...rules(
      {
        rule: 'self.confidence >= 0.5 && self.confidence < 1.0',
        message: 'peer.confidence must be at least 0.5 and below 1, e.g. 0.95: at 1 no amount of traffic could give a verdict',
      },
      {
        rule: 'has(self.errorRate) || has(self.latency)',
        message: 'a peer comparison needs errorRate, latency or both: say what to compare with the peer cluster',
      },
      {
        rule: '!has(self.thisCluster) || !has(self.peerCluster) || self.thisCluster != self.peerCluster',
        message: 'a peer comparison needs two different clusters: peer.thisCluster and peer.peerCluster are the same label value',
      },
    ),
  },
);

export const AnalysisTemplate = Type.Object(
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
    peer: Type.Optional(PeerComparison),
    successRateMin: Type.Number({
      minimum: 0,
      maximum: 1,
      default: 0.99,
      description: 'a measurement fails when fewer than this share of requests succeed (no 5xx), e.g. 0.99; not used with peer',
    }),
    latencyP99MaxMs: Type.Integer({
      minimum: 1,
      default: 500,
      description: 'a measurement fails when p99 latency is above this, ms; not used with peer',
    }),
    interval: Type.String({
      pattern: DURATION,
      maxLength: 32,
      default: '30s',
      description: 'time between measurements, and the window each one covers',
    }),
    count: Type.Integer({
      minimum: 1,
      maximum: 100,
      default: 3,
      description: 'measurements per analysis step; with peer, the most taken: no verdict by then is inconclusive',
    }),
    failureLimit: Type.Integer({
      minimum: 0,
      default: 0,
      description: 'failed measurements tolerated; one more aborts the cutover; not used with peer (its first failure is final)',
    }),
    minRequests: Type.Integer({
      minimum: 0,
      default: 20,
      description: 'a measurement with fewer requests than this has no data (inconclusive); with peer, peer.minRequests applies instead',
    }),
    inconclusive: Enum(['Pause', 'Abort'] as const, {
      default: 'Pause',
      description: 'what an analysis without enough data does: Pause (wait for a person) or Abort',
    }),
  },
  {
    description:
      'SLO checks an analysis step runs: success rate and p99 latency of this cluster’s services against thresholds, or with peer against the peer cluster’s over the same minutes',
    ...rules(
      {
        rule: 'has(self.prometheus) != has(self.metrics)',
        message: 'an analysis needs exactly one source: prometheus (a URL and PromQL) or metrics (scrape the services)',
      },
      // Failed takes more than failureLimit failures among count measurements.
      {
        rule: 'self.failureLimit < self.count',
        message: 'an analysis failureLimit must be less than its count: otherwise no number of failed measurements can fail it',
      },
      {
        rule: '!has(self.peer) || has(self.prometheus)',
        message:
          "a peer comparison reads both clusters' series from Prometheus: set prometheus.url (the metrics source sees only this cluster)",
      },
      {
        rule: '!has(self.peer) || !has(self.prometheus) || (!has(self.prometheus.successRate) && !has(self.prometheus.latencyP99))',
        message:
          'a peer comparison runs its own queries by cluster: remove prometheus.successRate and prometheus.latencyP99, which give one number for one cluster',
      },
      {
        rule: "!self.interval.matches('^(0+[smh])+$')",
        message: 'an analysis interval must be longer than 0: each measurement covers one interval of requests',
      },
    ),
  },
);

const ClusterTotals = (what: string) =>
  Type.Object(
    {
      cluster: Type.String({ description: 'the value of the cluster label' }),
      requests: Type.Number({ description: 'requests since the comparison began' }),
      errors: Type.Number({ description: 'of those, answered with a 5xx' }),
      latencyMs: Type.Optional(Type.Number({ description: "the latency quantile compared (histogram_quantile's estimate), ms" })),
      latencyLowMs: Type.Optional(Type.Number({ description: 'the low end of its confidence interval, ms' })),
      latencyHighMs: Type.Optional(Type.Number({ description: 'the high end of its confidence interval, ms (absent: unbounded)' })),
    },
    { description: what },
  );

const Comparison = Type.Object(
  {
    self: ClusterTotals('this cluster, since the comparison began'),
    peer: ClusterTotals('the peer cluster, over the same window'),
    windowSeconds: Type.Number({ description: 'the window both were counted over' }),
    errorRateDifferenceLow: Type.Optional(Type.Number({ description: "self's error rate minus the peer's, low end (a share)" })),
    errorRateDifferenceHigh: Type.Optional(Type.Number({ description: "self's error rate minus the peer's, high end (a share)" })),
  },
  { description: 'a peer analysis: both clusters over the same window, with the confidence intervals the verdict read' },
);

export const AnalysisRun = Type.Object(
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
    comparison: Type.Optional(Comparison),
    message: Type.String({ description: 'the last measurement, for people' }),
    startedAt: Type.String({ format: 'date-time', description: 'when the analysis began' }),
    measuredAt: Type.Optional(Type.String({ format: 'date-time', description: 'when the last measurement was taken' })),
  },
  { description: 'an analysis step and its measurements' },
);

export type AnalysisTemplate = Static<typeof AnalysisTemplate>;
export type AnalysisRun = Static<typeof AnalysisRun>;
