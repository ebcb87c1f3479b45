import { describe, expect, it } from '@jest/globals';
import { TAKE_BACK_ANNOTATION, type TrafficStatus } from '../../src/api/v1alpha1/reservation.ts';
import { iso } from '../../src/kube/time.ts';
import type { DnsRecord } from '../../src/traffic/dns-provider.ts';
import { decideIdle, type IdleInput, TAKE_BACK_AFTER_MS } from '../../src/traffic/idle.ts';
import type { TrafficSpec } from '../../src/traffic/outcome.ts';
import { NO_AFFIX, ownershipLabels } from '../../src/traffic/ownership.ts';
import { currentRecordSet, desiredRecordSet, handedBackValue, withWeightWriter } from '../../src/traffic/record-set.ts';
import { sampleSpec } from '../support/fixtures.ts';

const OWNER = 'reservation-operator-eks-green';
const PEER = 'reservation-operator-eks-blue';
const NOW = new Date('2026-11-25T10:00:00Z');
const key = { name: 'api.example.com', setIdentifier: 'eks-green', affix: NO_AFFIX };
const record = { target: 'green.elb.example.com', ttl: 30, owner: OWNER, resource: 'reservation/ns/booking' };

const spec = (weight: number): TrafficSpec =>
  sampleSpec({
    traffic: { cluster: 'eks-green', dns: { hostedZoneId: 'Z1', name: 'api.example.com', ttl: 30 }, weight, target: record.target },
  }).traffic as TrafficSpec;

/** Our record set in Route53 at `weight`, its TXT marked with `writer` when a peer's cutover writes it. */
function ours(weight: number, writer?: string): DnsRecord[] {
  const set = desiredRecordSet(key, { ...record, weight });
  const labels = ownershipLabels(set.txt) ?? {};
  return [set.record, writer ? { ...set.txt, values: [withWeightWriter(labels, writer)] } : set.txt];
}

const peer = (weight: number): DnsRecord => ({
  name: 'api.example.com',
  type: 'CNAME',
  setIdentifier: 'eks-blue',
  weight,
  ttl: 30,
  values: ['blue.elb.example.com'],
});

const baseStatus = (extra: Partial<TrafficStatus> = {}): TrafficStatus => ({
  recordName: 'api.example.com',
  setIdentifier: 'eks-green',
  owner: OWNER,
  desiredWeight: 10,
  ...extra,
});

function input(weight: number, seen: DnsRecord[], extra: Partial<IdleInput> = {}): IdleInput {
  return {
    spec: spec(weight),
    status: baseStatus(),
    key,
    owner: OWNER,
    target: record.target,
    resource: record.resource,
    seen,
    current: currentRecordSet(key, seen),
    deleting: false,
    services: { queryApi: { desired: 4, ready: 4, available: 4, updated: 4 } },
    now: NOW,
    ...extra,
  };
}

describe('the idle record', () => {
  it('is a no-op when Route53 already has it as the spec says', () => {
    const seen = [...ours(10), peer(90)];
    const decision = decideIdle(input(10, seen, { status: baseStatus({ verifiedWeight: 10, verifiedAt: '2026-11-25T09:00:00.000Z' }) }));
    expect(decision).toMatchObject({ kind: 'inSync', weight: 10, events: [] });
    expect(decision.status).toEqual(baseStatus({ verifiedWeight: 10, verifiedAt: '2026-11-25T09:00:00.000Z' }));
  });

  it('is created when absent, and changed when its weight differs, forgetting a weight no longer served', () => {
    expect(decideIdle(input(10, [peer(90)]))).toMatchObject({ kind: 'change', weight: 10 });
    const changed = decideIdle(input(40, [...ours(10), peer(90)], { status: baseStatus({ verifiedWeight: 20, verifiedAt: 'x' }) }));
    expect(changed).toMatchObject({ kind: 'change', weight: 40, desired: { record: { weight: 40 } } });
    expect(changed.status).toEqual(baseStatus({ desiredWeight: 40 }));
  });

  it("rebalances this cluster's keep-alive connections once per step the peer's cutover lowers its share, with an event", () => {
    const asking = (weight: number, from: number, to: number): DnsRecord[] => {
      const set = desiredRecordSet(key, { ...record, weight });
      const labels = ownershipLabels(set.txt) ?? {};
      return [set.record, { ...set.txt, values: [withWeightWriter(labels, PEER, { rebalance: { from, to } })] }, peer(100 - weight)];
    };
    const first = decideIdle(input(10, asking(75, 90, 75)));
    const rebalance = { fromShare: 90, toShare: 75, fraction: 0.6667, since: iso(NOW) };
    expect(first.status.handover).toMatchObject({ by: PEER, weight: 75, rebalance });
    expect(first.events.map((e) => e.reason)).toEqual(['WeightsHandedOver', 'ConnectionsRebalancing']);
    expect(first.events[1]?.message).toContain('close 66.7% of their keep-alive connections');
    // The same step looked at again: the rebalance under way stays as it began.
    const later = new Date(NOW.getTime() + 30_000);
    const again = decideIdle(input(10, asking(75, 90, 75), { status: first.status, now: later }));
    expect(again.status.handover?.rebalance).toEqual(rebalance);
    expect(again.events).toEqual([]);
    // The next step: a new one from when it was seen.
    const next = decideIdle(input(10, asking(50, 75, 50), { status: again.status, now: later }));
    expect(next.status.handover?.rebalance).toEqual({ fromShare: 75, toShare: 50, fraction: 0.6667, since: iso(later) });
    // Without the label (the cutover's drain.connectionClose off): nothing closes.
    expect(decideIdle(input(10, [...ours(75, PEER), peer(25)])).status.handover?.rebalance).toBeUndefined();
  });

  it('leaves the weight to a peer that writes it (a handover), holding the replicas warm', () => {
    const seen = [...ours(30, PEER), peer(70)];
    const first = decideIdle(input(10, seen));
    expect(first).toMatchObject({ kind: 'handedOver', writer: PEER, weight: 30 });
    expect(first.status).toMatchObject({
      handover: { by: PEER, since: iso(NOW), weight: 30 },
      minReplicas: { queryApi: 4 },
      desiredWeight: 30,
      verifiedWeight: 30,
    });
    expect(first.events.map((e) => e.reason)).toEqual(['WeightsHandedOver']);

    // Still handed over on the next read: no second event, the warm replicas of when it began.
    const again = decideIdle(input(10, [...ours(60, PEER), peer(40)], { status: first.status, services: {} }));
    expect(again).toMatchObject({ kind: 'handedOver', weight: 60, events: [] });
    expect(again.status).toMatchObject({ handover: { since: iso(NOW), weight: 60 }, minReplicas: { queryApi: 4 } });
  });

  it("raises the replicas held to what the writer's aborting cutover asks for through the TXT, never lowering them", () => {
    const set = desiredRecordSet(key, { ...record, weight: 50 });
    const asking = (floors: string) => [
      set.record,
      { ...set.txt, values: [withWeightWriter(ownershipLabels(set.txt) ?? {}, PEER, { floors })] },
      peer(50),
    ];
    const held = decideIdle(input(10, [...ours(50, PEER), peer(50)])).status;
    const raised = decideIdle(input(10, asking('query-api:12;reservation-api:3'), { status: held, services: {} }));
    expect(raised.status.minReplicas).toEqual({ queryApi: 12, reservationApi: 3 });
    expect(raised.events).toEqual([
      {
        type: 'Normal',
        reason: 'TakeBackPreScaling',
        message: `${PEER}'s cutover is aborting and asks for query-api 12, reservation-api 3 to take the traffic back: minReplicas raised`,
      },
    ]);
    // Asked again, or asked for less: nothing new, nothing lowered.
    const again = decideIdle(input(10, asking('query-api:2'), { status: raised.status, services: {} }));
    expect(again.status.minReplicas).toEqual({ queryApi: 12, reservationApi: 3 });
    expect(again.events).toEqual([]);
  });

  it("keeps the peer's weight as an override once the peer hands the record back", () => {
    const handedOver = baseStatus({
      handover: { by: PEER, since: iso(NOW), weight: 0 },
      minReplicas: { queryApi: 4 },
      desiredWeight: 0,
    });
    const decision = decideIdle(input(100, [...ours(0), peer(100)], { status: handedOver }));
    expect(decision).toMatchObject({ kind: 'inSync', weight: 0 });
    expect(decision.status.weightOverride).toEqual({ weight: 0, specWeight: 100, by: PEER });
    expect(decision.status.handover).toBeUndefined();
    expect(decision.status.minReplicas).toBeUndefined();
    expect(decision.events.map((e) => e.reason)).toEqual(['WeightsHandedBack']);
  });

  it('sees a hand-back it never saw the handover of (a short cutover between two read-backs) by the label it leaves', () => {
    // We last verified 100; a peer's whole cutover ran and handed us back at 0 in between.
    const handedBack = (weight: number): DnsRecord[] => {
      const [record, txt] = ours(weight);
      return [record as DnsRecord, { ...(txt as DnsRecord), values: [handedBackValue(ownershipLabels(txt) ?? {}, PEER)] }];
    };
    const verified100 = baseStatus({ desiredWeight: 100, verifiedWeight: 100, verifiedAt: '2026-11-25T09:00:00Z' });
    const decision = decideIdle(input(100, [...handedBack(0), peer(100)], { status: verified100 }));
    expect(decision).toMatchObject({ kind: 'change', weight: 0 }); // the label goes, the weight stays 0
    expect(decision.status.weightOverride).toEqual({ weight: 0, specWeight: 100, by: PEER });
    expect(decision.events.map((e) => e.reason)).toEqual(['WeightsHandedBack']);
    if (decision.kind !== 'change') throw new Error('not a change');
    expect(ownershipLabels(decision.desired.txt)?.['handed-back-by']).toBeUndefined();

    // A label left behind once our weight is verified means nothing: the spec's weight is written.
    const verified0 = baseStatus({ desiredWeight: 0, verifiedWeight: 0, verifiedAt: '2026-11-25T10:00:00Z' });
    expect(decideIdle(input(30, [...handedBack(0), peer(100)], { status: verified0 }))).toMatchObject({ kind: 'change', weight: 30 });

    // An earlier hand-back (an aborted cutover) left us at 100 as an override; the peer's next
    // cutover ran whole between two looks and handed us back at 0: 0 it is, not the old override.
    const override100 = baseStatus({
      weightOverride: { weight: 100, specWeight: 0, by: PEER },
      desiredWeight: 100,
      verifiedWeight: 100,
      verifiedAt: '2026-11-25T09:00:00Z',
    });
    const again = decideIdle(input(0, [...handedBack(0), peer(100)], { status: override100 }));
    expect(again).toMatchObject({ kind: 'change', weight: 0 });
    expect(again.status.weightOverride).toEqual({ weight: 0, specWeight: 0, by: PEER });
    expect(again.events.map((e) => e.reason)).toEqual(['WeightsHandedBack']);
  });

  it('ends an override when spec.traffic.weight changes, and keeps it while it does not', () => {
    const override = baseStatus({ weightOverride: { weight: 0, specWeight: 100, by: PEER }, desiredWeight: 0 });
    const kept = decideIdle(input(100, [...ours(0), peer(100)], { status: override }));
    expect(kept).toMatchObject({ kind: 'inSync', weight: 0, status: { weightOverride: { weight: 0 } } });

    const ended = decideIdle(input(30, [...ours(0), peer(100)], { status: override }));
    expect(ended).toMatchObject({ kind: 'change', weight: 30 });
    expect(ended.status.weightOverride).toBeUndefined();
  });

  describe('taking the record back from a writer that is gone', () => {
    const handedOverAt = (minutesAgo: number) =>
      baseStatus({ handover: { by: PEER, since: iso(new Date(NOW.getTime() - minutesAgo * 60_000)), weight: 30 } });
    const seen = [...ours(30, PEER), peer(70)];

    it('refuses while the handover is younger than the timeout, and says from when it is allowed', () => {
      const early = decideIdle(input(10, seen, { status: handedOverAt(4), takeBack: PEER }));
      expect(early).toMatchObject({
        kind: 'handedOver',
        takeBackRefused: `${TAKE_BACK_ANNOTATION}: the handover is younger than 10 minutes; allowed from 2026-11-25T10:06:00Z`,
      });
      expect(early.events).toEqual([]);
    });

    it('refuses when the annotation names another writer', () => {
      expect(decideIdle(input(10, seen, { status: handedOverAt(60), takeBack: 'someone-else' }))).toMatchObject({
        kind: 'handedOver',
        takeBackRefused: `${TAKE_BACK_ANNOTATION} names "someone-else", but the weight writer is "${PEER}"`,
      });
    });

    it('takes it back after the timeout: the label goes, the weight stays where the writer left it until the spec changes', () => {
      const taken = decideIdle(input(10, seen, { status: handedOverAt(TAKE_BACK_AFTER_MS / 60_000), takeBack: PEER }));
      expect(taken).toMatchObject({ kind: 'change', weight: 30 });
      if (taken.kind !== 'change') throw new Error('not a change');
      expect(ownershipLabels(taken.desired.txt)?.['weight-writer']).toBeUndefined();
      expect(taken.status.handover).toBeUndefined();
      expect(taken.status.weightOverride).toEqual({ weight: 30, specWeight: 10, by: PEER });
      expect(taken.events).toEqual([
        {
          type: 'Warning',
          reason: 'WeightTakenBack',
          message: `api.example.com (eks-green): taken back from ${PEER}, whose cutover had written its weight since 2026-11-25T09:50:00Z (${TAKE_BACK_ANNOTATION})`,
        },
      ]);
    });
  });

  it('never gives a Reservation being deleted its record back', () => {
    expect(decideIdle(input(10, [peer(90)], { deleting: true }))).toMatchObject({ kind: 'removedWhileDeleting', weight: 10 });
    // While its record is still there, it follows the spec (down to 0, so the deletion can go on).
    expect(decideIdle(input(0, [...ours(10), peer(90)], { deleting: true }))).toMatchObject({ kind: 'change', weight: 0 });
  });

  it('rejects weights that would leave no live record of the name', () => {
    const decision = decideIdle(input(0, [...ours(10), peer(0)], { status: baseStatus({ verifiedWeight: 10, verifiedAt: 'x' }) }));
    expect(decision).toMatchObject({ kind: 'rejected', weight: 0 });
    expect(decision.kind === 'rejected' && decision.message).toContain('every weighted record of api.example.com would have weight 0');
    expect(decision.status.verifiedWeight).toBe(10); // what Route53 serves is still what was verified
  });
});
