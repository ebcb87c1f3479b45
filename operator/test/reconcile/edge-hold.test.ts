import { describe, expect, it } from '@jest/globals';
import type { Reservation } from '../../src/api/v1alpha1/reservation.ts';
import type { KubeObject } from '../../src/kube/resources.ts';
import { EDGE_FINALIZER, edgeFinalizers, edgeHeld, edgeMayGo } from '../../src/reconcile/edge-hold.ts';
import { sampleReservation } from '../support/fixtures.ts';

const now = new Date('2026-12-03T12:00:00Z');
const secondsAgo = (s: number) => new Date(now.getTime() - s * 1000).toISOString();
const traffic = { cluster: 'eks-green', weight: 0, dns: { hostedZoneId: 'Z1', name: 'api.example.com', ttl: 30 } };

function weighted(status: Partial<NonNullable<NonNullable<Reservation['status']>['traffic']>> | undefined): Reservation {
  const cr = sampleReservation({ traffic });
  if (status) cr.status = { traffic: { recordName: 'api.example.com', setIdentifier: 'eks-green', desiredWeight: 0, ...status } };
  return cr;
}
const ingress = (extra: Partial<KubeObject['metadata']> = {}): KubeObject => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: { name: 'booking', namespace: 'reservations', ...extra },
});
const alive = { desired: true, recordsGone: false, now };

describe('edgeMayGo: nothing sends clients to the edge any more', () => {
  it('is true without spec.traffic (no record points here)', () => {
    expect(edgeMayGo(sampleReservation(), now)).toBe(true);
  });

  it('is false while the weight is above 0, not verified yet, or still PENDING', () => {
    expect(edgeMayGo(weighted(undefined), now)).toBe(false);
    expect(edgeMayGo(weighted({ verifiedWeight: 40, verifiedAt: secondsAgo(600) }), now)).toBe(false);
    expect(edgeMayGo(weighted({ verifiedWeight: 0 }), now)).toBe(false);
    const pending = { id: 'C1', status: 'PENDING' as const, weight: 0, submittedAt: secondsAgo(5) };
    expect(edgeMayGo(weighted({ verifiedWeight: 0, verifiedAt: secondsAgo(600), lastChange: pending }), now)).toBe(false);
  });

  it('waits one TTL after weight 0 was verified, for resolvers to forget the old answer', () => {
    expect(edgeMayGo(weighted({ verifiedWeight: 0, verifiedAt: secondsAgo(29) }), now)).toBe(false);
    expect(edgeMayGo(weighted({ verifiedWeight: 0, verifiedAt: secondsAgo(30) }), now)).toBe(true);
  });
});

describe('edgeHeld: whether the edge carries the hold', () => {
  const carrying = weighted({ verifiedWeight: 60, verifiedAt: secondsAgo(600) });

  it('holds a live edge of a Reservation with spec.traffic, and none without', () => {
    expect(edgeHeld(carrying, ingress(), alive)).toBe(true);
    expect(edgeHeld(sampleReservation(), ingress(), alive)).toBe(false);
  });

  it('keeps holding an edge deleted while clients are still sent to it, and lets it go once none are', () => {
    const deleting = ingress({ deletionTimestamp: secondsAgo(1) });
    expect(edgeHeld(carrying, deleting, alive)).toBe(true);
    expect(edgeHeld(weighted({ verifiedWeight: 0, verifiedAt: secondsAgo(60) }), deleting, alive)).toBe(false);
  });

  it('lets go once the records are gone (or released), and an edge the spec no longer wants', () => {
    expect(edgeHeld(carrying, ingress(), { ...alive, recordsGone: true })).toBe(false);
    expect(edgeHeld(carrying, ingress(), { ...alive, desired: false })).toBe(false);
  });
});

describe('edgeFinalizers: the change to write', () => {
  it('adds the hold beside other finalizers, and removes only it', () => {
    expect(edgeFinalizers(ingress({ finalizers: ['other/x'] }), true)).toEqual(['other/x', EDGE_FINALIZER]);
    expect(edgeFinalizers(ingress({ finalizers: ['other/x', EDGE_FINALIZER] }), false)).toEqual(['other/x']);
  });

  it('writes nothing when the edge is already as wanted', () => {
    expect(edgeFinalizers(ingress({ finalizers: [EDGE_FINALIZER] }), true)).toBeUndefined();
    expect(edgeFinalizers(ingress(), false)).toBeUndefined();
  });

  it('never adds the hold to an edge already being deleted (the API server refuses new finalizers then)', () => {
    expect(edgeFinalizers(ingress({ deletionTimestamp: secondsAgo(1) }), true)).toBeUndefined();
  });
});
