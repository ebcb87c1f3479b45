import { Route53Client } from '@aws-sdk/client-route-53';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  createZone,
  harnessEnv,
  listRecords,
  putWeighted,
  startRoute53AwsStandIn,
  waitUntil,
  writePrometheusTargets,
} from '@reservations/testkit';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { API_VERSION, KIND, type Reservation } from '../../src/api/v1alpha1/reservation.ts';
import { renderStatus } from '../../src/cli/render.ts';
import { createKubeClient, PATCH } from '../../src/kube/client.ts';
import { RESOURCE_TYPES, resourcePath } from '../../src/kube/resources.ts';
import { startManager } from '../../src/manager.ts';
import { instantQuery } from '../../src/traffic/analysis/prometheus-source.ts';
import { createRoute53Provider } from '../../src/traffic/route53/provider.ts';
import { untilCutoverStatus } from '../support/cutover-wait.ts';
import { sampleSpec } from '../support/fixtures.ts';
import { createTestNamespace, installCrds, testKubeConfig } from '../support/kube.ts';
import { startTestExporter } from './analysis/test-exporter.ts';

/**
 * A cutover paced by the error budget, against the harness's real Prometheus and API server, the
 * operator in this process, and Route53 through the stand-in for AWS's behaviour (changes PENDING
 * for up to 1.5 s). Blue's and green's services are test exporters whose request counters the
 * test drives, scraped as `cluster=eks-blue` and `cluster=eks-green` with the namespace and pod
 * labels a Kubernetes scrape gives the Reservation's pods. Blue's record is made by hand, as its
 * own operator would have.
 */

const TTL = 1;
const prometheusUrl = harnessEnv('PROMETHEUS_URL');
const kc = testKubeConfig();
const kube = createKubeClient(kc);
let proxy: Awaited<ReturnType<typeof startRoute53AwsStandIn>>;
let route53: Route53Client;
let namespace: string;
let manager: Awaited<ReturnType<typeof startManager>>;
const cleanups: Array<() => Promise<void> | void> = [];

// biome-ignore lint/suspicious/noExplicitAny: the assertions read deep into plain JSON objects
type Json = any;
const path = (name?: string) => resourcePath(RESOURCE_TYPES.Reservation, namespace, name);
const get = (name: string) => kube.request<Reservation & Json>('GET', path(name));
const cutoverOf = async (name: string) => (await get(name)).status?.traffic?.cutover;

/** Waits until the cutover `name` satisfies `holds`; a timeout says where it stood. */
const untilCutover = (what: string, name: string, holds: (cutover: Json) => boolean, timeoutMs = 60_000) =>
  untilCutoverStatus(what, () => cutoverOf(name), holds, { timeoutMs, intervalMs: 250 });

async function weights(zoneId: string, name: string) {
  const out: Record<string, number | undefined> = {};
  for (const r of await listRecords(route53, zoneId))
    if (r.name === name && r.type === 'CNAME' && r.setIdentifier) out[r.setIdentifier] = r.weight;
  return out;
}

/**
 * Blue at 100 (its record made by hand) and green's Reservation `name` at 0, both clusters' test
 * exporters scraped, and blue answering about 100 requests/s until the test ends.
 */
async function twoClusters(name: string) {
  const zone = await createZone(route53);
  const dnsName = `${name}.${zone.name}`;
  await putWeighted(route53, zone.id, {
    name: dnsName,
    setIdentifier: 'eks-blue',
    weight: 100,
    target: 'blue.elb.example.com',
    owner: 'reservation-operator-eks-blue',
    ttl: TTL,
  });
  const blue = await startTestExporter();
  const green = await startTestExporter();
  cleanups.push(
    () => blue.close(),
    () => green.close(),
  );
  cleanups.push(
    writePrometheusTargets(harnessEnv('PROMETHEUS_TARGETS_DIR'), `pacing-${namespace}-${name}`, [
      { url: blue.metricsUrl, labels: { namespace, pod: `${name}-query-api-5d8f7c9b4-b1b1b`, cluster: 'eks-blue' } },
      { url: green.metricsUrl, labels: { namespace, pod: `${name}-query-api-6e9a8d0c5-g2g2g`, cluster: 'eks-green' } },
    ]),
  );
  const load = setInterval(() => blue.observe(25, 200, 0.02), 250);
  cleanups.push(() => clearInterval(load));
  // Two scrapes of each exporter, so that increase() has a start to count from.
  await waitUntil(
    'Prometheus holding two scrapes of both test exporters',
    async () => ((await instantQuery(prometheusUrl, `sum(count_over_time(up{namespace="${namespace}",pod=~"${name}-.*"}[1m]))`)) ?? 0) >= 4,
    { timeoutMs: 30_000, intervalMs: 250 },
  );
  await kube.request('POST', path(), {
    body: {
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: { name },
      spec: sampleSpec({
        traffic: {
          cluster: 'eks-green',
          dns: { hostedZoneId: zone.id, name: dnsName, ttl: TTL },
          weight: 0,
          target: 'green.elb.example.com',
        },
      }),
    },
  });
  await waitUntil('green at weight 0', async () => (await get(name)).status?.traffic?.verifiedWeight === 0, { timeoutMs: 30_000 });
  return { zone, dnsName, blue, green };
}

/** Starts the cutover of `name` with pacing: 99.9 % over a day, 2 % of the budget per step (about 170 requests at 100/s). */
async function startPacedCutover(name: string, steps: Json[], pacing: Json = {}) {
  await kube.request('PATCH', path(name), {
    body: {
      spec: {
        traffic: {
          cutover: {
            from: 'eks-blue',
            steps,
            drain: { ttls: 1 },
            prometheus: { url: prometheusUrl },
            pacing: {
              objective: 0.999,
              windowDays: 1,
              budgetFraction: 0.02,
              minDwell: '1s',
              maxDwell: '10m',
              ...pacing,
            },
          },
        },
      },
    },
    contentType: PATCH.merge,
  });
}

beforeAll(async () => {
  await installCrds(kc);
  namespace = await createTestNamespace(kc, 'pacing');
  proxy = await startRoute53AwsStandIn({ insyncDelayMs: { min: 500, max: 1500 } });
  route53 = new Route53Client({ endpoint: proxy.url });
  manager = await startManager({
    kc,
    namespace,
    workers: 2,
    resyncMs: 60_000,
    identity: 'pacing',
    logger: pino({ level: 'warn' }),
    registry: new Registry(),
    traffic: {
      provider: (gate) => createRoute53Provider({ client: new Route53Client({ endpoint: proxy.url }), gate }),
      pendingPollMs: 500,
    },
  });
});

afterAll(async () => {
  await manager?.stop();
  for (const cleanup of cleanups.reverse()) await cleanup();
  await proxy?.close();
  route53?.destroy();
});

describe('a cutover paced by the error budget', () => {
  it('holds each step until green has served its requests at that share, then goes on to Succeeded', async () => {
    const { zone, dnsName, green } = await twoClusters('paced');
    await startPacedCutover('paced', [{ setShare: 20 }, { setShare: 100 }]);

    // 20 % in sync and held a TTL: green has answered nothing yet, so the step waits, and says for what.
    await untilCutover('pacing measured at step 1', 'paced', (c) => c.pacing?.step === 0);
    const waiting = await cutoverOf('paced');
    expect(waiting).toMatchObject({ phase: 'Progressing', step: 0, share: 20, pacing: { requests: 0 } });
    expect(waiting.message).toMatch(/^step 1: 0 of [\d,]+ requests at 20 %, burn unknown/);
    expect(waiting.pacing.requestsNeeded).toBeGreaterThan(0);
    expect(await weights(zone.id, dnsName)).toEqual({ 'eks-blue': 80, 'eks-green': 20 });
    // Measured again later, and still waiting: time alone does not end a paced step before maxDwell.
    await untilCutover('measured again', 'paced', (c) => c.pacing && c.pacing.measuredAt !== waiting.pacing.measuredAt);
    expect(await cutoverOf('paced')).toMatchObject({ step: 0, pacing: { step: 0, requests: 0 } });
    // What `kubectl reservation status` shows of it.
    const shown = renderStatus(await get('paced'), { now: new Date(), width: 200, color: false });
    expect(shown).toMatch(/▶ {2}1\. setShare 20% {3}← paced: 0 of [\d,]+ requests/);
    expect(shown).toMatch(/pacing {8}step 1: 0 of [\d,]+ requests; burn – 5m, – 1h, – 30m, – 6h \(measured /);

    // Green answers enough requests without errors: the step is paced out, and 100 % is next.
    green.observe(5000, 200, 0.02);
    await untilCutover('past step 1', 'paced', (c) => c.step >= 1);
    const completed = (await cutoverOf('paced')).history.find((h: Json) => h.event === 'StepCompleted' && h.step === 0);
    expect(completed.message).toMatch(
      /^step 1 of 2: 20% verified, held for one TTL and paced \(step 1: [\d,]+ of [\d,]+ requests at 20 %, burn 0×: enough requests, burn below 6×\)$/,
    );
    // At 100 % green answers everything: it keeps answering, and the cutover ends.
    const load = setInterval(() => green.observe(25, 200, 0.02), 250);
    cleanups.push(() => clearInterval(load));
    await untilCutover('succeeded', 'paced', (c) => c.phase === 'Succeeded', 90_000);
    expect(await weights(zone.id, dnsName)).toEqual({ 'eks-blue': 0, 'eks-green': 100 });
  });

  it('aborts back to blue when green burns its budget fast, and pauses with the reason when it burns slowly', async () => {
    const fast = await twoClusters('fastburn');
    await startPacedCutover('fastburn', [{ setShare: 20 }, { setShare: 100 }]);
    await untilCutover('pacing measured at step 1', 'fastburn', (c) => c.pacing?.step === 0);
    // 10 % of green's answers are 5xx: 100× the budget's even spend at 99.9 %, over every window.
    fast.green.observe(900, 200, 0.02);
    fast.green.observe(100, 500, 0.02);
    await untilCutover('aborted and back', 'fastburn', (c) => c.phase === 'Aborted' && c.finishedAt !== undefined);
    const aborted = await cutoverOf('fastburn');
    expect(aborted).toMatchObject({ share: 0, weights: { self: 0, peer: 100 } });
    expect(aborted.history.find((h: Json) => h.event === 'FastBurn').message).toMatch(
      /^step 1: [\d,]+ of [\d,]+ requests at 20 %, burn \d+(\.\d)?×: fast burn, \d+(\.\d)?× over the short window and \d+(\.\d)?× over the long one \(abort at 14\.4× on both\)$/,
    );
    expect(await weights(fast.zone.id, fast.dnsName)).toEqual({ 'eks-blue': 100, 'eks-green': 0 });

    const slow = await twoClusters('slowburn');
    await startPacedCutover('slowburn', [{ setShare: 20 }, { setShare: 100 }]);
    await untilCutover('pacing measured at step 1', 'slowburn', (c) => c.pacing?.step === 0);
    // 1 % 5xx: 10× the even spend, above the slow burn (6×) and below the fast one (14.4×).
    slow.green.observe(990, 200, 0.02);
    slow.green.observe(10, 500, 0.02);
    await untilCutover('paused by the slow burn', 'slowburn', (c) => c.phase === 'Paused');
    const paused = await cutoverOf('slowburn');
    expect(paused).toMatchObject({ held: true, step: 0, share: 20 });
    expect(paused.message).toMatch(
      /slow burn, \d+(\.\d)?× over the short window and \d+(\.\d)?× over the long one \(pause at 6× on both\)/,
    );
    expect(paused.history.map((h: Json) => h.event)).toContain('SlowBurn');
    expect(await weights(slow.zone.id, slow.dnsName)).toEqual({ 'eks-blue': 80, 'eks-green': 20 });
  });
});
