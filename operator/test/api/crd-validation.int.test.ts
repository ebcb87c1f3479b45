import { beforeAll, describe, expect, it } from '@jest/globals';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION } from '../../src/api/v1alpha1/reservation.ts';
import { OPERATOR_OWNED_ENV, UNSAFE_ENV } from '../../src/desired/env.ts';
import { MAX_NAME_LENGTH } from '../../src/desired/metadata.ts';
import { createKubeClient, PATCH } from '../../src/kube/client.ts';
import { RESOURCE_TYPES, resourcePath } from '../../src/kube/resources.ts';
import { minimalSpec } from '../support/fixtures.ts';
import { apiErrorMessage, createTestNamespace, installCrds, testKubeConfig } from '../support/kube.ts';

const kc = testKubeConfig();
const custom = kc.makeApiClient(CustomObjectsApi);
const kube = createKubeClient(kc);
let namespace: string;

beforeAll(async () => {
  await installCrds(kc);
  namespace = await createTestNamespace(kc, 'crd');
});

type Spec = Record<string, unknown>;
const validSpec = (): Spec => minimalSpec();
const traffic = (extra: Spec = {}) => ({
  cluster: 'eks-green',
  dns: { hostedZoneId: 'Z0123456789ABC', name: 'api.reservations.example.com' },
  ...extra,
});

let counter = 0;
function create(spec: Spec, name = `rsv-${++counter}`) {
  return custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: PLURAL,
    body: { apiVersion: API_VERSION, kind: KIND, metadata: { name }, spec },
    fieldValidation: 'Strict',
  });
}

/** The API server's message when `attempt` is refused; fails the test when it is accepted. */
async function refusal(attempt: Promise<unknown>): Promise<string> {
  let refused: unknown;
  try {
    await attempt;
  } catch (err) {
    refused = err;
  }
  expect(refused).toBeDefined();
  return apiErrorMessage(refused);
}

const mergePatch = (name: string, body: Spec) =>
  kube.request('PATCH', resourcePath(RESOURCE_TYPES.Reservation, namespace, name), { body, contentType: PATCH.merge });

describe('the Reservation CRD on the API server', () => {
  it('accepts a minimal spec and fills in the defaults', async () => {
    const created = (await create(validSpec())) as { spec: Record<string, Record<string, Record<string, unknown>>> };
    expect(created.spec.services?.reservationApi).toEqual({
      replicas: { min: 2, max: 20 },
      targetCPUUtilization: 70,
      resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
      env: [],
    });
    expect(created.spec.services?.notifier?.targetQueueDepthPerReplica).toBe(100);
    expect(created.spec.backends?.mysql?.primarySecretRef).toEqual({ name: 'mysql-primary', key: 'url' });
    expect(created.spec.image).toEqual({ repository: 'registry.example.com/reservations', pullPolicy: 'IfNotPresent' });
  });

  it("accepts each service's own MySQL account, defaulting the Secrets' key", async () => {
    const created = (await create({
      ...validSpec(),
      services: {
        reservationApi: { mysql: { primarySecretRef: { name: 'mysql-reservation-api' } } },
        notifier: {
          mysql: { primarySecretRef: { name: 'mysql-notifier' }, replicaSecretRef: { name: 'mysql-notifier-replica', key: 'dsn' } },
        },
      },
    })) as { spec: { services: Record<string, { mysql?: unknown }> } };
    expect(created.spec.services.reservationApi?.mysql).toEqual({ primarySecretRef: { name: 'mysql-reservation-api', key: 'url' } });
    expect(created.spec.services.notifier?.mysql).toEqual({
      primarySecretRef: { name: 'mysql-notifier', key: 'url' },
      replicaSecretRef: { name: 'mysql-notifier-replica', key: 'dsn' },
    });
    expect(created.spec.services.queryApi?.mysql).toBeUndefined();
  });

  it('accepts a full cutover plan', async () => {
    const spec = {
      ...validSpec(),
      edge: { host: 'api.green.reservations.example.com', kind: 'HTTPRoute', parentRef: { name: 'public' } },
      traffic: traffic({
        weight: 0,
        cutover: {
          from: 'eks-blue',
          steps: [
            { setShare: 1 },
            { pause: { duration: '5m' } },
            { setShare: 10 },
            { analysis: { template: 'slo' } },
            { pause: {} },
            { setShare: 100 },
          ],
          analysis: [
            { name: 'slo', prometheus: { url: 'http://prometheus.monitoring:9090' } },
            { name: 'direct', metrics: {} },
            { name: 'vs-blue', prometheus: { url: 'http://prometheus.monitoring:9090' }, peer: { errorRate: {}, latency: {} } },
          ],
          prescale: {
            prometheus: { url: 'http://prometheus.monitoring:9090' },
            requestsPerPod: { reservationApi: 40, queryApi: 150 },
          },
        },
      }),
    };
    // biome-ignore lint/suspicious/noExplicitAny: reads deep into the stored JSON
    const cutover = ((await create(spec)) as any).spec.traffic.cutover;
    // The defaults an SRE can rely on without writing them.
    expect(cutover.analysis[0]).toMatchObject({
      successRateMin: 0.99,
      latencyP99MaxMs: 500,
      interval: '30s',
      count: 3,
      failureLimit: 0,
      minRequests: 20,
      inconclusive: 'Pause',
    });
    expect(cutover.analysis[2].peer).toEqual({
      label: 'cluster',
      confidence: 0.95,
      minRequests: 50,
      errorRate: { maxIncrease: 0.001 },
      latency: { quantile: 0.99, maxIncreasePercent: 10 },
    });
    expect(cutover.prescale).toMatchObject({ headroomPercent: 25 });
    expect(cutover.prescale.prometheus.query).toContain('{{service}}');
  });

  const replicas = (min: number, max: number) => ({ reservationApi: { replicas: { min, max } } });
  const QUEUES = 'https://sqs.eu-west-1.amazonaws.com/123456789012';
  const sqs = (change: Spec) => {
    const backends = validSpec().backends as Record<string, Spec>;
    return { ...backends, sqs: { ...backends.sqs, ...change } };
  };
  const jwt = (replacement: Spec) => ({ ...(validSpec().backends as Record<string, Spec>), jwt: replacement });
  const cases: [string, Spec, string][] = [
    ['min replicas above max', { services: replicas(5, 2) }, 'replicas.min must not be greater than replicas.max'],
    [
      'zero min replicas',
      { services: replicas(0, 2) },
      'spec.services.reservationApi.replicas.min: Invalid value: 0: spec.services.reservationApi.replicas.min in body should be greater than or equal to 1',
    ],
    [
      'a CPU target of 0 %',
      { services: { queryApi: { targetCPUUtilization: 0 } } },
      'targetCPUUtilization in body should be greater than or equal to 1',
    ],
    ['an unknown service', { services: { paymentApi: {} } }, 'unknown field "spec.services.paymentApi"'],
    [
      'a memory size with a space',
      { services: { notifier: { resources: { limits: { memory: '1 GB' } } } } },
      'spec.services.notifier.resources.limits.memory in body should match',
    ],
    ['a weight above 255', { traffic: traffic({ weight: 256 }) }, 'spec.traffic.weight in body should be less than or equal to 255'],
    ['a negative weight', { traffic: traffic({ weight: -1 }) }, 'spec.traffic.weight in body should be greater than or equal to 0'],
    [
      'a cutover from this same cluster',
      { traffic: traffic({ cutover: { from: 'eks-green', stepPercent: 10 } }) },
      'traffic.cutover.from must name the peer cluster, not this one (traffic.cluster)',
    ],
    [
      'a step doing two things',
      { traffic: traffic({ cutover: { from: 'eks-blue', steps: [{ setShare: 10, pause: {} }] } }) },
      'each cutover step must set exactly one of setShare, pause or analysis',
    ],
    [
      'an empty step',
      { traffic: traffic({ cutover: { from: 'eks-blue', steps: [{}] } }) },
      'each cutover step must set exactly one of setShare, pause or analysis',
    ],
    [
      'a share above 100 %',
      { traffic: traffic({ cutover: { from: 'eks-blue', steps: [{ setShare: 101 }] } }) },
      'setShare in body should be less than or equal to 100',
    ],
    [
      'both steps and the shortcut',
      { traffic: traffic({ cutover: { from: 'eks-blue', steps: [{ setShare: 50 }], stepPercent: 10 } }) },
      'a cutover needs either steps or stepPercent (the shortcut form), not both',
    ],
    [
      'neither steps nor the shortcut',
      { traffic: traffic({ cutover: { from: 'eks-blue' } }) },
      'a cutover needs either steps or stepPercent (the shortcut form), not both',
    ],
    [
      'maxPercent without stepPercent',
      { traffic: traffic({ cutover: { from: 'eks-blue', steps: [{ setShare: 50 }], maxPercent: 50 } }) },
      'maxPercent only goes with stepPercent',
    ],
    [
      'a pause of "5 minutes"',
      { traffic: traffic({ cutover: { from: 'eks-blue', steps: [{ pause: { duration: '5 minutes' } }] } }) },
      'duration in body should match',
    ],
    [
      'an analysis step naming no template of the plan',
      { traffic: traffic({ cutover: { from: 'eks-blue', steps: [{ setShare: 10 }, { analysis: { template: 'slo' } }] } }) },
      'an analysis step names a template that is not in traffic.cutover.analysis',
    ],
    [
      'an analysis with two sources',
      {
        traffic: traffic({
          cutover: { from: 'eks-blue', stepPercent: 50, analysis: [{ name: 'slo', metrics: {}, prometheus: { url: 'http://p:9090' } }] },
        }),
      },
      'an analysis needs exactly one source: prometheus (a URL and PromQL) or metrics (scrape the services)',
    ],
    [
      'a success rate above 1',
      {
        traffic: traffic({ cutover: { from: 'eks-blue', stepPercent: 50, analysis: [{ name: 'slo', metrics: {}, successRateMin: 99 }] } }),
      },
      'spec.traffic.cutover.analysis[0].successRateMin in body should be less than or equal to 1',
    ],
    [
      'pre-scaling with 0 requests per pod',
      {
        traffic: traffic({
          cutover: {
            from: 'eks-blue',
            stepPercent: 50,
            prescale: { prometheus: { url: 'http://p:9090' }, requestsPerPod: { reservationApi: 0, queryApi: 100 } },
          },
        }),
      },
      'prescale.requestsPerPod must be above 0 for each service',
    ],
    [
      'a malformed hosted zone',
      { traffic: { ...traffic(), dns: { hostedZoneId: 'my-zone', name: 'api.example.com' } } },
      'spec.traffic.dns.hostedZoneId in body should match',
    ],
    [
      'an HTTPRoute without its Gateway',
      { edge: { host: 'api.example.com', kind: 'HTTPRoute' } },
      'edge.parentRef (the Gateway) is required when edge.kind is HTTPRoute',
    ],
    [
      'an unknown edge kind',
      { edge: { host: 'api.example.com', kind: 'Gateway' } },
      'Unsupported value: "Gateway": supported values: "HTTPRoute", "Ingress"',
    ],
    [
      'a Secret name with capitals',
      { backends: { ...(validSpec().backends as Spec), redis: { secretRef: { name: 'Redis_Secret' } } } },
      'spec.backends.redis.secretRef.name in body should match',
    ],
    [
      'a queue URL that is not HTTP',
      { backends: { ...(validSpec().backends as Spec), sqs: { queueUrl: 'sqs://events', deadLetterQueueUrl: 'https://x' } } },
      'spec.backends.sqs.queueUrl in body should match',
    ],
    ['no backends', { backends: undefined }, 'spec.backends: Required value'],
    [
      'a standard (not FIFO) event queue',
      { backends: sqs({ queueUrl: `${QUEUES}/reservation-events` }) },
      'spec.backends.sqs.queueUrl must be a FIFO queue (its name ends in .fifo): the event pipeline relies on message groups (per-reservation order) and deduplication ids',
    ],
    [
      'a standard (not FIFO) dead-letter queue',
      { backends: sqs({ deadLetterQueueUrl: `${QUEUES}/reservation-events-dlq` }) },
      'spec.backends.sqs.deadLetterQueueUrl must be a FIFO queue (its name ends in .fifo): SQS only lets a FIFO queue redrive to a FIFO dead-letter queue',
    ],
    [
      'a queue that is its own dead-letter queue',
      { backends: sqs({ deadLetterQueueUrl: `${QUEUES}/reservation-events.fifo` }) },
      'spec.backends.sqs.deadLetterQueueUrl must be another queue than queueUrl: a queue cannot be its own dead-letter queue',
    ],
    [
      'a JWT key Secret and a JWKS URL at once',
      {
        backends: jwt({
          issuer: 'https://idp.example.com/',
          audience: 'reservations',
          secretRef: { name: 'jwt' },
          jwksUrl: 'https://idp.example.com/jwks',
        }),
      },
      "spec.backends.jwt needs exactly one of secretRef (a static key) and jwksUrl (the issuer's keys by kid): a token is verified with one kind of key",
    ],
    [
      'neither a JWT key Secret nor a JWKS URL',
      { backends: jwt({ issuer: 'https://idp.example.com/', audience: 'reservations' }) },
      "spec.backends.jwt needs exactly one of secretRef (a static key) and jwksUrl (the issuer's keys by kid): a token is verified with one kind of key",
    ],
    [
      'an env entry overriding the queue the operator sets',
      { services: { reservationApi: { env: [{ name: 'SQS_QUEUE_URL', value: 'https://elsewhere.fifo' }] } } },
      `spec.services.reservationApi.env may not set ${OPERATOR_OWNED_ENV.join(', ')}: the operator sets them (from spec.backends and its own settings)`,
    ],
    [
      'an env entry letting webhooks reach private addresses',
      { services: { notifier: { env: [{ name: 'WEBHOOK_ALLOW_PRIVATE_ADDRESSES', value: 'true' }] } } },
      `spec.services.notifier.env may not set ${UNSAFE_ENV.join(', ')}: they switch off protections (private addresses and plain HTTP for webhooks, TLS verification) and are for local development and tests only`,
    ],
    [
      "query-api's own MySQL account on the primary only",
      { services: { queryApi: { mysql: { primarySecretRef: { name: 'mysql-query-api' } } } } },
      'spec.services.queryApi.mysql needs both primarySecretRef and replicaSecretRef: query-api reads both servers as its one account (leave out spec.services.queryApi.mysql to use spec.backends.mysql for both)',
    ],
    [
      "the notifier's own MySQL account on the replica only",
      { services: { notifier: { mysql: { replicaSecretRef: { name: 'mysql-notifier-replica' } } } } },
      'spec.services.notifier.mysql needs both primarySecretRef and replicaSecretRef',
    ],
    [
      "reservation-api's own MySQL account without its Secret's name",
      { services: { reservationApi: { mysql: { primarySecretRef: { key: 'url' } } } } },
      'spec.services.reservationApi.mysql.primarySecretRef.name: Required value',
    ],
    [
      "a replica for reservation-api's own MySQL account, which never reads one",
      { services: { reservationApi: { mysql: { primarySecretRef: { name: 'a' }, replicaSecretRef: { name: 'b' } } } } },
      'unknown field "spec.services.reservationApi.mysql.replicaSecretRef"',
    ],
    [
      'a version of 64 characters',
      { version: `v${'1'.repeat(63)}` },
      "spec.version must be at most 63 characters and begin and end with a letter or digit: it is the pods' app.kubernetes.io/version label",
    ],
    [
      'a version ending in a dash',
      { version: '1.4.2-' },
      'spec.version must be at most 63 characters and begin and end with a letter or digit',
    ],
    [
      'a version starting with an underscore',
      { version: '_1.4.2' },
      'spec.version must be at most 63 characters and begin and end with a letter or digit',
    ],
    [
      'an analysis that can never fail (failureLimit not below count)',
      {
        traffic: traffic({
          cutover: { from: 'eks-blue', stepPercent: 50, analysis: [{ name: 'slo', metrics: {}, count: 3, failureLimit: 3 }] },
        }),
      },
      'an analysis failureLimit must be less than its count: otherwise no number of failed measurements can fail it',
    ],
    [
      'an analysis interval of 0s',
      { traffic: traffic({ cutover: { from: 'eks-blue', stepPercent: 50, analysis: [{ name: 'slo', metrics: {}, interval: '0m0s' }] } }) },
      'an analysis interval must be longer than 0: each measurement covers one interval of requests',
    ],
    [
      'a peer comparison without a prometheus source',
      {
        traffic: traffic({
          cutover: { from: 'eks-blue', stepPercent: 50, analysis: [{ name: 'vs-blue', metrics: {}, peer: { errorRate: {} } }] },
        }),
      },
      "a peer comparison reads both clusters' series from Prometheus: set prometheus.url (the metrics source sees only this cluster)",
    ],
    [
      'a peer comparison that compares nothing',
      {
        traffic: traffic({
          cutover: { from: 'eks-blue', stepPercent: 50, analysis: [{ name: 'vs-blue', prometheus: { url: 'http://p:9090' }, peer: {} }] },
        }),
      },
      'a peer comparison needs errorRate, latency or both: say what to compare with the peer cluster',
    ],
    [
      'a peer comparison with a one-cluster query',
      {
        traffic: traffic({
          cutover: {
            from: 'eks-blue',
            stepPercent: 50,
            analysis: [{ name: 'vs-blue', prometheus: { url: 'http://p:9090', successRate: 'x' }, peer: { errorRate: {} } }],
          },
        }),
      },
      'a peer comparison runs its own queries by cluster: remove prometheus.successRate and prometheus.latencyP99',
    ],
    [
      'a peer comparison of a cluster with itself',
      {
        traffic: traffic({
          cutover: {
            from: 'eks-blue',
            stepPercent: 50,
            analysis: [
              { name: 'vs-blue', prometheus: { url: 'http://p:9090' }, peer: { thisCluster: 'a', peerCluster: 'a', latency: {} } },
            ],
          },
        }),
      },
      'a peer comparison needs two different clusters: peer.thisCluster and peer.peerCluster are the same label value',
    ],
    [
      'a peer comparison at 100% confidence',
      {
        traffic: traffic({
          cutover: {
            from: 'eks-blue',
            stepPercent: 50,
            analysis: [{ name: 'vs-blue', prometheus: { url: 'http://p:9090' }, peer: { confidence: 1, errorRate: {} } }],
          },
        }),
      },
      'peer.confidence must be at least 0.5 and below 1, e.g. 0.95: at 1 no amount of traffic could give a verdict',
    ],
    [
      'a peer comparison of a latency quantile below the median',
      {
        traffic: traffic({
          cutover: {
            from: 'eks-blue',
            stepPercent: 50,
            analysis: [{ name: 'vs-blue', prometheus: { url: 'http://p:9090' }, peer: { latency: { quantile: 0.1 } } }],
          },
        }),
      },
      'peer.latency.quantile must be at least 0.5 and below 1, e.g. 0.99 for p99',
    ],
    [
      'a drain waiting for the peer to fall below 0 requests per second',
      {
        traffic: traffic({
          cutover: {
            from: 'eks-blue',
            stepPercent: 50,
            drain: { peerRate: { prometheus: { url: 'http://p:9090', query: 'x' }, below: 0 } },
          },
        }),
      },
      'drain.peerRate.below must be above 0: no request rate is below 0, so the drain would never end',
    ],
    ...(
      [
        [{ objective: 1 }, 'pacing.objective must be between 0 and 1, e.g. 0.999'],
        [{ budgetFraction: 0 }, 'pacing.budgetFraction must be above 0 and at most 1, e.g. 0.01 (1% of the error budget per step)'],
        [{ fastBurn: 6, slowBurn: 6 }, 'pacing.fastBurn must be above pacing.slowBurn, and both above 0 (the SRE Workbook: 14.4 and 6)'],
        [{ minDwell: '10m', maxDwell: '5m' }, 'pacing.maxDwell must not be shorter than pacing.minDwell'],
      ] as const
    ).map(([pacing, message]): [string, Record<string, unknown>, string] => [
      `pacing with ${JSON.stringify(pacing)}`,
      {
        traffic: traffic({
          cutover: { from: 'eks-blue', stepPercent: 50, prometheus: { url: 'http://p:9090' }, pacing: { objective: 0.999, ...pacing } },
        }),
      },
      message,
    ]),
    [
      'pacing without the Prometheus it reads',
      { traffic: traffic({ cutover: { from: 'eks-blue', stepPercent: 50, pacing: { objective: 0.999 } } }) },
      'pacing needs traffic.cutover.prometheus: the Prometheus that scrapes both clusters, where it counts requests and 5xx answers',
    ],
    [
      'settle without the Prometheus it reads',
      { traffic: traffic({ cutover: { from: 'eks-blue', stepPercent: 50, settle: {} } }) },
      "settle needs traffic.cutover.prometheus: the Prometheus that scrapes both clusters, where it counts each one's requests",
    ],
    [
      'a cutover Prometheus that cannot tell the clusters apart',
      {
        traffic: traffic({
          cutover: { from: 'eks-blue', stepPercent: 50, prometheus: { url: 'http://p:9090', thisCluster: 'x', peerCluster: 'x' } },
        }),
      },
      'cutover.prometheus.thisCluster and peerCluster are the same label value: the two clusters must be told apart',
    ],
    [
      'an Ingress with a Gateway',
      { edge: { host: 'api.example.com', kind: 'Ingress', parentRef: { name: 'public' } } },
      'edge.parentRef (a Gateway) only applies to edge.kind HTTPRoute; an Ingress is not attached to a Gateway',
    ],
    [
      'an HTTPRoute with an ACM certificate',
      {
        edge: {
          host: 'api.example.com',
          kind: 'HTTPRoute',
          parentRef: { name: 'public' },
          certificateArn: 'arn:aws:acm:eu-west-1:1:certificate/x',
        },
      },
      "edge.certificateArn only applies to edge.kind Ingress; with an HTTPRoute, HTTPS is the Gateway listener's certificate",
    ],
    ['an image tag with a slash', { version: 'v1/evil' }, 'spec.version in body should match'],
  ];

  it.each(cases)('rejects %s', async (_what, change, message) => {
    expect(await refusal(create({ ...validSpec(), ...change }))).toContain(message);
  });

  const accepted: [string, Spec][] = [
    [
      'a LOG_LEVEL override and other extra env',
      {
        services: {
          notifier: {
            env: [
              { name: 'LOG_LEVEL', value: 'debug' },
              { name: 'FEATURE_X', value: 'on' },
            ],
          },
        },
      },
    ],
    [
      'an Ingress with its certificate',
      { edge: { host: 'api.example.com', kind: 'Ingress', certificateArn: 'arn:aws:acm:eu-west-1:1:certificate/x' } },
    ],
    ['a version of 63 characters', { version: `v${'1'.repeat(62)}` }],
    ['a version with underscores and dots inside', { version: '2026.12_rc-1' }],
    [
      'failureLimit one below count, and an interval like 1m0s',
      {
        traffic: traffic({
          cutover: {
            from: 'eks-blue',
            stepPercent: 50,
            analysis: [{ name: 'slo', metrics: {}, count: 3, failureLimit: 2, interval: '1m0s' }],
          },
        }),
      },
    ],
    [
      'a drain waiting for the peer to fall below 0.5 requests per second',
      {
        traffic: traffic({
          cutover: {
            from: 'eks-blue',
            stepPercent: 50,
            drain: { peerRate: { prometheus: { url: 'http://p:9090', query: 'x' }, below: 0.5 } },
          },
        }),
      },
    ],
    [
      'pacing by a 99.9% SLO, its other settings left to their defaults, or given in other units',
      {
        traffic: traffic({
          cutover: {
            from: 'eks-blue',
            stepPercent: 50,
            prometheus: { url: 'http://p:9090' },
            pacing: { objective: 0.999, minDwell: '1m30s', maxDwell: '2h' },
          },
        }),
      },
    ],
  ];

  it.each([...OPERATOR_OWNED_ENV, ...UNSAFE_ENV])('refuses %s in a service env', async (name) => {
    const spec = { ...validSpec(), services: { queryApi: { env: [{ name, value: 'x' }] } } };
    expect(await refusal(create(spec))).toContain(`spec.services.queryApi.env may not set `);
  });

  it.each(accepted)('accepts %s', async (_what, change) => {
    await create({ ...validSpec(), ...change });
  });
});

describe('Reservation names', () => {
  it(`accepts a name of ${MAX_NAME_LENGTH} characters`, async () => {
    await create(validSpec(), `n${'x'.repeat(MAX_NAME_LENGTH - 1)}`);
  });

  it(`refuses a name of ${MAX_NAME_LENGTH + 1} characters, whose Services would not fit in a DNS label`, async () => {
    expect(await refusal(create(validSpec(), `n${'x'.repeat(MAX_NAME_LENGTH)}`))).toContain(
      `metadata.name must be at most ${MAX_NAME_LENGTH} characters: the longest name made from it, the Service <name>-reservation-api, must fit in 63 (a DNS label)`,
    );
  });

  it.each(['booking.eu', '1booking'])('refuses %s, which no Service can be named after', async (name) => {
    expect(await refusal(create(validSpec(), name))).toContain(
      'metadata.name must start with a letter and hold only lowercase letters, digits and dashes (no dots)',
    );
  });
});

describe('traffic identity', () => {
  const name = 'identity';
  beforeAll(async () => {
    await create({ ...validSpec(), traffic: traffic({ weight: 10 }) }, name);
  });

  const changes: [string, Spec, string][] = [
    ['cluster', { cluster: 'eks-purple' }, 'spec.traffic.cluster cannot change'],
    ['dns.name', { dns: { name: 'api2.reservations.example.com' } }, 'spec.traffic.dns.name cannot change'],
    ['dns.hostedZoneId', { dns: { hostedZoneId: 'Z9999999999' } }, 'spec.traffic.dns.hostedZoneId cannot change'],
  ];
  it.each(changes)('refuses a change of %s', async (_field, change, message) => {
    const said = await refusal(mergePatch(name, { spec: { traffic: change } }));
    expect(said).toContain(message);
    expect(said).toContain("it names this cluster's weighted record");
    expect(said).toContain('create a new Reservation (and move the traffic with a cutover) instead');
  });

  it('still takes a new weight, TTL or cutover', async () => {
    const patched = (await mergePatch(name, {
      spec: { traffic: { weight: 200, dns: { ttl: 30 }, cutover: { from: 'eks-blue', stepPercent: 25 } } },
    })) as { spec: { traffic: unknown } };
    expect(patched.spec.traffic).toMatchObject({
      cluster: 'eks-green',
      weight: 200,
      dns: { ttl: 30, name: 'api.reservations.example.com' },
    });
  });

  it('refuses the removal of spec.traffic, and says how to let the record go', async () => {
    const said = await refusal(mergePatch(name, { spec: { traffic: null } }));
    expect(said).toContain("spec.traffic cannot be removed: this cluster's weighted record would go on serving its weight");
    expect(said).toContain('set spec.traffic.weight to 0 and delete the Reservation');
  });

  it('lets spec.traffic be set for the first time', async () => {
    await create(validSpec(), 'identity-later');
    await mergePatch('identity-later', { spec: { traffic: traffic() } });
  });
});
