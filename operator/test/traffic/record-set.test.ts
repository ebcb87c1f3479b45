import { describe, expect, it } from '@jest/globals';
import type { DnsRecord } from '../../src/traffic/dns-provider.ts';
import { NO_AFFIX, parseOwnership } from '../../src/traffic/ownership.ts';
import {
  batchChanges,
  currentRecordSet,
  desiredRecordSet,
  drainRequested,
  floorsRequested,
  handedBackValue,
  liveWeightsAfter,
  namesToRead,
  recordSetChanges,
  removalChanges,
  weightWriter,
  withWeightWriter,
} from '../../src/traffic/record-set.ts';

const key = { name: 'api.example.com', setIdentifier: 'eks-green', affix: NO_AFFIX };
const want = {
  target: 'green.elb.example.com',
  ttl: 30,
  weight: 10,
  owner: 'reservation-operator-eks-green',
  resource: 'reservation/ns/booking',
};

describe("this cluster's record set", () => {
  it('is a weighted CNAME and a TXT with the same set identifier and weight', () => {
    expect(desiredRecordSet(key, want)).toEqual({
      record: {
        name: 'api.example.com',
        type: 'CNAME',
        setIdentifier: 'eks-green',
        weight: 10,
        ttl: 30,
        values: ['green.elb.example.com'],
      },
      txt: {
        name: 'cname-api.example.com',
        type: 'TXT',
        setIdentifier: 'eks-green',
        weight: 10,
        ttl: 30,
        values: ['"heritage=external-dns,external-dns/owner=reservation-operator-eks-green,external-dns/resource=reservation/ns/booking"'],
      },
    });
    expect(namesToRead(key)).toEqual(['api.example.com', 'cname-api.example.com']);
  });

  it('is created in one batch, record and TXT together', () => {
    const desired = desiredRecordSet(key, want);
    expect(recordSetChanges({}, desired)).toEqual([
      { action: 'CREATE', record: desired.record },
      { action: 'CREATE', record: desired.txt },
    ]);
  });

  it('changes weight by DELETE-exactly-as-read then UPSERT of both, so a concurrent change fails the whole batch', () => {
    const before = desiredRecordSet(key, want);
    const after = desiredRecordSet(key, { ...want, weight: 50 });
    expect(recordSetChanges(before, after)).toEqual([
      { action: 'DELETE', record: before.record },
      { action: 'DELETE', record: before.txt },
      { action: 'UPSERT', record: after.record },
      { action: 'UPSERT', record: after.txt },
    ]);
  });

  it('needs no change when Route53 has it (a trailing dot on the target is the same name)', () => {
    const desired = desiredRecordSet(key, want);
    const live = { ...desired, record: { ...desired.record, values: ['green.elb.example.com.'] } };
    expect(recordSetChanges(live, desired)).toEqual([]);
  });

  it('picks our records out of everything at the names, and lists the live weights after a change', () => {
    const mine = desiredRecordSet(key, want);
    const blue: DnsRecord = { ...mine.record, setIdentifier: 'eks-blue', weight: 90, values: ['blue.elb.example.com'] };
    const seen = [blue, mine.record, mine.txt, { ...mine.txt, setIdentifier: 'eks-blue' }];
    expect(currentRecordSet(key, seen)).toEqual(mine);
    expect(liveWeightsAfter(key, seen, 0)).toEqual({ 'eks-blue': 90, 'eks-green': 0 });
    expect(removalChanges(mine)).toEqual([
      { action: 'DELETE', record: mine.record },
      { action: 'DELETE', record: mine.txt },
    ]);
  });
});

describe('a cutover batch over two record sets', () => {
  const peerKey = { ...key, setIdentifier: 'eks-blue' };
  const peerWant = { ...want, target: 'blue.elb.example.com', owner: 'reservation-operator-eks-blue', weight: 90 };

  it('deletes everything first, then writes: one atomic batch for both sets', () => {
    const ours = desiredRecordSet(key, want);
    const peer = desiredRecordSet(peerKey, peerWant);
    const changes = batchChanges([
      [ours, desiredRecordSet(key, { ...want, weight: 50 })],
      [peer, desiredRecordSet(peerKey, { ...peerWant, weight: 50 })],
    ]);
    expect(changes.map((c) => `${c.action} ${c.record.type} ${c.record.setIdentifier} ${c.record.weight}`)).toEqual([
      'DELETE CNAME eks-green 10',
      'DELETE TXT eks-green 10',
      'DELETE CNAME eks-blue 90',
      'DELETE TXT eks-blue 90',
      'UPSERT CNAME eks-green 50',
      'UPSERT TXT eks-green 50',
      'UPSERT CNAME eks-blue 50',
      'UPSERT TXT eks-blue 50',
    ]);
    expect(batchChanges([[ours, ours]])).toEqual([]);
  });

  it('marks and unmarks the weight writer in the ownership TXT, keeping the other labels', () => {
    const labels = { owner: 'reservation-operator-eks-blue', resource: 'ingress/default/api' };
    const marked = withWeightWriter(labels, 'reservation-operator-eks-green');
    expect(marked).toBe(
      '"heritage=external-dns,external-dns/owner=reservation-operator-eks-blue,external-dns/resource=ingress/default/api,' +
        'external-dns/weight-writer=reservation-operator-eks-green"',
    );
    const txt = { name: 'cname-api.example.com', type: 'TXT', values: [marked] };
    expect(weightWriter(txt)).toBe('reservation-operator-eks-green');
    expect(withWeightWriter({ ...labels, 'weight-writer': 'x' }, undefined)).toBe(
      '"heritage=external-dns,external-dns/owner=reservation-operator-eks-blue,external-dns/resource=ingress/default/api"',
    );
    expect(weightWriter({ ...txt, values: ['"v=spf1 -all"'] })).toBeUndefined();
    // An aborting cutover's floors ride along with the writer too, and go with it and with the hand-back.
    const asking = withWeightWriter(labels, 'reservation-operator-eks-green', { floors: 'query-api:12' });
    expect(floorsRequested({ ...txt, values: [asking] })).toBe('query-api:12');
    expect(withWeightWriter(parseOwnership(asking) ?? {}, undefined)).not.toContain('min-replicas');
    expect(handedBackValue(parseOwnership(asking) ?? {}, 'reservation-operator-eks-green')).not.toContain('min-replicas');
    // Draining: the drain request rides along with the writer, and goes with it.
    const draining = withWeightWriter(labels, 'reservation-operator-eks-green', { drain: true });
    expect(draining).toContain('external-dns/drain=connection-close');
    expect(drainRequested({ ...txt, values: [draining] })).toBe(true);
    expect(drainRequested(txt)).toBe(false);
    expect(withWeightWriter(parseOwnership(draining) ?? {}, undefined)).toBe(
      '"heritage=external-dns,external-dns/owner=reservation-operator-eks-blue,external-dns/resource=ingress/default/api"',
    );
    expect(weightWriter(undefined)).toBeUndefined();
  });
});
