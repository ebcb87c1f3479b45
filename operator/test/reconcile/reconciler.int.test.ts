import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { harnessEnv, kubeBinary, waitUntil } from '@reservations/testkit';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { API_VERSION, KIND, type Reservation } from '../../src/api/v1alpha1/reservation.ts';
import { FIELD_MANAGER } from '../../src/desired/metadata.ts';
import { createKubeClient, isNotFound, type KubeClient, PATCH } from '../../src/kube/client.ts';
import { type KubeObject, RESOURCE_TYPES, resourcePath } from '../../src/kube/resources.ts';
import { startManager } from '../../src/manager.ts';
import { FINALIZER } from '../../src/reconcile/reconciler.ts';
import { sampleSpec } from '../support/fixtures.ts';
import { createTestNamespace, installCrds, testKubeConfig } from '../support/kube.ts';

const kc = testKubeConfig();
const raw = createKubeClient(kc);
let namespace: string;
let manager: Awaited<ReturnType<typeof startManager>>;
let writes = 0;
/** Every object the operator applied, as `Kind/name` (`Kind/name/status` for a status), in order. */
const applies: string[] = [];
let holdDeletion = false;
const cleanupsRun: string[] = [];

/** The operator's client, counting every request that writes. */
const countingClient: KubeClient = {
  request: (method, path, options) => {
    if (method !== 'GET') writes += 1;
    return raw.request(method, path, options);
  },
  apply: (obj, fieldManager, options) => {
    writes += 1;
    applies.push(`${obj.kind}/${obj.metadata.name}${options?.subresource ? `/${options.subresource}` : ''}`);
    return raw.apply(obj, fieldManager, options);
  },
  remove: (obj, options) => {
    writes += 1;
    return raw.remove(obj, options);
  },
  waitingOn: (signal) => raw.waitingOn(signal),
};

// biome-ignore lint/suspicious/noExplicitAny: the assertions read deep into plain JSON objects
type Json = any;
const get = <T = KubeObject & Record<string, Json>>(kind: keyof typeof RESOURCE_TYPES, name: string) =>
  raw.request<T>('GET', resourcePath(RESOURCE_TYPES[kind], namespace, name));
const exists = async (kind: keyof typeof RESOURCE_TYPES, name: string) => {
  try {
    await get(kind, name);
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
};
const reservation = () => get<Reservation & { metadata: { resourceVersion: string } }>('Reservation', 'booking');
const ready = async () => (await reservation()).status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';

async function kubectl(...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(kubeBinary('kubectl'), [...args, '-n', namespace], {
    env: { ...process.env, KUBECONFIG: harnessEnv('KUBECONFIG') },
  });
  return stdout;
}

beforeAll(async () => {
  await installCrds(kc, { gatewayApi: true });
  namespace = await createTestNamespace(kc, 'operator');
  manager = await startManager({
    kc,
    namespace,
    workers: 2,
    resyncMs: 500, // resync often, to show that resyncs of a converged Reservation write nothing
    identity: 'test',
    logger: pino({ level: 'warn' }),
    registry: new Registry(),
    client: countingClient,
    connectionLimit: 1000,
    cleanups: [
      {
        name: 'route53-records',
        cleanup: async (cr) => {
          cleanupsRun.push(cr.metadata.name);
          return holdDeletion ? { done: false, reason: 'this cluster still has weight 10' } : { done: true };
        },
      },
    ],
  });
});
afterAll(() => manager?.stop());

const components = ['reservation-api', 'query-api', 'notifier'];

describe('the Reservation controller against a real API server', () => {
  it('creates every object, owned by the Reservation and applied by the operator, and turns Ready', async () => {
    await raw.request('POST', resourcePath(RESOURCE_TYPES.Reservation, namespace), {
      body: {
        apiVersion: API_VERSION,
        kind: KIND,
        metadata: { name: 'booking' },
        spec: sampleSpec({
          edge: { host: 'api.blue.example.com', kind: 'Ingress' },
          services: { notifier: { replicas: { min: 1, max: 3 } } },
        }),
      },
    });
    await waitUntil('every Deployment exists', async () =>
      (await Promise.all(components.map((c) => exists('Deployment', `booking-${c}`)))).every(Boolean),
    );
    const cr = await reservation();
    expect(cr.metadata.finalizers).toContain(FINALIZER);
    for (const [kind, name] of [
      ['Deployment', 'booking-query-api'],
      ['Service', 'booking-notifier'],
      ['HorizontalPodAutoscaler', 'booking-reservation-api'],
      ['PodDisruptionBudget', 'booking-query-api'],
      ['ConfigMap', 'booking-config'],
      ['ServiceAccount', 'booking-notifier'],
      ['Ingress', 'booking'],
    ] as const) {
      await waitUntil(`${kind} ${name}`, () => exists(kind, name));
      const obj = await get(kind, name);
      expect(obj.metadata.ownerReferences).toEqual([
        expect.objectContaining({ kind: 'Reservation', name: 'booking', uid: cr.metadata.uid, controller: true }),
      ]);
      expect(
        (obj.metadata.managedFields as { manager: string; operation: string }[]).some(
          (m) => m.manager === FIELD_MANAGER && m.operation === 'Apply',
        ),
      ).toBe(true);
    }

    // The autoscaler scales each Deployment to its minimum; kwok runs the pods.
    await waitUntil('Ready', ready, { timeoutMs: 90_000, intervalMs: 500 });
    const status = (await reservation()).status;
    expect(status?.replicas).toBe('5/5');
    expect(status?.observedGeneration).toBe(cr.metadata.generation);
    expect(status?.services?.queryApi).toEqual({ desired: 2, ready: 2, available: 2, updated: 2 });
  });

  it("makes an HTTPRoute that the Gateway API schema accepts, and reports its Gateway's address", async () => {
    await raw.request('POST', resourcePath(RESOURCE_TYPES.Gateway, namespace), {
      body: {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'Gateway',
        metadata: { name: 'public' },
        spec: { gatewayClassName: 'aws-alb', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] },
      },
    });
    await raw.request('POST', resourcePath(RESOURCE_TYPES.Reservation, namespace), {
      body: {
        apiVersion: API_VERSION,
        kind: KIND,
        metadata: { name: 'gateway' },
        spec: sampleSpec({ edge: { host: 'api.green.example.com', kind: 'HTTPRoute', parentRef: { name: 'public' } } }),
      },
    });
    await waitUntil('HTTPRoute', () => exists('HTTPRoute', 'gateway'));
    const route = await get('HTTPRoute', 'gateway');
    expect(route.spec.parentRefs).toEqual([expect.objectContaining({ name: 'public' })]);
    expect(route.spec.rules.map((r: Json) => r.backendRefs[0].name)).toEqual([
      'gateway-notifier',
      'gateway-query-api',
      'gateway-reservation-api',
    ]);

    // The gateway controller (AWS Load Balancer Controller, say) publishes the address later.
    await raw.request('PATCH', `${resourcePath(RESOURCE_TYPES.Gateway, namespace, 'public')}/status`, {
      contentType: PATCH.merge,
      body: { status: { addresses: [{ type: 'Hostname', value: 'k8s-public-0123.elb.eu-west-1.amazonaws.com' }] } },
    });
    await waitUntil('edge hostname', async () => {
      const cr = await get<Reservation>('Reservation', 'gateway');
      return cr.status?.edge?.hostname === 'k8s-public-0123.elb.eu-west-1.amazonaws.com';
    });
    // The route's schema fills in defaults inside lists the operator owns whole: still nothing
    // applied again while nothing changes (the Reservation's status, written as its pods come up
    // on a busy machine, is another matter).
    const before = applies.length;
    await new Promise((resolve) => setTimeout(resolve, 3000)); // six resyncs at 500 ms
    expect(applies.slice(before).filter((a) => !a.endsWith('/status'))).toEqual([]);
    await raw.remove({ apiVersion: API_VERSION, kind: KIND, metadata: { name: 'gateway', namespace } });
  });

  it('shows the story in kubectl get and in the events', async () => {
    const table = await kubectl('get', 'rsv');
    expect(table.split('\n')[0]?.split(/\s{2,}/)).toEqual(['NAME', 'READY', 'REPLICAS', 'WEIGHT', 'PHASE', 'AGE']);
    // No traffic section yet, so no weight.
    expect(table.split('\n')[1]).toMatch(/^booking\s+True\s+5\/5\s+Idle\s+\d+s$/);
    const reasons = async () =>
      (
        JSON.parse(await kubectl('get', 'events', '--field-selector', 'involvedObject.name=booking', '-o', 'json')) as {
          items: { reason: string }[];
        }
      ).items.map((e) => e.reason);
    await waitUntil('Applied and Ready events', async () => {
      const seen = await reasons();
      return ['Applied', 'Ready'].every((r) => seen.includes(r));
    });
    // The sample's maxima could open more connections than a default max_connections: said, not hidden.
    const budget = (await reservation()).status?.conditions?.find((c) => c.type === 'ConnectionBudget');
    expect(budget).toMatchObject({ status: 'False', reason: 'OverConnectionBudget' });
    expect(budget?.message).toContain('primary 1,260 (reservation-api 20 pods × 20, query-api 40 pods × 20, notifier 3 pods × 20)');
    await waitUntil('an OverConnectionBudget event', async () => (await reasons()).includes('OverConnectionBudget'));
  });

  it('writes nothing while nothing changes, through many resyncs', async () => {
    const before = writes;
    const version = (await reservation()).metadata.resourceVersion;
    await new Promise((resolve) => setTimeout(resolve, 3000)); // six resyncs at 500 ms
    expect(writes - before).toBe(0);
    expect((await reservation()).metadata.resourceVersion).toBe(version);
  });

  it('rolls a spec change out to the objects', async () => {
    await raw.request('PATCH', resourcePath(RESOURCE_TYPES.Reservation, namespace, 'booking'), {
      contentType: PATCH.merge,
      body: { spec: { version: '1.5.0', services: { queryApi: { replicas: { min: 2, max: 9 } } } } },
    });
    await waitUntil(
      'new image',
      async () =>
        (await get('Deployment', 'booking-query-api')).spec.template.spec.containers[0].image ===
        'registry.example.com/reservations/query-api:1.5.0',
    );
    await waitUntil('new bound', async () => (await get('HorizontalPodAutoscaler', 'booking-query-api')).spec.maxReplicas === 9);
    // Fewer query-api pods at most: now within the budget.
    await waitUntil(
      'within the connection budget',
      async () => (await reservation()).status?.conditions?.find((c) => c.type === 'ConnectionBudget')?.status === 'True',
    );
    expect((await reservation()).status?.conditions?.find((c) => c.type === 'ConnectionBudget')?.message).toBe(
      "at the autoscalers' maxima: primary 640 (reservation-api 20 pods × 20, query-api 9 pods × 20, notifier 3 pods × 20); " +
        'replica 180 (query-api 9 pods × 20), within DB_MAX_CONNECTIONS 1,000',
    );
  });

  it('puts back a hand edit and leaves alone what another tool added', async () => {
    await raw.request('PATCH', resourcePath(RESOURCE_TYPES.Deployment, namespace, 'booking-notifier'), {
      contentType: PATCH.merge,
      query: { fieldManager: 'kubectl-edit' },
      body: {
        metadata: { annotations: { 'team.example.com/oncall': 'sre-blue' } },
        spec: { template: { spec: { containers: [{ name: 'notifier', image: 'evil/notifier:latest' }] } } },
      },
    });
    await waitUntil(
      'image restored',
      async () =>
        (await get('Deployment', 'booking-notifier')).spec.template.spec.containers[0].image ===
        'registry.example.com/reservations/notifier:1.5.0',
    );
    expect((await get('Deployment', 'booking-notifier')).metadata.annotations?.['team.example.com/oncall']).toBe('sre-blue');
  });

  it('recreates an object deleted by hand', async () => {
    const before = await get('Service', 'booking-query-api');
    await raw.remove(before);
    await waitUntil(
      'Service recreated',
      async () =>
        (await exists('Service', 'booking-query-api')) && (await get('Service', 'booking-query-api')).metadata.uid !== before.metadata.uid,
    );
  });

  it('deletes what the spec no longer asks for', async () => {
    await raw.request('PATCH', resourcePath(RESOURCE_TYPES.Reservation, namespace, 'booking'), {
      contentType: PATCH.json,
      body: [{ op: 'remove', path: '/spec/edge' }],
    });
    await waitUntil('Ingress pruned', async () => !(await exists('Ingress', 'booking')));
    expect(await exists('Deployment', 'booking-reservation-api')).toBe(true);
  });

  it("takes over nothing it did not make: a Reservation whose ServiceAccount name someone else's already has is refused, and applies nothing", async () => {
    // The notifier's ServiceAccount of a Reservation `shop`, made by someone else with their own role.
    const theirs = { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/theirs' };
    await raw.request('POST', resourcePath(RESOURCE_TYPES.ServiceAccount, namespace), {
      body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'shop-notifier', annotations: theirs } },
    });
    const sa = await get('ServiceAccount', 'shop-notifier');
    await raw.request('POST', resourcePath(RESOURCE_TYPES.Reservation, namespace), {
      body: {
        apiVersion: API_VERSION,
        kind: KIND,
        metadata: { name: 'shop' },
        spec: sampleSpec({ serviceAccount: { annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/shop' } } }),
      },
    });
    const degraded = async () => (await get<Reservation>('Reservation', 'shop')).status?.conditions?.find((c) => c.type === 'Degraded');
    await waitUntil('refused', async () => (await degraded())?.reason === 'ObjectOwnedByOther');
    expect((await degraded())?.message).toBe(
      "ServiceAccount shop-notifier already exists and is not this Reservation's (no controller reference to this Reservation): the operator " +
        'applies nothing rather than take it over; rename the Reservation, or remove or rename it',
    );
    const after = await get('ServiceAccount', 'shop-notifier');
    expect(after.metadata.ownerReferences).toBeUndefined();
    expect(after.metadata.annotations).toEqual(theirs);
    expect(after.metadata.resourceVersion).toBe(sa.metadata.resourceVersion);
    for (const c of components) expect(await exists('Deployment', `shop-${c}`)).toBe(false);
    expect(await exists('ServiceAccount', 'shop-reservation-api')).toBe(false);
    expect(await exists('ConfigMap', 'shop-config')).toBe(false);
    await raw.remove({ apiVersion: API_VERSION, kind: KIND, metadata: { name: 'shop', namespace } });
    await waitUntil('the refused Reservation is gone', async () => !(await exists('Reservation', 'shop')));
  });

  it('holds deletion while the external cleanup says no, then lets the garbage collector take the rest', async () => {
    holdDeletion = true;
    await raw.remove({ apiVersion: API_VERSION, kind: KIND, metadata: { name: 'booking', namespace } });
    await waitUntil('cleanup tried', async () => cleanupsRun.length > 0);
    const held = await reservation();
    expect(held.metadata.deletionTimestamp).toBeDefined();
    expect(held.metadata.finalizers).toContain(FINALIZER);
    // Events are recorded without blocking the reconcile: poll for this one rather than read once.
    await waitUntil('a DeletionHeld event', async () => {
      const events = JSON.parse(await kubectl('get', 'events', '--field-selector', 'reason=DeletionHeld', '-o', 'json')) as {
        items: { message: string }[];
      };
      return events.items[0]?.message === 'route53-records: this cluster still has weight 10';
    });

    holdDeletion = false;
    await waitUntil('Reservation gone', async () => !(await exists('Reservation', 'booking')), { timeoutMs: 30_000 });
    await waitUntil(
      'owned objects collected',
      async () => !(await exists('Deployment', 'booking-query-api')) && !(await exists('ConfigMap', 'booking-config')),
      {
        timeoutMs: 60_000,
      },
    );
  });
});
