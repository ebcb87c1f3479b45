/**
 * The two-cluster platform, on loopback: what `npm start` (the playground) and
 * `npm run simulate:cutover` both run. Two EKS clusters during a migration, `blue` and `green`:
 * a Kubernetes control plane each (the harness's is blue's; green's is a second one), each with a
 * kwok node, its own operator (a real process) and its own stack of the services (processes
 * standing for the pods), sharing MariaDB (primary + replica), Redis and the SQS queue as two
 * clusters share RDS, ElastiCache and SQS. One hosted zone in moto holds the weighted name, blue's
 * record at 100 and green's at 0, both written (and owned, TXT) by the operators from their
 * Reservations. A DNS server (the stand-in for Route53's name servers) answers the name from
 * moto's records by the weighted rule. Prometheus, when the harness runs it, scrapes both stacks
 * and both operators with a `cluster` label. One kubeconfig has the contexts `blue` and `green`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Route53Client } from '@aws-sdk/client-route-53';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { API_VERSION, KIND } from '@reservations/operator/api';
import { createKubeClient, type KubeClient, PATCH, RESOURCE_TYPES, resourcePath } from '@reservations/operator/kube';
import { installCrds, type OperatorProcess, sampleSpec, startClusterOperatorProcess } from '@reservations/operator/testing';
import { createTokenMinter } from '@reservations/service-kit/token-minter';
import {
  type Component,
  createZone,
  type Harness,
  installExternalDns,
  installHarness,
  type Route53AwsBehaviour,
  type Route53AwsStandIn,
  repoRoot,
  type ServiceProcess,
  startHarness,
  startKubeControlPlane,
  startRoute53AwsStandIn,
  startServiceProcess,
  stopServers,
  waitUntil,
  writePrometheusTargets,
} from '@reservations/testkit';
import type { Stack } from '../cutover-sim/accounting.ts';
import { cachedRecordSource, type WeightedRecord } from '../cutover-sim/dns.ts';
import { type LoadOptions, type StackEndpoints, startLoad } from '../cutover-sim/load.ts';
import { prepareDatabase, type ServiceDbUrls } from './database.ts';
import { type DnsServer, resolveCname, startRoute53DnsStandIn } from './dns-server.ts';
import { APPS_NAMESPACE, type Neighbour, startExternalDnsNeighbour } from './external-dns-neighbour.ts';

export const STACKS: readonly Stack[] = ['blue', 'green'];
/** Where each cluster's Reservation lives, and its name. */
export const NAMESPACE = 'reservations';
export const RESERVATION = 'booking';
/** The zone and the weighted name (a moto of its own, so the names need not be unique). */
export const ZONE_NAME = 'reservations.example.com';
export const RECORD_NAME = `api.${ZONE_NAME}`;
/** spec.traffic.cluster of each Reservation: the set identifiers of the weighted records, as in docs/cutover.md. */
export const CLUSTER_NAMES: Record<Stack, string> = { blue: 'eks-blue', green: 'eks-green' };
/** The hostnames the weighted records point at: each cluster's load balancer. */
export const TARGETS: Record<Stack, string> = { blue: 'blue.elb.reservations.local', green: 'green.elb.reservations.local' };
/** Local only: the services and the load sign and check tokens with it. */
export const JWT_SECRET = 'local-development-only-secret-0123456789';
/** The identity provider the local services trust (tokens must name it and the audience). */
export const JWT_ISSUER = 'https://local.idp.test/';
export const JWT_AUDIENCE = 'reservations';
/** Local only: both stacks' reservation-api and query-api sign and check consistency tokens and cache entries with it (one key: a client may write on one cluster and read on the other). */
export const BOOKING_SIGNING_KEYS = 'local-development-only-booking-signing-key';
/** Local only: the key both stacks' notifiers seal webhook secrets with (they share the database). */
export const WEBHOOK_SECRET_KEYS = `local-1:${Buffer.from('local-development-only-32-bytes!').toString('base64')}`;
/** The harness components the platform needs; sqs (the event pipeline) and prometheus are optional. */
export const REQUIRED_COMPONENTS: readonly Component[] = ['mysql', 'redis', 'aws', 'kube'];

// biome-ignore lint/suspicious/noExplicitAny: callers read deep into the Reservation's status JSON
type Json = any;

export interface Cluster {
  stack: Stack;
  kube: KubeClient;
  /** This cluster's own admin kubeconfig (the shared one is `TwoClusterPlatform.kubeconfig`). */
  kubeconfig: string;
  /** The API server's URL. */
  apiServer: string;
  operator: OperatorProcess;
  services: ServiceProcess[];
  endpoints: StackEndpoints;
  /** When the operator's drain switch first said `connection-close: true`: the drain (ms since the epoch). */
  drainOnAt(): number | undefined;
}

export interface PlatformOptions {
  /** The weighted records' TTL, seconds (spec.traffic.dns.ttl). */
  ttlSeconds: number;
  /** Harness components to run: at least REQUIRED_COMPONENTS; `sqs` adds the relay and a notifier per cluster, `prometheus` the scraping. */
  components: readonly Component[];
  /** A line per step. */
  progress: (message: string) => void;
  /** Services' log level (default warn). */
  logLevel?: string;
  /** How Route53 behaves for the operators (the stand-in in front of moto): default as moto, at once and unlimited. */
  route53?: Partial<Route53AwsBehaviour>;
  /**
   * A busy ExternalDNS per cluster on the same zone, through the same stand-in (its requests
   * spend the account's budget with the operators'): a sync every `intervalMs`, other apps'
   * Services made and deleted every `churnMs`. Default: none.
   */
  externalDns?: { intervalMs: number; churnMs: number };
}

/** Each operator's AWS SDK app id (AWS_SDK_UA_APP_ID): the stand-in's `calledBy` tells its calls from ExternalDNS'. */
export const OPERATOR_APP_IDS: Record<Stack, string> = { blue: 'reservation-operator-blue', green: 'reservation-operator-green' };

export interface TwoClusterPlatform {
  harness: Harness;
  /** The run directory: logs, the kubeconfig, the settings. */
  dir: string;
  /** One kubeconfig with the contexts `blue` and `green` (namespace `reservations`). */
  kubeconfig: string;
  clusters: Record<Stack, Cluster>;
  zone: { id: string; name: string };
  route53: Route53Client;
  /** The Route53 stand-in the operators (and the ExternalDNS neighbours) call: its `calls`, `served` what DNS answers. */
  route53Front: Route53AwsStandIn;
  /** The busy ExternalDNS per cluster, when asked for (`externalDns`). */
  neighbours: Neighbour[];
  dns: DnsServer;
  /** Resources to book, made on blue's reservation-api (the database is shared). */
  resources: string[];
  /** A bearer token for `sub` with `role`. */
  token(sub: string, role: 'admin' | 'customer'): string;
  reservation(stack: Stack): Promise<Json>;
  patchReservation(stack: Stack, body: Record<string, unknown>): Promise<void>;
  /** Virtual clients that resolve the weighted name through `dns` (see cutover-sim/load.ts). */
  startLoad(
    options: Pick<
      LoadOptions,
      'clients' | 'rate' | 'readShare' | 'cancelShare' | 'keepAliveShare' | 'keepAliveHoldMs' | 'onRecord' | 'retainMs'
    >,
  ): ReturnType<typeof startLoad>;
}

/**
 * Starts everything; `stop` stops whatever has started (also while `ready` is still pending, for
 * Ctrl-C during start), in reverse order, once.
 */
export function startTwoClusterPlatform(options: PlatformOptions): { ready: Promise<TwoClusterPlatform>; stop(): Promise<void> } {
  const cleanups: (() => Promise<void> | void)[] = [];
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      for (const cleanup of cleanups.reverse()) {
        try {
          await cleanup();
        } catch (err) {
          options.progress(`stopping: ${(err as Error).message}`);
        }
      }
    })();
    return stopping;
  };
  const ready = start(options, (cleanup) => {
    if (stopping) throw new Error('stopped while starting');
    cleanups.push(cleanup);
  });
  return { ready, stop };
}

async function start(options: PlatformOptions, onStop: (cleanup: () => Promise<void> | void) => void): Promise<TwoClusterPlatform> {
  const { progress, components } = options;
  const missing = REQUIRED_COMPONENTS.filter((c) => !components.includes(c));
  if (missing.length > 0) throw new Error(`HARNESS_COMPONENTS: the two-cluster platform needs ${missing.join(', ')} as well`);
  await installHarness(components, { helm: false });
  if (options.externalDns) await installExternalDns();
  const harness = await startHarness(components);
  onStop(() => harness.stop());
  Object.assign(process.env, harness.env); // the AWS SDK and the operator's test support read their settings from here
  const need = (name: keyof Harness['env']) => {
    const value = harness.env[name];
    if (!value) throw new Error(`the harness did not export ${name}`);
    return value;
  };
  const pipeline = Boolean(harness.env.SQS_QUEUE_URL);
  const sign = createTokenMinter({ issuer: JWT_ISSUER, audience: JWT_AUDIENCE, key: { secret: JWT_SECRET }, ttlSeconds: 24 * 3600 });
  const token = (sub: string, role: 'admin' | 'customer') => sign({ sub, role });

  progress('starting green’s control plane; migrating the database and starting both stacks of services');
  const planeStarting = startKubeControlPlane(join(harness.dir, 'green'), 'green').then((plane) => {
    onStop(() => stopServers(plane.servers));
    return plane;
  });
  const stacksStarting = (async () => {
    const dbUrls = await prepareDatabase(harness.env);
    const [blue, green] = await Promise.all(
      STACKS.map((stack) => startStack(stack, harness, dbUrls, pipeline, options.logLevel ?? 'warn', onStop)),
    );
    return { blue, green } as Record<Stack, Awaited<ReturnType<typeof startStack>>>;
  })();
  // The operators call Route53 through the stand-in of AWS's behaviour (PENDING, the account's rate) the options ask for.
  const route53Front = await startRoute53AwsStandIn(options.route53);
  onStop(() => route53Front.close());
  const blueOperator = startClusterOperator('blue', need('KUBECONFIG'), harness, route53Front.url, onStop);
  const greenOperator = planeStarting.then((plane) =>
    startClusterOperator('green', plane.env.KUBECONFIG, harness, route53Front.url, onStop),
  );
  const [stacks, blueOp, greenOp] = await Promise.all([stacksStarting, blueOperator, greenOperator]);
  progress('both control planes, operators and stacks are up');

  const route53 = new Route53Client({});
  onStop(() => route53.destroy());
  const zone = await createZone(route53, ZONE_NAME);
  const dnsSpec = { hostedZoneId: zone.id, name: RECORD_NAME, ttl: options.ttlSeconds };
  const ops = { blue: blueOp, green: greenOp };
  const reservationPath = (name?: string) => resourcePath(RESOURCE_TYPES.Reservation, NAMESPACE, name);
  const reservation = (stack: Stack) => ops[stack].kube.request<Json>('GET', reservationPath(RESERVATION));
  const patchReservation = async (stack: Stack, body: Record<string, unknown>) => {
    await ops[stack].kube.request('PATCH', reservationPath(RESERVATION), { body, contentType: PATCH.merge });
  };
  for (const [stack, weight] of [
    ['blue', 100],
    ['green', 0],
  ] as const) {
    progress(`${stack}'s Reservation at weight ${weight} on ${RECORD_NAME}`);
    await ops[stack].kube.request('POST', reservationPath(), {
      body: {
        apiVersion: API_VERSION,
        kind: KIND,
        metadata: { name: RESERVATION },
        spec: sampleSpec({ traffic: { cluster: CLUSTER_NAMES[stack], dns: dnsSpec, weight, target: TARGETS[stack] } }),
      },
    });
    await waitUntil(
      `${stack} at ${weight}`,
      async () => {
        const { status } = await reservation(stack);
        if (status?.traffic?.verifiedWeight === weight) return true;
        const conditions = (status?.conditions ?? []).map((c: Json) => `${c.type}=${c.status} ${c.reason}: ${c.message}`);
        throw new Error(`${status?.phase ?? 'no status'}; ${conditions.join('; ')}`);
      },
      // The operator's first reconcile creates every object and writes the record: minutes on a loaded machine.
      { timeoutMs: 180_000 },
    );
  }

  // What Route53's DNS serves (changes still PENDING not yet in), read at most once a second: every query asking moto would measure moto.
  const records = cachedRecordSource(async () => {
    const all = await route53Front.served(zone.id);
    return all.flatMap((r): WeightedRecord[] =>
      r.name === RECORD_NAME && r.type === 'CNAME' && r.setIdentifier !== undefined
        ? [{ setIdentifier: r.setIdentifier, weight: r.weight ?? 0, value: r.values[0] ?? '', ttlSeconds: r.ttl ?? options.ttlSeconds }]
        : [],
    );
  }, 1000);
  const dns = await startRoute53DnsStandIn({ name: RECORD_NAME, records, onError: (err) => progress(`dns: ${err.message}`) });
  onStop(() => dns.stop());
  progress(`DNS (Route53 stand-in) on 127.0.0.1:${dns.port} udp`);

  const neighbours: Neighbour[] = [];
  if (options.externalDns) {
    const { intervalMs, churnMs } = options.externalDns;
    for (const stack of STACKS) {
      const op = ops[stack];
      const neighbour = await startExternalDnsNeighbour({
        stack,
        kc: op.kc,
        kube: op.kube,
        kubeconfig: op.kubeconfig,
        dir: harness.dir,
        zone,
        route53: route53Front.url,
        intervalMs,
        churnMs,
        progress,
      });
      onStop(() => neighbour.stop());
      neighbours.push(neighbour);
    }
    progress(
      `ExternalDNS on both clusters: owner ids ${neighbours.map((n) => n.appId).join(', ')}, a sync every ${intervalMs / 1000}s, Services of namespace ${APPS_NAMESPACE} made and deleted every ${churnMs / 1000}s`,
    );
  }

  const clusters = Object.fromEntries(
    STACKS.map((stack): [Stack, Cluster] => {
      const { services, endpoints, drainFile } = stacks[stack];
      const op = ops[stack];
      const drain = mirrorDrainSwitch(op.kube, drainFile);
      onStop(() => drain.stop());
      return [
        stack,
        {
          stack,
          kube: op.kube,
          kubeconfig: op.kubeconfig,
          apiServer: op.apiServer,
          operator: op.operator,
          services,
          endpoints,
          drainOnAt: drain.onAt,
        },
      ];
    }),
  ) as Record<Stack, Cluster>;

  if (harness.env.PROMETHEUS_TARGETS_DIR) {
    for (const stack of STACKS) {
      const c = clusters[stack];
      const pods = c.services.map((s) => ({
        url: `${s.admin}/metrics`,
        // Labelled as the Reservation's pods would be, so the analysis's default PromQL finds them.
        labels: { cluster: stack, namespace: NAMESPACE, pod: `${RESERVATION}-${s.server.name}-${stack}-0`, service: s.server.name },
      }));
      const operator = {
        url: `${c.operator.admin}/metrics`,
        labels: { cluster: stack, namespace: 'reservation-system', pod: 'reservation-operator-0' },
      };
      onStop(writePrometheusTargets(harness.env.PROMETHEUS_TARGETS_DIR, `${stack}-cluster`, [...pods, operator]));
    }
  }

  const kubeconfig = join(harness.dir, 'kubeconfig');
  writeFileSync(kubeconfig, mergedKubeconfig({ blue: blueOp.kubeconfig, green: greenOp.kubeconfig }), { mode: 0o600 });
  const resources = await createResources(stacks.blue.endpoints.reservationApi, token('platform-admin', 'admin'), 20);

  return {
    harness,
    dir: harness.dir,
    kubeconfig,
    clusters,
    zone,
    route53,
    route53Front,
    neighbours,
    dns,
    resources,
    token,
    reservation,
    patchReservation,
    startLoad: (load) =>
      startLoad({
        ...load,
        answer: () => resolveCname(dns.port, RECORD_NAME),
        stacks: Object.fromEntries(STACKS.map((s) => [TARGETS[s], clusters[s].endpoints])),
        resources,
        token: (sub) => token(sub, 'customer'),
      }),
  };
}

async function startStack(
  stack: Stack,
  harness: Harness,
  dbUrls: ServiceDbUrls,
  pipeline: boolean,
  logLevel: string,
  onStop: (cleanup: () => Promise<void>) => void,
): Promise<{ services: ServiceProcess[]; endpoints: StackEndpoints; drainFile: string }> {
  // The operator's drain switch: in a pod, the kubelet projects the ConfigMap here (mirrorDrainSwitch).
  const drainFile = join(harness.dir, `${stack}-drain-connection-close`);
  const env: Record<string, string> = {
    ...(Object.fromEntries(Object.entries(harness.env).filter(([, v]) => v !== undefined)) as Record<string, string>),
    DRAIN_FILE: drainFile,
    JWT_SECRET,
    JWT_ISSUER,
    JWT_AUDIENCE,
    BOOKING_SIGNING_KEYS,
    WEBHOOK_SECRET_KEYS,
    LOG_LEVEL: logLevel,
    // The machine is shared with other work: load shedding would measure its CPU, not the cutover;
    // so would a 503 from a full queue while the one local replica lags behind a busy CPU.
    MAX_EVENT_LOOP_DELAY_MS: '0',
    CONSISTENCY_WAIT_QUEUE: '1000',
    MYSQL_QUEUE_LIMIT: '1000',
    ...(pipeline ? { WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true' } : { OUTBOX_RELAY: 'off' }),
  };
  const start = async (service: 'reservation-api' | 'query-api' | 'notifier') => {
    const started = await startServiceProcess(
      join(repoRoot, 'services', service, 'src', 'server.ts'),
      { ...env, ...dbUrls(service) },
      {
        logDir: harness.dir,
        logName: `${stack}-${service}`,
      },
    );
    // On the way out nothing is listening any more: no need for the services' graceful drain.
    onStop(() => started.server.stop(1000));
    return started;
  };
  const [reservationApi, queryApi, ...rest] = await Promise.all(
    (['reservation-api', 'query-api', ...(pipeline ? ['notifier' as const] : [])] as const).map((service) => start(service)),
  );
  if (!reservationApi || !queryApi) throw new Error('unreachable: both services were asked for');
  return {
    services: [reservationApi, queryApi, ...rest],
    endpoints: { stack, reservationApi: reservationApi.api, queryApi: queryApi.api },
    drainFile,
  };
}

/** A cluster's CRDs, the `reservations` namespace and an operator (a real process) watching it. */
async function startClusterOperator(
  stack: Stack,
  kubeconfig: string,
  harness: Harness,
  route53Url: string,
  onStop: (cleanup: () => Promise<void>) => void,
) {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  await installCrds(kc);
  const kube = createKubeClient(kc);
  await kc
    .makeApiClient(CoreV1Api)
    .createNamespace({ body: { metadata: { name: NAMESPACE } } })
    .catch((err: unknown) => {
      if ((err as { code?: number }).code !== 409) throw err; // an existing cluster (HARNESS_KUBECONFIG) may have it already
    });
  const operator = await startClusterOperatorProcess({
    kubeconfig,
    namespace: NAMESPACE,
    route53: route53Url,
    appId: OPERATOR_APP_IDS[stack],
    env: harness.env,
  });
  onStop(async () => {
    operator.kill('SIGTERM');
    await Promise.race([operator.exited, sleep(10_000)]);
    operator.kill('SIGKILL');
    writeFileSync(join(harness.dir, `${stack}-operator.log`), operator.log()); // kept with HARNESS_KEEP_DIR=1
  });
  await waitUntil(`${stack} operator ready`, async () => (await fetch(`${operator.admin}/readyz`)).ok, { timeoutMs: 90_000 });
  return { kc, kube, kubeconfig, operator, apiServer: kc.getCurrentCluster()?.server ?? '' };
}

/**
 * Stands in for the kubelet, which projects a cluster's drain-switch ConfigMap into every pod:
 * the services here are processes, so the ConfigMap's value is copied into their DRAIN_FILE once
 * a second (the kubelet takes up to a minute).
 */
function mirrorDrainSwitch(kube: KubeClient, file: string) {
  let onAt: number | undefined;
  const configMap = resourcePath(RESOURCE_TYPES.ConfigMap, NAMESPACE, `${RESERVATION}-drain`);
  const copy = async () => {
    const value = (await kube.request<{ data?: Record<string, string> }>('GET', configMap).catch(() => undefined))?.data?.[
      'connection-close'
    ];
    writeFileSync(file, value ?? 'false');
    if (value === 'true') onAt ??= Date.now();
  };
  const timer = setInterval(() => void copy(), 1000);
  return { onAt: () => onAt, stop: () => clearInterval(timer) };
}

/** One kubeconfig with a context per cluster (each file's current one, renamed), in namespace `reservations`. */
export function mergedKubeconfig(files: Record<Stack, string>): string {
  const merged = new KubeConfig();
  const parts = STACKS.map((stack) => {
    const kc = new KubeConfig();
    kc.loadFromFile(files[stack]);
    const cluster = kc.getCurrentCluster();
    const user = kc.getCurrentUser();
    if (!cluster || !user) throw new Error(`${files[stack]}: no current cluster and user`);
    return {
      cluster: { ...cluster, name: stack },
      user: { ...user, name: `${stack}-admin` },
      context: { name: stack, cluster: stack, user: `${stack}-admin`, namespace: NAMESPACE },
    };
  });
  merged.loadFromOptions({
    clusters: parts.map((p) => p.cluster),
    users: parts.map((p) => p.user),
    contexts: parts.map((p) => p.context),
    currentContext: 'blue',
  });
  return merged.exportConfig();
}

async function createResources(api: string, adminToken: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const response = await fetch(`${api}/v1/resources`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: `room-${i}`, providerId: 'platform', timeZone: 'UTC' }),
      signal: AbortSignal.timeout(10_000),
    });
    if (response.status !== 201) throw new Error(`creating a resource: ${response.status} ${await response.text()}`);
    ids.push(((await response.json()) as { id: string }).id);
  }
  return ids;
}
