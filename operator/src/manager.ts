import type { KubeConfig } from '@kubernetes/client-node';
import type { AwsHttpTimeouts } from '@reservations/service-kit/aws-http';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Reservation } from './api/v1alpha1/reservation.ts';
import { runController } from './controller/controller.ts';
import { createInformer, type Informer } from './controller/informer.ts';
import { WorkQueue } from './controller/workqueue.ts';
import { FIELD_MANAGER, MANAGED_SELECTOR } from './desired/metadata.ts';
import { createKubeClient, isNotFound, type KubeClient } from './kube/client.ts';
import { type KindName, type KubeObject, RESOURCE_TYPES, resourcePath } from './kube/resources.ts';
import { createControllerMetrics } from './metrics.ts';
import { keepWhatTheReconcilerReads } from './reconcile/cache-transform.ts';
import { createEventRecorder } from './reconcile/events.ts';
import { createReconciler, type ExternalCleanup, ownerKey } from './reconcile/reconciler.ts';
import { analysisStep, createAnalysisMetrics, createAnalysisSources } from './traffic/analysis/index.ts';
import { vectorQuery } from './traffic/analysis/prometheus-source.ts';
import type { DnsProvider } from './traffic/dns-provider.ts';
import { CLUSTER_IDENTITY_NAMESPACE } from './traffic/ownership.ts';
import { createTrafficReconciler, type TrafficReconciler, type TrafficReconcilerOptions } from './traffic/reconciler.ts';
import { createRoute53Provider } from './traffic/route53/provider.ts';
import type { GateOptions } from './traffic/route53/throttle.ts';

/** The kinds a Reservation owns, watched through the operator's own label. */
export const OWNED_KINDS: readonly KindName[] = [
  'ServiceAccount',
  'ConfigMap',
  'Deployment',
  'Service',
  'HorizontalPodAutoscaler',
  'PodDisruptionBudget',
  'Ingress',
  'HTTPRoute',
];

export interface ManagerOptions {
  kc: KubeConfig;
  /** Watch one namespace, or every namespace when undefined. */
  namespace?: string;
  workers: number;
  resyncMs: number;
  identity: string;
  logger: Logger;
  registry: Registry;
  cleanups?: ExternalCleanup[];
  /** ExternalDNS ownership settings of the weighted records (owner id, TXT prefix/suffix). */
  traffic?: Pick<TrafficReconcilerOptions, 'ownerId' | 'affix' | 'driftCheckMs' | 'pendingPollMs'> & {
    /**
     * Default: Route53 as the environment configures the AWS SDK. `gate` carries the manager's
     * logging and metrics hooks for the call gate.
     */
    provider?: (gate: GateOptions) => DnsProvider;
    /** The default Route53 client's connection and request timeouts. */
    route53Timeouts?: AwsHttpTimeouts;
    /** This operator's Route53 call rate (its share of the account's 5/s); the call gate's defaults when absent. */
    route53Rate?: Pick<GateOptions, 'qps' | 'burst'>;
  };
  /** The only hosts a spec's Prometheus URL may name (PROMETHEUS_ALLOWED_HOSTS); any when undefined. */
  prometheusAllowedHosts?: readonly string[];
  /** The database's max_connections, for each Reservation's ConnectionBudget condition; none checked when undefined. */
  connectionLimit?: number;
  /** The API client (tests wrap it to count requests). */
  client?: KubeClient;
}

/** The owned kinds whose status the reconciler reads: a Deployment's rollout, an Ingress's address. */
const STATUS_READ = new Set(['Deployment', 'Ingress']);

/**
 * Caches, queue and reconciler wired together (controller-runtime's manager): informers
 * feed keys into the queue (an owned object wakes its owner), workers reconcile, and a
 * periodic resync re-queues every Reservation as a safety net.
 */
export async function startManager(options: ManagerOptions) {
  const { kc, namespace, workers, resyncMs, identity, logger, registry, cleanups } = options;
  const metrics = createControllerMetrics(registry, 'reservation');
  const client = options.client ?? createKubeClient(kc, metrics.requestObserver);
  const queue = new WorkQueue({ observer: metrics.queueObserver });
  const keyOf = (obj: { metadata: { namespace?: string; name: string } }) => `${obj.metadata.namespace}/${obj.metadata.name}`;

  const reservations = createInformer<Reservation>(kc, client, RESOURCE_TYPES.Reservation, { namespace, logger });
  reservations.onChange((obj) => queue.add(keyOf(obj)));
  const owned = new Map<string, Informer>();
  for (const kind of OWNED_KINDS) {
    if (!(await served(client, kind))) {
      logger.warn({ kind }, 'the cluster does not serve this kind; Reservations that need it will report Degraded');
      continue;
    }
    const informer = createInformer(kc, client, RESOURCE_TYPES[kind], {
      namespace,
      labelSelector: MANAGED_SELECTOR,
      logger,
      transform: keepWhatTheReconcilerReads(FIELD_MANAGER, STATUS_READ),
    });
    informer.onChange((obj) => {
      const key = ownerKey(obj);
      if (key) queue.add(key);
    });
    owned.set(kind, informer);
  }
  // The Gateways that HTTPRoutes attach to: their address is the edge's hostname.
  const gateways = (await served(client, 'Gateway'))
    ? createInformer(kc, client, RESOURCE_TYPES.Gateway, { namespace, logger })
    : undefined;
  gateways?.onChange((gateway) => {
    for (const r of reservations.list()) {
      const parent = r.spec.edge?.kind === 'HTTPRoute' ? r.spec.edge.parentRef : undefined;
      if (parent?.name === gateway.metadata.name && (parent.namespace ?? r.metadata.namespace) === gateway.metadata.namespace)
        queue.add(keyOf(r));
    }
  });
  const informers = [reservations, ...owned.values(), ...(gateways ? [gateways] : [])];
  await Promise.all(informers.map((i) => i.start()));
  logger.info({ kinds: [...owned.keys()], namespace: namespace ?? '(all)' }, 'caches synced');

  const events = createEventRecorder(client, { instance: identity, logger });
  const gate: GateOptions = {
    ...options.traffic?.route53Rate,
    onRetry: (info) => logger.warn(info, 'route53 asked us to slow down; backing off'),
    onAttempt: metrics.route53Observer,
  };
  const makeProvider =
    options.traffic?.provider ?? ((g: GateOptions) => createRoute53Provider({ gate: g, timeouts: options.traffic?.route53Timeouts }));
  const clusterUid = options.traffic?.ownerId ? undefined : await clusterIdentity(client);
  const allowedHosts = options.prometheusAllowedHosts;
  const analysis = createAnalysisSources({
    kube: client,
    metrics: createAnalysisMetrics(registry),
    ...(allowedHosts ? { prometheusAllowedHosts: allowedHosts } : {}),
  });
  const traffic: TrafficReconciler = createTrafficReconciler({
    ...options.traffic,
    ...(clusterUid ? { clusterUid } : {}),
    provider: () => makeProvider(gate),
    logger,
    analysis: analysisStep(analysis),
    prometheusQuery: (url, promql, signal) => vectorQuery(url, promql, { signal, ...(allowedHosts ? { allowedHosts } : {}) }),
    cutoverObserver: metrics.cutoverObserver,
  });
  const reconciler = createReconciler({
    client,
    reservations,
    owned,
    gateways,
    events,
    logger,
    cleanups,
    traffic,
    ...(options.connectionLimit !== undefined ? { connectionLimit: options.connectionLimit } : {}),
  });
  const controller = runController({
    name: 'reservation',
    queue,
    reconcile: reconciler.reconcile,
    workers,
    logger,
    metrics,
    waitingOn: (signal) => client.waitingOn(signal),
  });
  const resync = setInterval(() => {
    for (const r of reservations.list()) queue.add(keyOf(r));
  }, resyncMs);
  resync.unref();

  return {
    metrics,
    get synced() {
      return informers.every((i) => i.synced);
    },
    async stop() {
      clearInterval(resync);
      await controller.stop();
      await Promise.all(informers.map((i) => i.stop()));
    },
  };
}

/** The UID of this cluster's kube-system namespace, which makes the default owner id this cluster's own (ownership.ts). */
async function clusterIdentity(client: KubeClient): Promise<string> {
  const path = resourcePath(RESOURCE_TYPES.Namespace, undefined, CLUSTER_IDENTITY_NAMESPACE);
  try {
    const uid = (await client.request<KubeObject>('GET', path)).metadata.uid;
    if (uid) return uid;
    throw new Error('it has no metadata.uid');
  } catch (err) {
    throw new Error(
      `cannot read namespace ${CLUSTER_IDENTITY_NAMESPACE}, whose UID makes the default ExternalDNS owner id unique to this cluster: ` +
        `grant get on it (the chart does) or set TXT_OWNER_ID (${(err as Error).message})`,
    );
  }
}

/** Kinds that come from add-on CRDs and may be missing from a cluster. */
const OPTIONAL_KINDS: readonly KindName[] = ['HTTPRoute', 'Gateway'];

/** Whether the API server serves `kind` (the Gateway API's CRDs may not be installed). */
async function served(client: KubeClient, kind: KindName): Promise<boolean> {
  if (!OPTIONAL_KINDS.includes(kind)) return true;
  const type = RESOURCE_TYPES[kind];
  try {
    const list = await client.request<{ resources: { name: string }[] }>('GET', `/apis/${type.apiVersion}`);
    return list.resources.some((r) => r.name === type.plural);
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}
