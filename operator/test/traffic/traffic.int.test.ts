import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Route53Client } from '@aws-sdk/client-route-53';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import {
  createZone,
  harnessEnv,
  kubeBinary,
  listRecords,
  putWeighted,
  type SeenRecordSet,
  startRoute53AwsStandIn,
  upsertRecord,
  waitUntil,
} from '@reservations/testkit';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { API_VERSION, KIND, RELEASE_RECORDS_ANNOTATION, type Reservation } from '../../src/api/v1alpha1/reservation.ts';
import { createKubeClient, isNotFound, PATCH } from '../../src/kube/client.ts';
import { RESOURCE_TYPES, resourcePath } from '../../src/kube/resources.ts';
import { startManager } from '../../src/manager.ts';
import { EDGE_FINALIZER } from '../../src/reconcile/edge-hold.ts';
import { FINALIZER } from '../../src/reconcile/reconciler.ts';
import type { DnsProvider } from '../../src/traffic/dns-provider.ts';
import { defaultOwnerId } from '../../src/traffic/ownership.ts';
import { createRoute53Provider } from '../../src/traffic/route53/provider.ts';
import { sampleSpec } from '../support/fixtures.ts';
import { createTestNamespace, installCrds, testKubeConfig } from '../support/kube.ts';

const kc = testKubeConfig();
const kube = createKubeClient(kc);
const route53 = new Route53Client({}); // straight to moto, through AWS_ENDPOINT_URL_ROUTE_53
let proxy: Awaited<ReturnType<typeof startRoute53AwsStandIn>>;
let namespace: string;
let manager: Awaited<ReturnType<typeof startManager>>;
let zone: { id: string; name: string };
let api: string;
/** The owner id the operator picks by default in this cluster: the set identifier and the start of kube-system's UID. */
let greenOwner: string;
/** How many more times Route53 changes look PENDING (moto's are INSYNC at once; real ones take up to a minute). */
let pendingPolls = 0;
/** While set, every Route53 call fails as it does once the operator's IAM role is gone. */
let accessGone = false;
const accessDenied = () =>
  Object.assign(new Error('User: arn:aws:sts::123456789012:assumed-role/gone/operator is not authorized to perform this action'), {
    name: 'AccessDenied',
  });
const registry = new Registry();
/** Reconciles finished so far (controller_runtime_reconcile_total, all results). */
const reconciles = async () =>
  (await registry.getSingleMetric('controller_runtime_reconcile_total')?.get())?.values.reduce((sum, v) => sum + v.value, 0) ?? 0;

/**
 * The real Route53 provider (against moto), except that while `pendingPolls` > 0 new changes and
 * GetChange report PENDING, as Route53 does until every server has a change: moto cannot.
 */
function pendingInjectingProvider(real: DnsProvider): DnsProvider {
  return {
    async records(zoneId, names) {
      if (accessGone) throw accessDenied();
      return real.records(zoneId, names);
    },
    async change(zoneId, changes, comment) {
      if (accessGone) throw accessDenied();
      const result = await real.change(zoneId, changes, comment);
      return pendingPolls > 0 ? { ...result, status: 'PENDING' } : result;
    },
    async changeStatus(id) {
      if (accessGone) throw accessDenied();
      const status = await real.changeStatus(id);
      if (pendingPolls > 0) {
        pendingPolls -= 1;
        return 'PENDING';
      }
      return status;
    },
  };
}

// biome-ignore lint/suspicious/noExplicitAny: the assertions read deep into plain JSON objects
type Json = any;
const path = (name?: string) => resourcePath(RESOURCE_TYPES.Reservation, namespace, name);
const reservation = (name: string) => kube.request<Reservation & Json>('GET', path(name));
/** Whether `read` finds the object gone (404). */
const absent = async (read: () => Promise<unknown>) => {
  try {
    await read();
    return false;
  } catch (err) {
    if (isNotFound(err)) return true;
    throw err;
  }
};
const gone = (name: string) => absent(() => reservation(name));
const condition = async (name: string, type: string) => (await reservation(name)).status?.conditions?.find((c: Json) => c.type === type);
const patchSpec = (name: string, traffic: Record<string, unknown>) =>
  kube.request('PATCH', path(name), { body: { spec: { traffic } }, contentType: PATCH.merge });
const changeBatches = () => proxy.calls.filter((c) => c.method === 'POST' && c.path.endsWith('/rrset') && !c.throttled);

async function kubectl(...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(kubeBinary('kubectl'), [...args, '-n', namespace], {
    env: { ...process.env, KUBECONFIG: harnessEnv('KUBECONFIG') },
  });
  return stdout;
}
const events = async (reason: string) =>
  (
    JSON.parse(await kubectl('get', 'events', '--field-selector', `reason=${reason}`, '-o', 'json')) as { items: { message: string }[] }
  ).items.map((e) => e.message);

async function create(name: string, traffic: Record<string, unknown>) {
  await kube.request('POST', path(), { body: { apiVersion: API_VERSION, kind: KIND, metadata: { name }, spec: sampleSpec({ traffic }) } });
}

beforeAll(async () => {
  await installCrds(kc);
  namespace = await createTestNamespace(kc, 'traffic');
  const kubeSystem = await kube.request<Json>('GET', resourcePath(RESOURCE_TYPES.Namespace, undefined, 'kube-system'));
  greenOwner = defaultOwnerId('eks-green', kubeSystem.metadata.uid);
  proxy = await startRoute53AwsStandIn();
  zone = await createZone(route53);
  api = `api.${zone.name}`;
  // The peer cluster's record, as its own operator wrote it: the name is never all-zero.
  await putWeighted(route53, zone.id, {
    name: api,
    setIdentifier: 'eks-blue',
    weight: 90,
    target: 'blue.elb.example.com',
    owner: 'reservation-operator-eks-blue',
  });
  manager = await startManager({
    kc,
    namespace,
    workers: 2,
    resyncMs: 60_000,
    identity: 'test',
    logger: pino({ level: 'warn' }),
    registry,
    traffic: {
      provider: (gate) =>
        pendingInjectingProvider(
          createRoute53Provider({
            client: new Route53Client({ endpoint: proxy.url, maxAttempts: 1 }),
            gate: { ...gate, baseDelayMs: 50, qps: 20, burst: 20 },
          }),
        ),
      pendingPollMs: 200,
    },
  });
});
afterAll(async () => {
  await manager?.stop();
  await proxy?.close();
  route53.destroy();
});

describe("this cluster's weighted Route53 record", () => {
  it('creates the weighted CNAME and its ExternalDNS ownership TXT, and shows the verified weight', async () => {
    await create('booking', {
      cluster: 'eks-green',
      dns: { hostedZoneId: zone.id, name: api, ttl: 2 },
      weight: 10,
      target: 'green.elb.example.com',
    });
    await waitUntil('weight 10 verified', async () => (await reservation('booking')).status?.traffic?.verifiedWeight === 10);

    const records = await listRecords(route53, zone.id);
    expect(records.filter((r) => r.setIdentifier === 'eks-green')).toEqual(
      expect.arrayContaining([
        { name: api, type: 'CNAME', setIdentifier: 'eks-green', weight: 10, ttl: 2, values: ['green.elb.example.com'] },
        {
          name: `cname-${api}`,
          type: 'TXT',
          setIdentifier: 'eks-green',
          weight: 10,
          ttl: 2,
          values: [`"heritage=external-dns,external-dns/owner=${greenOwner},external-dns/resource=reservation/${namespace}/booking"`],
        },
      ]),
    );
    expect(records.filter((r) => r.setIdentifier === 'eks-green')).toHaveLength(2);
    expect(records.find((r) => r.setIdentifier === 'eks-blue' && r.type === 'CNAME')?.weight).toBe(90); // the peer's is untouched

    const cr = await reservation('booking');
    expect(cr.status.traffic).toMatchObject({
      recordName: api,
      setIdentifier: 'eks-green',
      target: 'green.elb.example.com',
      owner: greenOwner,
      desiredWeight: 10,
      verifiedWeight: 10,
      lastChange: { status: 'INSYNC', weight: 10 },
    });
    expect(cr.status.traffic.lastChange.id).toMatch(/\S/);
    expect(await condition('booking', 'TrafficReady')).toMatchObject({ status: 'True', reason: 'RecordInSync' });
    expect(cr.metadata.finalizers).toContain(FINALIZER);
    expect(await kubectl('get', 'rsv', 'booking')).toMatch(
      /^NAME\s+READY\s+REPLICAS\s+WEIGHT\s+PHASE\s+AGE\nbooking\s+\S+\s+\S+\s+10\s+Idle\s+/,
    );
    // Events are recorded without blocking the reconcile: this one may land after the status.
    await waitUntil('a RecordChanged event', async () =>
      (await events('RecordChanged')).some((m) => m.includes(`created ${api} (eks-green): weight - → 10`)),
    );
  });

  it('makes no Route53 call while the record set is settled, however often the Reservation is reconciled', async () => {
    await waitUntil('settled', async () => (await condition('booking', 'TrafficReady'))?.reason === 'RecordInSync');
    const before = proxy.calls.length;
    const reconciled = await reconciles();
    for (let i = 0; i < 5; i++) {
      // A metadata change wakes a reconcile without changing the spec.
      await kube.request('PATCH', path('booking'), { body: { metadata: { annotations: { poke: String(i) } } }, contentType: PATCH.merge });
    }
    await waitUntil('the pokes are reconciled', async () => (await reconciles()) >= reconciled + 2);
    expect(proxy.calls.slice(before)).toEqual([]);
  });

  it('changes the weight in one batch (record and TXT together) and shows it verified after INSYNC', async () => {
    const before = changeBatches().length;
    await patchSpec('booking', { weight: 50 });
    await waitUntil('weight 50 verified', async () => (await reservation('booking')).status?.traffic?.verifiedWeight === 50);

    const batches = changeBatches().slice(before);
    expect(batches).toHaveLength(1);
    const actions = [
      ...(batches[0]?.body ?? '').matchAll(/<Action>(\w+)<\/Action>\s*<ResourceRecordSet>\s*<Name>([^<]+)<\/Name>\s*<Type>(\w+)/g),
    ].map((m) => `${m[1]} ${m[3]} ${m[2]}`);
    expect(actions).toEqual([`DELETE CNAME ${api}.`, `DELETE TXT cname-${api}.`, `UPSERT CNAME ${api}.`, `UPSERT TXT cname-${api}.`]);
    const mine = (await listRecords(route53, zone.id)).filter((r) => r.setIdentifier === 'eks-green');
    expect(mine.map((r) => [r.type, r.weight])).toEqual(
      expect.arrayContaining([
        ['CNAME', 50],
        ['TXT', 50],
      ]),
    );
    expect(mine).toHaveLength(2);
    expect((await reservation('booking')).status.traffic).toMatchObject({
      desiredWeight: 50,
      verifiedWeight: 50,
      lastChange: { status: 'INSYNC', weight: 50 },
    });
  });

  it('counts a change as applied only once GetChange says INSYNC, polling without holding a worker', async () => {
    pendingPolls = Number.POSITIVE_INFINITY; // until the test has seen the PENDING state
    await patchSpec('booking', { weight: 55 });
    await waitUntil('the change is submitted', async () => (await reservation('booking')).status?.traffic?.lastChange?.weight === 55);
    const pending = (await reservation('booking')).status;
    expect(pending.traffic).toMatchObject({ desiredWeight: 55, verifiedWeight: 50, lastChange: { status: 'PENDING', weight: 55 } });
    expect(pending.conditions.find((c: Json) => c.type === 'TrafficReady')).toMatchObject({
      status: 'False',
      reason: 'ChangePending',
      message: `waiting for Route53 change ${pending.traffic.lastChange.id} (weight 55) to be INSYNC`,
    });
    expect(await kubectl('get', 'rsv', 'booking')).toMatch(/\nbooking\s+\S+\s+\S+\s+50\s+Idle/);
    const polls = proxy.calls.filter((c) => c.path.includes('/change/')).length;
    await waitUntil('GetChange polled again', async () => proxy.calls.filter((c) => c.path.includes('/change/')).length > polls + 2);
    expect((await reservation('booking')).status.traffic).toMatchObject({ verifiedWeight: 50, lastChange: { status: 'PENDING' } });

    pendingPolls = 0; // Route53 has it everywhere now

    await waitUntil('weight 55 verified', async () => (await reservation('booking')).status?.traffic?.verifiedWeight === 55);
    expect((await reservation('booking')).status.traffic.lastChange).toMatchObject({ status: 'INSYNC', weight: 55 });
    expect(await condition('booking', 'TrafficReady')).toMatchObject({ status: 'True', reason: 'RecordInSync' });
    await waitUntil('a WeightVerified event', async () => (await events('WeightVerified')).some((m) => m.includes('weight 55')));
  });

  it('backs off when Route53 throttles, and completes', async () => {
    const before = proxy.calls.length;
    proxy.throttle(3);
    await patchSpec('booking', { weight: 60 });
    await waitUntil('weight 60 verified', async () => (await reservation('booking')).status?.traffic?.verifiedWeight === 60);
    const calls = proxy.calls.slice(before);
    expect(calls.filter((c) => c.throttled)).toHaveLength(3);
    expect(calls.filter((c) => c.method === 'POST' && c.path.endsWith('/rrset') && !c.throttled)).toHaveLength(1);
    expect((await listRecords(route53, zone.id)).find((r) => r.setIdentifier === 'eks-green' && r.type === 'CNAME')?.weight).toBe(60);
    const requests = await registry.getSingleMetric('route53_requests_total')?.get();
    const throttled = requests?.values.filter((v) => v.labels.result === 'Throttling').reduce((sum, v) => sum + v.value, 0);
    expect(throttled).toBe(3);
  });

  it("refuses a record set another owner's TXT claims, reports the owner and leaves it untouched", async () => {
    await putWeighted(route53, zone.id, {
      name: api,
      setIdentifier: 'eks-red',
      weight: 5,
      target: 'red.elb.example.com',
      owner: 'external-dns-red',
    });
    const before = (await listRecords(route53, zone.id)).filter((r) => r.setIdentifier === 'eks-red');
    const batches = changeBatches().length;
    await create('intruder', {
      cluster: 'eks-red',
      dns: { hostedZoneId: zone.id, name: api, ttl: 30 },
      weight: 200,
      target: 'intruder.elb.example.com',
    });
    await waitUntil('TrafficReady False', async () => (await condition('intruder', 'TrafficReady'))?.status === 'False');

    const held = await condition('intruder', 'TrafficReady');
    expect(held).toMatchObject({ reason: 'RecordOwnedByOther' });
    expect(held.message).toBe(
      `not touching ${api}: ${api} (set identifier eks-red) is owned by "external-dns-red" (its ExternalDNS ownership TXT record says so)`,
    );
    expect((await reservation('intruder')).status.traffic).toMatchObject({ owner: 'external-dns-red', desiredWeight: 200 });
    expect((await reservation('intruder')).status.traffic.verifiedWeight).toBeUndefined();
    await waitUntil('a RecordOwnedByOther event', async () =>
      (await events('RecordOwnedByOther')).some((m) => m.includes('external-dns-red')),
    );
    expect((await listRecords(route53, zone.id)).filter((r) => r.setIdentifier === 'eks-red')).toEqual(before);
    expect(changeBatches()).toHaveLength(batches);

    // Its deletion leaves the other owner's records alone too.
    await kube.request('DELETE', path('intruder'));
    await waitUntil('intruder gone', () => gone('intruder'));
    expect((await listRecords(route53, zone.id)).filter((r) => r.setIdentifier === 'eks-red')).toEqual(before);
  });

  it('refuses a weight that would leave every record of the name at 0', async () => {
    const lonely = `lonely.${zone.name}`;
    await create('lonely', {
      cluster: 'eks-green',
      dns: { hostedZoneId: zone.id, name: lonely, ttl: 30 },
      weight: 0,
      target: 'green.elb.example.com',
    });
    await waitUntil('TrafficReady False', async () => (await condition('lonely', 'TrafficReady'))?.status === 'False');
    expect(await condition('lonely', 'TrafficReady')).toMatchObject({
      reason: 'WeightRejected',
      message: expect.stringContaining(
        `every weighted record of ${lonely} would have weight 0 (eks-green: 0); Route53 then splits traffic evenly`,
      ),
    });
    expect((await listRecords(route53, zone.id)).filter((r) => r.name.endsWith(lonely))).toEqual([]);
  });

  it('puts no finalizer on a Reservation without spec.traffic (nothing outside to clean up), whose deletion is then immediate', async () => {
    await kube.request('POST', path(), { body: { apiVersion: API_VERSION, kind: KIND, metadata: { name: 'plain' }, spec: sampleSpec() } });
    await waitUntil('status written', async () => (await reservation('plain')).status?.observedGeneration === 1);
    expect((await reservation('plain')).metadata.finalizers ?? []).not.toContain(FINALIZER);
    await kube.remove({ apiVersion: API_VERSION, kind: KIND, metadata: { name: 'plain', namespace } });
    await waitUntil('Reservation gone', () => gone('plain'));
  });

  it('holds deletion while the weight is above 0, and removes both records once weight 0 is verified and a TTL has passed', async () => {
    await kube.request('DELETE', path('booking'));
    await waitUntil('DeletionHeld', async () => (await condition('booking', 'DeletionHeld'))?.status === 'True');
    const held = await reservation('booking');
    expect(held.metadata.deletionTimestamp).toBeDefined();
    expect((await condition('booking', 'DeletionHeld')).message).toBe(
      `route53-records: ${api} (eks-green) still has weight 60 in Route53, so clients are sent here; set spec.traffic.weight to 0 ` +
        '(or cut over to the peer) and deletion continues once weight 0 is verified INSYNC and one TTL has passed',
    );
    await waitUntil('a DeletionHeld event', async () => (await events('DeletionHeld')).some((m) => m.includes('still has weight 60')));
    expect((await listRecords(route53, zone.id)).filter((r) => r.setIdentifier === 'eks-green')).toHaveLength(2);

    // The SRE drains this cluster: weight 0, verified, one TTL (2 s), then the records go.
    await patchSpec('booking', { weight: 0 });
    await waitUntil('booking gone', async () => {
      try {
        const cr = await reservation('booking');
        expect(cr.status?.traffic?.verifiedWeight === 0 || cr.status?.traffic?.verifiedWeight === 60).toBe(true);
        return false;
      } catch (err) {
        if (isNotFound(err)) return true;
        throw err;
      }
    });
    const left = await listRecords(route53, zone.id);
    expect(left.filter((r) => r.setIdentifier === 'eks-green')).toEqual([]);
    expect(
      left
        .filter((r) => r.setIdentifier === 'eks-blue')
        .map((r) => r.type)
        .sort(),
    ).toEqual(['CNAME', 'TXT']);
  });
});

describe('a deletion whose records cannot be removed (Route53 access gone)', () => {
  afterEach(() => {
    accessGone = false;
  });

  it('is held with the way out in status, and lets go, records left as they are, once the SRE releases them by naming the cluster', async () => {
    const name = `stranded.${zone.name}`;
    await create('stranded', {
      cluster: 'eks-green',
      dns: { hostedZoneId: zone.id, name, ttl: 2 },
      weight: 5,
      target: 'green.elb.example.com',
    });
    await waitUntil('weight 5 verified', async () => (await reservation('stranded')).status?.traffic?.verifiedWeight === 5);
    const records = (await listRecords(route53, zone.id)).filter((r) => r.name.endsWith(name));
    expect(records).toHaveLength(2);

    accessGone = true;
    await kube.request('DELETE', path('stranded'));
    await waitUntil('DeletionHeld', async () => (await condition('stranded', 'DeletionHeld'))?.status === 'True');
    expect((await condition('stranded', 'DeletionHeld')).message).toBe(
      `route53-records: cannot remove ${name} (eks-green) from Route53: ${accessDenied().message}; ` +
        `if this cluster's Route53 access is gone for good, annotate ${RELEASE_RECORDS_ANNOTATION}=eks-green to delete without removing them`,
    );

    // Naming another cluster does nothing but say so.
    const annotate = (value: string) =>
      kube.request('PATCH', path('stranded'), {
        body: { metadata: { annotations: { [RELEASE_RECORDS_ANNOTATION]: value } } },
        contentType: PATCH.merge,
      });
    await annotate('eks-blue');
    await waitUntil('the mismatch is shown', async () =>
      (await condition('stranded', 'DeletionHeld'))?.message.endsWith(
        `${RELEASE_RECORDS_ANNOTATION} names "eks-blue", not this Reservation's cluster "eks-green"`,
      ),
    );
    expect(await gone('stranded')).toBe(false);

    await annotate('eks-green');
    await waitUntil('stranded gone', () => gone('stranded'));
    await waitUntil('a CleanupReleased event', async () =>
      (await events('CleanupReleased')).some(
        (m) =>
          m ===
          `route53-records: ${RELEASE_RECORDS_ANNOTATION}: ${name} (eks-green) and its ownership TXT were left in Route53 as they were; remove them by hand once no client is sent here`,
      ),
    );
    accessGone = false;
    expect((await listRecords(route53, zone.id)).filter((r) => r.name.endsWith(name))).toEqual(records);
  });
});

describe('ownership unique to the cluster and to the Reservation', () => {
  let other: Awaited<ReturnType<typeof startManager>>;
  let otherNamespace: string;
  const inOther = (n?: string) => resourcePath(RESOURCE_TYPES.Reservation, otherNamespace, n);
  const otherCondition = async (n: string) =>
    (await kube.request<Json>('GET', inOther(n))).status?.conditions?.find((c: Json) => c.type === 'TrafficReady');
  const createInOther = (n: string, traffic: Record<string, unknown>) =>
    kube.request('POST', inOther(), {
      body: { apiVersion: API_VERSION, kind: KIND, metadata: { name: n }, spec: sampleSpec({ traffic }) },
    });

  beforeAll(async () => {
    otherNamespace = await createTestNamespace(kc, 'traffic-twin');
    // The same operator code in the same cluster (so the same default owner id), for another namespace.
    other = await startManager({
      kc,
      namespace: otherNamespace,
      workers: 1,
      resyncMs: 60_000,
      identity: 'twin',
      logger: pino({ level: 'warn' }),
      registry: new Registry(),
      traffic: { pendingPollMs: 200 },
    });
  });
  afterAll(() => other?.stop());

  it('refuses a record set its own owner id claims for a Reservation of the same name in another namespace, and writes nothing', async () => {
    // A Reservation `twin` of this namespace owns its record set...
    const twinName = `twin.${zone.name}`;
    const traffic = (target: string) => ({
      cluster: 'eks-green',
      dns: { hostedZoneId: zone.id, name: twinName, ttl: 30 },
      weight: 50,
      target,
    });
    await create('twin', traffic('first.elb.example.com'));
    await waitUntil('the first twin in sync', async () => (await condition('twin', 'TrafficReady'))?.reason === 'RecordInSync');
    const before = (await listRecords(route53, zone.id)).filter((r) => r.name.endsWith(twinName));
    expect(before).toHaveLength(2);
    const batches = changeBatches().length;
    // ...and one of the same name and cluster in another namespace is refused it.
    await createInOther('twin', traffic('second.elb.example.com'));
    await waitUntil('the second twin is refused', async () => (await otherCondition('twin'))?.reason === 'RecordOwnedByOther');
    expect((await otherCondition('twin')).message).toBe(
      `not touching ${twinName}: ${twinName} (set identifier eks-green) belongs to reservation/${namespace}/twin ` +
        `under the same owner id "${greenOwner}": one record set, one Reservation`,
    );
    expect((await listRecords(route53, zone.id)).filter((r) => r.name.endsWith(twinName))).toEqual(before);
    expect(changeBatches()).toHaveLength(batches);
    // Deleting the second leaves the first one's records in place.
    await kube.request('DELETE', inOther('twin'));
    await waitUntil('the second twin is gone', async () => {
      try {
        await kube.request('GET', inOther('twin'));
        return false;
      } catch (err) {
        if (isNotFound(err)) return true;
        throw err;
      }
    });
    expect((await listRecords(route53, zone.id)).filter((r) => r.name.endsWith(twinName))).toEqual(before);
  });

  it("refuses blue's record to a cluster installed with a copy of blue's values (the same cluster name)", async () => {
    // Blue's own operator wrote eks-blue's record under blue's owner id; this cluster's default differs.
    const before = (await listRecords(route53, zone.id)).filter((r) => r.setIdentifier === 'eks-blue');
    await createInOther('copied', {
      cluster: 'eks-blue',
      dns: { hostedZoneId: zone.id, name: api, ttl: 30 },
      weight: 100,
      target: 'copied.elb.example.com',
    });
    await waitUntil('the copy is refused', async () => (await otherCondition('copied'))?.reason === 'RecordOwnedByOther');
    expect((await otherCondition('copied')).message).toContain('is owned by "reservation-operator-eks-blue"');
    expect((await listRecords(route53, zone.id)).filter((r) => r.setIdentifier === 'eks-blue')).toEqual(before);
  });
});

describe('a record set changed by hand in Route53', () => {
  let drift: Awaited<ReturnType<typeof startManager>>;
  let driftNamespace: string;
  const name = () => `drift.${zone.name}`;

  beforeAll(async () => {
    driftNamespace = await createTestNamespace(kc, 'drift');
    await putWeighted(route53, zone.id, {
      name: name(),
      setIdentifier: 'eks-blue',
      weight: 90,
      target: 'blue.elb.example.com',
      owner: 'reservation-operator-eks-blue',
    });
    drift = await startManager({
      kc,
      namespace: driftNamespace,
      workers: 1,
      resyncMs: 200, // a resync is what brings a settled Reservation back to look
      identity: 'drift',
      logger: pino({ level: 'warn' }),
      registry: new Registry(),
      traffic: { driftCheckMs: 300, pendingPollMs: 200 },
    });
  });
  afterAll(() => drift?.stop());

  it('is put back as the spec says at the next drift check (through the provider the environment configures)', async () => {
    const rsv = (n: string) => kube.request<Reservation & Json>('GET', resourcePath(RESOURCE_TYPES.Reservation, driftNamespace, n));
    await kube.request('POST', resourcePath(RESOURCE_TYPES.Reservation, driftNamespace), {
      body: {
        apiVersion: API_VERSION,
        kind: KIND,
        metadata: { name: 'booking' },
        spec: sampleSpec({
          traffic: {
            cluster: 'eks-green',
            dns: { hostedZoneId: zone.id, name: name(), ttl: 30 },
            weight: 10,
            target: 'green.elb.example.com',
          },
        }),
      },
    });
    await waitUntil('weight 10 verified', async () => (await rsv('booking')).status?.traffic?.verifiedWeight === 10);

    // Someone sets our weight to 77 by hand (the TXT still says the record is ours).
    const mine = (await listRecords(route53, zone.id)).filter((r) => r.name === name() && r.setIdentifier === 'eks-green');
    const cname = mine.find((r) => r.type === 'CNAME');
    await upsertRecord(route53, zone.id, { ...(cname as SeenRecordSet), weight: 77, ttl: 30 });
    await waitUntil('weight 10 again in Route53', async () =>
      (await listRecords(route53, zone.id)).some(
        (r) => r.name === name() && r.type === 'CNAME' && r.setIdentifier === 'eks-green' && r.weight === 10,
      ),
    );
    await waitUntil('a RecordChanged event for the repair', async () => {
      const list = await kube.request<{ items: { reason: string; message: string }[] }>(
        'GET',
        resourcePath(RESOURCE_TYPES.Event, driftNamespace),
      );
      return list.items.some((e) => e.reason === 'RecordChanged' && e.message.includes('weight 77 → 10'));
    });
    expect((await rsv('booking')).status.traffic).toMatchObject({ verifiedWeight: 10, lastChange: { status: 'INSYNC', weight: 10 } });
  });
});

describe('a namespace deleted while its record carries weight', () => {
  let doomed: Awaited<ReturnType<typeof startManager>>;
  let doomedNamespace: string;
  // A zone of its own: moto deletes every record set of a zone with the DELETE's set identifier.
  let own: { id: string; name: string };
  const name = () => `doomed.${own.name}`;
  const rsvPath = (n?: string) => resourcePath(RESOURCE_TYPES.Reservation, doomedNamespace, n);
  const rsv = (n = 'booking') => kube.request<Reservation & Json>('GET', rsvPath(n));
  const ingress = (n = 'booking') => kube.request<Json>('GET', resourcePath(RESOURCE_TYPES.Ingress, doomedNamespace, n));
  const mine = async () => (await listRecords(route53, own.id)).filter((r) => r.name.endsWith(name()) && r.setIdentifier === 'eks-green');

  /** A Reservation `n` with an Ingress edge and weight 30 at `recordName`, once the weight is verified and the Ingress held. */
  async function weightedWithEdge(n: string, recordName: string) {
    await kube.request('POST', rsvPath(), {
      body: {
        apiVersion: API_VERSION,
        kind: KIND,
        metadata: { name: n },
        spec: sampleSpec({
          edge: { kind: 'Ingress', host: `${n}.green.example.com` },
          traffic: {
            cluster: 'eks-green',
            dns: { hostedZoneId: own.id, name: recordName, ttl: 2 },
            weight: 30,
            target: 'green.elb.example.com',
          },
        }),
      },
    });
    await waitUntil('weight 30 verified', async () => {
      const status = (await rsv(n)).status;
      if (status?.traffic?.verifiedWeight === 30) return true;
      throw new Error(`conditions: ${JSON.stringify(status?.conditions)}`);
    });
    await waitUntil('the Ingress held', async () => {
      const finalizers = (await ingress(n)).metadata.finalizers ?? [];
      if (!finalizers.includes(EDGE_FINALIZER)) throw new Error(`Ingress finalizers: ${JSON.stringify(finalizers)}`);
      return true;
    });
  }
  const deletionHeld = async (n = 'booking') => (await rsv(n)).status?.conditions?.find((c: Json) => c.type === 'DeletionHeld');

  beforeAll(async () => {
    own = await createZone(route53);
    doomedNamespace = await createTestNamespace(kc, 'doomed');
    await putWeighted(route53, own.id, {
      name: name(),
      setIdentifier: 'eks-blue',
      weight: 70,
      target: 'blue.elb.example.com',
      owner: 'reservation-operator-eks-blue',
    });
    doomed = await startManager({
      kc,
      namespace: doomedNamespace,
      workers: 1,
      resyncMs: 60_000,
      identity: 'doomed',
      logger: pino({ level: 'warn' }),
      registry: new Registry(),
      traffic: { pendingPollMs: 200 },
    });
  });
  afterAll(() => doomed?.stop());

  it("lets the Ingress go when its Reservation went without the operator's cleanup (its finalizer removed by hand)", async () => {
    await weightedWithEdge('orphan', `orphan.${own.name}`);
    // Deletion held (weight 30), then an SRE removes the finalizer by hand.
    await kube.request('DELETE', rsvPath('orphan'));
    await waitUntil('DeletionHeld', async () => (await deletionHeld('orphan'))?.status === 'True');
    await kube.request('PATCH', rsvPath('orphan'), { body: { metadata: { finalizers: null } }, contentType: PATCH.merge });
    await waitUntil(
      'the Reservation and its Ingress gone',
      async () => (await absent(() => rsv('orphan'))) && (await absent(() => ingress('orphan'))),
      {
        timeoutMs: 120_000,
      },
    );
  });

  it('keeps the Reservation and its Ingress until the weight is 0, then the namespace goes with the records', async () => {
    await weightedWithEdge('booking', name());

    await kube.request('DELETE', resourcePath(RESOURCE_TYPES.Namespace, undefined, doomedNamespace));
    // The namespace controller deletes everything in it; the Ingress stays while clients are sent here.
    await waitUntil(
      'the Ingress deleted but kept, and the deletion held saying why',
      async () => {
        const held = await ingress();
        const message = (await deletionHeld())?.message ?? '';
        if (!held.metadata.deletionTimestamp || !message.includes('Ingress booking kept until then')) {
          throw new Error(`Ingress deletionTimestamp ${held.metadata.deletionTimestamp}; DeletionHeld: ${message}`);
        }
        return true;
      },
      { timeoutMs: 120_000 },
    );
    expect((await deletionHeld())?.message).toBe(
      `route53-records: ${name()} (eks-green) still has weight 30 in Route53, so clients are sent here; set spec.traffic.weight to 0 ` +
        '(or cut over to the peer) and deletion continues once weight 0 is verified INSYNC and one TTL has passed; Ingress booking kept until then',
    );
    expect((await mine()).map((r) => `${r.type} ${r.weight}`).sort()).toEqual(['CNAME 30', 'TXT 30']);

    // The SRE drains this cluster: weight 0, verified, one TTL; then the records, the Ingress and the namespace go.
    await kube.request('PATCH', rsvPath('booking'), { body: { spec: { traffic: { weight: 0 } } }, contentType: PATCH.merge });
    await waitUntil('the Reservation and its Ingress gone', async () => (await absent(() => rsv())) && (await absent(() => ingress())), {
      timeoutMs: 120_000,
    });
    expect(await mine()).toEqual([]);
    await waitUntil(
      'the namespace gone',
      () => absent(() => kube.request('GET', resourcePath(RESOURCE_TYPES.Namespace, undefined, doomedNamespace))),
      { timeoutMs: 240_000 },
    );
  }, 480_000);
});
