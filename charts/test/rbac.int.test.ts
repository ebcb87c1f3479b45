import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { API_VERSION, KIND } from '@reservations/operator/api';
import { createKubeClient, isNotFound, type KubeObject, PATCH, RESOURCE_TYPES, resourcePath } from '@reservations/operator/kube';
import { LEASE_NAME } from '@reservations/operator/leader-election';
import { operatorRbac, type PolicyRule } from '@reservations/operator/rbac';
import { createTestNamespace, type OperatorProcess, sampleSpec, startOperator, testKubeConfig } from '@reservations/operator/testing';
import { waitUntil } from '@reservations/testkit';
import { stringify } from 'yaml';
import { kubectl, OPERATOR_CHART, render } from './support/charts.ts';
import { adminKubeconfig, installChartCrds } from './support/cluster.ts';

/**
 * The operator chart's RBAC on the real API server (RBAC on): its ServiceAccount may do each
 * thing the operator does and nothing on a list of things it must never do; and the operator
 * itself, running on that ServiceAccount's token, reconciles a Reservation end to end.
 */

const kc = testKubeConfig();
const admin = createKubeClient(kc);
const RBAC_KINDS = ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'];

interface Access {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  name?: string;
  namespace?: string;
}

/** A SubjectAccessReview for the ServiceAccount, with the groups its token carries. */
async function allowed(sa: { namespace: string; name: string }, a: Access): Promise<boolean> {
  const review = await admin.request<{ status: { allowed: boolean } }>('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
    body: {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: `system:serviceaccount:${sa.namespace}:${sa.name}`,
        groups: ['system:serviceaccounts', `system:serviceaccounts:${sa.namespace}`, 'system:authenticated'],
        resourceAttributes: { ...a, group: a.group },
      },
    },
  });
  return review.status.allowed;
}

/**
 * Waits until the API server's RBAC authorizer grants `sa` each of `wanted`, and returns what it
 * still denied: it reads the roles through a watch, so a review right after the apply may not
 * see them yet.
 */
async function deniedOnceSettled(sa: { namespace: string; name: string }, wanted: Access[]): Promise<string[]> {
  let denied: string[] = [];
  await waitUntil('the authorizer grants every access the operator needs', async () => {
    denied = [];
    for (const a of wanted) if (!(await allowed(sa, a))) denied.push(describeAccess(a));
    if (denied.length > 0) throw new Error(`denied: ${denied.join('; ')}`);
    return true;
  });
  return denied;
}

const describeAccess = (a: Access) =>
  `${a.verb} ${a.group || 'core'}/${a.resource}${a.subresource ? `/${a.subresource}` : ''}${a.name ? ` ${a.name}` : ''} in ${a.namespace ?? '(cluster)'}`;

/** Every access the rules grant, in `namespace`. */
function accessesOf(rules: readonly PolicyRule[], namespace: string): Access[] {
  return rules.flatMap((r) =>
    r.apiGroups.flatMap((group) =>
      r.resources.flatMap((full) => {
        const [resource = '', subresource] = full.split('/');
        return r.verbs.flatMap((verb) =>
          (r.resourceNames ?? [undefined]).map((name) => ({ verb, group, resource, subresource, name, namespace })),
        );
      }),
    ),
  );
}

/** What the operator's account must never be able to do, wherever it runs. */
const forbidden = (ns: { release: string; apps: string }): Access[] => [
  { verb: 'get', group: '', resource: 'secrets', namespace: ns.apps },
  { verb: 'list', group: '', resource: 'secrets', namespace: ns.apps },
  { verb: 'list', group: '', resource: 'secrets' },
  { verb: 'watch', group: '', resource: 'secrets', namespace: 'kube-system' },
  { verb: 'delete', group: '', resource: 'namespaces', name: ns.apps },
  { verb: 'get', group: '', resource: 'namespaces', name: ns.apps },
  { verb: 'list', group: '', resource: 'namespaces' },
  { verb: 'create', group: '', resource: 'pods', namespace: ns.apps },
  { verb: 'create', group: '', resource: 'pods', subresource: 'exec', namespace: ns.apps },
  { verb: 'create', group: '', resource: 'serviceaccounts', subresource: 'token', namespace: ns.apps },
  { verb: 'impersonate', group: '', resource: 'serviceaccounts', namespace: ns.apps },
  { verb: 'impersonate', group: '', resource: 'users' },
  { verb: 'escalate', group: 'rbac.authorization.k8s.io', resource: 'clusterroles' },
  { verb: 'bind', group: 'rbac.authorization.k8s.io', resource: 'clusterroles' },
  { verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'rolebindings', namespace: ns.apps },
  { verb: 'patch', group: 'rbac.authorization.k8s.io', resource: 'roles', namespace: ns.release },
  { verb: 'update', group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions', name: 'reservations.platform.reservations.dev' },
  { verb: 'delete', group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions', name: 'reservations.platform.reservations.dev' },
  { verb: 'create', group: 'platform.reservations.dev', resource: 'reservations', namespace: ns.apps },
  { verb: 'delete', group: 'platform.reservations.dev', resource: 'reservations', namespace: ns.apps },
  { verb: 'update', group: 'coordination.k8s.io', resource: 'leases', name: 'kube-controller-manager', namespace: 'kube-system' },
  { verb: 'update', group: 'coordination.k8s.io', resource: 'leases', name: 'someone-else', namespace: ns.release },
  { verb: 'patch', group: '', resource: 'nodes' },
  { verb: 'delete', group: '', resource: 'events', namespace: ns.apps },
];

async function installRbac(release: string, namespace: string, set: Record<string, string> = {}) {
  const { objects } = await render(OPERATOR_CHART, { release, namespace, set });
  const rbac = objects.filter((o) => RBAC_KINDS.includes(o.kind));
  const applied = await kubectl(
    adminKubeconfig(),
    ['apply', '--server-side', '--field-manager=chart-tests', '-f', '-'],
    rbac.map((o) => stringify(o)).join('---\n'),
  );
  if (applied.code !== 0) throw new Error(applied.stderr);
  created.push(...objects.filter((o) => o.kind.startsWith('Cluster')));
  const sa = objects.find((o) => o.kind === 'ServiceAccount') as KubeObject;
  return { namespace, name: sa.metadata.name };
}

const created: KubeObject[] = [];
afterAll(async () => {
  for (const o of created)
    await admin
      .request(
        'DELETE',
        `/apis/rbac.authorization.k8s.io/v1/${o.kind === 'ClusterRole' ? 'clusterroles' : 'clusterrolebindings'}/${o.metadata.name}`,
      )
      .catch(() => {});
});

beforeAll(() => installChartCrds());

describe('the operator chart watching every namespace (ClusterRole)', () => {
  let ns: { release: string; apps: string };
  let sa: { namespace: string; name: string };
  beforeAll(async () => {
    ns = { release: await createTestNamespace(kc, 'rbac-op'), apps: await createTestNamespace(kc, 'rbac-apps') };
    sa = await installRbac(`rbac-${ns.release}`, ns.release);
  });

  it('lets the ServiceAccount do everything the operator does, in any namespace', async () => {
    const { reconcile, leaderElection, clusterIdentity } = operatorRbac();
    const wanted = [
      ...accessesOf(reconcile, ns.apps),
      ...accessesOf(leaderElection, ns.release),
      ...accessesOf(clusterIdentity, 'kube-system'),
    ];
    expect(await deniedOnceSettled(sa, wanted)).toEqual([]);
    expect(wanted.length).toBeGreaterThan(40);
  });

  it('refuses it what it must never do', async () => {
    const granted: string[] = [];
    for (const a of forbidden(ns)) if (await allowed(sa, a)) granted.push(describeAccess(a));
    expect(granted).toEqual([]);
  });
});

describe('the operator chart watching one namespace (Role)', () => {
  let ns: { release: string; apps: string };
  let sa: { namespace: string; name: string };
  let dir: string;
  const running: OperatorProcess[] = [];
  beforeAll(async () => {
    ns = { release: await createTestNamespace(kc, 'rbac-op'), apps: await createTestNamespace(kc, 'rbac-apps') };
    sa = await installRbac(`rbac-${ns.release}`, ns.release, { watchNamespace: ns.apps });
    // Once the authorizer has the Role: a denial below is then the chart's, not the watch's lag.
    const { reconcile, leaderElection, clusterIdentity } = operatorRbac();
    await deniedOnceSettled(sa, [
      ...accessesOf(reconcile, ns.apps),
      ...accessesOf(leaderElection, ns.release),
      ...accessesOf(clusterIdentity, 'kube-system'),
    ]);
    dir = mkdtempSync(join(tmpdir(), 'rbac-'));
  });
  afterEach(() => {
    for (const op of running.splice(0)) op.kill();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('grants nothing outside the watched namespace', async () => {
    const elsewhere = await createTestNamespace(kc, 'rbac-other');
    const granted: string[] = [];
    for (const a of [...accessesOf(operatorRbac().reconcile, elsewhere), ...forbidden(ns)]) {
      if (await allowed(sa, a)) granted.push(describeAccess(a));
    }
    expect(granted).toEqual([]);
  });

  it('is enough for the real operator, on the ServiceAccount token, to create, prune, report and finalize', async () => {
    const token = await kubectl(adminKubeconfig(), ['create', 'token', sa.name, '-n', sa.namespace, '--duration=1h']);
    expect(token.code).toBe(0);
    const cluster = kc.getCurrentCluster();
    const kubeconfig = join(dir, 'operator.kubeconfig');
    writeFileSync(
      kubeconfig,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: cluster?.server, 'certificate-authority-data': cluster?.caData } }],
        users: [{ name: 'operator', user: { token: token.stdout.trim() } }],
        contexts: [{ name: 'c', context: { cluster: 'c', user: 'operator' } }],
        'current-context': 'c',
      }),
    );
    const op = await startOperator({
      KUBECONFIG: kubeconfig,
      WATCH_NAMESPACE: ns.apps,
      LEADER_ELECTION_NAMESPACE: ns.release,
      POD_NAME: 'rbac-test',
    });
    running.push(op);

    const lease = resourcePath(RESOURCE_TYPES.Lease, ns.release, LEASE_NAME);
    await waitUntil(
      'it leads',
      async () =>
        (await admin.request<{ spec: { holderIdentity?: string } }>('GET', lease).catch(() => undefined))?.spec.holderIdentity ===
        'rbac-test',
    );

    const rsv = resourcePath(RESOURCE_TYPES.Reservation, ns.apps, 'booking');
    const ingress = resourcePath(RESOURCE_TYPES.Ingress, ns.apps, 'booking');
    await admin.request('POST', resourcePath(RESOURCE_TYPES.Reservation, ns.apps), {
      body: {
        apiVersion: API_VERSION,
        kind: KIND,
        metadata: { name: 'booking' },
        spec: sampleSpec({ edge: { host: 'api.example.com', kind: 'Ingress' } }),
      },
    });
    const exists = (path: string) =>
      admin.request('GET', path).then(
        () => true,
        (err) => (isNotFound(err) ? false : Promise.reject(err)),
      );
    await waitUntil('objects created', () => exists(ingress));
    await waitUntil(
      'status written',
      async () =>
        ((await admin.request<KubeObject>('GET', rsv)).status as { conditions?: unknown[] } | undefined)?.conditions !== undefined,
    );

    // Dropping the edge prunes the Ingress.
    await admin.request('PATCH', rsv, { contentType: PATCH.json, body: [{ op: 'remove', path: '/spec/edge' }] });
    await waitUntil('Ingress pruned', async () => !(await exists(ingress)));

    // Events are recorded without waiting for them: they come a moment later.
    await waitUntil('Applied and Pruned events', async () => {
      const events = await admin.request<{ items: { reason: string }[] }>('GET', resourcePath(RESOURCE_TYPES.Event, ns.apps));
      const reasons = new Set(events.items.map((e) => e.reason));
      return reasons.has('Applied') && reasons.has('Pruned');
    });

    // Deleting waits for the finalizer, which the operator then removes.
    await admin.request('DELETE', rsv);
    await waitUntil('Reservation gone', async () => !(await exists(rsv)));

    expect(op.log()).not.toMatch(/forbidden/i);
  });
});
