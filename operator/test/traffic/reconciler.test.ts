import { describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import type { Reservation } from '../../src/api/v1alpha1/reservation.ts';
import type { DnsRecord } from '../../src/traffic/dns-provider.ts';
import { type Labels, NO_AFFIX, ownershipLabels, ownershipValue } from '../../src/traffic/ownership.ts';
import { createTrafficReconciler, type TrafficOutcome } from '../../src/traffic/reconciler.ts';
import { desiredRecordSet, handedBackValue, withWeightWriter } from '../../src/traffic/record-set.ts';
import { createFakeDnsProvider } from '../support/fake-dns-provider.ts';
import { sampleReservation } from '../support/fixtures.ts';

/**
 * The traffic reconciler against an in-memory Route53 (its logic: what it reads, decides and
 * writes, and when it comes back). The same paths against moto: traffic.int.test.ts.
 */

const ZONE = 'ZFAKE1';
const NAME = 'api.example.com';
const OWNER = 'reservation-operator-eks-green';
const PEER = 'reservation-operator-eks-blue';
const DRIFT_CHECK_MS = 60_000;
const PENDING_POLL_MS = 5_000;

function setup(weight = 10) {
  const dns = createFakeDnsProvider();
  let now = Date.parse('2026-11-25T10:00:00Z');
  const traffic = createTrafficReconciler({
    provider: () => dns,
    ownerId: OWNER,
    logger: pino({ level: 'silent' }),
    now: () => new Date(now),
    driftCheckMs: DRIFT_CHECK_MS,
    pendingPollMs: PENDING_POLL_MS,
  });
  let cr: Reservation = sampleReservation({
    traffic: { cluster: 'eks-green', dns: { hostedZoneId: ZONE, name: NAME, ttl: 30 }, weight, target: 'green.elb.example.com' },
  });
  // The peer's record, as its own operator wrote it: the name is never all-zero.
  const peer = desiredRecordSet(
    { name: NAME, setIdentifier: 'eks-blue', affix: NO_AFFIX },
    { target: 'blue.elb.example.com', ttl: 30, weight: 90, owner: PEER, resource: 'reservation/ns/booking' },
  );
  dns.put(ZONE, peer.record);
  dns.put(ZONE, peer.txt);
  return {
    dns,
    advance: (ms: number) => {
      now += ms;
    },
    /** One reconcile; the Reservation's status then holds what it wrote (as the API server would). */
    async reconcile(): Promise<TrafficOutcome> {
      const outcome = await traffic.reconcile(cr, undefined);
      cr = { ...cr, status: { ...cr.status, traffic: outcome.status } };
      return outcome;
    },
    ours: () => dns.all(ZONE).filter((r) => r.setIdentifier === 'eks-green'),
    /** The peer's cutover sets our weight and marks our TXT as written by it; our TXT as it was before. */
    peerWritesOurWeight(weight: number): DnsRecord {
      const [record, txt] = dns
        .all(ZONE)
        .filter((r) => r.setIdentifier === 'eks-green')
        .sort((a, b) => a.type.localeCompare(b.type));
      if (!record || !txt) throw new Error('no record set of ours');
      dns.put(ZONE, { ...record, weight });
      dns.put(ZONE, { ...txt, weight, values: [withWeightWriter(ownershipLabels(txt) ?? {}, PEER)] });
      return txt;
    },
    /** An SRE sets spec.traffic.cutover. */
    setCutover(cutover: NonNullable<NonNullable<Reservation['spec']['traffic']>['cutover']>) {
      const traffic = cr.spec.traffic as NonNullable<Reservation['spec']['traffic']>;
      cr = {
        ...cr,
        metadata: { ...cr.metadata, generation: (cr.metadata.generation ?? 1) + 1 },
        spec: { ...cr.spec, traffic: { ...traffic, cutover } },
      };
    },
    /** An SRE edits spec.traffic.weight. */
    setWeight(weight: number) {
      const traffic = cr.spec.traffic as NonNullable<Reservation['spec']['traffic']>;
      cr = {
        ...cr,
        metadata: { ...cr.metadata, generation: (cr.metadata.generation ?? 1) + 1 },
        spec: { ...cr.spec, traffic: { ...traffic, weight } },
      };
    },
  };
}

describe('the traffic reconciler, against an in-memory Route53', () => {
  it('creates the idle record and its TXT in one batch, PENDING until Route53 says INSYNC', async () => {
    const t = setup();
    const created = await t.reconcile();
    expect(t.dns.batches).toHaveLength(1);
    expect(t.dns.batches[0]?.changes.map((c) => `${c.action} ${c.record.type}`)).toEqual(['CREATE CNAME', 'CREATE TXT']);
    expect(t.dns.batches[0]?.comment).toBe('reservation-operator: reservation/reservations/booking sets eks-green to weight 10');
    expect(created.condition).toMatchObject({ status: 'False', reason: 'ChangePending' });
    expect(created.requeueAfterMs).toBe(PENDING_POLL_MS);
    expect(created.status).toMatchObject({ desiredWeight: 10, lastChange: { id: '/change/FAKE1', status: 'PENDING', weight: 10 } });
    expect(created.status.verifiedWeight).toBeUndefined();
    expect(created.events).toEqual([
      {
        type: 'Normal',
        reason: 'RecordChanged',
        message:
          'created api.example.com (eks-green): weight - → 10, target green.elb.example.com, TTL 30s, with its ownership TXT, in change /change/FAKE1',
      },
    ]);
    expect(t.ours().map((r) => [r.type, r.weight])).toEqual([
      ['CNAME', 10],
      ['TXT', 10],
    ]);
    expect(ownershipLabels(t.ours().find((r) => r.type === 'TXT'))?.owner).toBe(OWNER);

    // Still PENDING: asked again, nothing written.
    const pending = await t.reconcile();
    expect(pending.condition.reason).toBe('ChangePending');
    expect(t.dns.calls.changeStatus).toBe(1);
    expect(t.dns.batches).toHaveLength(1);

    t.dns.sync();
    const verified = await t.reconcile();
    expect(verified.condition).toMatchObject({ status: 'True', reason: 'RecordInSync' });
    expect(verified.status).toMatchObject({ verifiedWeight: 10, lastChange: { status: 'INSYNC' } });
    expect(verified.events.map((e) => e.reason)).toEqual(['WeightVerified']);
    expect(verified.requeueAfterMs).toBe(DRIFT_CHECK_MS);
    expect(t.dns.batches).toHaveLength(1);
  });

  it('asks Route53 nothing while the record set is settled, and reads it back at the drift check without writing', async () => {
    const t = setup();
    t.dns.startPending = false;
    expect((await t.reconcile()).status.verifiedWeight).toBe(10); // INSYNC at once
    expect((await t.reconcile()).condition.reason).toBe('RecordInSync');
    const reads = t.dns.calls.records;
    const settled = await t.reconcile();
    expect(settled.condition.reason).toBe('RecordInSync');
    expect(t.dns.calls.records).toBe(reads);
    expect(settled.requeueAfterMs).toBe(DRIFT_CHECK_MS); // the clock stood still since the read

    t.advance(DRIFT_CHECK_MS);
    const reread = await t.reconcile();
    expect(t.dns.calls.records).toBe(reads + 1);
    expect(reread).toMatchObject({ condition: { reason: 'RecordInSync' }, events: [] });
    expect(t.dns.batches).toHaveLength(1);
  });

  it('refuses a record set someone else owns, and writes nothing', async () => {
    const t = setup();
    const red = desiredRecordSet(
      { name: NAME, setIdentifier: 'eks-green', affix: NO_AFFIX },
      { target: 'red.elb.example.com', ttl: 30, weight: 5, owner: 'external-dns-red', resource: 'ingress/default/api' },
    );
    t.dns.put(ZONE, red.record);
    t.dns.put(ZONE, red.txt);
    const refused = await t.reconcile();
    expect(refused.condition).toMatchObject({ status: 'False', reason: 'RecordOwnedByOther' });
    expect(refused.condition.message).toContain('owned by "external-dns-red"');
    expect(refused.status.owner).toBe('external-dns-red');
    expect(t.dns.batches).toHaveLength(0);
  });

  it("leaves its weight to a peer's cutover, then keeps the weight the peer left once handed back", async () => {
    const t = setup(100);
    t.dns.startPending = false;
    await t.reconcile();
    // The peer's cutover takes our weight (to 0) and marks our TXT as written by it.
    const txt = t.peerWritesOurWeight(0);
    t.advance(DRIFT_CHECK_MS);
    const handedOver = await t.reconcile();
    expect(handedOver.condition).toMatchObject({ status: 'True', reason: 'WeightsHandedOver' });
    expect(handedOver.status.handover).toMatchObject({ by: PEER, weight: 0 });
    expect(handedOver.events.map((e) => e.reason)).toEqual(['WeightsHandedOver']);
    expect(handedOver.requeueAfterMs).toBe(30_000); // one TTL: notice the hand-back soon
    const written = t.dns.batches.length;

    // The cutover ends: the mark goes, the weight stays where the peer left it.
    t.dns.put(ZONE, { ...txt, weight: 0, values: [ownershipValue(ownershipLabels(txt) ?? {})] });
    t.advance(30_000);
    const back = await t.reconcile();
    expect(back.events.map((e) => e.reason)).toEqual(['WeightsHandedBack']);
    expect(back.status).toMatchObject({ desiredWeight: 0, weightOverride: { weight: 0, specWeight: 100, by: PEER } });
    expect(back.status.handover).toBeUndefined();
    expect(t.dns.batches).toHaveLength(written);
    expect(t.ours().map((r) => r.weight)).toEqual([0, 0]);
  });

  it("keeps the weight a peer's later cutover leaves once its own cutover has ended, whether it saw that cutover or only its hand-back", async () => {
    const t = setup(0);
    t.dns.startPending = false;
    await t.reconcile();
    // Our own cutover from blue, to its end: we at 100, blue handed back at 0.
    t.setCutover({ from: 'eks-blue', steps: [{ setShare: 100 }], drain: { ttls: 1, connectionClose: false } });
    let phase: string | undefined;
    for (let i = 0; i < 20 && phase !== 'Succeeded'; i++) {
      phase = (await t.reconcile()).status.cutover?.phase;
      t.advance(30_000);
    }
    expect(phase).toBe('Succeeded');
    expect(t.ours().map((r) => r.weight)).toEqual([100, 100]);
    const record = () => t.ours().find((r) => r.type === 'CNAME') as DnsRecord;
    const txt = () => t.ours().find((r) => r.type === 'TXT') as DnsRecord;
    const blue = t.dns.all(ZONE).filter((r) => r.setIdentifier === 'eks-blue');
    /** What blue's cutover from us writes: our weight (with `labels` on our TXT), and the rest to blue. */
    const blueWrites = (weight: number, labels: (l: Labels) => string) => {
      const [r, x] = [record(), txt()];
      t.dns.put(ZONE, { ...r, weight });
      t.dns.put(ZONE, { ...x, weight, values: [labels(ownershipLabels(x) ?? {})] });
      for (const b of blue) t.dns.put(ZONE, { ...b, weight: 100 - weight });
    };

    // Blue's cutover back, seen while it runs: left alone, then its end kept.
    blueWrites(40, (l) => withWeightWriter(l, PEER));
    t.advance(DRIFT_CHECK_MS);
    const written = t.dns.batches.length;
    expect((await t.reconcile()).condition).toMatchObject({ status: 'True', reason: 'WeightsHandedOver' });
    blueWrites(0, (l) => handedBackValue(l, PEER));
    t.advance(30_000);
    const back = await t.reconcile();
    expect(back.status).toMatchObject({ cutover: { phase: 'Succeeded' }, weightOverride: { weight: 0, by: PEER } });
    // Its one batch drops the hand-back's label, at the weight blue left.
    expect(back.events.map((e) => e.reason)).toEqual(['WeightsHandedBack', 'RecordChanged']);
    expect(t.dns.batches.slice(written).flatMap((b) => b.changes.map((c) => c.record.weight))).not.toContain(100);
    t.advance(DRIFT_CHECK_MS);
    await t.reconcile();
    expect(t.ours().map((r) => r.weight)).toEqual([0, 0]);

    // Another cutover of blue's, the whole of it between two of our looks: we see only the label
    // its hand-back leaves, and keep the 60 it left rather than the override's 0 or our cutover's 100.
    blueWrites(60, (l) => handedBackValue(l, PEER));
    t.advance(DRIFT_CHECK_MS);
    const unseen = await t.reconcile();
    expect(unseen.status.weightOverride).toMatchObject({ weight: 60, by: PEER });
    expect(t.ours().map((r) => r.weight)).toEqual([60, 60]);
  });

  it("does not start a cutover while a peer's cutover writes this cluster's weight, and starts it once handed back", async () => {
    const t = setup(100);
    t.dns.startPending = false;
    await t.reconcile();
    // Blue's cutover from us writes our weight and marks our TXT.
    const txt = t.peerWritesOurWeight(40);
    t.advance(DRIFT_CHECK_MS);
    await t.reconcile();
    const written = t.dns.batches.length;
    const blueTxt = () => t.dns.all(ZONE).find((r) => r.setIdentifier === 'eks-blue' && r.type === 'TXT');

    // An SRE asks for the opposite cutover meanwhile: it waits, says why, and writes nothing.
    t.setCutover({ from: 'eks-blue', steps: [{ setShare: 100 }], drain: { ttls: 1, connectionClose: false } });
    const waiting = await t.reconcile();
    expect(waiting.condition).toMatchObject({ status: 'False', reason: 'PeerRecordOwnedByOther' });
    expect(waiting.condition.message).toContain(`the cutover of ${PEER} writes this cluster's weight; this cutover waits`);
    expect(waiting.requeueAfterMs).toBe(30_000);
    expect(waiting.status.handover).toMatchObject({ by: PEER, weight: 40 }); // the idle record's rules keep the handover
    expect(t.dns.batches).toHaveLength(written);
    expect(ownershipLabels(blueTxt())?.['weight-writer']).toBeUndefined();
    expect(t.ours().map((r) => r.weight)).toEqual([40, 40]);

    // Blue's cutover ends and hands our record back: ours starts, and marks blue's TXT.
    t.dns.put(ZONE, { ...txt, weight: 40, values: [handedBackValue(ownershipLabels(txt) ?? {}, PEER)] });
    t.advance(30_000);
    const started = await t.reconcile();
    expect(started.condition.reason).not.toBe('PeerRecordOwnedByOther');
    expect(started.status.cutover?.phase).toBe('Progressing');
    expect(t.dns.batches.length).toBeGreaterThan(written);
    expect(ownershipLabels(blueTxt())?.['weight-writer']).toBe(OWNER);
  });

  it('fails the whole batch when the record changed between its read and its write, and says so', async () => {
    const t = setup();
    t.dns.startPending = false;
    await t.reconcile();
    const records = t.dns.records.bind(t.dns);
    // Someone changes our record right after the reconciler reads it.
    t.dns.records = async (zoneId, names, options) => {
      const seen = await records(zoneId, names, options);
      const [record] = t.ours();
      if (record) t.dns.put(ZONE, { ...record, ttl: 99 });
      return seen;
    };
    t.setWeight(40);
    const refused = await t.reconcile();
    expect(refused.condition).toMatchObject({ status: 'False', reason: 'Route53Error' });
    expect(refused.error).toContain('Route53 refused the change batch');
    expect(t.dns.calls.change).toBe(2);
    expect(t.dns.batches).toHaveLength(1); // only the first, the create
    // Nothing of the refused batch was applied: the TXT still says weight 10.
    expect(t.ours().map((r) => [r.type, r.weight, r.ttl])).toEqual([
      ['CNAME', 10, 99],
      ['TXT', 10, 30],
    ]);
  });
});
