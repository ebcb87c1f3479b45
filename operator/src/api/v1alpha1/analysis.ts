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
    successRateMin: Type.Number({
      minimum: 0,
      maximum: 1,
      default: 0.99,
      description: 'a measurement fails when fewer than this share of requests succeed (no 5xx), e.g. 0.99',
    }),
    latencyP99MaxMs: Type.Integer({ minimum: 1, default: 500, description: 'a measurement fails when p99 latency is above this, ms' }),
    interval: Type.String({
      pattern: DURATION,
      maxLength: 32,
      default: '30s',
      description: 'time between measurements, and the window each one covers',
    }),
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
        rule: "!self.interval.matches('^(0+[smh])+$')",
        message: 'an analysis interval must be longer than 0: each measurement covers one interval of requests',
      },
    ),
  },
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
    message: Type.String({ description: 'the last measurement, for people' }),
    startedAt: Type.String({ format: 'date-time', description: 'when the analysis began' }),
    measuredAt: Type.Optional(Type.String({ format: 'date-time', description: 'when the last measurement was taken' })),
  },
  { description: 'an analysis step and its measurements' },
);

export type AnalysisTemplate = Static<typeof AnalysisTemplate>;
export type AnalysisRun = Static<typeof AnalysisRun>;
