import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Route53Client } from '@aws-sdk/client-route-53';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import {
  calledBy,
  createZone,
  harnessEnv,
  parseChangeBatch,
  type Route53Call,
  runDir,
  type SeenRecordSet,
  startKubeControlPlane,
  startRoute53AwsStandIn,
  stopServers,
  waitUntil,
} from '@reservations/testkit';
import { API_VERSION, KIND, type Reservation } from '../../src/api/v1alpha1/reservation.ts';
import { createKubeClient, type KubeClient, PATCH } from '../../src/kube/client.ts';
import { RESOURCE_TYPES, resourcePath } from '../../src/kube/resources.ts';
import { defaultOwnerId } from '../../src/traffic/ownership.ts';
import { HANDED_BACK_LABEL } from '../../src/traffic/record-set.ts';
import { createLoadBalancerService, type ExternalDns, startExternalDns } from '../support/external-dns.ts';
import { sampleSpec } from '../support/fixtures.ts';
import { createTestNamespace, installCrds, testKubeConfig } from '../support/kube.ts';
import { startOperatorInProcess } from '../support/operator-in-process.ts';
import { type OperatorProcess, startClusterOperatorProcess } from '../support/operator-process.ts';

/**
 * A whole cutover between two clusters, each running its own operator and its own ExternalDNS
 * (its own owner id, the TXT registry, `--policy=sync`) for other apps' Services, all four writing
 * one hosted zone through the Route53 stand-in as AWS behaves: changes PENDING for 2-4 s and one
 * account-wide budget of 5 requests/s. Blue is the harness's control plane (its operator in this
 * process), green a second one (its operator a real process, SIGKILLed mid-cutover). The test
 * keeps reading the zone while it runs, and tells the four writers' calls apart by their SDK's
 * app id (AWS_SDK_UA_APP_ID) in the stand-in's call log.
 */

const TTL = 1;
/** PENDING for a few seconds: long enough that a restart can land while a step's change is in flight. */
const INSYNC_MS = { min: 2000, max: 4000 };
const SHARES = [25, 60, 100];
const APP = {
  blueOperator: 'blue-operator',
  greenOperator: 'green-operator',
  blueEdns: 'external-dns-blue',
  greenEdns: 'external-dns-green',
};
const route53 = new Route53Client({}); // straight to moto: only to make the zone
const dir = runDir();
let proxy: Awaited<ReturnType<typeof startRoute53AwsStandIn>>;
let zone: { id: string; name: string };
let plane: Awaited<ReturnType<typeof startKubeControlPlane>>;

// biome-ignore lint/suspicious/noExplicitAny: the assertions read deep into plain JSON objects
type Json = any;
interface Side {
  name: 'blue' | 'green';
  kube: KubeClient;
  kubeconfig: string;
  namespace: string;
  /** ExternalDNS's owner id on this cluster. */
  ednsOwner: string;
  /** The operator's default owner id (the cluster's own). */
  operatorOwner: string;
  edns?: ExternalDns;
}
let blue: Side & { manager?: Awaited<ReturnType<typeof startOperatorInProcess>>; kc: KubeConfig };
let green: Side & { operator?: OperatorProcess };
const running: ExternalDns[] = [];

const path = (side: Side, name?: string) => resourcePath(RESOURCE_TYPES.Reservation, side.namespace, name);
const get = (side: Side, name: string) => side.kube.request<Reservation & Json>('GET', path(side, name));
const cutoverOf = async (name: string) => (await get(green, name)).status?.traffic?.cutover;

const startBlueOperator = () =>
  startOperatorInProcess({
    kc: blue.kc,
    namespace: blue.namespace,
    identity: 'blue',
    route53: proxy.url,
    appId: APP.blueOperator,
    driftCheckMs: 2_000,
  });

async function startGreenOperator() {
  green.operator = await startClusterOperatorProcess({
    kubeconfig: green.kubeconfig,
    namespace: green.namespace,
    route53: proxy.url,
    appId: APP.greenOperator,
  });
}

/** The side's ExternalDNS: its cluster's Services of its namespace, a sync a second. */
async function startSideExternalDns(side: Side, logName: string) {
  const edns = await startExternalDns(
    {
      dir,
      kubeconfig: side.kubeconfig,
      route53: proxy.url,
      zone,
      ownerId: side.ednsOwner,
      namespace: side.namespace,
      intervalMs: 1000,
      appId: side.ednsOwner,
    },
    logName,
  );
  running.push(edns);
  side.edns = edns;
  return edns;
}

/** Accepted change batches (not refused by the stand-in) of the client `appId`, from call `from` on. */
const batchesOf = (appId: string, from = 0) =>
  proxy.calls.slice(from).filter((c) => c.method === 'POST' && c.path.endsWith('/rrset') && c.refused === undefined && calledBy(c, appId));
/** The record names a batch changes. */
const namesIn = (call: Route53Call) => parseChangeBatch(call.body).map((c) => c.key.name);
/** What a batch leaves the weighted name at: the weights and ownership TXT values it writes, by set identifier. */
function batchSummary(call: Route53Call, api: string): string {
  const written = parseChangeBatch(call.body).filter((c) => c.action !== 'DELETE');
  return written
    .map((c) => `${c.key.type} ${c.key.name === api ? 'api' : c.key.name} ${c.key.setIdentifier} ${c.weight} ${c.values.join(' ')}`)
    .sort()
    .join('; ');
}
const ownerIn = (r: SeenRecordSet) => /external-dns\/owner=([^,"]+)/.exec(r.values[0] ?? '')?.[1];

/** Another app's Service on a side, whose record ExternalDNS keeps in the zone while it exists. */
const appService = (side: Side, name: string, host: string) =>
  createLoadBalancerService(side.kube, side.namespace, name, { 'external-dns.kubernetes.io/hostname': host }, `${name}-lb.example.net`);

beforeAll(async () => {
  // AWS's account-wide budget, shared by both operators and both ExternalDNS as in one real account.
  proxy = await startRoute53AwsStandIn({ requestsPerSecond: 5, insyncDelayMs: INSYNC_MS });
  zone = await createZone(route53);
  const kc = testKubeConfig();
  await installCrds(kc);
  const blueKube = createKubeClient(kc);
  const blueSystem = await blueKube.request<Json>('GET', resourcePath(RESOURCE_TYPES.Namespace, undefined, 'kube-system'));
  blue = {
    name: 'blue',
    kc,
    kube: blueKube,
    kubeconfig: harnessEnv('KUBECONFIG'),
    namespace: await createTestNamespace(kc, 'edns-cutover-blue'),
    ednsOwner: APP.blueEdns,
    operatorOwner: defaultOwnerId('eks-blue', blueSystem.metadata.uid),
  };
  blue.manager = await startBlueOperator();
  plane = await startKubeControlPlane(join(dir, 'green'), 'green');
  const greenKc = new KubeConfig();
  greenKc.loadFromFile(plane.env.KUBECONFIG);
  await installCrds(greenKc);
  const greenKube = createKubeClient(greenKc);
  const greenSystem = await greenKube.request<Json>('GET', resourcePath(RESOURCE_TYPES.Namespace, undefined, 'kube-system'));
  green = {
    name: 'green',
    kube: greenKube,
    kubeconfig: plane.env.KUBECONFIG,
    namespace: await createTestNamespace(greenKc, 'edns-cutover-green'),
    ednsOwner: APP.greenEdns,
    operatorOwner: defaultOwnerId('eks-green', greenSystem.metadata.uid),
  };
  await startGreenOperator();
}, 180_000);

afterAll(async () => {
  await Promise.all(running.map((edns) => edns.stop()));
  green?.operator?.kill();
  await blue?.manager?.stop();
  if (plane) await stopServers(plane.servers);
  await proxy?.close();
  route53.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe('a cutover beside an ExternalDNS on each cluster, on one zone at AWS-like delays and rate', () => {
  it("completes through restarts of an operator and an ExternalDNS; nobody touches the other's records; each step applied once", async () => {
    const api = `api.${zone.name}`;
    const shop = { blue: `shop-blue.${zone.name}`, green: `shop-green.${zone.name}` };
    const dns = { hostedZoneId: zone.id, name: api, ttl: TTL };

    // Each cluster: another app's Service for its ExternalDNS, which syncs every second under --policy=sync.
    await appService(blue, 'shop', shop.blue);
    await appService(green, 'shop', shop.green);
    await startSideExternalDns(blue, 'external-dns-blue');
    await startSideExternalDns(green, 'external-dns-green');

    // Blue serves everything, green nothing.
    for (const [side, weight, target] of [
      [blue, 100, 'blue.elb.example.com'],
      [green, 0, 'green.elb.example.com'],
    ] as const) {
      await side.kube.request('POST', path(side), {
        body: {
          apiVersion: API_VERSION,
          kind: KIND,
          metadata: { name: 'booking' },
          spec: sampleSpec({ traffic: { cluster: `eks-${side.name}`, dns, weight, target } }),
        },
      });
      await waitUntil(
        `${side.name} at ${weight}`,
        async () => {
          const traffic = (await get(side, 'booking')).status?.traffic;
          if (traffic?.verifiedWeight === weight) return true;
          throw new Error(`verified weight ${traffic?.verifiedWeight}, last change ${JSON.stringify(traffic?.lastChange)}`);
        },
        { timeoutMs: 90_000 },
      );
    }
    const ednsRecords = async () =>
      (await proxy.records(zone.id)).filter((r) => [shop.blue, shop.green].some((n) => r.name === n || r.name === `cname-${n}`));
    await waitUntil(
      "both ExternalDNS' records for their Services",
      async () => {
        const names = (await ednsRecords()).map((r) => `${r.type} ${r.name}`).sort();
        if (names.length === 4) return true;
        throw new Error(`ExternalDNS' records so far: ${names.join(', ')}`);
      },
      { timeoutMs: 60_000 },
    );
    const ednsBefore = await ednsRecords();
    const operatorsBefore = (await proxy.records(zone.id)).filter((r) => r.name === api || r.name === `cname-${api}`);
    expect(operatorsBefore.map((r) => [r.type, r.setIdentifier, ownerIn(r) ?? r.values[0]]).sort()).toEqual(
      [
        ['CNAME', 'eks-blue', 'blue.elb.example.com'],
        ['CNAME', 'eks-green', 'green.elb.example.com'],
        ['TXT', 'eks-blue', blue.operatorOwner],
        ['TXT', 'eks-green', green.operatorOwner],
      ].sort(),
    );

    // Through the whole run: each side's Services come and go (ExternalDNS creates, then under
    // sync deletes, their records), and the zone is read between batches, again and again.
    let stopped = false;
    const churned: string[] = [];
    const churn = [blue, green].map(async (side) => {
      for (let i = 0; !stopped; i++) {
        const name = `churn-${i}`;
        const host = `churn-${i}-${side.name}.${zone.name}`;
        churned.push(host);
        await createLoadBalancerService(
          side.kube,
          side.namespace,
          name,
          { 'external-dns.kubernetes.io/hostname': host },
          `${name}.lb.example.net`,
        );
        await new Promise((resolve) => setTimeout(resolve, 2500));
        await side.kube.request('DELETE', resourcePath(RESOURCE_TYPES.Service, side.namespace, name));
      }
    });
    const violations: string[] = [];
    let snapshots = 0;
    const plannedGreen = new Set([0, ...SHARES]);
    const watch = (async () => {
      while (!stopped) {
        const records = await proxy.records(zone.id);
        snapshots += 1;
        const at = `snapshot ${snapshots}`;
        // The operators' four record sets: always there, theirs, pointing where they did, at a planned share.
        for (const [side, target] of [
          [blue, 'blue.elb.example.com'],
          [green, 'green.elb.example.com'],
        ] as const) {
          const set = `eks-${side.name}`;
          const cname = records.find((r) => r.name === api && r.type === 'CNAME' && r.setIdentifier === set);
          const txt = records.find((r) => r.name === `cname-${api}` && r.type === 'TXT' && r.setIdentifier === set);
          if (cname?.values.join() !== target) violations.push(`${at}: ${set}'s CNAME is ${JSON.stringify(cname)}`);
          if (!txt || ownerIn(txt) !== side.operatorOwner) violations.push(`${at}: ${set}'s TXT is ${JSON.stringify(txt)}`);
        }
        const weights = records.filter((r) => r.name === api && r.type === 'CNAME').map((r) => [r.setIdentifier, r.weight]);
        const greenWeight = weights.find(([s]) => s === 'eks-green')?.[1] as number;
        const blueWeight = weights.find(([s]) => s === 'eks-blue')?.[1] as number;
        if (!plannedGreen.has(greenWeight) || blueWeight + greenWeight !== 100)
          violations.push(`${at}: weights ${JSON.stringify(weights)}`);
        // ExternalDNS' Services that never go away: their records stay exactly as made.
        for (const r of ednsBefore) {
          const now = records.find((x) => x.name === r.name && x.type === r.type && x.setIdentifier === r.setIdentifier);
          if (JSON.stringify(now) !== JSON.stringify(r)) violations.push(`${at}: ${r.type} ${r.name} is ${JSON.stringify(now)}`);
        }
        // Nobody's TXT names an owner for a record outside its own.
        for (const r of records.filter((x) => x.type === 'TXT')) {
          const owner = ownerIn(r);
          const operatorName = r.name === `cname-${api}`;
          if (operatorName !== (owner === blue.operatorOwner || owner === green.operatorOwner)) {
            violations.push(`${at}: ${r.name} (${r.setIdentifier}) owned by ${owner}`);
          }
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    })();

    const from = proxy.calls.length;
    try {
      await green.kube.request('PATCH', path(green, 'booking'), {
        body: { spec: { traffic: { cutover: { from: 'eks-blue', steps: SHARES.map((setShare) => ({ setShare })), drain: { ttls: 2 } } } } },
        contentType: PATCH.merge,
      });
      const untilCutover = (what: string, holds: (c: Json) => boolean, timeoutMs = 120_000) =>
        waitUntil(
          what,
          async () => {
            const c = await cutoverOf('booking');
            if (c && holds(c)) return true;
            throw new Error(
              c
                ? `${c.phase} at step ${c.step}, share ${c.share}, verified ${JSON.stringify(c.verifiedWeights)}: ${c.message}`
                : 'no cutover',
            );
          },
          { timeoutMs, intervalMs: 100 },
        );

      // At 25 % served, blue's ExternalDNS restarts; meanwhile the test watches for the next step's
      // PENDING window (seconds long), which a restart awaited first could outlast.
      await untilCutover('25% verified', (c) => c.verifiedWeights?.self === 25);
      const blueRestarted = (async () => {
        await blue.edns?.stop();
        await startSideExternalDns(blue, 'external-dns-blue-restarted');
      })();

      // 60 % written and still PENDING: green's operator is SIGKILLed, and a new one takes over.
      await untilCutover('60% written, PENDING', (c) => c.weights?.self === 60 && c.verifiedWeights?.self !== 60);
      green.operator?.kill('SIGKILL');
      await green.operator?.exited;
      await blueRestarted;
      await startGreenOperator();

      // And green's ExternalDNS restarts while the last step is on its way.
      await untilCutover('100% written', (c) => c.weights?.self === 100);
      await green.edns?.stop();
      await startSideExternalDns(green, 'external-dns-green-restarted');
      await untilCutover('succeeded', (c) => c.phase === 'Succeeded');
      // However quick the cutover was: the Services go on coming and going, and the zone on being
      // read, until both ExternalDNS have deleted some of their records under sync.
      await waitUntil(
        'each ExternalDNS has deleted two of its records',
        () => {
          const deleted = [APP.blueEdns, APP.greenEdns].map(
            (id) =>
              batchesOf(id, from)
                .flatMap((c) => parseChangeBatch(c.body))
                .filter((c) => c.action === 'DELETE' && c.key.type === 'CNAME').length,
          );
          if (deleted.every((n) => n >= 2)) return true;
          throw new Error(`records deleted by ExternalDNS blue and green: ${deleted.join(', ')}`);
        },
        { timeoutMs: 120_000, intervalMs: 500 },
      );
    } finally {
      stopped = true;
      await Promise.all([...churn, watch]);
    }
    const done = await cutoverOf('booking');
    expect(done).toMatchObject({
      phase: 'Succeeded',
      share: 100,
      weights: { self: 100, peer: 0 },
      verifiedWeights: { self: 100, peer: 0 },
    });

    const calls = proxy.calls.slice(from);
    const who = (appId: string) => calls.filter((c) => calledBy(c, appId));
    console.log(
      `Route53 calls from the cutover's start to the end of the churn: ${calls.length}, ${calls.filter((c) => c.throttled).length} throttled; ` +
        Object.values(APP)
          .map((id) => `${id} ${who(id).length} (${who(id).filter((c) => c.throttled).length} throttled)`)
          .join(', '),
    );
    // Read all along: never a record of one side changed by the other.
    expect(violations).toEqual([]);
    expect(snapshots).toBeGreaterThan(20);

    // From the call log: the operators' batches write only the weighted name, ExternalDNS' never touch it.
    const operatorBatches = [...batchesOf(APP.blueOperator, from), ...batchesOf(APP.greenOperator, from)];
    const ednsBatches = [...batchesOf(APP.blueEdns, from), ...batchesOf(APP.greenEdns, from)];
    expect(operatorBatches.flatMap(namesIn).filter((n) => n !== api && n !== `cname-${api}`)).toEqual([]);
    expect(ednsBatches.flatMap(namesIn).filter((n) => n === api || n === `cname-${api}`)).toEqual([]);
    // ExternalDNS was busy all along: it made and deleted the churned Services' records (waited for above).
    expect(ednsBatches.flatMap((c) => parseChangeBatch(c.body)).filter((c) => c.action === 'CREATE').length).toBeGreaterThan(4);

    // Each step applied once: green's operator wrote each step's weights in one batch, restart or not.
    const greenBatches = batchesOf(APP.greenOperator, from);
    const summaries = greenBatches.map((c) => batchSummary(c, api));
    console.log(`green's operator's batches over the cutover:\n${summaries.join('\n')}`);
    const weightOf = (c: Route53Call) =>
      parseChangeBatch(c.body).find((x) => x.action !== 'DELETE' && x.key.name === api && x.key.setIdentifier === 'eks-green')?.weight;
    for (const share of SHARES.slice(0, -1)) expect(greenBatches.filter((c) => weightOf(c) === share)).toHaveLength(1);
    // The last share's batch, then the drain's and the hand-back's TXT changes: never the same batch twice.
    expect(new Set(summaries).size).toBe(summaries.length);
    expect(greenBatches.filter((c) => weightOf(c) === 100).length).toBeGreaterThanOrEqual(1);
    // Blue's weight is green's to write until green's batch hands it back; blue's next look may then
    // drop the hand-back label, keeping the weight the cutover left (0) on its own set alone.
    const labelWritten = (c: Route53Call) =>
      parseChangeBatch(c.body).some((x) => x.action !== 'DELETE' && x.values.some((v) => v.includes(HANDED_BACK_LABEL)));
    const handBack = proxy.calls.indexOf(greenBatches.find(labelWritten) as Route53Call);
    expect(handBack).toBeGreaterThan(from);
    expect(batchesOf(APP.blueOperator, from).filter((c) => proxy.calls.indexOf(c) < handBack)).toEqual([]);
    for (const c of batchesOf(APP.blueOperator, handBack)) {
      const written = parseChangeBatch(c.body).filter((x) => x.action !== 'DELETE');
      expect(written.map((x) => `${x.key.type} ${x.key.setIdentifier} ${x.key.type === 'CNAME' ? x.weight : ''}`).sort()).toEqual([
        'CNAME eks-blue 0',
        'TXT eks-blue ',
      ]);
      expect(labelWritten(c)).toBe(false); // its DELETE names the TXT as read, label and all
    }

    // Neither ExternalDNS adopted the operators' records: their TXT registries saw someone else's.
    for (const side of [blue, green]) {
      expect(side.edns?.log()).toMatch(
        new RegExp(`Skipping endpoint ${api.replaceAll('.', '\\.')} .*owner id does not match \\(found: \\\\"reservation-operator-eks-`),
      );
    }
    expect(churned.length).toBeGreaterThan(2);
  }, 420_000);
});
