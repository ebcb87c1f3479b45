import { describe, expect, it } from '@jest/globals';
import type { KubeObject } from '../../src/kube/resources.ts';
import { appliedDigest, keepWhatTheReconcilerReads } from '../../src/reconcile/cache-transform.ts';
import { APPLIED_DIGEST, desiredDigest, digest, inSync } from '../../src/reconcile/drift.ts';

const keep = keepWhatTheReconcilerReads('reservation-operator', new Set(['Deployment']));

/** What the operator applies: the fields it owns. */
const desired = {
  metadata: {
    name: 'booking-notifier',
    namespace: 'shop',
    labels: { 'app.kubernetes.io/managed-by': 'reservation-operator' },
    annotations: { 'platform.reservations.dev/spec-hash': 'abc' },
  },
  spec: {
    selector: { matchLabels: { app: 'notifier' } },
    template: {
      metadata: { labels: { app: 'notifier' } },
      spec: {
        containers: [{ name: 'notifier', image: 'registry.example.com/notifier:1.5.0', ports: [{ containerPort: 3000 }] }],
      },
    },
  },
};

/** The same Deployment as the API server sends it: defaults, other managers, status. */
function live(imageOwner = 'reservation-operator'): KubeObject {
  const operatorContainer = {
    '.': {},
    'f:name': {},
    'f:ports': { 'k:{"containerPort":3000,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {} } },
    ...(imageOwner === 'reservation-operator' ? { 'f:image': {} } : {}),
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'booking-notifier',
      namespace: 'shop',
      uid: 'u-1',
      resourceVersion: '42',
      generation: 3,
      creationTimestamp: '2026-12-04T00:00:00Z',
      labels: { 'app.kubernetes.io/managed-by': 'reservation-operator', 'team.example.com/cost': 'blue' },
      annotations: { 'platform.reservations.dev/spec-hash': 'abc', 'deployment.kubernetes.io/revision': '3' },
      ownerReferences: [
        { apiVersion: 'platform.reservations.dev/v1alpha1', kind: 'Reservation', name: 'booking', uid: 'r-1', controller: true },
      ],
      finalizers: ['platform.reservations.dev/edge'],
      managedFields: [
        {
          manager: 'reservation-operator',
          operation: 'Apply',
          fieldsV1: {
            'f:metadata': {
              'f:labels': { 'f:app.kubernetes.io/managed-by': {} },
              'f:annotations': { 'f:platform.reservations.dev/spec-hash': {} },
            },
            'f:spec': {
              'f:selector': {},
              'f:template': {
                'f:metadata': { 'f:labels': { 'f:app': {} } },
                'f:spec': { 'f:containers': { 'k:{"name":"notifier"}': operatorContainer } },
              },
            },
          },
        },
        {
          manager: 'kube-controller-manager',
          operation: 'Update',
          subresource: 'status',
          fieldsV1: { 'f:status': { 'f:replicas': {} } },
        },
        ...(imageOwner === 'reservation-operator'
          ? []
          : [
              {
                manager: imageOwner,
                operation: 'Update',
                fieldsV1: { 'f:spec': { 'f:template': { 'f:spec': { 'f:containers': { 'k:{"name":"notifier"}': { 'f:image': {} } } } } } },
              },
            ]),
      ],
    },
    spec: {
      replicas: 2,
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
      selector: { matchLabels: { app: 'notifier' } },
      template: {
        metadata: { labels: { app: 'notifier' } },
        spec: {
          dnsPolicy: 'ClusterFirst',
          restartPolicy: 'Always',
          schedulerName: 'default-scheduler',
          containers: [
            {
              name: 'notifier',
              image: imageOwner === 'reservation-operator' ? 'registry.example.com/notifier:1.5.0' : 'evil/notifier:latest',
              imagePullPolicy: 'IfNotPresent',
              terminationMessagePath: '/dev/termination-log',
              ports: [{ containerPort: 3000, protocol: 'TCP' }],
            },
            { name: 'istio-proxy', image: 'istio/proxyv2:1.24' },
          ],
        },
      },
    },
    status: { observedGeneration: 3, replicas: 2, readyReplicas: 2, conditions: [{ type: 'Available', status: 'True' }] },
  };
}

describe('keepWhatTheReconcilerReads', () => {
  it("keeps what the reconciler reads whoever set it, status and the autoscaler's replicas, and of the applied fields only their digest", () => {
    const obj = keep(live());
    expect(obj).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        name: 'booking-notifier',
        namespace: 'shop',
        uid: 'u-1',
        resourceVersion: '42',
        generation: 3,
        ownerReferences: [
          { apiVersion: 'platform.reservations.dev/v1alpha1', kind: 'Reservation', name: 'booking', uid: 'r-1', controller: true },
        ],
        finalizers: ['platform.reservations.dev/edge'],
      },
      spec: { replicas: 2 },
      status: { observedGeneration: 3, replicas: 2, readyReplicas: 2, conditions: [{ type: 'Available', status: 'True' }] },
      [APPLIED_DIGEST]: expect.any(String),
    });
    // What the operator applied is what it wants: an idle reconcile writes nothing.
    expect(inSync(desired, obj)).toBe(true);
  });

  it('keeps every kind with the same keys in the same order, absent fields undefined (one hidden class for all in V8)', () => {
    const deployment = keep(live());
    const { spec: _spec, status: _status, ...bare } = live();
    const configMap = keep({ ...bare, kind: 'ConfigMap', metadata: { ...bare.metadata, finalizers: undefined }, data: { a: '1' } });
    expect(configMap).toMatchObject({ kind: 'ConfigMap', spec: undefined, status: undefined });
    expect(Object.keys(configMap)).toEqual(Object.keys(deployment));
    expect(Object.keys(configMap.metadata)).toEqual(Object.keys(deployment.metadata));
    expect(Object.getOwnPropertySymbols(configMap)).toEqual([APPLIED_DIGEST]);
  });

  it('tells a spec change, and is blind to what the server defaulted or other tools added', () => {
    const obj = keep(live());
    const changed = structuredClone(desired);
    changed.spec.template.spec.containers[0] = {
      ...changed.spec.template.spec.containers[0],
      image: 'registry.example.com/notifier:1.6.0',
    } as never;
    expect(inSync(changed, obj)).toBe(false);
    // Keys in another order: the same.
    const reordered = { spec: { template: desired.spec.template, selector: desired.spec.selector }, metadata: desired.metadata };
    expect(inSync(reordered, obj)).toBe(true);
    // Named items in another order, a quantity in the server's spelling: the same, as hasAllFields has it.
    expect(digest({ env: [{ name: 'a' }, { name: 'b', value: '0.5' }] })).toBe(
      digest({ env: [{ name: 'b', value: '500m' }, { name: 'a' }] }),
    );
    expect(digest({ args: ['a', 'b'] })).not.toBe(digest({ args: ['b', 'a'] }));
  });

  it('takes what an apply of the same desired object was seen to leave as in sync (defaults a schema fills in), and nothing else', () => {
    const obj = live();
    // The server filled a default into the container the operator owns whole.
    obj.metadata.managedFields = [
      {
        manager: 'reservation-operator',
        operation: 'Apply',
        fieldsV1: { 'f:spec': { 'f:template': { 'f:spec': { 'f:containers': { 'k:{"name":"notifier"}': {} } } } } },
      },
    ];
    const left = appliedDigest(obj, 'reservation-operator') as string;
    const kept = keep(obj);
    expect(inSync(desired, kept)).toBe(false);
    const outcome = { desired: desiredDigest(desired), live: left };
    expect(inSync(desired, kept, outcome)).toBe(true);
    // Another desired object, or the live fields changed since: applied again.
    const changed = structuredClone(desired);
    changed.metadata.annotations['platform.reservations.dev/spec-hash'] = 'def';
    expect(inSync(changed, kept, outcome)).toBe(false);
    expect(inSync(desired, kept, { ...outcome, live: 'other' })).toBe(false);
  });

  it('sees a field another manager took over as drift, so the operator applies it back', () => {
    expect(inSync(desired, keep(live('kubectl-edit')))).toBe(false);
  });

  it('is idempotent, and leaves an object without managedFields whole, judged field by field', () => {
    const once = keep(live());
    const twice = keep(once);
    expect(twice).toBe(once);
    expect(twice).toEqual(keep(live()));

    const bare = live();
    delete bare.metadata.managedFields;
    const copy = structuredClone(bare);
    expect(keep(bare)).toBe(bare);
    expect(bare).toEqual(copy);
    expect(inSync(desired, bare)).toBe(true);
  });

  it('keeps no status of a kind whose status the reconciler does not read, and judges an object the operator never applied out of sync', () => {
    const obj = live();
    obj.kind = 'HorizontalPodAutoscaler';
    obj.metadata.managedFields = [{ manager: 'helm', operation: 'Update', fieldsV1: { 'f:spec': {} } }];
    const kept = keep(obj);
    expect(kept.status).toBeUndefined();
    expect(kept.metadata.ownerReferences).toHaveLength(1);
    expect(inSync(desired, kept)).toBe(false);
  });
});
