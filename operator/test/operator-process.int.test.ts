import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { harnessEnv, runDir, startKubeControlPlane, stopServers, waitUntil } from '@reservations/testkit';
import { API_VERSION, KIND, type Reservation } from '../src/api/v1alpha1/reservation.ts';
import { desiredObjects } from '../src/desired/index.ts';
import { createKubeClient, isNotFound, KubeApiError, type KubeClient, PATCH } from '../src/kube/client.ts';
import { type KubeObject, RESOURCE_TYPES, resourcePath } from '../src/kube/resources.ts';
import { OWNED_KINDS } from '../src/manager.ts';
import { sampleSpec } from './support/fixtures.ts';
import { startFreezableTcpProxy } from './support/freezable-proxy.ts';
import { createTestNamespace, installCrds, testKubeConfig } from './support/kube.ts';
import { metric, type OperatorProcess, startOperator } from './support/operator-process.ts';

const running: OperatorProcess[] = [];
afterEach(() => {
  for (const op of running.splice(0)) op.kill();
});

const operatorEnv = (kubeconfig: string, namespace: string, extra: Record<string, string> = {}) => ({
  KUBECONFIG: kubeconfig,
  WATCH_NAMESPACE: namespace,
  LEADER_ELECTION_NAMESPACE: namespace,
  ...extra,
});
async function operator(env: Record<string, string>) {
  const op = await startOperator(env);
  running.push(op);
  return op;
}

function createReservation(client: KubeClient, namespace: string, name: string, extra: Record<string, unknown> = {}) {
  return client.request('POST', resourcePath(RESOURCE_TYPES.Reservation, namespace), {
    body: { apiVersion: API_VERSION, kind: KIND, metadata: { name }, spec: sampleSpec(extra) },
  });
}

async function exists(client: KubeClient, kind: keyof typeof RESOURCE_TYPES, namespace: string, name: string) {
  try {
    await client.request('GET', resourcePath(RESOURCE_TYPES[kind], namespace, name));
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/** Every object the operator labels as its own in `namespace`, as kind/name. */
async function ownedObjects(client: KubeClient, namespace: string): Promise<string[]> {
  const found: string[] = [];
  for (const kind of OWNED_KINDS.filter((k) => k !== 'HTTPRoute')) {
    const list = await client.request<{ items: KubeObject[] }>('GET', resourcePath(RESOURCE_TYPES[kind], namespace), {
      query: { labelSelector: 'app.kubernetes.io/managed-by=reservation-operator' },
    });
    found.push(...list.items.map((o) => `${kind}/${o.metadata.name}`));
  }
  return found.sort();
}

const leaseHolder = async (client: KubeClient, namespace: string) => {
  try {
    const lease = await client.request<{ spec: { holderIdentity?: string } }>(
      'GET',
      resourcePath(RESOURCE_TYPES.Lease, namespace, 'reservation-operator'),
    );
    return lease.spec.holderIdentity;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
};

describe('the operator process on the shared cluster', () => {
  const kc = testKubeConfig();
  const client = createKubeClient(kc);
  beforeAll(() => installCrds(kc));

  it('refuses a bad configuration with one line naming the variable', async () => {
    const op = await operator({ KUBECONFIG: harnessEnv('KUBECONFIG'), WORKERS: '0' });
    expect(await op.exited).toBe(1);
    expect(op.log()).toBe('reservation-operator: invalid configuration: WORKERS="0" must be >= 1\n');
    const greedy = await operator({ KUBECONFIG: harnessEnv('KUBECONFIG'), ROUTE53_REQUESTS_PER_SECOND: '8' });
    expect(await greedy.exited).toBe(1);
    expect(greedy.log()).toBe('reservation-operator: invalid configuration: ROUTE53_REQUESTS_PER_SECOND="8" must be <= 5\n');
  });

  it('starts with no AWS configuration; a Reservation with spec.traffic then fails with a condition that says so', async () => {
    const namespace = await createTestNamespace(kc, 'noaws');
    // No AWS_* credentials or region, no profile files, and no instance metadata to fall back on.
    await operator(
      operatorEnv(harnessEnv('KUBECONFIG'), namespace, {
        LEADER_ELECT: 'false',
        AWS_CONFIG_FILE: '/nonexistent/aws-config',
        AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
        AWS_EC2_METADATA_DISABLED: 'true',
      }),
    );
    await createReservation(client, namespace, 'plain');
    await waitUntil('the plain Reservation converges', () => exists(client, 'Deployment', namespace, 'plain-notifier'));

    await createReservation(client, namespace, 'routed', {
      traffic: { cluster: 'eks-green', dns: { hostedZoneId: 'Z0123456789', name: 'api.example.com' }, target: 'green.elb.example.com' },
    });
    const trafficReady = async () =>
      (await client.request<Reservation>('GET', resourcePath(RESOURCE_TYPES.Reservation, namespace, 'routed'))).status?.conditions?.find(
        (c) => c.type === 'TrafficReady',
      );
    await waitUntil('TrafficReady False', async () => (await trafficReady())?.status === 'False');
    expect(await trafficReady()).toMatchObject({
      reason: 'Route53NotConfigured',
      message: expect.stringMatching(/^Route53 is not configured: .*credentials/),
    });

    // Nothing was ever written, so its deletion is not held for want of AWS.
    await client.request('DELETE', resourcePath(RESOURCE_TYPES.Reservation, namespace, 'routed'));
    await waitUntil('routed is gone', async () => !(await exists(client, 'Reservation', namespace, 'routed')));
  });

  it('runs exactly one leader; when the leader is killed the standby takes over within the lease', async () => {
    const namespace = await createTestNamespace(kc, 'leader');
    const a = await operator(operatorEnv(harnessEnv('KUBECONFIG'), namespace, { POD_NAME: 'operator-a' }));
    await waitUntil('a leads', async () => (await leaseHolder(client, namespace)) === 'operator-a');
    const b = await operator(operatorEnv(harnessEnv('KUBECONFIG'), namespace, { POD_NAME: 'operator-b' }));
    await waitUntil('b is up', async () => (await fetch(`${b.admin}/readyz`)).ok);

    await createReservation(client, namespace, 'booking');
    await waitUntil('converged', () => exists(client, 'Deployment', namespace, 'booking-notifier'));
    await waitUntil('a reconciled', async () => ((await metric(a, 'controller_runtime_reconcile_total', { result: 'success' })) ?? 0) > 0);
    expect(await metric(a, 'leader_election_master_status')).toBe(1);
    expect(await metric(b, 'controller_runtime_reconcile_total', { result: 'success' })).toBeUndefined();

    a.kill('SIGKILL');
    await waitUntil('b leads', async () => (await leaseHolder(client, namespace)) === 'operator-b', { timeoutMs: 30_000, intervalMs: 500 });
    await client.request('PATCH', resourcePath(RESOURCE_TYPES.Reservation, namespace, 'booking'), {
      contentType: PATCH.merge,
      body: { spec: { version: '2.0.0' } },
    });
    await waitUntil('b rolled the change out', async () => {
      const d = await client.request<{ spec: { template: { spec: { containers: { image: string }[] } } } }>(
        'GET',
        resourcePath(RESOURCE_TYPES.Deployment, namespace, 'booking-notifier'),
      );
      return d.spec.template.spec.containers[0]?.image.endsWith(':2.0.0') ?? false;
    });
  });

  it('converges with no stray object after being killed in the middle of creating them', async () => {
    const namespace = await createTestNamespace(kc, 'crash');
    const names = Array.from({ length: 8 }, (_, i) => `shop-${i}`);
    for (const name of names) await createReservation(client, namespace, name);
    const first = await operator(operatorEnv(harnessEnv('KUBECONFIG'), namespace, { LEADER_ELECT: 'false', WORKERS: '1' }));
    await waitUntil('some objects exist', async () => (await ownedObjects(client, namespace)).length > 0, { intervalMs: 20 });
    first.kill('SIGKILL');
    const partial = (await ownedObjects(client, namespace)).length;
    const expected = names
      .flatMap((name) =>
        desiredObjects({
          apiVersion: API_VERSION,
          kind: KIND,
          metadata: { name, namespace, uid: 'x' },
          spec: sampleSpec(),
        } as Reservation),
      )
      .map((o) => `${o.kind}/${o.metadata.name}`)
      .sort();
    expect(partial).toBeLessThan(expected.length);

    await operator(operatorEnv(harnessEnv('KUBECONFIG'), namespace, { LEADER_ELECT: 'false' }));
    await waitUntil('all converged', async () => (await ownedObjects(client, namespace)).length === expected.length, { timeoutMs: 60_000 });
    expect(await ownedObjects(client, namespace)).toEqual(expected);
  });
});

describe('an operator whose API server restarts', () => {
  const dir = runDir();
  let plane: Awaited<ReturnType<typeof startKubeControlPlane>>;
  let client: KubeClient;
  beforeAll(async () => {
    plane = await startKubeControlPlane(join(dir, 'kube'), 'restart');
    const kc = new KubeConfig();
    kc.loadFromFile(plane.env.KUBECONFIG);
    client = createKubeClient(kc);
    await installCrds(kc);
  });
  afterAll(async () => {
    await stopServers(plane.servers);
    rmSync(dir, { recursive: true, force: true });
  });

  it('picks up a change made after the restart', async () => {
    await client.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } } });
    const op = await operator(operatorEnv(plane.env.KUBECONFIG, 'shop', { LEADER_ELECT: 'false' }));
    await createReservation(client, 'shop', 'booking');
    await waitUntil('converged', () => exists(client, 'Deployment', 'shop', 'booking-query-api'));

    await plane.restartApiServer();
    await client.request('PATCH', resourcePath(RESOURCE_TYPES.Reservation, 'shop', 'booking'), {
      contentType: PATCH.merge,
      body: { spec: { services: { queryApi: { replicas: { min: 3, max: 12 } } } } },
    });
    await waitUntil(
      'the change reached the HPA',
      async () =>
        (
          await client.request<{ spec: { maxReplicas: number } }>(
            'GET',
            resourcePath(RESOURCE_TYPES.HorizontalPodAutoscaler, 'shop', 'booking-query-api'),
          )
        ).spec.maxReplicas === 12,
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(op.log()).toContain('watch failed; relisting after a delay');
  });

  it('relists after 410 Gone and catches a change and a deletion made while it could not watch', async () => {
    await client.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'gone' } } });
    await operator(operatorEnv(plane.env.KUBECONFIG, 'gone', { LEADER_ELECT: 'false' }));
    await createReservation(client, 'gone', 'booking');
    await waitUntil('converged', () => exists(client, 'Deployment', 'gone', 'booking-query-api'));
    const reservations = resourcePath(RESOURCE_TYPES.Reservation, 'gone');
    const { metadata } = await client.request<{ metadata: { resourceVersion: string } }>('GET', reservations);

    // The operator's API server goes away; the change goes through the other one, on the
    // same etcd. The restarted server's watch cache starts after it, so a watch resuming from
    // where the operator was is answered 410 Gone: only a relist can see the change.
    const second = new KubeConfig();
    second.loadFromFile(await plane.startSecondApiServer());
    const autoscaler = resourcePath(RESOURCE_TYPES.HorizontalPodAutoscaler, 'gone', 'booking-query-api');
    await plane.restartApiServer(async () => {
      const other = createKubeClient(second);
      await other.request('PATCH', `${reservations}/booking`, { contentType: PATCH.merge, body: { spec: { version: '9.9.9' } } });
      await other.request('DELETE', autoscaler);
    });
    expect(await watchAnswer(client, reservations, metadata.resourceVersion)).toBe(410);

    await waitUntil('the missed change reached the Deployment', () => queryApiTagIs(client, 'gone', '9.9.9'), {
      timeoutMs: 60_000,
      intervalMs: 500,
    });
    // Only the relist tells the cache that object is gone: without it, the cache still holds it in sync.
    await waitUntil('the deleted autoscaler made again', () => exists(client, 'HorizontalPodAutoscaler', 'gone', 'booking-query-api'), {
      timeoutMs: 60_000,
      intervalMs: 500,
    });
  }, 180_000); // a restart and two waits of up to a minute each

  it('reconnects a watch that went silent and catches the change it missed', async () => {
    await client.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'silent' } } });
    const kc = new KubeConfig();
    kc.loadFromFile(plane.env.KUBECONFIG);
    const proxy = await startFreezableTcpProxy(new URL(kc.getCurrentCluster()?.server ?? ''));
    try {
      const proxied = join(dir, 'proxied.kubeconfig');
      writeFileSync(proxied, kc.exportConfig().replace(kc.getCurrentCluster()?.server ?? '', proxy.url));
      const op = await operator(operatorEnv(proxied, 'silent', { LEADER_ELECT: 'false' }));
      await createReservation(client, 'silent', 'booking');
      await waitUntil('converged', () => exists(client, 'Deployment', 'silent', 'booking-query-api'));

      // Every connection the operator has open goes quiet, its watches among them (one per kind).
      expect(proxy.freeze()).toBeGreaterThanOrEqual(OWNED_KINDS.length);
      await client.request('PATCH', resourcePath(RESOURCE_TYPES.Reservation, 'silent', 'booking'), {
        contentType: PATCH.merge,
        body: { spec: { version: '7.7.7' } },
      });
      await waitUntil(
        'the change reached the Deployment once the silent watch was replaced',
        () => queryApiTagIs(client, 'silent', '7.7.7'),
        {
          timeoutMs: 120_000,
          intervalMs: 1000,
        },
      ).catch((err: unknown) => {
        throw new Error(`${err}\noperator log:\n${op.log().slice(-3000)}`);
      });
    } finally {
      await proxy.close();
    }
  }, 180_000); // the silence lasts client-node's 30 s watch inactivity timeout

  it('reports Degraded, naming what is missing, for an HTTPRoute on a cluster without the Gateway API', async () => {
    await operator(operatorEnv(plane.env.KUBECONFIG, 'shop', { LEADER_ELECT: 'false' }));
    await createReservation(client, 'shop', 'routed', {
      edge: { host: 'api.example.com', kind: 'HTTPRoute', parentRef: { name: 'public' } },
    });
    const degraded = async () => {
      const cr = await client.request<Reservation>('GET', resourcePath(RESOURCE_TYPES.Reservation, 'shop', 'routed'));
      return cr.status?.conditions?.find((c) => c.type === 'Degraded');
    };
    await waitUntil('Degraded', async () => (await degraded())?.status === 'True');
    expect(await degraded()).toMatchObject({
      reason: 'ApplyFailed',
      message: "HTTPRoute is not served by this cluster (install its CRDs, e.g. the Gateway API's)",
    });
    expect(await exists(client, 'Deployment', 'shop', 'routed-query-api')).toBe(true);
  });
});

/** The HTTP status of a watch from `resourceVersion` (410 Gone arrives as a status or as an ERROR event). */
async function watchAnswer(client: KubeClient, path: string, resourceVersion: string): Promise<number> {
  try {
    const event = await client.request<{ type: string; object: { code?: number } } | undefined>('GET', path, {
      query: { watch: 1, resourceVersion, timeoutSeconds: 1 },
    });
    return event?.type === 'ERROR' ? (event.object.code ?? 500) : 200;
  } catch (err) {
    return err instanceof KubeApiError ? err.status : 0;
  }
}

/** Whether the Reservation `booking`'s query-api Deployment in `namespace` runs image tag `tag`. */
async function queryApiTagIs(client: KubeClient, namespace: string, tag: string): Promise<boolean> {
  const deployment = await client.request<{ spec: { template: { spec: { containers: { image: string }[] } } } }>(
    'GET',
    resourcePath(RESOURCE_TYPES.Deployment, namespace, 'booking-query-api'),
  );
  return deployment.spec.template.spec.containers[0]?.image.endsWith(`:${tag}`) ?? false;
}
