import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import { API_VERSION, KIND, type Reservation, SERVICE_NAMES, type ServiceName } from '../api/v1alpha1/reservation.ts';
import type { Informer } from '../controller/informer.ts';
import { desiredObjects } from '../desired/index.ts';
import { FIELD_MANAGER, objectName } from '../desired/metadata.ts';
import type { KubeClient } from '../kube/client.ts';
import type { KubeObject } from '../kube/resources.ts';
import { CONDITION } from './conditions.ts';
import { hasAllFields } from './drift.ts';
import type { EventRecorder } from './events.ts';
import { computeStatus, type ObservedDeployment } from './status.ts';

export const FINALIZER = 'platform.reservations.dev/external-resources';

/**
 * Cleans up something outside the cluster before a Reservation goes (the traffic issue's
 * Route53 records). `done: false` holds the deletion; the reason shows in an event.
 */
export interface ExternalCleanup {
  name: string;
  cleanup(cr: Reservation): Promise<{ done: true } | { done: false; reason: string }>;
}

export interface ReconcileResult {
  requeueAfterMs?: number;
}

export interface ReconcilerDeps {
  client: KubeClient;
  reservations: Informer;
  /** One cache per kind the operator owns, by kind name; a kind the cluster doesn't serve is absent. */
  owned: ReadonlyMap<string, Informer>;
  /** Gateways, when the cluster serves the Gateway API: an HTTPRoute edge's address is its Gateway's. */
  gateways?: Informer;
  events: EventRecorder;
  logger: Logger;
  cleanups?: ExternalCleanup[];
  now?: () => Date;
}

const HOLD_RETRY_MS = 10_000;

/**
 * The reconcile recipe: read the Reservation from the cache; handle deletion; make sure of the
 * finalizer; build the desired objects; apply those that differ from what is live; delete
 * owned objects no longer wanted; compute the status and write it if it changed. Level-
 * triggered: it acts on what is, never on the event that woke it.
 */
export function createReconciler(deps: ReconcilerDeps) {
  const { client, reservations, owned, gateways, events, logger } = deps;
  const now = deps.now ?? (() => new Date());
  const cleanups = deps.cleanups ?? [];

  async function reconcile(key: string): Promise<ReconcileResult> {
    const [namespace = '', name = ''] = key.split('/');
    const cr = reservations.get(namespace, name) as unknown as Reservation | undefined;
    if (!cr) return {}; // gone: the garbage collector removes what it owned
    if (cr.metadata.deletionTimestamp) return finalize(cr);
    if (!cr.metadata.finalizers?.includes(FINALIZER)) await setFinalizer(cr, true);

    const desired = desiredObjects(cr);
    const applied: string[] = [];
    const failures: string[] = [];
    // Independent objects: applied together, so a change costs one round trip, not fourteen.
    await Promise.all(
      desired.map(async (obj) => {
        const cache = owned.get(obj.kind);
        if (!cache) {
          failures.push(`${obj.kind} is not served by this cluster (install its CRDs, e.g. the Gateway API's)`);
          return;
        }
        const { apiVersion: _v, kind: _k, ...fields } = obj;
        if (hasAllFields(fields, cache.get(namespace, obj.metadata.name))) return;
        try {
          await client.apply(obj, FIELD_MANAGER);
          applied.push(`${obj.kind}/${obj.metadata.name}`);
        } catch (err) {
          failures.push(`${obj.kind} ${obj.metadata.name}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }),
    );

    const wanted = new Set(desired.map((o) => `${o.kind}/${o.metadata.name}`));
    const pruned: string[] = [];
    for (const cache of owned.values()) {
      for (const live of cache.list(namespace)) {
        if (controllerUid(live) !== cr.metadata.uid || wanted.has(`${live.kind}/${live.metadata.name}`)) continue;
        if (await client.remove(live)) pruned.push(`${live.kind}/${live.metadata.name}`);
      }
    }

    const deployments: Partial<Record<ServiceName, ObservedDeployment>> = {};
    for (const service of SERVICE_NAMES) {
      deployments[service] = owned.get('Deployment')?.get(namespace, objectName(cr, service)) as ObservedDeployment | undefined;
    }
    const applyError = failures.length > 0 ? failures.join('; ') : undefined;
    const status = computeStatus(cr, { deployments, edgeHostname: edgeHostname(cr, namespace), applyError }, now());
    if (!isDeepStrictEqual(status, cr.status)) {
      await client.apply({ apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace }, status }, FIELD_MANAGER, {
        subresource: 'status',
      });
    }

    if (applied.length > 0) events.normal(cr, 'Applied', `applied ${applied.sort().join(', ')}`);
    if (pruned.length > 0) events.normal(cr, 'Pruned', `deleted what the spec no longer asks for: ${pruned.join(', ')}`);
    recordReadiness(
      cr,
      status.conditions?.find((c) => c.type === CONDITION.Ready),
    );
    if (applyError) {
      events.warning(cr, 'ApplyFailed', applyError);
      throw new Error(applyError); // retried with backoff
    }
    return {};
  }

  function recordReadiness(cr: Reservation, ready: { status: string; message: string } | undefined) {
    const before = cr.status?.conditions?.find((c) => c.type === CONDITION.Ready)?.status;
    if (!ready || ready.status === before) return;
    if (ready.status === 'True') events.normal(cr, 'Ready', ready.message);
    else if (before === 'True') events.warning(cr, 'NotReady', ready.message);
  }

  async function finalize(cr: Reservation): Promise<ReconcileResult> {
    if (!cr.metadata.finalizers?.includes(FINALIZER)) return {};
    for (const step of cleanups) {
      const result = await step.cleanup(cr);
      if (!result.done) {
        logger.info({ reservation: cr.metadata.name, cleanup: step.name, reason: result.reason }, 'deletion held');
        events.warning(cr, 'DeletionHeld', `${step.name}: ${result.reason}`);
        return { requeueAfterMs: HOLD_RETRY_MS };
      }
    }
    await setFinalizer(cr, false);
    return {};
  }

  /** Server-side apply of just our finalizer: other owners' finalizers stay as they are. */
  async function setFinalizer(cr: Reservation, present: boolean) {
    const { name, namespace } = cr.metadata;
    await client.apply(
      { apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace, ...(present ? { finalizers: [FINALIZER] } : {}) } },
      FIELD_MANAGER,
    );
  }

  /** Where the edge's load balancer answers: the Ingress's, or the HTTPRoute's Gateway's address. */
  function edgeHostname(cr: Reservation, namespace: string): string | undefined {
    const edge = cr.spec.edge;
    if (edge?.kind === 'Ingress') {
      const ingress = owned.get('Ingress')?.get(namespace, objectName(cr)) as
        | { status?: { loadBalancer?: { ingress?: { hostname?: string }[] } } }
        | undefined;
      return ingress?.status?.loadBalancer?.ingress?.[0]?.hostname;
    }
    if (edge?.kind === 'HTTPRoute' && edge.parentRef) {
      const gateway = gateways?.get(edge.parentRef.namespace ?? namespace, edge.parentRef.name) as
        | { status?: { addresses?: { value?: string }[] } }
        | undefined;
      return gateway?.status?.addresses?.[0]?.value;
    }
    return undefined;
  }

  return { reconcile };
}

export function controllerUid(obj: KubeObject): string | undefined {
  return obj.metadata.ownerReferences?.find((r) => r.controller && r.kind === KIND && r.apiVersion === API_VERSION)?.uid;
}

/** The queue key of the Reservation that controls `obj`, if one does. */
export function ownerKey(obj: KubeObject): string | undefined {
  const ref = obj.metadata.ownerReferences?.find((r) => r.controller && r.kind === KIND && r.apiVersion === API_VERSION);
  return ref ? `${obj.metadata.namespace}/${ref.name}` : undefined;
}
