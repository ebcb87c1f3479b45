import { beforeAll, describe, expect, it } from '@jest/globals';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION } from '../../src/api/v1alpha1/reservation.ts';
import { minimalSpec } from '../support/fixtures.ts';
import { apiErrorMessage, createTestNamespace, installCrds, testKubeConfig } from '../support/kube.ts';

const kc = testKubeConfig();
const custom = kc.makeApiClient(CustomObjectsApi);
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
function create(spec: Spec) {
  counter += 1;
  return custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: PLURAL,
    body: { apiVersion: API_VERSION, kind: KIND, metadata: { name: `rsv-${counter}` }, spec },
    fieldValidation: 'Strict',
  });
}

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
    expect(cutover.prescale).toMatchObject({ headroomPercent: 25 });
    expect(cutover.prescale.prometheus.query).toContain('{{service}}');
  });

  const replicas = (min: number, max: number) => ({ reservationApi: { replicas: { min, max } } });
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
    ['an image tag with a slash', { version: 'v1/evil' }, 'spec.version in body should match'],
  ];

  it.each(cases)('rejects %s', async (_what, change, message) => {
    const spec = { ...validSpec(), ...change };
    let refused: unknown;
    try {
      await create(spec);
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeDefined();
    expect(apiErrorMessage(refused)).toContain(message);
  });
});
