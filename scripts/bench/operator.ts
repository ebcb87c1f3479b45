// Operator benchmark: `npm run bench:operator` (a script, not a test; takes a few minutes).
// On its own local control plane, with the operator running as a process:
//  1. spec change → Deployment updated, p50/p99 over 100 changes, each from rest, against the API
//     server's floor measured in the same run: the benchmark's own patch of a Reservation followed
//     by the three Deployment applies the change causes, made directly (target p99 ≤ 1.25 × the floor);
//  2. 1,000 Reservations created at once: time until the operator has applied every object and
//     written every status, against the floor: the benchmark's own creates of as many Reservations
//     (of a twin CRD the operator does not watch), the same objects (17 per Reservation) applied
//     straight by the benchmark with server-side apply at the operator's concurrency, and a status
//     each (target ≤ 1.15 × the floor); the operator's RSS, heap and heap per cached object then, and its RSS
//     after a restart (a new process lists every kind and reconciles every Reservation once);
//  3. an idle minute once every Reservation is Ready: API requests the operator makes (writes must be 0).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { HttpMethod, KubeConfig, RequestContext, Watch } from '@kubernetes/client-node';
import { API_VERSION, GROUP, KIND, type Reservation, VERSION } from '@reservations/operator/api';
import { reservationCrd } from '@reservations/operator/crd';
import { desiredObjects } from '@reservations/operator/desired';
import {
  createKubeClient,
  type KindName,
  type KubeClient,
  type KubeObject,
  PATCH,
  RESOURCE_TYPES,
  resourcePath,
} from '@reservations/operator/kube';
import { applyCrds, CHART_NODE_OPTIONS, installCrds, metric, sampleSpec, startOperator } from '@reservations/operator/testing';
import { cpuSeconds, installHarness, quantile, runDir, startKubeControlPlane, stopServers, waitUntil } from '@reservations/testkit';
import { fetch } from 'undici';

const CHANGES = Number(process.env.BENCH_CHANGES ?? 100);
const RESERVATIONS = Number(process.env.BENCH_RESERVATIONS ?? 1000);
const NAMESPACES = 10;
// The operator's reconciles at once (its WORKERS); the convergence floor applies at the same concurrency.
const WORKERS = 8;
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 60);
const SETTLE_SECONDS = 30;
// Between two changes of part 1, for the operator's and the floor's alike: each is measured from rest.
const PAUSE_MS = 200;
// The group of the convergence floor's twin of the Reservation CRD, which the operator does not watch.
const FLOOR_GROUP = 'floor.bench.local';
// `paused` stops the controller manager (SIGSTOP) for parts 1 and 2, so they measure the
// operator and the API server rather than the cluster rolling out pods on the same two cores;
// it resumes for part 3. `running` keeps it going throughout.
const CLUSTER_CONTROLLERS = process.env.BENCH_CLUSTER_CONTROLLERS ?? 'paused';
// The operator's Node flags: by default the chart's (values.yaml `nodeOptions`), as in production.
const OPERATOR_NODE_OPTIONS = process.env.BENCH_OPERATOR_NODE_OPTIONS ?? CHART_NODE_OPTIONS;

const percentile = (values: number[], p: number) => quantile(values, p / 100) ?? Number.NaN;
const ms = (n: number) => `${n.toFixed(1)} ms`;
const say = (line: string) => console.log(line);

await installHarness(['kube'], { helm: false });
const plane = await startKubeControlPlane(join(runDir(), 'kube'), 'bench');
const kc = new KubeConfig();
kc.loadFromFile(plane.env.KUBECONFIG);
const client = createKubeClient(kc);
await installCrds(kc);
const operatorEnv = {
  KUBECONFIG: plane.env.KUBECONFIG,
  LEADER_ELECT: 'false',
  WORKERS: String(WORKERS),
  LOG_LEVEL: 'warn',
  NODE_OPTIONS: OPERATOR_NODE_OPTIONS,
};
// Replaced by a new process once, in part 2 (a restart).
let operator = await startOperator(operatorEnv);
const controllerManager = plane.servers.find((s) => s.name.endsWith('kube-controller-manager'));
const signalControllerManager = (signal: NodeJS.Signals) => controllerManager && process.kill(-controllerManager.pid, signal);
// The latency floor is the API server alone: the operator is stopped meanwhile (a few seconds), so
// it neither reacts to the floor's Reservation nor competes for the cores.
const signalOperator = (signal: NodeJS.Signals) => process.kill(operator.child.pid ?? 0, signal);
say(`cluster controllers ${CLUSTER_CONTROLLERS} during parts 1 and 2; operator NODE_OPTIONS '${OPERATOR_NODE_OPTIONS}'`);
const processes = [
  ...plane.servers.map((s) => ({ name: s.name.replace(/^bench-/, ''), pid: s.pid })),
  { name: 'operator', pid: operator.child.pid ?? 0 },
  { name: 'benchmark', pid: process.pid },
];
const costsNow = () => snapshot(kc, processes);
/** The logs of operator processes already stopped, for the warnings summary at the end. */
const logsBefore: string[] = [];

try {
  for (let i = 0; i < NAMESPACES; i++) await createNamespace(client, `bench-${i}`);

  // 1. Latency of one change, then its floor.
  await createReservation(client, 'bench-0', 'latency');
  await waitUntil('first convergence', () => deploymentImageIs('bench-0', 'latency-query-api', ':1.4.2'), { timeoutMs: 60_000 });
  if (CLUSTER_CONTROLLERS === 'paused') signalControllerManager('SIGSTOP');
  const arrivals = watchImages(kc, 'bench-0');
  const work = async () => ({
    reconciles: (await metric(operator, 'controller_runtime_reconcile_total', { result: 'success' })) ?? 0,
    seconds: (await metric(operator, 'controller_runtime_reconcile_time_seconds_sum')) ?? 0,
    patches: (await metric(operator, 'rest_client_requests_total', { method: 'PATCH', code: '200' })) ?? 0,
    patchSeconds: (await metric(operator, 'rest_client_request_duration_seconds_sum', { verb: 'PATCH' })) ?? 0,
    posts: (await metric(operator, 'rest_client_requests_total', { method: 'POST', code: '201' })) ?? 0,
  });
  const latencyPath = resourcePath(RESOURCE_TYPES.Reservation, 'bench-0', 'latency');
  // Each change either right after the last one's Deployment was seen (back to back: the
  // operator's status write, event and follow-up reconcile of the last change overlap it), or from
  // rest (the target): once the operator has written the last change's status, and PAUSE_MS later.
  const modes = [
    { name: 'back to back', fromRest: false },
    { name: 'from rest', fromRest: true },
  ];
  const latencies = new Map<string, number[]>();
  for (const [m, mode] of modes.entries()) {
    await sleep(1000); // whatever the mode before left to do
    const workBefore = await work();
    const costsBefore = await costsNow();
    const measured: number[] = [];
    for (let i = 0; i < CHANGES; i++) {
      const version = `2.${m}.${i}`;
      const seen = arrivals.next(`latency-query-api:${version}`);
      const start = performance.now();
      const patched = await client.request<Reservation>('PATCH', latencyPath, { contentType: PATCH.merge, body: { spec: { version } } });
      await seen;
      measured.push(performance.now() - start);
      if (!mode.fromRest) continue;
      await waitUntil(
        'the status of the change',
        async () =>
          ((await client.request<Reservation>('GET', latencyPath)).status?.observedGeneration ?? 0) >= (patched.metadata.generation ?? 0),
        { timeoutMs: 30_000, intervalMs: 10 },
      );
      await sleep(PAUSE_MS);
    }
    latencies.set(mode.name, measured);
    const workAfter = await work();
    reportCosts(`part 1 (${CHANGES} changes ${mode.name})`, costsBefore, await costsNow());
    const perChange = (k: keyof typeof workAfter) => (workAfter[k] - workBefore[k]) / CHANGES;
    say(
      `per change ${mode.name}: ${perChange('reconciles').toFixed(1)} reconciles of ${((perChange('seconds') / perChange('reconciles')) * 1000).toFixed(1)} ms each, ${perChange('patches').toFixed(1)} PATCH requests of ${((perChange('patchSeconds') / perChange('patches')) * 1000).toFixed(1)} ms each`,
    );
  }
  arrivals.stop();
  // The floor of one change: the benchmark's own patch of a Reservation, then the three Deployment
  // applies that change causes (for a twin that nothing else manages, without owners), made
  // directly, together as the operator's are; in each mode (from rest: PAUSE_MS after the last).
  signalOperator('SIGSTOP');
  const floors = new Map<string, number[]>();
  try {
    await createReservation(client, 'bench-0', 'twin');
    const twin = await client.request<Reservation>('GET', resourcePath(RESOURCE_TYPES.Reservation, 'bench-0', 'twin'));
    for (const [m, mode] of modes.entries()) {
      const measured: number[] = [];
      for (let i = 0; i < CHANGES; i++) {
        const version = `3.${m}.${i}`;
        const start = performance.now();
        await client.request('PATCH', resourcePath(RESOURCE_TYPES.Reservation, 'bench-0', 'twin'), {
          contentType: PATCH.merge,
          body: { spec: { version } },
        });
        await Promise.all(
          unowned(desiredObjects({ ...twin, spec: { ...twin.spec, version } }).filter((o) => o.kind === 'Deployment')).map((d) =>
            client.apply(d, 'bench'),
          ),
        );
        measured.push(performance.now() - start);
        if (mode.fromRest) await sleep(PAUSE_MS);
      }
      floors.set(mode.name, measured);
    }
    await client.request('DELETE', resourcePath(RESOURCE_TYPES.Reservation, 'bench-0', 'twin'));
    for (const d of desiredObjects(twin).filter((o) => o.kind === 'Deployment')) await client.remove(d);
  } finally {
    signalOperator('SIGCONT');
  }
  const p = (values: number[], q: number) => percentile(values, q);
  for (const { name, fromRest } of modes) {
    const [changes, floor] = [latencies.get(name) ?? [], floors.get(name) ?? []];
    say(`spec change -> Deployment updated, ${CHANGES} changes ${name}: p50 ${ms(p(changes, 50))}, p99 ${ms(p(changes, 99))}`);
    say(
      `floor ${name}, the benchmark's own patch and the three Deployment applies made directly: p50 ${ms(p(floor, 50))}, p99 ${ms(p(floor, 99))}`,
    );
    say(
      `RATIO change -> Deployment / floor, ${name}: p50 ${(p(changes, 50) / p(floor, 50)).toFixed(2)}, p99 ${(p(changes, 99) / p(floor, 99)).toFixed(2)}${fromRest ? ' (target p99 ≤ 1.25)' : ''}`,
    );
  }

  // The floor of convergence: the benchmark's own creates of RESERVATIONS Reservations, 25 at a
  // time as in part 2, and every object of each applied straight once it exists, then its status
  // (what convergence waits for), WORKERS Reservations at a time and each one's objects together,
  // as the operator's reconciles do. The Reservations are of a twin CRD (the same schema and rules
  // under a group of the benchmark's), so the operator never sees them; their objects are in
  // namespaces of their own, without owners and without the operator's label (its caches never
  // see them either, and it stays idle: stopping it this long would time its watches out).
  let floorSeconds: number;
  {
    await installTwinCrd();
    for (let i = 0; i < NAMESPACES; i++) await createNamespace(client, `floor-${i}`);
    const indices = Array.from({ length: RESERVATIONS }, (_, i) => i);
    // Each twin's status as the operator writes one (the latency Reservation's), for its first generation.
    const written = await client.request<Reservation>('GET', latencyPath);
    const floorStatus = { ...written.status, observedGeneration: 1 };
    const twins = indices.map(() => Promise.withResolvers<void>());
    const costsBeforeFloor = await costsNow();
    const floorStart = performance.now();
    await Promise.all([
      inBatches(indices, 25, (i) =>
        createReservation(client, `floor-${i % NAMESPACES}`, `shop-${i}`, FLOOR_GROUP).then(twins[i]?.resolve, twins[i]?.reject),
      ),
      inBatches(indices, WORKERS, async (i) => {
        await twins[i]?.promise;
        const namespace = `floor-${i % NAMESPACES}`;
        const objects = unowned(desiredObjects(reservationObject(namespace, `shop-${i}`)));
        await Promise.all(objects.map((o) => client.apply(o, 'bench')));
        await client.request('PATCH', `${twinPath(namespace)}/shop-${i}/status`, {
          body: { apiVersion: `${FLOOR_GROUP}/${VERSION}`, kind: KIND, metadata: { name: `shop-${i}`, namespace }, status: floorStatus },
          contentType: PATCH.apply,
          query: { fieldManager: 'bench', force: true },
        });
      }),
    ]);
    floorSeconds = (performance.now() - floorStart) / 1000;
    reportCosts(`floor of part 2 (${RESERVATIONS} Reservations)`, costsBeforeFloor, await costsNow());
    // Gone before the cluster's controllers resume, so part 3 rolls out the operator's pods only.
    const kinds = new Set(desiredObjects(reservationObject('floor-0', 'shop-0')).map((o) => o.kind as KindName));
    for (let i = 0; i < NAMESPACES; i++) {
      for (const kind of kinds) await client.request('DELETE', resourcePath(RESOURCE_TYPES[kind], `floor-${i}`));
      await client.request('DELETE', twinPath(`floor-${i}`));
    }
  }
  const objectsPerReservation = desiredObjects(reservationObject('bench-0', 'shop-0')).length;
  say(
    `floor, ${RESERVATIONS} Reservations created (of a twin CRD), their ${RESERVATIONS} x ${objectsPerReservation} objects applied straight and their status written, ${WORKERS} Reservations at a time: ${floorSeconds.toFixed(1)} s`,
  );

  // 2. Many Reservations at once; first the operator's footprint with one Reservation.
  const rssOf = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${operator.child.pid}/status`, 'utf8'))?.[1]) / 1024;
  const mb = async (name: string) => ((await metric(operator, name)) ?? Number.NaN) / 2 ** 20;
  const heapUsedMb = () => mb('nodejs_heap_size_used_bytes');
  const rssBefore = rssOf();
  const heapBefore = await heapUsedMb();
  const costsBeforeMany = await costsNow();
  const workBeforeMany = await work();
  const names = Array.from({ length: RESERVATIONS }, (_, i) => ({ namespace: `bench-${i % NAMESPACES}`, name: `shop-${i}` }));
  // A watch sees each status as it is written: no polling LISTs of 1,000 Reservations loading the API server.
  const convergence = watchConvergence(kc, RESERVATIONS);
  const start = performance.now();
  await inBatches(names, 25, ({ namespace, name }) => createReservation(client, namespace, name));
  const created = performance.now() - start;
  await convergence.done;
  const converged = performance.now() - start;
  const rssMb = rssOf();
  reportCosts(`part 2 (${RESERVATIONS} Reservations)`, costsBeforeMany, await costsNow());
  const workAfterMany = await work();
  const perReservation = (k: keyof typeof workAfterMany) => ((workAfterMany[k] - workBeforeMany[k]) / RESERVATIONS).toFixed(1);
  say(
    `per Reservation: ${perReservation('reconciles')} reconciles, ${perReservation('patches')} PATCH requests (applies, status, finalizer), ${perReservation('posts')} POST (events)`,
  );
  say(
    `${RESERVATIONS} Reservations: created in ${(created / 1000).toFixed(1)} s, converged (every object applied, every status written) in ${(converged / 1000).toFixed(1)} s`,
  );
  say(`RATIO convergence / floor: ${(converged / 1000 / floorSeconds).toFixed(2)} (target ≤ 1.15)`);
  const heapAfter = await heapUsedMb();
  const cached = RESERVATIONS * objectsPerReservation;
  say(
    `operator RSS after converging: ${rssMb.toFixed(0)} MB (${rssBefore.toFixed(0)} MB with one Reservation; target < 150 MB); V8 heap ${heapAfter.toFixed(0)} MB in use (${heapBefore.toFixed(0)} MB with one) of ${(await mb('nodejs_heap_size_total_bytes')).toFixed(0)} MB, external ${(await mb('nodejs_external_memory_bytes')).toFixed(0)} MB`,
  );
  say(
    `cache: ${(((heapAfter - heapBefore) * 1024) / cached).toFixed(2)} KB of heap and ${(((rssMb - rssBefore) * 1024) / cached).toFixed(2)} KB of RSS per cached object (${cached} owned objects and ${RESERVATIONS} Reservations more)`,
  );
  say(`operator RSS by mapping: ${rssByMapping(operator.child.pid ?? 0)}`);
  // What it holds once the burst's garbage is collected, the cluster's controllers still paused.
  await sleep(SETTLE_SECONDS * 1000);
  say(
    `operator RSS ${SETTLE_SECONDS} s later, nothing to do: ${rssOf().toFixed(0)} MB; V8 heap ${(await heapUsedMb()).toFixed(0)} MB in use of ${(await mb('nodejs_heap_size_total_bytes')).toFixed(0)} MB; by mapping: ${rssByMapping(operator.child.pid ?? 0)}`,
  );

  // The same Reservations after a restart (a rollout, a leader's failover): the new process lists
  // every kind and reconciles every Reservation once, with nothing to change.
  const warningsBefore = operator.log();
  operator.kill('SIGTERM');
  await operator.exited;
  operator = await startOperator(operatorEnv);
  const restarted = performance.now();
  const reconciled = async () => (await metric(operator, 'controller_runtime_reconcile_total', { result: 'success' })) ?? 0;
  await waitUntil('the restarted operator has reconciled every Reservation', async () => (await reconciled()) >= RESERVATIONS + 1, {
    timeoutMs: 300_000,
    intervalMs: 250,
  });
  const restartSeconds = (performance.now() - restarted) / 1000;
  const restartWrites =
    ((await metric(operator, 'rest_client_requests_total', { method: 'PATCH', code: '200' })) ?? 0) +
    ((await metric(operator, 'rest_client_requests_total', { method: 'POST', code: '201' })) ?? 0);
  await sleep(5_000);
  say(
    `after a restart: every Reservation reconciled ${restartSeconds.toFixed(1)} s after exec, ${restartWrites} writes; RSS ${rssOf().toFixed(0)} MB (target < 150 MB); V8 heap ${(await heapUsedMb()).toFixed(0)} MB in use of ${(await mb('nodejs_heap_size_total_bytes')).toFixed(0)} MB; by mapping: ${rssByMapping(operator.child.pid ?? 0)}`,
  );
  logsBefore.push(warningsBefore);
  signalControllerManager('SIGCONT');

  // (BENCH_IDLE_SECONDS=0 skips it: reaching Ready takes the controller manager many minutes.)
  if (IDLE_SECONDS > 0) {
    // 3. An idle minute, once the cluster has settled: every Reservation Ready (the autoscalers
    // have reached their minimums and kwok runs every pod), so nothing is left to do.
    await waitUntil(
      'every Reservation Ready',
      async () => {
        let ready = 0;
        for (let i = 0; i < NAMESPACES; i++) {
          const list = await client.request<{ items: Reservation[] }>('GET', resourcePath(RESOURCE_TYPES.Reservation, `bench-${i}`));
          ready += list.items.filter((r) => r.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
        }
        return ready === RESERVATIONS + 1;
      },
      { timeoutMs: 30 * 60_000, intervalMs: 1000 },
    );
    say(`every Reservation Ready (all pods available on the kwok node) after ${((performance.now() - start) / 1000).toFixed(1)} s`);
    await sleep(5_000);
    const count = async (method: string) => (await metric(operator, 'rest_client_requests_total', { method, code: '200' })) ?? 0;
    const before = { get: await count('GET'), patch: await count('PATCH'), post: await count('POST'), del: await count('DELETE') };
    await sleep(IDLE_SECONDS * 1000);
    const after = { get: await count('GET'), patch: await count('PATCH'), post: await count('POST'), del: await count('DELETE') };
    const writes = after.patch - before.patch + after.post - before.post + after.del - before.del;
    say(
      `idle ${IDLE_SECONDS} s with ${RESERVATIONS + 1} Reservations: ${writes} writes, ${after.get - before.get} reads besides the watches (target: 0 writes)`,
    );
  }
} finally {
  // What went wrong along the way, if anything: the operator's warnings, most frequent first.
  const warnings = new Map<string, number>();
  for (const line of [...logsBefore, operator.log()].join('\n').split('\n')) {
    const entry = /"level":(\d+).*"msg":"([^"]*)"/.exec(line);
    if (entry && Number(entry[1]) >= 40) {
      const err = /"err":"([^"]{0,160})/.exec(line)?.[1] ?? '';
      const key = `${entry[2]}: ${err}`;
      warnings.set(key, (warnings.get(key) ?? 0) + 1);
    }
  }
  for (const [warning, n] of [...warnings].sort((a, b) => b[1] - a[1]).slice(0, 5)) say(`operator warned ${n}x: ${warning}`);
  signalControllerManager('SIGCONT');
  operator.kill('SIGTERM');
  await operator.exited;
  await stopServers(plane.servers);
}

async function createNamespace(c: KubeClient, name: string) {
  await c.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } } });
}

function reservationObject(namespace: string, name: string): Reservation {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name, namespace, uid: `floor-${namespace}-${name}` },
    spec: sampleSpec({ services: { reservationApi: { replicas: { min: 1, max: 2 } }, queryApi: { replicas: { min: 1, max: 2 } } } }),
  };
}

/** A Reservation as a user creates one; of the twin CRD when `group` is FLOOR_GROUP. */
async function createReservation(c: KubeClient, namespace: string, name: string, group = GROUP) {
  const { metadata: _m, apiVersion: _a, ...rest } = reservationObject(namespace, name);
  const path = group === GROUP ? resourcePath(RESOURCE_TYPES.Reservation, namespace) : twinPath(namespace);
  await c.request('POST', path, { body: { ...rest, apiVersion: `${group}/${VERSION}`, metadata: { name } } });
}

function twinPath(namespace: string) {
  return `/apis/${FLOOR_GROUP}/${VERSION}/namespaces/${namespace}/${reservationCrd().spec.names.plural}`;
}

/** The Reservation CRD under FLOOR_GROUP: the same schema and CEL rules, so the same cost to create one. */
async function installTwinCrd() {
  const crd = reservationCrd();
  const { shortNames: _s, categories: _c, ...names } = crd.spec.names;
  await applyCrds(kc, [{ ...crd, metadata: { name: `${names.plural}.${FLOOR_GROUP}` }, spec: { ...crd.spec, group: FLOOR_GROUP, names } }]);
}

/** Objects as the operator would apply them, for nothing to own and none of its caches to hold. */
function unowned(objects: KubeObject[]): KubeObject[] {
  return objects.map((o) => ({
    ...o,
    metadata: {
      ...o.metadata,
      ownerReferences: undefined,
      labels: { ...o.metadata.labels, 'app.kubernetes.io/managed-by': 'bench-floor' },
    },
  }));
}

async function deploymentImageIs(namespace: string, name: string, suffix: string) {
  const d = await client.request<{ spec: { template: { spec: { containers: { image: string }[] } } } }>(
    'GET',
    resourcePath(RESOURCE_TYPES.Deployment, namespace, name),
  );
  return d.spec.template.spec.containers[0]?.image.endsWith(suffix) ?? false;
}

/** Watches Deployments and resolves `next(name:tag)` when one shows that image. */
function watchImages(config: KubeConfig, namespace: string) {
  const waiting = new Map<string, () => void>();
  let request: { abort(): void } | undefined;
  void new Watch(config)
    .watch(
      resourcePath(RESOURCE_TYPES.Deployment, namespace),
      {},
      (_phase, obj: { metadata: { name: string }; spec: { template: { spec: { containers: { image: string }[] } } } }) => {
        const tag = obj.spec.template.spec.containers[0]?.image.split(':').pop();
        waiting.get(`${obj.metadata.name}:${tag}`)?.();
      },
      () => {},
    )
    .then((r) => {
      request = r;
    });
  return {
    next: (key: string) => new Promise<void>((resolve) => waiting.set(key, resolve)),
    stop: () => request?.abort(),
  };
}

/** Resolves once a watch has seen `count` Reservations named shop-* with their status written for their generation. */
function watchConvergence(config: KubeConfig, count: number) {
  const converged = new Set<string>();
  let request: { abort(): void } | undefined;
  let finished = false;
  const done = new Promise<void>((resolve) => {
    // A watch may end at any time (the API server's timeout, a slow moment): a new one starts with
    // every Reservation as it is, so nothing seen is lost and nothing missed stays missed.
    const start = () =>
      void new Watch(config)
        .watch(
          resourcePath(RESOURCE_TYPES.Reservation),
          {},
          (_phase, r: Reservation) => {
            if (r.metadata.name.startsWith('shop-') && r.status?.observedGeneration === r.metadata.generation)
              converged.add(`${r.metadata.namespace}/${r.metadata.name}`);
            if (converged.size === count) resolve();
          },
          () => {
            if (!finished) setTimeout(start, 100);
          },
        )
        .then(
          (r) => {
            request = r;
          },
          () => {
            if (!finished) setTimeout(start, 100);
          },
        );
    start();
  });
  return {
    done: done.finally(() => {
      finished = true;
      request?.abort();
    }),
  };
}

async function inBatches<T>(items: T[], size: number, fn: (item: T) => Promise<unknown>) {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

/** Where a process's RSS is, from /proc/<pid>/smaps: the files it maps (the node binary), the malloc heap, anonymous memory (V8's heap among it). */
function rssByMapping(pid: number): string {
  const kb = new Map<string, number>();
  let kind = '';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const mapping = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (mapping) {
      const name = mapping[1] ?? '';
      kind =
        name === ''
          ? 'anonymous'
          : name === '[heap]'
            ? 'malloc heap'
            : name.startsWith('[')
              ? 'other'
              : name.startsWith('/')
                ? 'files'
                : name;
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) kb.set(kind, (kb.get(kind) ?? 0) + Number(rss[1]));
  }
  return [...kb]
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${(v / 1024).toFixed(0)} MB`)
    .join(', ');
}

/** The API server's own counters: requests and their summed latency by verb and resource. */
async function apiserverRequests(config: KubeConfig): Promise<Map<string, { count: number; seconds: number }>> {
  const ctx = new RequestContext(`${config.getCurrentCluster()?.server}/metrics`, HttpMethod.GET);
  await config.applySecurityAuthentication(ctx);
  const text = await (await fetch(ctx.getUrl(), { headers: ctx.getHeaders(), dispatcher: ctx.getDispatcher() })).text();
  const byKey = new Map<string, { count: number; seconds: number }>();
  for (const line of text.split('\n')) {
    const m = /^apiserver_request_duration_seconds_(sum|count)\{(.*)\} (\S+)$/.exec(line);
    if (!m?.[2]) continue;
    const labels = Object.fromEntries([...m[2].matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (labels.verb === 'WATCH' || labels.verb === 'CONNECT') continue;
    const key = `${labels.verb} ${labels.resource}${labels.subresource ? `/${labels.subresource}` : ''}`;
    const entry = byKey.get(key) ?? { count: 0, seconds: 0 };
    if (m[1] === 'sum') entry.seconds += Number(m[3]);
    else entry.count += Number(m[3]);
    byKey.set(key, entry);
  }
  return byKey;
}

interface Snapshot {
  at: number;
  cpu: { name: string; seconds: number }[];
  requests: Map<string, { count: number; seconds: number }>;
}

/** CPU used so far by each process, and what the API server has served. */
async function snapshot(config: KubeConfig, processes: { name: string; pid: number }[]): Promise<Snapshot> {
  return {
    at: performance.now(),
    cpu: processes.map((p) => ({ name: p.name, seconds: cpuSeconds(p.pid) })),
    requests: await apiserverRequests(config),
  };
}

/** Where a part's time went: each process's CPU, and the API server's requests by total time. */
function reportCosts(label: string, before: Snapshot, after: Snapshot) {
  const wall = (after.at - before.at) / 1000;
  const used = after.cpu
    .map((c, i) => ({ name: c.name, seconds: c.seconds - (before.cpu[i]?.seconds ?? 0) }))
    .sort((a, b) => b.seconds - a.seconds)
    .map((c) => `${c.name} ${c.seconds.toFixed(1)} s (${((c.seconds / wall) * 100).toFixed(0)}% of a core)`);
  say(`${label}, CPU over ${wall.toFixed(1)} s: ${used.join(', ')}`);
  const served = [...after.requests]
    .map(([key, v]) => {
      const was = before.requests.get(key);
      return { key, count: v.count - (was?.count ?? 0), seconds: v.seconds - (was?.seconds ?? 0) };
    })
    .filter((r) => r.count > 0)
    .sort((a, b) => b.seconds - a.seconds)
    .slice(0, 8)
    .map((r) => `${r.key} ${r.count} (mean ${((r.seconds / r.count) * 1000).toFixed(1)} ms)`);
  say(`${label}, API server requests by total time: ${served.join(', ')}`);
}
