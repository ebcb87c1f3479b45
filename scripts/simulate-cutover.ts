// `npm run simulate:cutover`: a full Route53 weighted cutover from blue to green under steady
// load. Not a test: the figures depend on the machine. It starts the harness (MariaDB,
// Redis, ElasticMQ, moto, a Kubernetes control plane = blue), a second control plane (green), an operator per
// cluster (real processes), two stacks of the services (reservation-api + query-api each, sharing
// MariaDB and Redis like two clusters sharing RDS/ElastiCache during a migration), and virtual
// clients that resolve the weighted name like caching resolvers. It runs the cutover, prints per
// step the configured vs observed share and the failed requests, stops blue and keeps the load on
// a little. Exits 0 when the targets are met (no failed request; each settled step within
// ±SIM_TOLERANCE points), 1 otherwise. Knobs: scripts/cutover-sim/settings.ts, docs/benchmarks.md.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Route53Client } from '@aws-sdk/client-route-53';
import { KubeConfig } from '@kubernetes/client-node';
import { migrateToLatest } from '@reservations/database';
import { API_VERSION, CUTOVER_REQUEST_ANNOTATION, KIND } from '@reservations/operator/api';
import { createKubeClient, type KubeClient, PATCH, RESOURCE_TYPES, resourcePath } from '@reservations/operator/kube';
import { createTestNamespace, installCrds, type OperatorProcess, sampleSpec, startOperator } from '@reservations/operator/testing';
import { createTokenMinter } from '@reservations/service-kit/token-minter';
import {
  createZone,
  elapsed,
  type Harness,
  installHarness,
  listRecords,
  quantile,
  repoRoot,
  type ServiceProcess,
  startHarness,
  startKubeControlPlane,
  startServiceProcess,
  stopServers,
  waitUntil,
} from '@reservations/testkit';
import { formatTable, isFailure, type RequestRecord, type Stack, shareByStep, verdict } from './cutover-sim/accounting.ts';
import { cachedRecordSource, route53WeightedAnswerStandIn, type WeightedRecord } from './cutover-sim/dns.ts';
import { type StackEndpoints, startLoad } from './cutover-sim/load.ts';
import { cutoverSteps, simSettings } from './cutover-sim/settings.ts';
import { type CutoverObservation, stepWindowTracker } from './cutover-sim/windows.ts';

const settings = simSettings(process.env);
const TTL_MS = settings.ttlSeconds * 1000;
const JWT_SECRET = 'simulation-only-secret-0123456789abcdef';
const JWT_ISSUER = 'https://sim.idp.test/';
const JWT_AUDIENCE = 'reservations';
const TARGETS: Record<Stack, string> = { blue: 'blue.elb.sim.local', green: 'green.elb.sim.local' };
const CLUSTERS: Record<Stack, string> = { blue: 'eks-blue', green: 'eks-green' };
const started = Date.now();
const progress = (message: string) => process.stderr.write(`[sim ${elapsed(started).padStart(6)}] ${message}\n`);

// biome-ignore lint/suspicious/noExplicitAny: the script reads deep into the Reservation's status JSON
type Json = any;
interface Cluster {
  kube: KubeClient;
  kubeconfig: string;
  namespace: string;
  operator?: OperatorProcess;
}

// Everything started, stopped in reverse on the way out (also on Ctrl-C).
const cleanups: (() => Promise<void> | void)[] = [];
let cleaning: Promise<void> | undefined;
let interrupted = false;
function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (err) {
        progress(`cleanup: ${(err as Error).message}`);
      }
    }
  })();
  return cleaning;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    progress(`${signal}: stopping everything`);
    void cleanUp().then(() => process.exit(130));
  });
}

async function simulate(): Promise<boolean> {
  progress(
    `settings: TTL ${settings.ttlSeconds}s, steps ${settings.shares.join(', ')}% with ${settings.pauseSeconds}s ${settings.manualPauses ? 'manual ' : ''}pauses, ` +
      `${settings.clients} clients at ${settings.rate} req/s (${Math.round(settings.readShare * 100)}% reads), ` +
      `${Math.round(settings.keepAliveShare * 100)}% of clients keep their connection ${settings.keepAliveTtls}×TTL, blue stops when ${settings.blueStop}`,
  );
  const components = ['mysql', 'redis', 'sqs', 'aws', 'kube'] as const;
  await installHarness(components, { helm: false });
  const harness: Harness = await startHarness(components);
  cleanups.push(() => harness.stop());
  Object.assign(process.env, harness.env); // the AWS SDK and the test helpers read their settings from here
  const need = (name: keyof Harness['env']) => {
    const value = harness.env[name];
    if (!value) throw new Error(`the harness did not export ${name}`);
    return value;
  };

  progress('migrating the database');
  await migrateToLatest(need('MYSQL_PRIMARY_URL'));
  const stacks = { blue: await startStack('blue', harness), green: await startStack('green', harness) };

  progress('starting green’s control plane and an operator per cluster');
  const plane = await startKubeControlPlane(join(harness.dir, 'green'), 'green');
  cleanups.push(() => stopServers(plane.servers));
  const blue = await cluster(need('KUBECONFIG'), 'sim-blue', harness.dir);
  const green = await cluster(plane.env.KUBECONFIG, 'sim-green', harness.dir);

  const route53 = new Route53Client({});
  cleanups.push(() => route53.destroy());
  const zone = await createZone(route53);
  const name = `api.${zone.name}`;
  const dns = { hostedZoneId: zone.id, name, ttl: settings.ttlSeconds };
  progress(`blue's Reservation at weight 100, then green's at 0, on ${name}`);
  await createReservation(blue, { cluster: CLUSTERS.blue, dns, weight: 100, target: TARGETS.blue });
  await waitUntil('blue at 100', async () => (await reservation(blue)).status?.traffic?.verifiedWeight === 100, { timeoutMs: 60_000 });
  await createReservation(green, { cluster: CLUSTERS.green, dns, weight: 0, target: TARGETS.green });
  await waitUntil('green at 0', async () => (await reservation(green)).status?.traffic?.verifiedWeight === 0, { timeoutMs: 60_000 });

  // The one stand-in: moto serves no DNS, so the weighted choice among the records it holds is made here.
  const records = cachedRecordSource(async () => {
    const all = await listRecords(route53, zone.id);
    return all.flatMap((r): WeightedRecord[] =>
      r.name === name && r.type === 'CNAME' && r.setIdentifier !== undefined
        ? [{ setIdentifier: r.setIdentifier, weight: r.weight ?? 0, value: r.values[0] ?? '', ttlSeconds: r.ttl ?? settings.ttlSeconds }]
        : [],
    );
  }, 1000);
  const sign = createTokenMinter({ issuer: JWT_ISSUER, audience: JWT_AUDIENCE, key: { secret: JWT_SECRET }, ttlSeconds: 6 * 3600 });
  const resources = await createResources(stacks.blue.reservationApi, sign({ sub: 'sim-admin', role: 'admin' }), 20);

  progress(`load: ${settings.clients} clients at ${settings.rate} req/s`);
  const load = startLoad({
    clients: settings.clients,
    rate: settings.rate,
    readShare: settings.readShare,
    keepAliveShare: settings.keepAliveShare,
    keepAliveHoldMs: settings.keepAliveTtls * TTL_MS,
    answer: async () => route53WeightedAnswerStandIn(await records(), Math.random),
    stacks: { [TARGETS.blue]: stacks.blue, [TARGETS.green]: stacks.green },
    resources,
    token: (sub) => sign({ sub, role: 'customer' }),
  });
  cleanups.push(() => load.stop());
  let loadError: unknown;
  load.running.catch((err: unknown) => {
    loadError = err;
  });
  await sleep(2 * TTL_MS); // steady state on blue before anything moves

  const steps = cutoverSteps(settings);
  progress(`cutover: ${steps.map((s) => (s.setShare !== undefined ? `${s.setShare}%` : 'pause')).join(' → ')}`);
  const drain = { ttls: settings.drainTtls, connectionClose: settings.connectionClose };
  await patch(green, { spec: { traffic: { cutover: { from: CLUSTERS.blue, steps, drain } } } });
  const blueDrain = mirrorDrainSwitch(blue, stacks.blue.drainFile);
  cleanups.push(() => blueDrain.stop());
  const tracker = stepWindowTracker(settings.shares, settings.ttlSeconds);
  const budgetMs = 180_000 + settings.shares.length * (settings.pauseSeconds * 1000 + 4 * TTL_MS + 15_000);
  let succeededAt: number | undefined;
  let lastLine = '';
  let lastTick = 0;
  let promotes = 0;
  while (succeededAt === undefined) {
    if (interrupted) throw new Error('interrupted');
    if (loadError) throw loadError;
    if (Date.now() - started > budgetMs) throw new Error(`the cutover did not succeed within ${Math.round(budgetMs / 1000)}s`);
    const cutover: (CutoverObservation & Json) | undefined = (await reservation(green)).status?.traffic?.cutover;
    const now = Date.now();
    if (cutover) {
      tracker.observe(cutover, now);
      const line = `${cutover.phase} step ${Math.min(cutover.step + 1, cutover.steps)}/${cutover.steps} at ${cutover.share}%: ${cutover.message}`;
      if (line !== lastLine || now - lastTick > 10_000) {
        progress(`${line} | ${recentShare(load.records, now)}`);
        lastLine = line;
        lastTick = now;
      }
      if (cutover.phase === 'Aborted') throw new Error(`the cutover aborted: ${cutover.message}`);
      if (cutover.phase === 'Succeeded') succeededAt = now;
      // A pause without a duration waits for a promote: give it one after SIM_PAUSE, as an SRE would.
      const manual = steps[cutover.step]?.pause !== undefined && settings.manualPauses && cutover.phase === 'Paused';
      if (manual && now - Date.parse(cutover.stepStartedAt) >= settings.pauseSeconds * 1000) {
        promotes += 1;
        progress(`promote/${promotes}`);
        await patch(green, { metadata: { annotations: { [CUTOVER_REQUEST_ANNOTATION]: `promote/${promotes}` } } });
        await waitUntil(
          'promote handled',
          async () => (await reservation(green)).status?.traffic?.cutover?.handledRequest === `promote/${promotes}`,
        );
      }
    }
    await sleep(500);
  }

  // Blue goes away: at once, or once it has had no request for a TTL (the peer's request rate at 0).
  if (settings.blueStop === 'idle') {
    const capMs = 10 * TTL_MS;
    progress(`Succeeded; waiting until blue has had no request for one TTL (at most ${capMs / 1000}s)`);
    while (Date.now() - succeededAt < capMs) {
      const lastBlue = load.records.findLast((r) => r.stack === 'blue')?.at ?? 0;
      if (Date.now() - lastBlue >= TTL_MS) break;
      await sleep(250);
    }
  }
  const blueStoppedAt = Date.now();
  tracker.close(blueStoppedAt);
  progress(`stopping blue's services (SIGTERM), ${Math.round((blueStoppedAt - succeededAt) / 1000)}s after Succeeded`);
  await Promise.all(stacks.blue.services.map((s) => s.server.stop()));
  const blueExitedAt = Date.now();
  progress(`blue is gone; load goes on for ${settings.afterTtls}×TTL`);
  await sleep(settings.afterTtls * TTL_MS);
  await load.stop();
  if (loadError) throw loadError;

  return report(load.records, tracker.windows(), { succeededAt, blueStoppedAt, blueExitedAt, drainOnAt: blueDrain.onAt() });
}

function report(
  all: readonly RequestRecord[],
  windows: ReturnType<ReturnType<typeof stepWindowTracker>['windows']>,
  at: { succeededAt: number; blueStoppedAt: number; blueExitedAt: number; drainOnAt: number | undefined },
): boolean {
  const steps = shareByStep(all, windows);
  const failures = all.filter(isFailure);
  const afterStop = all.filter((r) => r.at >= at.blueStoppedAt);
  const afterExit = all.filter((r) => r.at >= at.blueExitedAt);
  const blueLate = all.filter((r) => r.stack === 'blue' && r.at >= at.succeededAt);
  const unexpected = all.filter((r) => r.status !== undefined && r.status >= 400 && r.status < 500);
  const p99 = quantile(
    all.filter((r) => !isFailure(r)).map((r) => r.latencyMs),
    0.99,
  );
  const errors = new Map<string, number>();
  for (const f of failures) errors.set(f.error ?? String(f.status), (errors.get(f.error ?? String(f.status)) ?? 0) + 1);
  const result = verdict(steps, failures.length, settings.tolerance);
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
  const sinceSucceeded = (t: number) => `${seconds(t - at.succeededAt)} after Succeeded`;
  process.stdout.write(
    [
      '',
      `Cutover blue → green, TTL ${settings.ttlSeconds}s, ${settings.clients} clients at ${settings.rate} req/s, ` +
        `${Math.round(settings.keepAliveShare * 100)}% of them keep their connection ${settings.keepAliveTtls}×TTL.`,
      'observed = green’s share of the requests sent from one TTL after the step was INSYNC until the next step’s weights were written',
      formatTable(steps),
      '',
      `requests              ${all.length}`,
      `failed requests       ${failures.length}${failures.length ? ` (${[...errors].map(([k, v]) => `${k}: ${v}`).join(', ')})` : ''}` +
        `; of them after blue's SIGTERM: ${afterStop.filter(isFailure).length}`,
      `other 4xx             ${unexpected.length}`,
      `p99 latency           ${p99 ?? '-'} ms`,
      `blue after Succeeded  ${blueLate.length} request(s) from ${new Set(blueLate.map((r) => r.client)).size} client(s)` +
        (blueLate.length ? `, the last ${sinceSucceeded(blueLate.at(-1)?.at ?? 0)}` : ''),
      `blue's drain switch   ${
        at.drainOnAt === undefined
          ? settings.connectionClose
            ? 'never turned on'
            : 'off (SIM_CONNECTION_CLOSE=0)'
          : `on ${seconds(at.succeededAt - at.drainOnAt)} before Succeeded: blue's services answered Connection: close`
      }`,
      `blue stopped          SIGTERM ${sinceSucceeded(at.blueStoppedAt)}, exited ${sinceSucceeded(at.blueExitedAt)}; ` +
        `after it exited: ${afterExit.length} requests, ${afterExit.filter((r) => r.stack === 'blue').length} to blue, ${afterExit.filter(isFailure).length} failed`,
      result.ok ? 'targets met' : `targets missed: ${result.reasons.join('; ')}`,
      '',
    ].join('\n'),
  );
  return result.ok;
}

/** Green's share of the requests sent in the last TTL, and their failures: the progress line's tail. */
function recentShare(records: readonly RequestRecord[], now: number): string {
  const recent = records.filter((r) => r.at >= now - TTL_MS);
  if (recent.length === 0) return 'no requests yet';
  const green = recent.filter((r) => r.stack === 'green').length;
  return `last ${settings.ttlSeconds}s: ${recent.length} req, green ${((green * 100) / recent.length).toFixed(1)}%, ${recent.filter(isFailure).length} failed; total ${records.length}, ${records.filter(isFailure).length} failed`;
}

async function startStack(stack: Stack, harness: Harness): Promise<StackEndpoints & { services: ServiceProcess[]; drainFile: string }> {
  progress(`starting ${stack}'s reservation-api and query-api`);
  // The operator's drain switch: in a pod, the kubelet projects the ConfigMap here (mirrorDrainSwitch).
  const drainFile = join(harness.dir, `${stack}-drain-connection-close`);
  const env = {
    DRAIN_FILE: drainFile,
    MYSQL_PRIMARY_URL: harness.env.MYSQL_PRIMARY_URL ?? '',
    MYSQL_REPLICA_URL: harness.env.MYSQL_REPLICA_URL ?? '',
    REDIS_URL: harness.env.REDIS_URL ?? '',
    JWT_SECRET,
    JWT_ISSUER,
    JWT_AUDIENCE,
    LOG_LEVEL: 'warn',
    OUTBOX_RELAY: 'off',
    // The machine is shared with other work: load shedding would measure its CPU, not the cutover.
    MAX_EVENT_LOOP_DELAY_MS: '0',
  };
  const start = (service: string) =>
    startServiceProcess(join(repoRoot, 'services', service, 'src', 'server.ts'), env, {
      logDir: harness.dir,
      logName: `${stack}-${service}`,
    });
  const [reservationApi, queryApi] = [await start('reservation-api'), await start('query-api')];
  // On the way out nothing is listening any more: no need for the services' graceful drain.
  cleanups.push(async () => {
    await Promise.all([reservationApi.server.stop(1000), queryApi.server.stop(1000)]);
  });
  return { stack, reservationApi: reservationApi.api, queryApi: queryApi.api, services: [reservationApi, queryApi], drainFile };
}

/**
 * Stands in for the kubelet, which projects a cluster's drain-switch ConfigMap into every pod:
 * the services here are processes, so the ConfigMap's value is copied into their DRAIN_FILE once
 * a second (the kubelet takes up to a minute). Returns when the switch first said true.
 */
function mirrorDrainSwitch(c: Cluster, file: string) {
  let onAt: number | undefined;
  const configMap = resourcePath(RESOURCE_TYPES.ConfigMap, c.namespace, `${RESERVATION}-drain`);
  const copy = async () => {
    const value = (await c.kube.request<{ data?: Record<string, string> }>('GET', configMap).catch(() => undefined))?.data?.[
      'connection-close'
    ];
    writeFileSync(file, value ?? 'false');
    if (value === 'true') onAt ??= Date.now();
  };
  const timer = setInterval(() => void copy(), 1000);
  return { onAt: () => onAt, stop: () => clearInterval(timer) };
}

/** A cluster's CRDs, a namespace and an operator (a real process) watching it. */
async function cluster(kubeconfig: string, prefix: string, logDir: string): Promise<Cluster> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  await installCrds(kc);
  const c: Cluster = { kube: createKubeClient(kc), kubeconfig, namespace: await createTestNamespace(kc, prefix) };
  const aws = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('AWS_'))) as Record<string, string>;
  c.operator = await startOperator({ ...aws, KUBECONFIG: kubeconfig, WATCH_NAMESPACE: c.namespace, LEADER_ELECT: 'false' });
  const operator = c.operator;
  cleanups.push(async () => {
    operator.kill('SIGTERM');
    await Promise.race([operator.exited, sleep(10_000)]);
    operator.kill('SIGKILL');
    writeFileSync(join(logDir, `${prefix}-operator.log`), operator.log()); // kept with HARNESS_KEEP_DIR=1
  });
  await waitUntil(`${prefix} operator ready`, async () => (await fetch(`${operator.admin}/readyz`)).ok, { timeoutMs: 60_000 });
  return c;
}

const RESERVATION = 'booking';
const path = (c: Cluster, name?: string) => resourcePath(RESOURCE_TYPES.Reservation, c.namespace, name);
const reservation = (c: Cluster) => c.kube.request<Json>('GET', path(c, RESERVATION));
const patch = (c: Cluster, body: Record<string, unknown>) =>
  c.kube.request('PATCH', path(c, RESERVATION), { body, contentType: PATCH.merge });
async function createReservation(c: Cluster, traffic: Record<string, unknown>) {
  await c.kube.request('POST', path(c), {
    body: { apiVersion: API_VERSION, kind: KIND, metadata: { name: RESERVATION }, spec: sampleSpec({ traffic }) },
  });
}

async function createResources(api: string, adminToken: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const response = await fetch(`${api}/v1/resources`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: `sim-room-${i}`, providerId: 'sim', timeZone: 'UTC' }),
    });
    if (response.status !== 201) throw new Error(`creating a resource: ${response.status} ${await response.text()}`);
    ids.push(((await response.json()) as { id: string }).id);
  }
  return ids;
}

// Last, so that every declaration above is initialised before it runs.
try {
  process.exitCode = (await simulate()) ? 0 : 1;
} catch (err) {
  // After Ctrl-C, whatever the run was waiting for fails as its servers go: not worth a stack trace.
  if (!interrupted) progress(`failed: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
} finally {
  await cleanUp();
}
