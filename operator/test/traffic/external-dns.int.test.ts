import { rmSync } from 'node:fs';
import { Route53Client } from '@aws-sdk/client-route-53';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { createZone, harnessEnv, listRecords, runDir, type SeenRecordSet, startRoute53AwsStandIn, waitUntil } from '@reservations/testkit';
import { API_VERSION, KIND, type Reservation } from '../../src/api/v1alpha1/reservation.ts';
import { createKubeClient, PATCH } from '../../src/kube/client.ts';
import { RESOURCE_TYPES, resourcePath } from '../../src/kube/resources.ts';
import { defaultOwnerId } from '../../src/traffic/ownership.ts';
import { createLoadBalancerService as createLoadBalancerServiceIn, type ExternalDns, startExternalDns } from '../support/external-dns.ts';
import { sampleSpec } from '../support/fixtures.ts';
import { createTestNamespace, installCrds, testKubeConfig } from '../support/kube.ts';
import { startOperatorInProcess } from '../support/operator-in-process.ts';

/**
 * The real ExternalDNS (sync policy, TXT registry, owner id external-dns-blue) writing the same
 * hosted zone as the operator, both through the Route53 stand-in with AWS's account-wide 5
 * requests/s: it manages another app's Service, the operator its weighted record.
 */

const EXTERNAL_DNS_OWNER = 'external-dns-blue';
const kc = testKubeConfig();
const kube = createKubeClient(kc);
const route53 = new Route53Client({}); // straight to moto, for the test's own reads
const dir = runDir();
let proxy: Awaited<ReturnType<typeof startRoute53AwsStandIn>>;
let namespace: string;
let manager: Awaited<ReturnType<typeof startOperatorInProcess>>;
/** The operator's default owner id in this cluster. */
let operatorOwner: string;
let zone: { id: string; name: string };
/** The ExternalDNS processes a test started, stopped after it. */
let running: ExternalDns[] = [];

// biome-ignore lint/suspicious/noExplicitAny: the assertions read deep into plain JSON objects
type Json = any;
const path = (name?: string) => resourcePath(RESOURCE_TYPES.Reservation, namespace, name);
const reservation = (name: string) => kube.request<Reservation & Json>('GET', path(name));
const condition = async (name: string, type: string) => (await reservation(name)).status?.conditions?.find((c: Json) => c.type === type);
const sorted = (records: SeenRecordSet[]) =>
  [...records].sort((a, b) => `${a.name} ${a.type} ${a.setIdentifier}`.localeCompare(`${b.name} ${b.type} ${b.setIdentifier}`));
const zoneRecords = async () => sorted(await listRecords(route53, zone.id));
/** Change batches Route53 accepted (not refused by the stand-in) since call `from`. */
const changeBatches = (from = 0) =>
  proxy.calls.slice(from).filter((c) => c.method === 'POST' && c.path.endsWith('/rrset') && c.refused === undefined);

async function createReservation(name: string, traffic: Record<string, unknown>) {
  await kube.request('POST', path(), { body: { apiVersion: API_VERSION, kind: KIND, metadata: { name }, spec: sampleSpec({ traffic }) } });
}

/** Another app's Service of type LoadBalancer (in the test's namespace unless `ns`). */
const createLoadBalancerService = (name: string, annotations: Record<string, string>, lbHostname: string, ns = namespace) =>
  createLoadBalancerServiceIn(kube, ns, name, annotations, lbHostname);

/** ExternalDNS's ownership TXT value for a Service of this namespace. */
const serviceOwnership = (service: string) =>
  `"heritage=external-dns,external-dns/owner=${EXTERNAL_DNS_OWNER},external-dns/resource=service/${namespace}/${service}"`;

/** ExternalDNS for this test's zone: by default blue's, for the Services of the test's namespace, a sync a second. */
async function startZoneExternalDns(logName = 'external-dns', { intervalMs = 1000, ownerId = EXTERNAL_DNS_OWNER, ns = namespace } = {}) {
  const edns = await startExternalDns(
    { dir, kubeconfig: harnessEnv('KUBECONFIG'), route53: proxy.url, zone, ownerId, namespace: ns, intervalMs },
    logName,
  );
  running.push(edns);
  return edns;
}

/** The operator, in this process, against the stand-in. */
const startOperatorHere = () => startOperatorInProcess({ kc, namespace, identity: 'test', route53: proxy.url, pendingPollMs: 200 });

/** Waits until ExternalDNS has finished `n` more syncs that found nothing to change. */
async function noOpSyncs(edns: ExternalDns, n: number) {
  const from = await edns.noOpRuns();
  await waitUntil(
    `${n} more ExternalDNS syncs without changes`,
    async () => {
      const now = await edns.noOpRuns();
      if (now >= from + n) return true;
      throw new Error(`${now - from} of ${n} no-op syncs`);
    },
    { timeoutMs: 60_000, intervalMs: 250, server: edns.server },
  );
}

beforeAll(async () => {
  await installCrds(kc);
  namespace = await createTestNamespace(kc, 'external-dns');
  const kubeSystem = await kube.request<Json>('GET', resourcePath(RESOURCE_TYPES.Namespace, undefined, 'kube-system'));
  operatorOwner = defaultOwnerId('eks-green', kubeSystem.metadata.uid);
  // AWS's account-wide budget, which the operator and ExternalDNS share as in a real account.
  proxy = await startRoute53AwsStandIn({ requestsPerSecond: 5 });
  manager = await startOperatorHere();
}, 60_000);

// A zone per test: each test's ExternalDNS (confined to the zone) sees its own records and no earlier test's.
beforeEach(async () => {
  zone = await createZone(route53);
});

afterEach(async () => {
  await Promise.all(running.map((edns) => edns.stop()));
  running = [];
});

afterAll(async () => {
  await manager?.stop();
  await proxy?.close();
  route53.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe('ExternalDNS on the same hosted zone as the operator', () => {
  it("neither changes nor deletes the other's records over many sync-policy syncs and a restart of each", async () => {
    const api = `api.${zone.name}`;
    const shop = `shop.${zone.name}`;
    await createLoadBalancerService('shop', { 'external-dns.kubernetes.io/hostname': shop }, 'shop-lb.example.net');
    await createReservation('booking', {
      cluster: 'eks-green',
      dns: { hostedZoneId: zone.id, name: api, ttl: 30 },
      weight: 10,
      target: 'green.elb.example.com',
    });
    const edns = await startZoneExternalDns();

    await waitUntil(
      "the operator's weighted record and ExternalDNS's record for the Service",
      async () => {
        const names = (await zoneRecords()).map((r) => `${r.type} ${r.name}`);
        const verified = (await reservation('booking')).status?.traffic?.verifiedWeight;
        if (verified === 10 && names.includes(`CNAME ${shop}`) && names.includes(`TXT cname-${shop}`)) return true;
        throw new Error(`records ${names.join(', ')}; booking's verified weight ${verified}`);
      },
      { timeoutMs: 60_000, server: edns.server },
    );
    const both = await zoneRecords();
    expect(both).toEqual(
      sorted([
        { name: api, type: 'CNAME', setIdentifier: 'eks-green', weight: 10, ttl: 30, values: ['green.elb.example.com'] },
        {
          name: `cname-${api}`,
          type: 'TXT',
          setIdentifier: 'eks-green',
          weight: 10,
          ttl: 30,
          values: [`"heritage=external-dns,external-dns/owner=${operatorOwner},external-dns/resource=reservation/${namespace}/booking"`],
        },
        { name: shop, type: 'CNAME', ttl: 300, values: ['shop-lb.example.net'] },
        { name: `cname-${shop}`, type: 'TXT', ttl: 300, values: [serviceOwnership('shop')] },
      ]),
    );

    // Many syncs under --policy=sync (which deletes what it owns and no longer wants), a restart of
    // each side, and more syncs.
    const from = proxy.calls.length;
    await noOpSyncs(edns, 5);
    await edns.stop();
    const restarted = await startZoneExternalDns('external-dns-restarted');
    await noOpSyncs(restarted, 3);
    await manager.stop();
    const restartedAt = proxy.calls.length;
    manager = await startOperatorHere();
    await waitUntil(
      'the restarted operator has read its record set',
      () => proxy.calls.slice(restartedAt).some((c) => c.path.includes(`rrset?name=cname-${api}`) && !c.throttled),
      { timeoutMs: 30_000 },
    );
    await noOpSyncs(restarted, 3);
    expect(await zoneRecords()).toEqual(both);
    expect(changeBatches(from)).toEqual([]);
    // Its TXT registry read the operator's ownership TXT as someone else's: the weighted record is not its to delete.
    expect(restarted.log()).toMatch(
      new RegExp(`Skipping endpoint ${api.replaceAll('.', '\\.')} .*owner id does not match \\(found: \\\\"${operatorOwner}\\\\"`),
    );
    expect((await condition('booking', 'TrafficReady'))?.reason).toBe('RecordInSync');
  }, 180_000);

  it('refuses a Reservation for the record set ExternalDNS made, naming its owner in status, and writes nothing', async () => {
    const pay = `pay.${zone.name}`;
    // Another app's weighted record, as ExternalDNS makes one: set identifier eks-red, weight 50.
    await createLoadBalancerService(
      'checkout',
      {
        'external-dns.kubernetes.io/hostname': pay,
        'external-dns.kubernetes.io/set-identifier': 'eks-red',
        'external-dns.kubernetes.io/aws-weight': '50',
      },
      'checkout-lb.example.net',
    );
    const edns = await startZoneExternalDns();
    await waitUntil(
      "ExternalDNS's weighted record and its TXT",
      async () => {
        const records = await zoneRecords();
        if (records.filter((r) => r.setIdentifier === 'eks-red').length === 2) return true;
        throw new Error(`records: ${JSON.stringify(records)}`);
      },
      { timeoutMs: 60_000, server: edns.server },
    );
    const before = await zoneRecords();
    expect(before).toEqual(
      sorted([
        { name: pay, type: 'CNAME', setIdentifier: 'eks-red', weight: 50, ttl: 300, values: ['checkout-lb.example.net'] },
        { name: `cname-${pay}`, type: 'TXT', setIdentifier: 'eks-red', weight: 50, ttl: 300, values: [serviceOwnership('checkout')] },
      ]),
    );

    const from = proxy.calls.length;
    await createReservation('intruder', {
      cluster: 'eks-red',
      dns: { hostedZoneId: zone.id, name: pay, ttl: 30 },
      weight: 200,
      target: 'intruder.elb.example.com',
    });
    await waitUntil('TrafficReady False', async () => (await condition('intruder', 'TrafficReady'))?.status === 'False', {
      timeoutMs: 30_000,
    });
    expect(await condition('intruder', 'TrafficReady')).toMatchObject({
      reason: 'RecordOwnedByOther',
      message: `not touching ${pay}: ${pay} (set identifier eks-red) is owned by "${EXTERNAL_DNS_OWNER}" (its ExternalDNS ownership TXT record says so)`,
    });
    const traffic = (await reservation('intruder')).status.traffic;
    expect(traffic).toMatchObject({ owner: EXTERNAL_DNS_OWNER, desiredWeight: 200 });
    expect(traffic.verifiedWeight).toBeUndefined();

    // ExternalDNS goes on syncing its record; nobody writes anything.
    await noOpSyncs(edns, 3);
    expect(await zoneRecords()).toEqual(before);
    expect(changeBatches(from)).toEqual([]);
  }, 180_000);

  it("completes each of the operator's weight changes, once, while two busy ExternalDNS spend the account's 5 requests/s", async () => {
    const api = `api.${zone.name}`;
    const cart = `cart.${zone.name}`;
    const greenCart = `cart-green.${zone.name}`;
    await createLoadBalancerService('cart', { 'external-dns.kubernetes.io/hostname': cart }, 'cart-lb.example.net');
    await createReservation('shared', {
      cluster: 'eks-green',
      dns: { hostedZoneId: zone.id, name: api, ttl: 30 },
      weight: 10,
      target: 'green.elb.example.com',
    });
    // Busy: two ExternalDNS (one per cluster, as in the setup: blue's and green's, each with
    // its own Services and owner id) syncing every 250 ms, each sync listing every hosted zone of
    // the account (moto holds many) and this zone's records: far more than 5 requests/s, so they
    // meet Throttling and their SDK's retries back them off in turn.
    const greenNamespace = await createTestNamespace(kc, 'external-dns-green');
    await createLoadBalancerService(
      'cart',
      { 'external-dns.kubernetes.io/hostname': greenCart },
      'cart-green-lb.example.net',
      greenNamespace,
    );
    const edns = await startZoneExternalDns('external-dns', { intervalMs: 250 });
    const greenEdns = await startZoneExternalDns('external-dns-green', {
      intervalMs: 250,
      ownerId: 'external-dns-green',
      ns: greenNamespace,
    });
    await waitUntil('weight 10 verified', async () => (await reservation('shared')).status?.traffic?.verifiedWeight === 10, {
      timeoutMs: 60_000,
    });
    for (const [name, lb, side] of [
      [cart, 'cart-lb.example.net', edns],
      [greenCart, 'cart-green-lb.example.net', greenEdns],
    ] as const) {
      await waitUntil(
        `${side.server.name} has made ${name}`,
        async () => (await zoneRecords()).some((r) => r.name === name && r.values[0] === lb),
        { timeoutMs: 60_000, server: side.server },
      );
    }

    // Weight changes until Route53 has pushed back on the operator at least once (whether a given
    // call finds the bucket empty depends on ExternalDNS's timing; the operator's own gate, burst 5
    // at 2/s, never empties a 5/s bucket alone); each must complete, applied once.
    const throttled = (list: typeof proxy.calls) => list.filter((c) => c.throttled).length;
    let operatorThrottled = 0;
    for (const weight of [60, 20, 70, 30, 80, 40, 90, 50, 65, 25, 75, 35, 85, 45, 95, 55]) {
      const from = proxy.calls.length;
      const started = Date.now();
      await kube.request('PATCH', path('shared'), { body: { spec: { traffic: { weight } } }, contentType: PATCH.merge });
      await waitUntil(
        `weight ${weight} verified`,
        async () => {
          const traffic = (await reservation('shared')).status?.traffic;
          if (traffic?.verifiedWeight === weight) return true;
          throw new Error(`verified weight ${traffic?.verifiedWeight}, last change ${JSON.stringify(traffic?.lastChange)}`);
        },
        { timeoutMs: 120_000 },
      );
      const seconds = (Date.now() - started) / 1000;
      const calls = proxy.calls.slice(from);
      // The operator's calls: its reads name a record (ExternalDNS lists whole zones), its batch writes api, and GetChange.
      const operatorCalls = calls.filter(
        (c) => c.path.includes('rrset?name=') || c.path.startsWith('/2013-04-01/change/') || (c.method === 'POST' && c.body.includes(api)),
      );
      console.log(
        `weight -> ${weight} verified in ${seconds.toFixed(1)} s: ${calls.length} Route53 calls in all, ${throttled(calls)} throttled; ` +
          `the operator's ${operatorCalls.length}, ${throttled(operatorCalls)} throttled`,
      );
      expect(changeBatches(from).filter((c) => c.body.includes(api))).toHaveLength(1); // applied once
      // The operator kept to its own gate (2/s after a burst of 5), retries of throttled calls included.
      expect(operatorCalls.length).toBeLessThanOrEqual(5 + Math.ceil(2 * seconds));
      const records = (await zoneRecords()).filter((r) => r.setIdentifier === 'eks-green');
      expect(records.map((r) => [r.type, r.weight])).toEqual([
        ['CNAME', weight],
        ['TXT', weight],
      ]);
      operatorThrottled += throttled(operatorCalls);
      if (operatorThrottled > 0) break;
    }
    expect(operatorThrottled).toBeGreaterThan(0);
    expect((await zoneRecords()).find((r) => r.name === cart)?.values).toEqual(['cart-lb.example.net']);
    expect((await zoneRecords()).find((r) => r.name === greenCart)?.values).toEqual(['cart-green-lb.example.net']);
  }, 300_000);
});
