import { execFile } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Route53Client } from '@aws-sdk/client-route-53';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import {
  createZone,
  harnessEnv,
  installChromium,
  type Route53AwsStandIn,
  runDir,
  type Server,
  startKubeControlPlane,
  startPrometheus,
  startRoute53AwsStandIn,
  stopServers,
  waitUntil,
  writePrometheusTargets,
} from '@reservations/testkit';
import { pino } from 'pino';
import { type Browser, chromium, type Page } from 'playwright-core';
import { API_VERSION, KIND, type Reservation } from '../../src/api/v1alpha1/reservation.ts';
import { type Dashboard, startDashboard } from '../../src/cli/dashboard/server.ts';
import type { Target } from '../../src/cli/kubeconfig.ts';
import { createInformer } from '../../src/controller/informer.ts';
import { createKubeClient } from '../../src/kube/client.ts';
import { RESOURCE_TYPES, resourcePath } from '../../src/kube/resources.ts';
import { dashboardPage } from '../support/dashboard-page.ts';
import { sampleSpec } from '../support/fixtures.ts';
import { createTestNamespace, installCrds, testKubeConfig } from '../support/kube.ts';
import { type OperatorProcess, startClusterOperatorProcess } from '../support/operator-process.ts';
import { type ServicePod, startServicePod } from '../traffic/analysis/service-pods.ts';

/**
 * The dashboard in Debian's Chromium, driven by playwright-core, against two real clusters: blue
 * is the harness's control plane, green a second control plane, each with the operator as a
 * process; Route53 is moto behind the stand-in of AWS's behaviour, which both operators call (a
 * change stays PENDING for 1-2 s, so every step waits for INSYNC). Each cluster's services are a
 * stand-in pod (service-kit's metrics) that a Prometheus of this test's own scrapes with a
 * `cluster` label, and a load loop picks a cluster per request by the weights Route53's DNS serves
 * (changes INSYNC only: the stand-in for DNS).
 */

const NAME = 'booking';
// Long enough that a setShare step is Progressing for a few seconds (held one TTL), for the pause button.
const TTL = 5;
const SHORT_INSYNC = { min: 1000, max: 2000 };
const dir = runDir();
const route53 = new Route53Client({});
let front: Route53AwsStandIn;
let zone: { id: string; name: string };
let blue: Target & { operator: OperatorProcess };
let green: Target & { operator: OperatorProcess; plane: Awaited<ReturnType<typeof startKubeControlPlane>> };
let prometheus: { url: string; servers: Server[] };
let pods: Record<'blue' | 'green', ServicePod>;
let load: { stop(): Promise<void> };
let dashboard: Dashboard;
let browser: Browser;
let page: Page;

const path = (t: Target, name?: string) => resourcePath(RESOURCE_TYPES.Reservation, t.namespace, name);
const read = (t: Target) => t.client.request<Reservation>('GET', path(t, NAME));
const { cluster, phaseIn, shows, click, confirm, startCutoverFromPage, observedShown } = dashboardPage(() => page);

async function createReservation(t: Target, traffic: Record<string, unknown>) {
  await t.client.request('POST', path(t), {
    body: { apiVersion: API_VERSION, kind: KIND, metadata: { name: NAME }, spec: sampleSpec({ traffic }) },
  });
}

/** Steady requests, each to the cluster a weighted choice among the records DNS serves picks: what resolvers do with Route53's answers. */
function startLoadByWeightsStandIn(dnsName: string, targets: Record<string, ServicePod>): { stop(): Promise<void> } {
  let weights: Record<string, number> = {};
  let stopped = false;
  const refresh = async () => {
    const records = await front.served(zone.id);
    weights = Object.fromEntries(
      records.filter((r) => r.name === dnsName && r.type === 'CNAME').map((r) => [r.setIdentifier ?? '', r.weight ?? 0]),
    );
  };
  const loop = (async () => {
    let last = 0;
    while (!stopped) {
      if (Date.now() - last > TTL * 1000) {
        await refresh().catch(() => {});
        last = Date.now();
      }
      const entries = Object.entries(weights);
      const total = entries.reduce((sum, [, w]) => sum + w, 0);
      // Route53's weighted rule: each record in proportion to its weight.
      let pick = Math.random() * total;
      let chosen: string | undefined;
      for (const [id, w] of entries) {
        pick -= w;
        if (pick < 0) {
          chosen = id;
          break;
        }
      }
      const pod = chosen && targets[chosen];
      if (pod) await fetch(`${pod.api}/ok`, { signal: AbortSignal.timeout(2000) }).catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

/** Waits until green's cutover `holds`; the timeout's message says where it is instead. */
async function greenCutover(
  what: string,
  holds: (c: NonNullable<NonNullable<Reservation['status']>['traffic']>['cutover']) => boolean,
  timeoutMs: number,
) {
  await waitUntil(
    what,
    async () => {
      const { status } = await read(green);
      const cutover = status?.traffic?.cutover;
      if (holds(cutover)) return true;
      const ready = status?.conditions?.find((c) => c.type === 'TrafficReady');
      throw new Error(
        `it is ${cutover?.phase} at step ${cutover?.step}: ${cutover?.message}; TrafficReady ${ready?.reason}: ${ready?.message}`,
      );
    },
    { timeoutMs },
  );
}

beforeAll(async () => {
  const [chromiumPath] = await Promise.all([
    installChromium(),
    // The page as the plugin serves it, built from the sources of this checkout.
    promisify(execFile)(process.execPath, [join(import.meta.dirname, '..', '..', 'build-dashboard.ts'), join(dir, 'page')]),
  ]);
  zone = await createZone(route53);
  front = await startRoute53AwsStandIn({ insyncDelayMs: SHORT_INSYNC });

  const kc = testKubeConfig();
  await installCrds(kc);
  const blueNamespace = await createTestNamespace(kc, 'dashboard-blue');
  blue = {
    kc,
    client: createKubeClient(kc),
    namespace: blueNamespace,
    context: 'blue',
    operator: await startClusterOperatorProcess({
      kubeconfig: harnessEnv('KUBECONFIG'),
      namespace: blueNamespace,
      route53: front.url,
      appId: 'dashboard-blue-operator',
    }),
  };
  const plane = await startKubeControlPlane(join(dir, 'green'), 'green');
  const greenKc = new KubeConfig();
  greenKc.loadFromFile(plane.env.KUBECONFIG);
  await installCrds(greenKc);
  const greenNamespace = await createTestNamespace(greenKc, 'dashboard-green');
  const operator = await startClusterOperatorProcess({
    kubeconfig: plane.env.KUBECONFIG,
    namespace: greenNamespace,
    route53: front.url,
    appId: 'dashboard-green-operator',
  });
  green = { kc: greenKc, client: createKubeClient(greenKc), namespace: greenNamespace, context: 'green', operator, plane };

  const dns = { hostedZoneId: zone.id, name: `api.${zone.name}`, ttl: TTL };
  await createReservation(blue, { cluster: 'eks-blue', dns, weight: 100, target: 'blue.elb.example.com' });
  // Each write waits for its change INSYNC and the operator's next GetChange poll.
  await waitUntil('blue at 100', async () => (await read(blue)).status?.traffic?.verifiedWeight === 100, { timeoutMs: 60_000 });
  await createReservation(green, { cluster: 'eks-green', dns, weight: 0, target: 'green.elb.example.com' });
  await waitUntil('green at 0', async () => (await read(green)).status?.traffic?.verifiedWeight === 0, { timeoutMs: 60_000 });

  // A Prometheus of this file's own: the test stops it, which the harness's shared one must not be.
  const promDir = join(dir, 'prometheus');
  mkdirSync(promDir, { recursive: true });
  const started = await startPrometheus(promDir);
  prometheus = { url: started.env.PROMETHEUS_URL, servers: started.servers };
  pods = { blue: await startServicePod('blue-pod'), green: await startServicePod('green-pod') };
  writePrometheusTargets(started.env.PROMETHEUS_TARGETS_DIR, 'dashboard', [
    { url: pods.blue.metricsUrl, labels: { cluster: 'blue' } },
    { url: pods.green.metricsUrl, labels: { cluster: 'green' } },
  ]);
  load = startLoadByWeightsStandIn(dns.name, { 'eks-blue': pods.blue, 'eks-green': pods.green });

  dashboard = await startDashboard({
    name: NAME,
    clusters: [blue, green],
    prometheusUrl: prometheus.url,
    port: 0,
    staticDir: join(dir, 'page'),
  });
  browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
  page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
  await page.goto(dashboard.url);
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await dashboard?.stop();
  await load?.stop();
  await Promise.all(Object.values(pods ?? {}).map((p) => p.close()));
  if (prometheus) await stopServers(prometheus.servers);
  green?.operator.kill();
  blue?.operator.kill();
  if (green) await stopServers(green.plane.servers);
  rmSync(dir, { recursive: true, force: true });
  await front?.close();
  route53.destroy();
}, 60_000);

describe('kubectl reservation dashboard in Chromium', () => {
  it('shows both clusters side by side with their records, and live figures from Prometheus', async () => {
    await waitUntil(
      'both clusters shown, Idle',
      async () => (await phaseIn('blue').textContent()) === 'Idle' && (await phaseIn('green').textContent()) === 'Idle',
    );
    await expect(cluster('blue').locator('h2').textContent()).resolves.toContain('set identifier eks-blue');
    await expect(cluster('green').locator('h2').textContent()).resolves.toContain('set identifier eks-green');
    await waitUntil('blue receives all the traffic, as Prometheus sees it', async () => (await observedShown('blue')) === 100, {
      timeoutMs: 45_000,
    });
    await expect(page.locator('#live').textContent()).resolves.toBe('live');
  }, 60_000);

  it('a verb the cutover cannot take now is refused with its reason, and changes nothing', async () => {
    await click('green', 'pause');
    await shows(
      "green's notice",
      cluster('green').getByTestId('notice'),
      /^refused: cannot pause .*booking: no cutover: spec.traffic.cutover is not set/,
      10_000,
    );
    expect((await read(green)).metadata.annotations?.['platform.reservations.dev/cutover-request']).toBeUndefined();
  });

  it('a cutover started from the page, paused and resumed from the page, then aborted: it walks back to 0', async () => {
    await startCutoverFromPage('green', {
      from: 'eks-blue',
      steps: [{ setShare: 20 }, { pause: { duration: '10m' } }, { setShare: 100 }],
      drain: { ttls: 1 },
    });
    await waitUntil('the page shows green Progressing', async () => (await phaseIn('green').textContent()) === 'Progressing', {
      timeoutMs: 20_000,
    });

    // When the API server has the change (a watch of the test's own) against when the page shows it.
    const seen = new Map<string, number>();
    const informer = createInformer<Reservation>(green.kc, green.client, RESOURCE_TYPES.Reservation, {
      namespace: green.namespace,
      fieldSelector: `metadata.name=${NAME}`,
      logger: pino({ level: 'silent' }),
    });
    informer.onChange(() => {
      const phase = informer.get(green.namespace, NAME)?.status?.traffic?.cutover?.phase;
      if (phase && !seen.has(phase)) seen.set(phase, Date.now());
    });
    await informer.start();
    seen.clear();
    try {
      await click('green', 'pause');
      await shows("green's notice", cluster('green').getByTestId('notice'), /asked \(pause\/.*\): the operator will/);
      await waitUntil('the page shows Paused', async () => (await phaseIn('green').textContent()) === 'Paused', { timeoutMs: 15_000 });
      expect((await read(green)).status?.traffic?.cutover).toMatchObject({ phase: 'Paused', held: true });
      const shownAt = Number(await phaseIn('green').getAttribute('data-shown-at'));
      await waitUntil('the test saw Paused', () => seen.has('Paused'));
      process.stdout.write(`dashboard: status change (Paused) to the page showing it: ${shownAt - (seen.get('Paused') ?? 0)} ms\n`);
    } finally {
      await informer.stop();
    }

    await click('green', 'resume');
    await waitUntil('the page shows Progressing again', async () => (await phaseIn('green').textContent()) === 'Progressing', {
      timeoutMs: 15_000,
    });
    expect((await read(green)).status?.traffic?.cutover?.phase).toBe('Progressing');
    expect(await cluster('green').locator('ol.plan li.current').count()).toBe(1);

    await click('green', 'abort');
    await shows('the confirmation', page.locator('#confirm-text'), /Abort the cutover of .*booking on green\?/);
    await confirm();
    await greenCutover('the abort walked back to 0', (c) => c?.phase === 'Aborted' && !c.aborting && c.verifiedShare === 0, 90_000);
    await waitUntil('the page shows Aborted', async () => (await phaseIn('green').textContent()) === 'Aborted');
    await click('green', 'resume');
    await shows(
      "green's notice",
      cluster('green').getByTestId('notice'),
      /^refused: cannot resume .*: the cutover is aborted \(back at 0%\); retry starts it again/,
    );
  }, 240_000);

  it('a cutover started from the page runs to Succeeded while the observed share follows the weights', async () => {
    await startCutoverFromPage('green', {
      from: 'eks-blue',
      steps: [{ setShare: 50 }, { pause: { duration: '25s' } }, { setShare: 100 }],
      drain: { ttls: 1 },
    });
    await greenCutover('green at step 2 (50%)', (c) => c?.step === 1, 90_000);
    await waitUntil(
      'the observed share near 50% on both sides',
      async () => {
        const [b, g] = [await observedShown('blue'), await observedShown('green')];
        return b >= 30 && b <= 70 && g >= 30 && g <= 70;
      },
      { timeoutMs: 25_000 },
    );
    // docs/dashboard.png is this picture: UPDATE_SCREENSHOTS=1 writes it there, otherwise it stays in the run directory.
    const docs = join(import.meta.dirname, '..', '..', '..', 'docs', 'dashboard.png');
    await page.screenshot({ path: process.env.UPDATE_SCREENSHOTS ? docs : join(dir, 'dashboard.png'), fullPage: true });
    await waitUntil('the page shows green Succeeded', async () => (await phaseIn('green').textContent()) === 'Succeeded', {
      timeoutMs: 120_000,
    });
    expect((await read(green)).status?.traffic?.cutover?.phase).toBe('Succeeded');
    // Prometheus's rate looks 15 s back: the share shown reaches green's 100 % that much later.
    await waitUntil(
      'the observed share follows to green',
      async () => {
        const shown = await observedShown('green');
        if (shown >= 95) return true;
        throw new Error(`it shows ${shown}%`);
      },
      { timeoutMs: 60_000 },
    );
    const steps = await cluster('green')
      .locator('ol.plan li')
      .evaluateAll((items) => items.map((li) => li.getAttribute('data-state')));
    expect(steps).toEqual(['done', 'done', 'done']);
    // The chart's step lines: both cutovers' starts, the plan change, steps completed, the abort, the success.
    const chart = cluster('green').getByTestId('chart');
    expect(Number(await chart.getAttribute('data-marks'))).toBeGreaterThanOrEqual(6);
    expect(Number(await chart.getAttribute('data-points'))).toBeGreaterThan(30);
  }, 300_000);

  it('says "cannot reach" when Prometheus is gone, with no figures shown as current', async () => {
    await stopServers(prometheus.servers);
    await shows('the Prometheus banner', page.getByTestId('prometheus-banner'), /cannot reach Prometheus/, 10_000);
    await shows("green's observed share", cluster('green').getByTestId('observed').locator('b'), 'cannot reach');
    await shows("green's request rate", cluster('green').getByTestId('rate').locator('b'), 'cannot reach');
  });

  it('says "cannot reach" when a cluster is gone, and keeps its last state marked as not current', async () => {
    green.operator.kill();
    await stopServers(green.plane.servers);
    await shows(
      "green's banner",
      cluster('green').getByTestId('cluster-banner'),
      /cannot reach green: .* Shown below: as it was at/,
      15_000,
    );
    expect(await cluster('green').getAttribute('class')).toContain('stale');
    await shows("blue's phase", phaseIn('blue'), 'Idle');
  });

  it('refuses a POST from another origin, and any API call without the token', async () => {
    const verb = `${dashboard.url}api/clusters/green/verbs/pause`;
    const foreign = await fetch(verb, { method: 'POST', headers: { origin: 'http://evil.example', 'x-dashboard-token': dashboard.token } });
    expect(foreign.status).toBe(403);
    expect(((await foreign.json()) as { detail: string }).detail).toBe('a request from http://evil.example cannot steer this dashboard');
    const tokenless = await fetch(verb, { method: 'POST' });
    expect(tokenless.status).toBe(403);
    // A page on evil.example whose name now resolves to 127.0.0.1 (DNS rebinding): its Host header gives it away.
    const rebound = await new Promise<number | undefined>((resolve, reject) => {
      const url = new URL(`${dashboard.url}api/state?token=${dashboard.token}`);
      request(url, { headers: { host: `evil.example:${url.port}` } }, (response) => {
        response.resume();
        resolve(response.statusCode);
      })
        .on('error', reject)
        .end();
    });
    expect(rebound).toBe(403);
  });
});
