import { describe, expect, it } from '@jest/globals';
import { RESOURCE_TYPES } from '../src/kube/resources.ts';
import { LEASE_NAME } from '../src/leader-election.ts';
import { OWNED_KINDS } from '../src/manager.ts';
import { operatorRbac } from '../src/rbac.ts';

describe('operatorRbac', () => {
  const { reconcile, leaderElection, clusterIdentity } = operatorRbac();
  const all = [...reconcile, ...leaderElection, ...clusterIdentity];
  const has = (resource: string, verb: string) => all.some((r) => r.resources.includes(resource) && r.verbs.includes(verb));

  it('names every group, resource and verb: nothing wildcard', () => {
    expect(JSON.stringify(all)).not.toContain('*');
  });

  it('lets the operator read, apply, watch and prune every kind a Reservation owns', () => {
    for (const kind of OWNED_KINDS) {
      for (const verb of ['list', 'watch', 'get', 'create', 'patch', 'delete'])
        expect([kind, verb, has(RESOURCE_TYPES[kind].plural, verb)]).toEqual([kind, verb, true]);
    }
  });

  it('gives the Reservation what the reconcile does to it and no more (no create, delete or update of the spec)', () => {
    const verbs = (resource: string) => all.filter((r) => r.resources.includes(resource)).flatMap((r) => r.verbs);
    expect(verbs('reservations')).toEqual(['list', 'watch', 'patch']);
    expect(verbs('reservations/status')).toEqual(['patch']);
    expect(verbs('reservations/finalizers')).toEqual(['update']);
  });

  it('grants no Secrets, no RBAC objects and nothing on the CRDs', () => {
    const resources = all.flatMap((r) => r.resources);
    expect(resources).not.toContain('secrets');
    expect(resources).not.toContain('customresourcedefinitions');
    expect(all.flatMap((r) => r.apiGroups)).not.toContain('rbac.authorization.k8s.io');
  });

  it('reads one namespace, kube-system (its UID for the default owner id), and nothing else of namespaces', () => {
    expect(clusterIdentity).toEqual([{ apiGroups: [''], resources: ['namespaces'], verbs: ['get'], resourceNames: ['kube-system'] }]);
    expect(all.filter((r) => r.resources.includes('namespaces'))).toEqual(clusterIdentity);
  });

  it('limits reading and renewing Leases to its own', () => {
    expect(leaderElection).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'update'], resourceNames: [LEASE_NAME] },
    ]);
  });
});
