import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { harnessEnv, installChromium, waitUntil, writePrometheusTargets } from '@reservations/testkit';
import { type Browser, chromium, type Page } from 'playwright-core';
import { stringify } from 'yaml';
import { API_VERSION, KIND, type Reservation, type ReservationStatus } from '../../src/api/v1alpha1/reservation.ts';
import { type Dashboard, startDashboard } from '../../src/cli/dashboard/server.ts';
import { createKubeClient } from '../../src/kube/client.ts';
import { RESOURCE_TYPES, resourcePath } from '../../src/kube/resources.ts';
import { instantQuery } from '../../src/traffic/analysis/prometheus-source.ts';
import type { PlanPreview } from '../../src/traffic/plan-preview.ts';
import { prescaleFloors } from '../../src/traffic/prescale.ts';
import { sampleSpec } from '../support/fixtures.ts';
import { createTestNamespace, installCrds, testKubeConfig } from '../support/kube.ts';
import { startTestExporter, type TestExporter } from '../traffic/analysis/test-exporter.ts';
import { kubectl, pluginEnv } from './plugin.ts';

/**
 * `kubectl reservation plan` as an SRE runs it, through the harness's kubectl, against the
 * harness's API server and Prometheus. Green's Reservation (context `green`) holds the plan,
 * blue's (context `blue`, another namespace of the same API server) the replicas that would take
 * the traffic back. Test exporters scraped by Prometheus as the Reservation's pods of each
 * cluster stand for the services' request counters; the test sets those counters, and the plan's
 * prescale query reads them as the load, so every figure of the preview is known in advance.
 * The console's preview is the same, in Debian's Chromium driven by playwright-core.
 */

const prometheusUrl = harnessEnv('PROMETHEUS_URL');
const kc = testKubeConfig();
const kube = createKubeClient(kc);
const cleanups: Array<() => Promise<void> | void> = [];
let green: string;
let blue: string;
let env: NodeJS.ProcessEnv;
let scratch: string;

/** The load each service sees, both clusters together ("requests per second" as the plan's query reads them). */
const LOAD = { reservationApi: 40, queryApi: 200 };
const PRESCALE = (namespace: string) => ({
  prometheus: {
    url: prometheusUrl,
    // The counters themselves: the test sets them, so the "rate" is exact.
    query: `sum(http_request_duration_seconds_count{namespace="${namespace}",service="{{service}}"})`,
  },
  requestsPerPod: { reservationApi: 20, queryApi: 50 },
  headroomPercent: 25,
});
const PLAN = (namespace: string) => ({
  from: 'eks-blue',
  steps: [{ setShare: 10 }, { pause: { duration: '1m' } }, { analysis: { template: 'slo' } }, { setShare: 50 }, { setShare: 100 }],
  prescale: PRESCALE(namespace),
  analysis: [{ name: 'slo', prometheus: { url: prometheusUrl }, minRequests: 100 }],
  drain: { ttls: 3 },
});
const traffic = (cluster: string, weight: number) => ({
  cluster,
  dns: { hostedZoneId: 'Z0123456789ABC', name: 'api.reservations.example.com', ttl: 5 },
  weight,
});

const path = (namespace: string, name?: string) => resourcePath(RESOURCE_TYPES.Reservation, namespace, name);
const read = (namespace: string, name: string) => kube.request<Reservation>('GET', path(namespace, name));

async function create(namespace: string, spec: Record<string, unknown>, status: ReservationStatus): Promise<void> {
  await kube.request('POST', path(namespace), {
    body: { apiVersion: API_VERSION, kind: KIND, metadata: { name: 'booking' }, spec: sampleSpec(spec) },
  });
  await kube.apply({ apiVersion: API_VERSION, kind: KIND, metadata: { name: 'booking', namespace }, status }, 'reservation-operator', {
    subresource: 'status',
  });
}

const servicesStatus = (reservationApi: number, queryApi: number): ReservationStatus['services'] => ({
  reservationApi: { desired: reservationApi, ready: reservationApi, available: reservationApi, updated: reservationApi },
  queryApi: { desired: queryApi, ready: queryApi, available: queryApi, updated: queryApi },
});

/** One exporter per (cluster, service), scraped as a pod of `booking` in green's namespace; the counts the test gives. */
async function exporters(namespace: string, counts: Record<string, Record<'reservation-api' | 'query-api', number>>): Promise<void> {
  const targets: { url: string; labels: Record<string, string> }[] = [];
  let total = 0;
  for (const [cluster, services] of Object.entries(counts)) {
    for (const [service, n] of Object.entries(services)) {
      const exporter: TestExporter = await startTestExporter();
      cleanups.push(() => exporter.close());
      exporter.observe(n, 200, 0.01);
      total += n;
      targets.push({
        url: exporter.metricsUrl,
        labels: { namespace, cluster, service, pod: `booking-${service}-5d8f7c9b4-${cluster.slice(-4)}1` },
      });
    }
  }
  cleanups.push(writePrometheusTargets(harnessEnv('PROMETHEUS_TARGETS_DIR'), `plan-${namespace}`, targets));
  await waitUntil(
    `Prometheus scraping ${total} requests from the plan test's exporters`,
    async () => {
      const seen = (await instantQuery(prometheusUrl, `sum(http_request_duration_seconds_count{namespace="${namespace}"})`)) ?? 0;
      if (seen !== total) throw new Error(`Prometheus has ${seen} of ${total} requests so far`);
      return true;
    },
    { timeoutMs: 180_000, intervalMs: 500 },
  );
}

beforeAll(async () => {
  await installCrds(kc);
  green = await createTestNamespace(kc, 'plan-green');
  blue = await createTestNamespace(kc, 'plan-blue');
  // Blue serves everything now, with 1 reservation-api and 4 query-api pods ready.
  await create(blue, { traffic: traffic('eks-blue', 100) }, { phase: 'Ready', services: servicesStatus(1, 4) });
  await create(
    green,
    { traffic: { ...traffic('eks-green', 0), cutover: PLAN(green) } },
    { phase: 'Ready', services: servicesStatus(2, 2) },
  );
  // Both clusters' pods are scraped (green's too: they exist before any traffic reaches them).
  await exporters(green, {
    'eks-blue': { 'reservation-api': LOAD.reservationApi, 'query-api': LOAD.queryApi },
    'eks-green': { 'reservation-api': 0, 'query-api': 0 },
  });
  // Two contexts on the harness's API server, as an SRE has one per EKS cluster.
  kc.addContext({ name: 'green', cluster: kc.getCurrentCluster()?.name ?? '', user: kc.getCurrentUser()?.name ?? '', namespace: green });
  kc.addContext({ name: 'blue', cluster: kc.getCurrentCluster()?.name ?? '', user: kc.getCurrentUser()?.name ?? '', namespace: blue });
  scratch = mkdtempSync(join(tmpdir(), 'plan-test-'));
  const kubeconfig = join(scratch, 'kubeconfig');
  writeFileSync(kubeconfig, kc.exportConfig());
  env = pluginEnv({ KUBECONFIG: kubeconfig });
}, 300_000);
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const plan = (...args: string[]) => kubectl(['reservation', 'plan', ...args], env);

describe('kubectl reservation plan', () => {
  it('previews the live plan from Prometheus and both clusters: times, pre-scaling, take-back, analyses, ETA', async () => {
    const { code, stdout, stderr } = await plan('booking', '--context', 'green', '--peer-context', 'blue', '-o', 'json');
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const preview = JSON.parse(stdout) as PlanPreview;
    expect(preview).toMatchObject({
      from: 'eks-blue',
      self: 'eks-green',
      startShare: 0,
      ttlSeconds: 5,
      route53SyncSeconds: 60,
      rates: LOAD,
    });
    expect(preview.steps.map((s) => s.description)).toEqual(['setShare 10%', 'pause 1m', 'analysis slo', 'setShare 50%', 'setShare 100%']);
    // The floors the operator would set, from the same function; green has 2 + 2 ready.
    const floors = prescaleFloors(sampleSpec().services, PRESCALE(green), LOAD, 100);
    expect(preview.steps[4]?.prescale).toEqual({
      reservationApi: { floor: floors.reservationApi, ready: 2 },
      queryApi: { floor: floors.queryApi, ready: 2 },
    });
    // Blue has 1 reservation-api pod ready for 40 req/s at 20 per pod (2 needed), 4 query-api for 200 at 50.
    expect(preview.steps[0]?.takeBack?.map((t) => [t.service, t.ready, t.needed, t.verdict])).toEqual([
      ['reservationApi', 1, 2, 'scales'],
      ['queryApi', 4, 4, 'ready'],
    ]);
    // 240 req/s × 10 % × 30 s = 720 requests per measurement: enough for minRequests 100.
    expect(preview.steps[2]?.analysis).toMatchObject({ template: 'slo', inconclusive: false, requests: 720 });
    // Route53 INSYNC after 60 s, seen at 61 s; 10 %: 61 + 5; pause 60; analysis 2 × 30; 50 %: 30 s for the pods pre-scaling adds (query-api 2 → 3) + 61 + 5;
    // 100 %: 30 + 61 + 5, then the drain: 3 TTLs from INSYNC, the step held one.
    expect(preview.steps.map((s) => s.dwellSeconds)).toEqual([66, 60, 60, 96, 96]);
    expect(preview.etaSeconds).toBe(66 + 60 + 60 + 96 + 30 + 61 + 15);
    expect(preview.findings.map((f) => f.code)).toEqual(['take-back-short']);
    expect(preview.findings[0]?.message).toContain('reservation-api needs 2 pods, has 1 ready');
  }, 60_000);

  it('prints a table per step, the ETA, the Route53 calls and the findings for people', async () => {
    const { code, stdout, stderr } = await plan('booking', '--context', 'green', '--peer-context', 'blue', '--route53-sync', '0');
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toContain(`${green}/booking: plan from eks-blue to eks-green, starting at 0% here`);
    expect(stdout).toMatch(/#\s+step\s+share\s+start\s+dwell\s+end\s+pre-scale\s+take-back \(eks-blue\)\s+analysis/);
    expect(stdout).toMatch(/1\s+setShare 10%\s+10%\s+\+0s\s+6s\s+\+6s/);
    expect(stdout).toMatch(/ETA\s+3m28s from start to Succeeded/);
    expect(stdout).toMatch(/Route53\s+\d+ calls in all[\s\S]*the account's limit is 5\/s/);
    expect(stdout).toContain('! step 1: eks-blue could not take the traffic back at once');
  }, 60_000);

  it('previews a plan not yet applied (-f, YAML), on the live Reservation, and says what a reviewer should know', async () => {
    const file = join(scratch, 'plan.yaml');
    const steps = [{ setShare: 50 }, { pause: { duration: '2s' } }, { setShare: 100 }];
    writeFileSync(file, stringify({ from: 'eks-blue', steps, prescale: PRESCALE(green), drain: { ttls: 1 } }));
    const before = (await read(green, 'booking')).metadata.resourceVersion;
    const { code, stdout, stderr } = await plan(
      'booking',
      '-f',
      file,
      '--context',
      'green',
      '--peer-context',
      'blue',
      '-o',
      'json',
      '--route53-sync',
      '0',
    );
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const preview = JSON.parse(stdout) as PlanPreview;
    expect(preview.steps.map((s) => s.description)).toEqual(['setShare 50%', 'pause 2s', 'setShare 100%']);
    expect(preview.rates).toEqual(LOAD);
    // 50 %: 30 s for query-api's third pod + 1 + 5; the pause; 100 %: 30 + 1, then the drain's one TTL (the step's own).
    expect(preview.etaSeconds).toBe(36 + 2 + 31 + 5);
    expect(preview.findings.map((f) => f.code).sort()).toEqual(
      ['drain-shorter-than-two-ttls', 'first-step-above-25', 'no-analysis-before-100', 'take-back-short', 'ttl-longer-than-pause'].sort(),
    );
    expect((await read(green, 'booking')).metadata.resourceVersion).toBe(before); // a preview writes nothing
  }, 60_000);

  it('refuses a plan file that breaks the CRD, naming the field, and writes nothing', async () => {
    const file = join(scratch, 'bad.yaml');
    writeFileSync(file, 'from: eks-blue\nsteps:\n  - setShare: ten\n');
    const before = (await read(green, 'booking')).metadata.resourceVersion;
    const { code, stdout, stderr } = await plan('booking', '-f', file, '--context', 'green');
    expect({ code, stdout }).toEqual({ code: 1, stdout: '' });
    expect(stderr).toContain(`error: ${file}: spec.traffic.cutover.steps[0].setShare must be integer`);
    expect((await read(green, 'booking')).metadata.resourceVersion).toBe(before);
  }, 60_000);

  it('says when pre-scaling reads a Prometheus that does not answer, instead of guessing the load', async () => {
    const file = join(scratch, 'dead-prometheus.yaml');
    const dead = { ...PRESCALE(green), prometheus: { ...PRESCALE(green).prometheus, url: 'http://127.0.0.1:9' } };
    writeFileSync(file, stringify({ ...PLAN(green), prescale: dead, analysis: undefined, steps: [{ setShare: 10 }, { setShare: 100 }] }));
    const { code, stdout, stderr } = await plan('booking', '-f', file, '--context', 'green', '--peer-context', 'blue', '-o', 'json');
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const preview = JSON.parse(stdout) as PlanPreview;
    expect(preview.rates).toBeUndefined();
    const found = Object.fromEntries(preview.findings.map((f) => [f.code, f.message]));
    expect(found['prescale-without-both-clusters']).toMatch(/http:\/\/127\.0\.0\.1:9.*could not be asked/);
    expect(found['no-rates']).toMatch(/127\.0\.0\.1:9/);
  }, 60_000);

  it('fails with a clear message for a Reservation that does not exist, and for no plan', async () => {
    const missing = await plan('nope', '--context', 'green');
    expect(missing).toMatchObject({ code: 1, stdout: '' });
    expect(missing.stderr).toContain(`Reservation "nope" not found in namespace "${green}"`);
    const none = await plan('booking', '--context', 'blue');
    expect(none).toMatchObject({ code: 1, stdout: '' });
    expect(none.stderr).toContain(`${blue}/booking has no spec.traffic.cutover: no plan to preview`);
    const usage = await plan('--context', 'green');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('plan needs the name of a Reservation, or -f with a plan file');
  }, 60_000);
});

describe('the plan preview in the console', () => {
  let dashboard: Dashboard;
  let browser: Browser;
  let page: Page;
  const section = () => page.locator('section[data-context="green"]');

  beforeAll(async () => {
    const [chromiumPath] = await Promise.all([
      installChromium(),
      // The page as the plugin serves it, built from the sources of this checkout.
      promisify(execFile)(process.execPath, [join(import.meta.dirname, '..', '..', 'build-dashboard.ts'), join(scratch, 'page')]),
    ]);
    const target = (context: string, namespace: string) => ({ kc, client: createKubeClient(kc), namespace, context });
    dashboard = await startDashboard({
      name: 'booking',
      clusters: [target('green', green), target('blue', blue)],
      prometheusUrl,
      route53SyncSeconds: 0,
      port: 0,
      staticDir: join(scratch, 'page'),
    });
    browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
    await page.goto(dashboard.url);
    await section()
      .locator('details.start')
      .evaluate((details) => details.setAttribute('open', ''));
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await dashboard?.stop();
  });

  /** Waits until `testid` in green's panel shows text matching `expected`; the timeout says what it showed. */
  const shows = (testid: string, expected: RegExp) =>
    waitUntil(
      `green's panel showing ${testid} ${expected}`,
      async () => {
        const text = (await section().getByTestId(testid).first().textContent({ timeout: 1000 })) ?? '';
        if (expected.test(text)) return true;
        throw new Error(`it shows "${text}"`);
      },
      { timeoutMs: 30_000 },
    );

  it('previews the plan in the box: the steps, the ETA and the findings, as the plugin computes them', async () => {
    await section()
      .getByTestId('plan')
      .fill(JSON.stringify(PLAN(green)));
    await section().getByTestId('preview-plan').click();
    await shows('preview-eta', /^ETA 3m28s from start to Succeeded \(drain 10s\); Route53: \d+ calls/);
    expect(await section().getByTestId('preview-step').count()).toBe(5);
    expect(await section().getByTestId('preview-step').nth(3).textContent()).toMatch(
      /setShare 50%.*queryApi 2→3.*reservationApi 1\/2 scales/,
    );
    expect(
      await section()
        .getByTestId('preview-finding')
        .evaluateAll((items) => items.map((i) => i.getAttribute('data-code'))),
    ).toEqual(['take-back-short']);
    // Nothing was started: the preview only reads.
    expect((await read(green, 'booking')).spec.traffic?.cutover?.steps).toEqual(PLAN(green).steps);
  }, 60_000);

  it('names the field of a plan the CRD refuses, instead of a preview', async () => {
    await section()
      .getByTestId('plan')
      .fill(JSON.stringify({ from: 'eks-blue', steps: [{ setShare: 'ten' }] }));
    await section().getByTestId('preview-plan').click();
    await shows('preview-error', /plan: spec\.traffic\.cutover\.steps\[0\]\.setShare must be integer/);
  }, 60_000);

  it("serves the live plan's preview as JSON, as kubectl reservation plan -o json prints it", async () => {
    const response = await fetch(`${dashboard.url}api/clusters/green/plan-preview`, { headers: { 'x-dashboard-token': dashboard.token } });
    expect(response.status).toBe(200);
    const preview = (await response.json()) as PlanPreview;
    expect(preview).toMatchObject({ from: 'eks-blue', self: 'eks-green', rates: LOAD, etaSeconds: 208 });
    const refused = await fetch(`${dashboard.url}api/clusters/green/plan-preview`);
    expect(refused.status).toBe(403);
  }, 60_000);
});
