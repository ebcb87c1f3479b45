import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { Route53Client } from '@aws-sdk/client-route-53';
import { afterAll, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import {
  createZone,
  harnessEnv,
  kubeBinary,
  listRecords,
  runDir,
  type SeenRecordSet,
  startKubeControlPlane,
  startRoute53AwsStandIn,
  stopServers,
  upsertRecord,
  waitUntil,
  writePrometheusTargets,
} from '@reservations/testkit';
import { API_VERSION, CUTOVER_REQUEST_ANNOTATION, KIND, type Reservation } from '../../src/api/v1alpha1/reservation.ts';
import { createKubeClient, type KubeClient, PATCH } from '../../src/kube/client.ts';
import { RESOURCE_TYPES, resourcePath } from '../../src/kube/resources.ts';
import type { startManager } from '../../src/manager.ts';
import { defaultOwnerId } from '../../src/traffic/ownership.ts';
import { untilCutoverStatus } from '../support/cutover-wait.ts';
import { sampleSpec } from '../support/fixtures.ts';
import { createTestNamespace, installCrds, testKubeConfig } from '../support/kube.ts';
import { startOperatorInProcess } from '../support/operator-in-process.ts';
import { metric, type OperatorProcess, startClusterOperatorProcess } from '../support/operator-process.ts';
import { type ServicePod, startServicePod } from './analysis/service-pods.ts';
import { startTestExporter } from './analysis/test-exporter.ts';

/**
 * Two clusters, each with its own operator, moving the weighted record between them: blue is the
 * harness's control plane with the operator in this process; green is a second real control
 * plane with the operator as a real process (so it can be SIGKILLed mid-cutover). Route53 is moto
 * behind the stand-in of AWS's behaviour, which both operators call: a change stays PENDING for
 * 1-2 s here (so every step waits for INSYNC), 30-60 s (AWS's) in the test of a whole cutover at
 * AWS's pace.
 */

const TTL = 1;
const SHORT_INSYNC = { min: 1000, max: 2000 };
// A test of several steps: each waits for its change INSYNC and green's next GetChange poll (5 s),
// beyond jest's 60 s default on a loaded machine. Tests that need more say so.
jest.setTimeout(180_000);
/** Green's operator's AWS SDK app id: the stand-in throttles its calls, not blue's. */
const GREEN_APP = 'green-operator';
const route53 = new Route53Client({});
const dir = runDir();
let zone: { id: string; name: string };
let blue: { kube: KubeClient; namespace: string; manager: Awaited<ReturnType<typeof startManager>> };
let green: { kube: KubeClient; kubeconfig: string; namespace: string; operator?: OperatorProcess };
let plane: Awaited<ReturnType<typeof startKubeControlPlane>>;
let proxy: Awaited<ReturnType<typeof startRoute53AwsStandIn>>;
/** Green's operator's default owner id (its cluster's own, from kube-system's UID): the weight writer of blue's record. */
let greenOwner: string;

// biome-ignore lint/suspicious/noExplicitAny: the assertions read deep into plain JSON objects
type Json = any;
const path = (namespace: string, name?: string) => resourcePath(RESOURCE_TYPES.Reservation, namespace, name);
const get = (side: { kube: KubeClient; namespace: string }, name: string) =>
  side.kube.request<Reservation & Json>('GET', path(side.namespace, name));
const patch = (side: { kube: KubeClient; namespace: string }, name: string, body: Record<string, unknown>) =>
  side.kube.request('PATCH', path(side.namespace, name), { body, contentType: PATCH.merge });
const ask = (name: string, request: string) => patch(green, name, { metadata: { annotations: { [CUTOVER_REQUEST_ANNOTATION]: request } } });
const cutoverOf = async (name: string) => (await get(green, name)).status?.traffic?.cutover;

/** Waits until green's cutover `name` satisfies `holds`; a timeout says where the cutover stood and its last events. */
const untilCutover = (
  what: string,
  name: string,
  holds: (cutover: Json) => boolean,
  options: { timeoutMs?: number; intervalMs?: number } = {},
) => untilCutoverStatus(what, () => cutoverOf(name), holds, options);

async function create(side: { kube: KubeClient; namespace: string }, name: string, traffic: Record<string, unknown>) {
  await side.kube.request('POST', path(side.namespace), {
    body: { apiVersion: API_VERSION, kind: KIND, metadata: { name }, spec: sampleSpec({ traffic }) },
  });
}

/** The weights and the ownership TXT values of the name, by set identifier. */
async function route53State(name: string) {
  // Between the stand-in's batches: moto applies one change by change.
  const records = await proxy.records(zone.id);
  const weights: Record<string, number | undefined> = {};
  const txt: Record<string, string | undefined> = {};
  for (const r of records) {
    if (r.name === name && r.type === 'CNAME' && r.setIdentifier) weights[r.setIdentifier] = r.weight;
    if (r.name === `cname-${name}` && r.type === 'TXT' && r.setIdentifier) txt[r.setIdentifier] = r.values[0];
  }
  return { weights, txt };
}

async function greenEvents(reason: string): Promise<string[]> {
  const list = await green.kube.request<{ items: { reason: string; message: string }[] }>(
    'GET',
    `/api/v1/namespaces/${green.namespace}/events?fieldSelector=reason%3D${reason}`,
  );
  return list.items.map((e) => e.message);
}

/**
 * Green's events of `reason` once one has arrived (one saying `text`, when given). Events are
 * recorded without blocking the reconcile, so they can land after the status that reports the
 * same step: poll for them rather than read once.
 */
async function greenEventsArrived(reason: string, text = ''): Promise<string[]> {
  let messages: string[] = [];
  await waitUntil(
    `a ${reason} event${text ? ` saying "${text}"` : ''}`,
    async () => {
      messages = await greenEvents(reason);
      return messages.some((m) => m.includes(text));
    },
    { timeoutMs: 15_000 },
  );
  return messages;
}

/** `kubectl reservation ...` against green's cluster: the real kubectl finds the plugin on PATH. */
async function kubectlReservation(...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(kubeBinary('kubectl'), ['reservation', ...args, '-n', green.namespace], {
    env: {
      ...process.env,
      KUBECONFIG: green.kubeconfig,
      PATH: `${join(import.meta.dirname, '..', '..', 'bin')}${delimiter}${process.env.PATH}`,
    },
  });
  return stdout;
}

/**
 * Green's pods as Prometheus sees them: real service-kit apps labelled with green's namespace and
 * pod names of the Reservation `name`, each answering a request every 20 ms; 20 % of them 5xx
 * while `failing`.
 */
async function greenPodsUnderLoad(name: string) {
  const pods: ServicePod[] = [
    await startServicePod(`${name}-query-api-5d8f7c9b4-x7k2p`),
    await startServicePod(`${name}-reservation-api-6c9d8b7f5-q9z4w`, 'reservation-api'),
  ];
  const removeTargets = writePrometheusTargets(
    harnessEnv('PROMETHEUS_TARGETS_DIR'),
    `cutover-${green.namespace}-${name}`,
    pods.map((p) => ({ url: p.metricsUrl, labels: { namespace: green.namespace, pod: p.pod } })),
  );
  let stopped = false;
  const state = {
    failing: false,
    async stop() {
      stopped = true;
      await Promise.allSettled(load);
      removeTargets();
      await Promise.all(pods.map((p) => p.close()));
    },
  };
  const load = pods.map(async (pod) => {
    for (let n = 0; !stopped; n++) {
      const fail = state.failing && n % 5 === 0;
      await pod.send(fail ? '/fail' : '/ok', 1, fail ? 500 : 200);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });
  return state;
}

async function startGreenOperator() {
  green.operator = await startClusterOperatorProcess({
    kubeconfig: green.kubeconfig,
    namespace: green.namespace,
    route53: proxy.url,
    appId: GREEN_APP,
  });
}

/** Both clusters' Reservations for `name`: blue with all the traffic, green with none. */
async function twoClusters(name: string, dnsName: string, ttl = TTL) {
  const dns = { hostedZoneId: zone.id, name: dnsName, ttl };
  await create(blue, name, { cluster: 'eks-blue', dns, weight: 100, target: 'blue.elb.example.com' });
  await waitUntil('blue at 100', async () => (await get(blue, name)).status?.traffic?.verifiedWeight === 100, { timeoutMs: 30_000 });
  await create(green, name, { cluster: 'eks-green', dns, weight: 0, target: 'green.elb.example.com' });
  await waitUntil('green at 0', async () => (await get(green, name)).status?.traffic?.verifiedWeight === 0, { timeoutMs: 30_000 });
  return dns;
}

// A zone per test: moto deletes every record of the zone that has the DELETE's set identifier
// (Route53 deletes the one record set named), so Reservations sharing a zone and a cluster name
// would delete each other's records.
beforeEach(async () => {
  zone = await createZone(route53);
});

beforeAll(async () => {
  proxy = await startRoute53AwsStandIn({ insyncDelayMs: SHORT_INSYNC });
  const kc = testKubeConfig();
  await installCrds(kc);
  const blueNamespace = await createTestNamespace(kc, 'cutover-blue');
  blue = {
    kube: createKubeClient(kc),
    namespace: blueNamespace,
    manager: await startOperatorInProcess({ kc, namespace: blueNamespace, identity: 'blue', route53: proxy.url, driftCheckMs: 2_000 }),
  };
  plane = await startKubeControlPlane(join(dir, 'green'), 'green');
  const greenKc = new KubeConfig();
  greenKc.loadFromFile(plane.env.KUBECONFIG);
  await installCrds(greenKc);
  green = {
    kube: createKubeClient(greenKc),
    kubeconfig: plane.env.KUBECONFIG,
    namespace: await createTestNamespace(greenKc, 'cutover-green'),
  };
  const kubeSystem = await green.kube.request<Json>('GET', resourcePath(RESOURCE_TYPES.Namespace, undefined, 'kube-system'));
  greenOwner = defaultOwnerId('eks-green', kubeSystem.metadata.uid);
  await startGreenOperator();
}, 180_000);

afterAll(async () => {
  green?.operator?.kill();
  await blue?.manager.stop();
  if (plane) await stopServers(plane.servers);
  rmSync(dir, { recursive: true, force: true });
  await proxy?.close();
  route53.destroy();
});

describe('a cutover from blue to green', () => {
  it('moves the traffic step by step with one writer, survives a SIGKILL of the operator, and hands blue its record back', async () => {
    const api = `api.${zone.name}`;
    await twoClusters('booking', api);
    // Blue's autoscaler has query-api at 4 pods (its minimum is 2): the load it carries now.
    const blueHpa = async () =>
      (await blue.kube.request<Json>('GET', resourcePath(RESOURCE_TYPES.HorizontalPodAutoscaler, blue.namespace, 'booking-query-api'))).spec
        .minReplicas;
    await blue.kube.request('PATCH', `${resourcePath(RESOURCE_TYPES.Deployment, blue.namespace, 'booking-query-api')}/scale`, {
      body: { spec: { replicas: 4 } },
      contentType: PATCH.merge,
    });
    await waitUntil(
      'blue sees 4 query-api pods wanted',
      async () => (await get(blue, 'booking')).status?.services?.queryApi?.desired === 4,
    );
    expect(await blueHpa()).toBe(2);
    await patch(green, 'booking', {
      spec: {
        traffic: {
          cutover: {
            from: 'eks-blue',
            steps: [{ setShare: 25 }, { setShare: 50 }, { pause: {} }, { setShare: 100 }],
            // Blue still "serves" 3 requests/s (a PromQL constant on the real Prometheus) until the test says otherwise.
            drain: {
              ttls: 2,
              connectionClose: true,
              peerRate: { prometheus: { url: harnessEnv('PROMETHEUS_URL'), query: 'vector(3)' }, below: 1 },
            },
          },
        },
      },
    });

    // Step 2 of 4 (index 2) waits for a promote at 50 %.
    await untilCutover('paused at 50%', 'booking', (c) => c.phase === 'Paused', { timeoutMs: 90_000 });
    const paused = await cutoverOf('booking');
    expect(paused).toMatchObject({ from: 'eks-blue', step: 2, steps: 4, startShare: 0, share: 50, weights: { self: 50, peer: 50 } });
    expect(paused.verifiedWeights).toEqual({ self: 50, peer: 50 });
    expect(paused.history.map((h: Json) => h.event)).toEqual(
      expect.arrayContaining(['CutoverStarted', 'WeightsChanging', 'WeightsVerified', 'StepCompleted']),
    );
    expect((await get(green, 'booking')).status.phase).toBe('Paused');
    // What `kubectl get rsv -o wide` tells the story with.
    const { stdout: wide } = await promisify(execFile)(
      kubeBinary('kubectl'),
      ['get', 'rsv', 'booking', '-o', 'wide', '-n', green.namespace],
      {
        env: { ...process.env, KUBECONFIG: green.kubeconfig },
      },
    );
    expect(wide.split('\n')[0]?.split(/\s+/)).toEqual(['NAME', 'READY', 'REPLICAS', 'WEIGHT', 'PHASE', 'REASON', 'SHARE', 'STEP', 'AGE']);
    expect(wide.split('\n')[1]?.split(/\s+/).slice(3, 5)).toEqual(['50', 'Paused']);
    expect(wide.split('\n')[1]?.split(/\s+/).slice(-3, -1)).toEqual(['50', '2']);

    // Route53: both records at 50, and blue's ownership TXT names green's operator as the weight writer.
    const mid = await route53State(api);
    expect(mid.weights).toEqual({ 'eks-blue': 50, 'eks-green': 50 });
    expect(mid.txt['eks-blue']).toContain('external-dns/owner=reservation-operator-eks-blue');
    expect(mid.txt['eks-blue']).toContain(`external-dns/weight-writer=${greenOwner}`);
    expect(mid.txt['eks-green']).not.toContain('weight-writer');

    // Blue's operator sees the handover and leaves its weight alone (it would write 100 otherwise).
    // Blue may first see it at 25 % and look again a TTL later: wait for the weight of the pause.
    await waitUntil('blue sees the handover at 50', async () => (await get(blue, 'booking')).status?.traffic?.handover?.weight === 50, {
      timeoutMs: 30_000,
    });
    const blueSide = (await get(blue, 'booking')).status;
    expect(blueSide.traffic.handover).toMatchObject({ by: greenOwner, weight: 50 });
    expect(blueSide.conditions.find((c: Json) => c.type === 'TrafficReady')).toMatchObject({
      status: 'True',
      reason: 'WeightsHandedOver',
    });
    // ... and stays warm: its autoscaler may not go below the 4 pods it had, so an abort can shift traffic back.
    expect(blueSide.traffic.minReplicas).toMatchObject({ queryApi: 4 });
    await waitUntil('blue HPA floor at 4', async () => (await blueHpa()) === 4);

    // Metrics for dashboards: the share and the phase.
    const green0 = green.operator as OperatorProcess;
    const ref = { namespace: green.namespace, reservation: 'booking' };
    expect(await metric(green0, 'reservation_cutover_share_percent', { ...ref, kind: 'verified' })).toBe(50);
    expect(await metric(green0, 'reservation_cutover_phase', { ...ref, phase: 'Paused' })).toBe(1);
    expect(await metric(green0, 'reservation_cutover_step', ref)).toBe(3);

    // Events on green, one per step.
    expect(await greenEventsArrived('CutoverStarted')).toHaveLength(1);
    await greenEventsArrived('WeightsVerified', 'Route53 serves 50% here, 50% at eks-blue');

    // SIGKILL green's operator while paused, and start a new one: it picks up at the same step.
    green.operator?.kill('SIGKILL');
    await green.operator?.exited;
    await startGreenOperator();
    const reconciled = async () => {
      const count = (result: string) => metric(green.operator as OperatorProcess, 'controller_runtime_reconcile_total', { result });
      return ((await count('success')) ?? 0) + ((await count('requeue_after')) ?? 0);
    };
    await waitUntil('the new operator reconciled', async () => (await reconciled()) >= 2, { timeoutMs: 30_000 }).catch((err: Error) => {
      throw new Error(`${err.message}\noperator log:\n${green.operator?.log().slice(-3000)}`);
    });
    await new Promise((resolve) => setTimeout(resolve, 3 * TTL * 1000));
    expect(await cutoverOf('booking')).toMatchObject({ phase: 'Paused', step: 2, share: 50, startedAt: paused.startedAt });
    expect((await route53State(api)).weights).toEqual({ 'eks-blue': 50, 'eks-green': 50 });

    // Promote with the kubectl plugin, as an SRE would: on to 100 %, then the drain.
    const promoted = await kubectlReservation('promote', 'booking');
    expect(promoted).toContain('done:');
    await untilCutover('draining', 'booking', (c) => c.message.includes('it still serves 3 requests/s'), {
      timeoutMs: 60_000,
    });
    expect(await cutoverOf('booking')).toMatchObject({ phase: 'Progressing', step: 4, weights: { self: 100, peer: 0 } });
    // While draining, blue's services are asked for Connection: close, through its drain switch.
    expect((await route53State(api)).txt['eks-blue']).toContain('external-dns/drain=connection-close');
    const drainSwitch = async () =>
      (await blue.kube.request<Json>('GET', resourcePath(RESOURCE_TYPES.ConfigMap, blue.namespace, 'booking-drain'))).data[
        'connection-close'
      ];
    await waitUntil('blue closes keep-alive connections', async () => (await drainSwitch()) === 'true', { timeoutMs: 30_000 });
    expect((await get(blue, 'booking')).status.traffic.handover).toMatchObject({ weight: 0, connectionClose: true });
    // Blue's rate falls below the threshold: Succeeded.
    await patch(green, 'booking', { spec: { traffic: { cutover: { drain: { peerRate: { prometheus: { query: 'vector(0.2)' } } } } } } });
    await untilCutover('succeeded', 'booking', (c) => c.phase === 'Succeeded', { timeoutMs: 30_000 });
    const done = await cutoverOf('booking');
    expect(done).toMatchObject({ step: 4, share: 100, weights: { self: 100, peer: 0 } });
    expect(done.handledRequest).toMatch(/^promote\//);
    const shown = await kubectlReservation('status', 'booking');
    expect(shown).toContain('Succeeded');
    expect(shown).toContain('eks-blue (peer)');
    expect(Date.parse(done.finishedAt) - Date.parse(done.syncedAt)).toBeGreaterThanOrEqual(2 * TTL * 1000);
    const end = await route53State(api);
    expect(end.weights).toEqual({ 'eks-blue': 0, 'eks-green': 100 });
    expect(end.txt['eks-blue']).not.toContain('weight-writer'); // handed back
    expect(await greenEventsArrived('CutoverSucceeded')).toHaveLength(1);

    // Blue's operator takes its record back at the weight the cutover left, not its spec's 100.
    await waitUntil('blue handed back', async () => (await get(blue, 'booking')).status?.traffic?.weightOverride !== undefined, {
      timeoutMs: 30_000,
    });
    const back = (await get(blue, 'booking')).status.traffic;
    expect(back).toMatchObject({ desiredWeight: 0, verifiedWeight: 0, weightOverride: { weight: 0, specWeight: 100 } });
    expect(back.handover).toBeUndefined();
    expect(back.minReplicas).toBeUndefined();
    await waitUntil('drain switch off again', async () => (await drainSwitch()) === 'false', { timeoutMs: 30_000 });
    await waitUntil('blue HPA floor back to its minimum', async () => (await blueHpa()) === 2);
    await new Promise((resolve) => setTimeout(resolve, 3_000)); // past blue's 2 s drift check
    expect((await route53State(api)).weights).toEqual({ 'eks-blue': 0, 'eks-green': 100 });

    // Changing blue's spec weight ends the override: the SRE's word counts again.
    await patch(blue, 'booking', { spec: { traffic: { weight: 0 } } });
    await waitUntil('override gone', async () => (await get(blue, 'booking')).status?.traffic?.weightOverride === undefined);

    // Decommission blue (the runbook's last step): its finalizer removes its records, weight 0 being verified for a TTL.
    await blue.kube.request('DELETE', path(blue.namespace, 'booking'));
    await waitUntil('blue records gone', async () => (await route53State(api)).weights['eks-blue'] === undefined, { timeoutMs: 30_000 });
    // Green, whose cutover has ended, does not need the peer's record any more.
    await patch(green, 'booking', { spec: { traffic: { weight: 100 } } });
    await waitUntil('green re-read Route53', async () => {
      const cr = await get(green, 'booking');
      return cr.status?.observedGeneration === cr.metadata.generation;
    });
    await new Promise((resolve) => setTimeout(resolve, 2 * TTL * 1000));
    const after = (await get(green, 'booking')).status;
    expect(after.phase).toBe('Succeeded');
    expect(after.conditions.find((c: Json) => c.type === 'TrafficReady')).toMatchObject({ status: 'True', reason: 'RecordInSync' });
    expect((await route53State(api)).weights).toEqual({ 'eks-green': 100 });
  });

  it('abort walks back to blue step by step; deleting blue meanwhile is held; an invalid request is refused', async () => {
    const api = `abort.${zone.name}`;
    await twoClusters('abort', api);
    await patch(green, 'abort', {
      spec: { traffic: { cutover: { from: 'eks-blue', steps: [{ setShare: 20 }, { setShare: 40 }, { pause: {} }, { setShare: 100 }] } } },
    });
    await untilCutover('paused at 40%', 'abort', (c) => c.phase === 'Paused', { timeoutMs: 90_000 });

    // Deleting blue's Reservation while green's cutover writes its weight: held, and why.
    await blue.kube.request('DELETE', path(blue.namespace, 'abort'));
    await waitUntil(
      'deletion held',
      async () => (await get(blue, 'abort')).status?.conditions?.some((c: Json) => c.type === 'DeletionHeld' && c.status === 'True'),
      { timeoutMs: 30_000 },
    );
    expect((await get(blue, 'abort')).status.conditions.find((c: Json) => c.type === 'DeletionHeld').message).toContain(
      `${greenOwner}'s cutover writes its weight`,
    );

    await ask('abort', 'retry/1'); // not after a finished abort: refused, nothing changes
    await untilCutover('refused', 'abort', (c) => c.handledRequest === 'retry/1');
    expect((await cutoverOf('abort')).history.at(-1)).toMatchObject({ event: 'RequestRefused' });
    await greenEventsArrived('RequestRefused', 'retry/1: the cutover is paused (step 3/4, share 40%), not failed');

    // Someone else's cutover claims blue's weight by hand: green stops (Degraded), says why, and
    // answers a request meanwhile instead of leaving it unanswered; put back, it goes on.
    const setBlueWriter = async (writer: string) => {
      const txt = (await listRecords(route53, zone.id)).find((r) => r.name === `cname-${api}` && r.setIdentifier === 'eks-blue');
      const value = (txt?.values[0] ?? '').replace(/weight-writer=[^,"]+/, `weight-writer=${writer}`);
      await upsertRecord(route53, zone.id, { ...(txt as SeenRecordSet), values: [value] });
      // A spec change that keeps the plan makes green read Route53 now rather than at its next read-back.
      await patch(green, 'abort', { spec: { traffic: { cutover: { drain: { ttls: writer === 'someone-else' ? 3 : 2 } } } } });
    };
    await setBlueWriter('someone-else');
    await untilCutover('degraded', 'abort', (c) => c.phase === 'Degraded', { timeoutMs: 30_000 });
    expect((await cutoverOf('abort')).message).toContain('another cutover (someone-else) writes its weight; one writer at a time');
    await ask('abort', 'abort/0');
    await untilCutover('answered', 'abort', (c) => c.handledRequest === 'abort/0');
    expect((await cutoverOf('abort')).history.at(-1).message).toContain('abort/0: the cutover cannot act now');
    expect((await route53State(api)).weights).toEqual({ 'eks-blue': 60, 'eks-green': 40 }); // nothing written
    await setBlueWriter(greenOwner);
    await untilCutover('paused again', 'abort', (c) => c.phase === 'Paused', { timeoutMs: 30_000 });

    // Route53 pushes back (its real Throttling error) on the next calls: green backs off and goes on.
    const throttledBefore = proxy.calls.filter((c) => c.throttled).length;
    proxy.throttle(4, GREEN_APP);
    await ask('abort', 'abort/1');
    await untilCutover('aborted and back', 'abort', (c) => c.finishedAt !== undefined, { timeoutMs: 60_000 });
    expect(proxy.calls.filter((c) => c.throttled).length - throttledBefore).toBe(4);
    expect(green.operator?.log()).toContain('route53 asked us to slow down; backing off');
    const aborted = await cutoverOf('abort');
    expect(aborted).toMatchObject({ phase: 'Aborted', share: 0, weights: { self: 0, peer: 100 } });
    const walk = aborted.history.filter((h: Json) => h.event === 'WeightsChanging').map((h: Json) => h.message);
    expect(walk.slice(-2)).toEqual([
      '40% → 20%: writing weights 20 (here) / 80 (eks-blue)',
      '20% → 0%: writing weights 0 (here) / 100 (eks-blue)',
    ]);
    const end = await route53State(api);
    expect(end.weights).toEqual({ 'eks-blue': 100, 'eks-green': 0 });
    expect(end.txt['eks-blue']).not.toContain('weight-writer');
    expect((await get(green, 'abort')).status.phase).toBe('Aborted');

    // Blue got its record back at 100: its deletion now holds for the plain reason, live traffic.
    await waitUntil(
      'held for weight 100',
      async () =>
        (await get(blue, 'abort')).status?.conditions
          ?.find((c: Json) => c.type === 'DeletionHeld')
          ?.message.includes('still has weight 100'),
      { timeoutMs: 30_000 },
    );
  });

  it('an abort first asks blue for the pods to take the traffic back, and walks back once Prometheus counts them ready', async () => {
    const api = `takeback.${zone.name}`;
    await twoClusters('takeback', api);
    const blueHpa = async () =>
      (await blue.kube.request<Json>('GET', resourcePath(RESOURCE_TYPES.HorizontalPodAutoscaler, blue.namespace, 'takeback-query-api')))
        .spec.minReplicas;
    // The load and blue's ready pods are PromQL constants on the real Prometheus, changed by the test.
    const prescale = (load: number, blueReady: number) => ({
      prometheus: { url: harnessEnv('PROMETHEUS_URL'), query: `vector(${load})`, peerReady: `vector(${blueReady})` },
      requestsPerPod: { reservationApi: 5, queryApi: 5 },
    });
    await patch(green, 'takeback', {
      spec: {
        traffic: { cutover: { from: 'eks-blue', steps: [{ setShare: 50 }, { pause: {} }, { setShare: 100 }], prescale: prescale(1, 2) } },
      },
    });
    await untilCutover('paused at 50%', 'takeback', (c) => c.phase === 'Paused', { timeoutMs: 60_000 });

    // The load has grown to 40 requests/s per service: blue needs 8 pods of each to take it all back, and has 2.
    await patch(green, 'takeback', { spec: { traffic: { cutover: { prescale: prescale(40, 2) } } } });
    await ask('takeback', 'abort/1');
    // The batch that asks blue (its TXT) is PENDING a moment first, and polls again later: the
    // status that says what the walk back waits for is kept as it was seen, not read again.
    let raising: Json;
    await untilCutover('raising blue first', 'takeback', (c) => {
      raising = c;
      return c.takeBack?.state === 'Raising' && c.message.startsWith('aborting: waiting for');
    });
    expect(raising).toMatchObject({ aborting: true, share: 50, takeBack: { floors: { reservationApi: 8, queryApi: 8 } } });
    expect(raising.message).toMatch(
      /^aborting: waiting for eks-blue's pods to take the traffic back \(reservation-api 2 ready of 8, query-api 2 ready of 8\)/,
    );
    await greenEventsArrived('PeerPreScaling', 'its floors are raised to reservation-api 8, query-api 8');
    // Asked through blue's TXT; blue's operator holds its HPAs at 8 while the traffic still waits at 50 %.
    await waitUntil('asked in blue’s TXT', async () =>
      Boolean((await route53State(api)).txt['eks-blue']?.includes('external-dns/min-replicas=reservation-api:8;query-api:8')),
    );
    await waitUntil('blue HPA floor at 8', async () => (await blueHpa()) === 8, { timeoutMs: 15_000 });
    expect((await route53State(api)).weights).toEqual({ 'eks-blue': 50, 'eks-green': 50 });

    // Blue's pods are ready: the walk back goes on, and ends with blue's record plain again.
    await patch(green, 'takeback', { spec: { traffic: { cutover: { prescale: prescale(40, 8) } } } });
    await untilCutover('aborted and back', 'takeback', (c) => c.finishedAt !== undefined, { timeoutMs: 60_000 });
    const aborted = await cutoverOf('takeback');
    expect(aborted).toMatchObject({ phase: 'Aborted', share: 0, takeBack: { state: 'Ready' } });
    expect(aborted.history.map((h: Json) => h.event)).toEqual(
      expect.arrayContaining(['PeerPreScaling', 'TakeBackReady', 'AbortCompleted']),
    );
    const end = await route53State(api);
    expect(end.weights).toEqual({ 'eks-blue': 100, 'eks-green': 0 });
    expect(end.txt['eks-blue']).not.toContain('min-replicas');
    await waitUntil('blue HPA floor back to its minimum', async () => (await blueHpa()) === 2, { timeoutMs: 15_000 });
  });

  it("aborts when green's services start failing the analysis, after pre-scaling green for each share it raised", async () => {
    const api = `slo.${zone.name}`;
    await twoClusters('slo', api);
    // Green's pods, as Prometheus sees them: real service-kit apps labelled with green's namespace and pod names.
    const pods = await greenPodsUnderLoad('slo');
    try {
      const prometheus = harnessEnv('PROMETHEUS_URL');
      await patch(green, 'slo', {
        spec: {
          traffic: {
            cutover: {
              from: 'eks-blue',
              steps: [
                { setShare: 20 },
                { analysis: { template: 'slo' } },
                { setShare: 60 },
                { analysis: { template: 'slo' } },
                { setShare: 100 },
              ],
              analysis: [{ name: 'slo', prometheus: { url: prometheus }, interval: '3s', count: 2, minRequests: 5 }],
              prescale: {
                prometheus: {
                  url: prometheus,
                  query: `sum(rate(http_request_duration_seconds_count{namespace="${green.namespace}",service="{{service}}"}[10s]))`,
                },
                requestsPerPod: { reservationApi: 5, queryApi: 5 },
              },
            },
          },
        },
      });

      // Healthy: the first analysis passes and the share goes to 60 %, green pre-scaled for it first.
      // Pre-scaling waits for kwok to report the new pods available: slow on a loaded machine.
      await untilCutover('60% written', 'slo', (c) => c.verifiedWeights?.self === 60, {
        timeoutMs: 150_000,
        intervalMs: 500,
      });
      const at60 = await get(green, 'slo');
      const events = at60.status.traffic.cutover.history.map((h: Json) => h.event);
      expect(events).toContain('AnalysisSuccessful');
      // ~40 req/s per service × 60 % × 1.25 headroom / 5 per pod ≈ 6 pods: well above the minimum of 2.
      const floor = at60.status.traffic.minReplicas.queryApi;
      expect(floor).toBeGreaterThan(2);
      expect(at60.status.services.queryApi.available).toBeGreaterThanOrEqual(floor);
      await greenEventsArrived('PreScaling', 'before raising the share to 60%: minReplicas');
      expect((await route53State(api)).weights).toEqual({ 'eks-blue': 40, 'eks-green': 60 });
      // Blue, whose weight green writes, is held warm all along: the way back is covered.
      expect((await get(blue, 'slo')).status.traffic.minReplicas).toBeDefined();

      // Green starts failing: the second analysis fails, and the cutover walks back to blue.
      pods.failing = true;
      await untilCutover('aborted and back', 'slo', (c) => c.finishedAt !== undefined, {
        timeoutMs: 120_000,
        intervalMs: 500,
      });
      const aborted = await cutoverOf('slo');
      expect(aborted).toMatchObject({ phase: 'Aborted', share: 0, lastAnalysis: { template: 'slo', step: 3, result: 'Failed' } });
      expect(aborted.lastAnalysis.message).toMatch(/success rate .* < 99%/);
      expect(aborted.history.map((h: Json) => h.event)).toEqual(
        expect.arrayContaining(['AnalysisFailed', 'CutoverAborted', 'AbortCompleted']),
      );
      await greenEventsArrived('AnalysisFailed');
      // What the ReservationCutoverAborted alert counts.
      const ref = { namespace: green.namespace, reservation: 'slo' };
      expect(await metric(green.operator as OperatorProcess, 'reservation_cutover_aborted_total', ref)).toBe(1);
      expect(
        await metric(green.operator as OperatorProcess, 'cutover_analysis_measurements_total', { name: 'slo', verdict: 'failed' }),
      ).toBeGreaterThanOrEqual(1);
      expect((await route53State(api)).weights).toEqual({ 'eks-blue': 100, 'eks-green': 0 });
      expect((await get(green, 'slo')).status.traffic.minReplicas).toBeUndefined();
    } finally {
      await pods.stop();
    }
    // Two analysis windows, pre-scaling and an abort: its waits allow 90 s each, jest's default 60 s would cut them short.
  }, 360_000);

  // AWS's pace: every change PENDING for 30-60 s, as Route53 reports it. A plan of two steps and a
  // TTL of 5 s keep the four changes it makes (50 %, the abort back to 0, 50 % again, 100 %) to
  // about 2-4 minutes of PENDING, so the test stays under 8 minutes.
  it("runs a whole cutover at AWS's pace: a failed analysis aborts it, a retry completes it, no step counted before INSYNC and a TTL", async () => {
    const api = `aws.${zone.name}`;
    const ttl = 5;
    await twoClusters('aws', api, ttl); // at the file's short PENDING: the cutover is what runs at AWS's
    const pods = await greenPodsUnderLoad('aws');
    pods.failing = true; // the first run's analysis fails
    proxy.set({ insyncDelayMs: { min: 30_000, max: 60_000 } });
    // All along: the status never claims a weight Route53's DNS does not serve yet.
    let watching = true;
    const claims: string[] = [];
    const watch = (async () => {
      while (watching) {
        const c = await cutoverOf('aws');
        const served = (await proxy.served(zone.id)).find((r) => r.name === api && r.type === 'CNAME' && r.setIdentifier === 'eks-green');
        // DNS may be ahead of the status (INSYNC before the operator's next poll), never behind it.
        if (c?.verifiedWeights && served?.weight !== c.verifiedWeights.self && served?.weight !== c.weights.self) {
          claims.push(`status verified ${c.verifiedWeights.self} while DNS serves ${served?.weight}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    })();
    try {
      const prometheus = harnessEnv('PROMETHEUS_URL');
      await patch(green, 'aws', {
        spec: {
          traffic: {
            cutover: {
              from: 'eks-blue',
              steps: [{ setShare: 50 }, { analysis: { template: 'slo' } }, { setShare: 100 }],
              analysis: [{ name: 'slo', prometheus: { url: prometheus }, interval: '3s', count: 2, minRequests: 5 }],
              drain: { ttls: 2 },
            },
          },
        },
      });
      const events = async () => ((await cutoverOf('aws'))?.history ?? []) as { at: string; event: string; message: string }[];
      await untilCutover('aborted and back at 0', 'aws', (c) => c.phase === 'Aborted' && c.finishedAt !== undefined, {
        timeoutMs: 240_000,
        intervalMs: 1000,
      });
      const aborted = await cutoverOf('aws');
      expect(aborted).toMatchObject({ share: 0, weights: { self: 0, peer: 100 }, verifiedWeights: { self: 0, peer: 100 } });
      expect(aborted.lastAnalysis).toMatchObject({ template: 'slo', result: 'Failed' });
      expect((await route53State(api)).weights).toEqual({ 'eks-blue': 100, 'eks-green': 0 });
      // Counted only after INSYNC and a TTL: each write verified no sooner than Route53's 30 s, the
      // analysis begun no sooner than a TTL after 50 % was verified.
      const firstRun = await events();
      const at = (event: string, text: string) => Date.parse(firstRun.find((h) => h.event === event && h.message.includes(text))?.at ?? '');
      const writtenAt = at('WeightsChanging', '0% → 50%');
      const verifiedAt = at('WeightsVerified', 'Route53 serves 50%');
      expect(verifiedAt - writtenAt).toBeGreaterThanOrEqual(29_000); // status times are to the second
      expect(Date.parse(aborted.lastAnalysis.startedAt) - verifiedAt).toBeGreaterThanOrEqual((ttl - 1) * 1000);
      expect(at('WeightsVerified', 'Route53 serves 0%') - at('WeightsChanging', '50% → 0%')).toBeGreaterThanOrEqual(29_000);

      // Fixed: retry runs the plan again, through the analysis, to 100 % and the drain.
      pods.failing = false;
      await ask('aws', 'retry/1');
      await untilCutover('succeeded', 'aws', (c) => c.phase === 'Succeeded', { timeoutMs: 300_000, intervalMs: 1000 });
      const done = await cutoverOf('aws');
      expect(done).toMatchObject({ share: 100, weights: { self: 100, peer: 0 }, verifiedWeights: { self: 100, peer: 0 } });
      expect(done.handledRequest).toBe('retry/1');
      expect(done.lastAnalysis).toMatchObject({ template: 'slo', result: 'Successful' });
      expect((await events()).map((h) => h.event)).toEqual(expect.arrayContaining(['AnalysisSuccessful', 'CutoverSucceeded']));
      // The drain: Succeeded no sooner than two TTLs after 100 % was verified.
      expect(Date.parse(done.finishedAt) - Date.parse(done.syncedAt)).toBeGreaterThanOrEqual(2 * ttl * 1000);
      expect((await route53State(api)).weights).toEqual({ 'eks-blue': 0, 'eks-green': 100 });
      expect(claims).toEqual([]);
    } finally {
      watching = false;
      await watch;
      proxy.set({ insyncDelayMs: SHORT_INSYNC });
      await pods.stop();
    }
  }, 600_000);

  it('refuses a cutover from a peer that has no record, writes nothing, and says why', async () => {
    const dns = { hostedZoneId: zone.id, name: `lonely.${zone.name}`, ttl: TTL };
    await create(green, 'lonely', { cluster: 'eks-green', dns, weight: 10, target: 'green.elb.example.com' });
    await waitUntil('green at 10', async () => (await get(green, 'lonely')).status?.traffic?.verifiedWeight === 10, { timeoutMs: 30_000 });
    await patch(green, 'lonely', { spec: { traffic: { cutover: { from: 'eks-red', stepPercent: 50 } } } });
    await waitUntil('refused', async () => (await get(green, 'lonely')).status?.phase === 'Degraded', { timeoutMs: 30_000 });
    const status = (await get(green, 'lonely')).status;
    expect(status.conditions.find((c: Json) => c.type === 'TrafficReady')).toMatchObject({
      status: 'False',
      reason: 'PeerRecordMissing',
      message: expect.stringContaining("the peer's weighted record and its ExternalDNS ownership TXT must both exist"),
    });
    expect(status.traffic.cutover).toBeUndefined();
    await greenEventsArrived('PeerRecordMissing');
    expect((await route53State(dns.name)).weights).toEqual({ 'eks-green': 10 }); // nothing written
  });
});

/**
 * Both clusters' request counts as Prometheus scrapes them (`cluster="eks-blue"` and
 * `"eks-green"`, with the namespace and pod labels of the Reservation's pods): two test exporters
 * whose counters the test drives, `rate` requests per second split by `greenShare`, so the test
 * decides the share of traffic green is observed to get.
 */
async function observedTraffic(name: string) {
  const exporters = { blue: await startTestExporter(), green: await startTestExporter() };
  const pod = (cluster: string) => `${name}-query-api-5d8f7c9b4-${cluster.slice(0, 5)}`;
  const removeTargets = writePrometheusTargets(harnessEnv('PROMETHEUS_TARGETS_DIR'), `settle-${green.namespace}-${name}`, [
    { url: exporters.blue.metricsUrl, labels: { namespace: green.namespace, pod: pod('blue1'), cluster: 'eks-blue' } },
    { url: exporters.green.metricsUrl, labels: { namespace: green.namespace, pod: pod('green'), cluster: 'eks-green' } },
  ]);
  const traffic = { greenShare: 0, perTick: 50 };
  let carry = { blue: 0, green: 0 };
  const timer = setInterval(() => {
    carry = { blue: carry.blue + traffic.perTick * (1 - traffic.greenShare), green: carry.green + traffic.perTick * traffic.greenShare };
    const whole = { blue: Math.floor(carry.blue), green: Math.floor(carry.green) };
    exporters.blue.observe(whole.blue, 200, 0.01);
    exporters.green.observe(whole.green, 200, 0.01);
    carry = { blue: carry.blue - whole.blue, green: carry.green - whole.green };
  }, 100);
  return {
    traffic,
    async stop() {
      clearInterval(timer);
      removeTargets();
      await Promise.all([exporters.blue.close(), exporters.green.close()]);
    },
  };
}

describe('a step settled by the traffic it receives (settle), against the real Prometheus', () => {
  /** The Prometheus that scrapes both clusters, and the settle rule's settings. */
  const settle = (maxWait: string) => ({
    prometheus: { url: harnessEnv('PROMETHEUS_URL'), label: 'cluster' },
    settle: { tolerancePoints: 3, window: '5s', maxWait },
  });

  it("waits at a step until green's observed share arrives, while blue closes its share of keep-alive connections", async () => {
    const api = `settle.${zone.name}`;
    await twoClusters('settle', api);
    const observed = await observedTraffic('settle');
    try {
      // Green gets 25 % of the requests: the first step (25 %) settles at once; at the second (50 %)
      // long-lived connections keep the rest on blue, whatever the weights.
      observed.traffic.greenShare = 0.25;
      await patch(green, 'settle', {
        spec: {
          traffic: {
            cutover: {
              from: 'eks-blue',
              steps: [{ setShare: 25 }, { setShare: 50 }, { setShare: 100 }],
              drain: { ttls: 1, connectionClose: true },
              ...settle('10m'),
            },
          },
        },
      });
      await untilCutover(
        'waiting at 50% for the observed share',
        'settle',
        (c) =>
          c.step === 1 &&
          c.observed?.configuredShare === 50 &&
          c.observed.share !== undefined &&
          c.message.includes('waiting for the traffic to follow'),
        { timeoutMs: 60_000 },
      );
      const waiting = await cutoverOf('settle');
      expect(waiting).toMatchObject({ share: 50, verifiedWeights: { self: 50, peer: 50 }, observed: { configuredShare: 50 } });
      // increase() extrapolates both clusters' counts alike: the share stays near the 25 % the exporters give.
      expect(Math.abs(waiting.observed.share - 25)).toBeLessThan(5);
      expect(waiting.observed.settled).toBeUndefined();
      expect(waiting.observed.message).toMatch(/^observed \d+(\.\d)?% for 50% configured \(\d+ here, \d+ at the peer over \d+s\)$/);
      const shown = await kubectlReservation('status', 'settle');
      expect(shown).toMatch(/observed {6}\d+(\.\d)?% of requests for 50% configured/);

      // Blue's side: 75 % → 50 %. Its services close 2/3 of their older connections: of the clients
      // that resolve again, half come back by the new weights, leaving blue with 50 %.
      await waitUntil(
        'blue rebalancing two thirds of its connections',
        async () => {
          const handover = (await get(blue, 'settle')).status?.traffic?.handover;
          if (handover?.rebalance?.fraction === 0.6667) return true;
          throw new Error(`blue's handover: ${JSON.stringify(handover)}`);
        },
        { timeoutMs: 15_000 },
      );
      expect((await get(blue, 'settle')).status.traffic.handover.rebalance).toMatchObject({ fromShare: 75, toShare: 50 });
      const blueSwitch = async () =>
        (await blue.kube.request<Json>('GET', resourcePath(RESOURCE_TYPES.ConfigMap, blue.namespace, 'settle-drain'))).data[
          'connection-close'
        ];
      await waitUntil('blue drain switch holding the rebalance', async () => (await blueSwitch()).includes('"fraction":0.6667'), {
        timeoutMs: 15_000,
      });
      expect(JSON.parse(await blueSwitch())).toMatchObject({ fraction: 0.6667, spreadSeconds: TTL });

      // The clients that reconnect follow the weights: green's share arrives, and the step counts.
      observed.traffic.greenShare = 0.5;
      await untilCutover('50% settled by its traffic', 'settle', (c) => c.step >= 2, {
        timeoutMs: 60_000,
      });
      const completed = (await cutoverOf('settle')).history.find((h: Json) => h.event === 'StepCompleted' && h.message.includes('50%'));
      expect(completed.message).toBe('step 2 of 3: 50% verified and held for one TTL');
      observed.traffic.greenShare = 1;
      await untilCutover('succeeded', 'settle', (c) => c.phase === 'Succeeded', { timeoutMs: 60_000 });
      const done = await cutoverOf('settle');
      expect(done.observed).toMatchObject({ configuredShare: 100, settled: 'Observed' });
      expect(done.observed.share).toBeGreaterThanOrEqual(97);
      expect(await greenEvents('ObservedShareBehind')).toEqual([]);
    } finally {
      await observed.stop();
    }
  });

  it('goes on after settle.maxWait when the traffic never follows, with a Warning event and the condition reason', async () => {
    const api = `bound.${zone.name}`;
    await twoClusters('bound', api);
    const observed = await observedTraffic('bound');
    try {
      observed.traffic.greenShare = 0.2;
      await patch(green, 'bound', {
        // Long enough for measurements with data (every 5 s, over a window that grows from the TTL).
        spec: { traffic: { cutover: { from: 'eks-blue', steps: [{ setShare: 50 }, { pause: {} }], ...settle('15s') } } },
      });
      await untilCutover('past the bound, paused', 'bound', (c) => c.phase === 'Paused' && c.observed?.settled === 'Bound', {
        timeoutMs: 60_000,
      });
      const held = await cutoverOf('bound');
      expect(held).toMatchObject({ step: 1, share: 50, observed: { configuredShare: 50, settled: 'Bound' } });
      expect(held.observed.share).toBeLessThan(47);
      // The cutover's event; the condition's reason may bring one of its own, saying the condition.
      const warnings = await greenEventsArrived('ObservedShareBehind', 'after 15s (settle.maxWait): going on');
      expect(warnings.find((m) => m.startsWith('step 1 of 2:'))).toMatch(
        /^step 1 of 2: 50% in sync, but observed \d+(\.\d)?%, outside ±3 points after 15s \(settle\.maxWait\): going on$/,
      );
      await waitUntil(
        'TrafficReady says the observed share is behind',
        async () => {
          const ready = (await get(green, 'bound')).status?.conditions?.find((c: Json) => c.type === 'TrafficReady');
          if (ready?.reason === 'ObservedShareBehind') return true;
          throw new Error(`TrafficReady: ${JSON.stringify(ready)}`);
        },
        { timeoutMs: 15_000 },
      );
      const ready = (await get(green, 'bound')).status.conditions.find((c: Json) => c.type === 'TrafficReady');
      expect(ready).toMatchObject({ status: 'True', reason: 'ObservedShareBehind' });
      expect(ready.message).toMatch(/observed \d+(\.\d)?% for 50% configured/);
    } finally {
      await observed.stop();
    }
  });
});
