import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import { API_VERSION, KIND, type Reservation, SERVICE_NAMES, type ServiceName } from '../api/v1alpha1/reservation.ts';
import type { ReconcileResult } from '../controller/controller.ts';
import type { Informer } from '../controller/informer.ts';
import { desiredObjects } from '../desired/index.ts';
import { FIELD_MANAGER, objectName } from '../desired/metadata.ts';
import { isNotFound, type KubeClient, PATCH } from '../kube/client.ts';
import { type KubeObject, resourcePath, resourceTypeOf } from '../kube/resources.ts';
import type { TrafficOutcome, TrafficReconciler } from '../traffic/reconciler.ts';
import { appliedDigest } from './cache-transform.ts';
import { CONDITION, REASON, setCondition } from './conditions.ts';
import { budgetCondition, connectionBudgets } from './connection-budget.ts';
import { type AppliedOutcome, desiredDigest, inSync } from './drift.ts';
import { EDGE_FINALIZER, EDGE_KINDS, edgeFinalizers, edgeHeld } from './edge-hold.ts';
import type { EventRecorder } from './events.ts';
import { computeStatus, type ObservedDeployment } from './status.ts';

export const FINALIZER = 'platform.reservations.dev/external-resources';

/** A cleanup's answer: `done: false` holds the deletion (the reason shows in status and an event); `released` lets it go with a warning. */
export type CleanupResult = { done: true; released?: string } | { done: false; reason: string; retryAfterMs?: number };

/**
 * Cleans up something outside the cluster before a Reservation goes (its Route53 records).
 * `done: false` holds the deletion; `released` says what an SRE chose to leave behind.
 */
export interface ExternalCleanup {
  name: string;
  /**
   * Whether this Reservation may have something outside to clean up, so needs the finalizer;
   * every Reservation when absent.
   */
  appliesTo?(cr: Reservation): boolean;
  cleanup(cr: Reservation, signal?: AbortSignal): Promise<CleanupResult>;
}

export interface ReconcilerDeps {
  client: KubeClient;
  reservations: Informer<Reservation>;
  /** One cache per kind the operator owns, by kind name; a kind the cluster doesn't serve is absent. */
  owned: ReadonlyMap<string, Informer>;
  /** Gateways, when the cluster serves the Gateway API: an HTTPRoute edge's address is its Gateway's. */
  gateways?: Informer;
  events: EventRecorder;
  logger: Logger;
  cleanups?: ExternalCleanup[];
  /** This cluster's weighted Route53 record, for Reservations with spec.traffic. */
  traffic?: TrafficReconciler;
  /** The database's max_connections (DB_MAX_CONNECTIONS): each Reservation's ConnectionBudget is checked against it. */
  connectionLimit?: number;
  now?: () => Date;
}

const HOLD_RETRY_MS = 10_000;
/** How soon a Reservation refused for an object someone else owns looks again (that object may be gone by then). */
const FOREIGN_RETRY_MS = 30_000;

/**
 * The reconcile recipe: read the Reservation from the cache; handle deletion; make sure of the
 * finalizer; build the desired objects; apply those that differ from what is live; delete
 * owned objects no longer wanted; compute the status and write it if it changed. Level-
 * triggered: it acts on what is, never on the event that woke it.
 */
export function createReconciler(deps: ReconcilerDeps) {
  const { client, reservations, owned, gateways, events, logger } = deps;
  const now = deps.now ?? (() => new Date());
  const { traffic } = deps;
  const cleanups = [
    ...(traffic
      ? [
          {
            name: 'route53-records',
            // Records exist only for a Reservation with spec.traffic (traffic.cleanup lets any other go).
            appliesTo: (cr: Reservation) => cr.spec.traffic !== undefined,
            cleanup: (cr: Reservation, signal?: AbortSignal) => traffic.cleanup(cr, signal),
          } satisfies ExternalCleanup,
        ]
      : []),
    ...(deps.cleanups ?? []),
  ];
  // The finalizer only where a cleanup has something to do: every other Reservation is one write
  // (and one watch event) cheaper, and its deletion is the garbage collector's alone.
  const needsFinalizer = (cr: Reservation) => cleanups.some((c) => c.appliesTo?.(cr) ?? true);

  // What an apply left where it differs from what was applied (defaults a schema fills in), so the
  // same desired object is not applied again on every reconcile. By Reservation (`namespace/name`,
  // dropped with it), then by `Kind/name`.
  const outcomes = new Map<string, Map<string, AppliedOutcome>>();
  function rememberOutcome(reservation: string, object: string, desired: KubeObject, live: KubeObject) {
    const wanted = desiredDigest(desired);
    const left = appliedDigest(live, FIELD_MANAGER);
    if (left === undefined || left === wanted) return forgetOutcome(reservation, object);
    const remembered = outcomes.get(reservation) ?? new Map<string, AppliedOutcome>();
    outcomes.set(reservation, remembered.set(object, { desired: wanted, live: left }));
  }
  function forgetOutcome(reservation: string, object: string) {
    const remembered = outcomes.get(reservation);
    remembered?.delete(object);
    if (remembered?.size === 0) outcomes.delete(reservation);
  }

  async function reconcile(key: string, signal: AbortSignal): Promise<ReconcileResult> {
    const [namespace = '', name = ''] = key.split('/');
    const cr = reservations.get(namespace, name);
    if (!cr) {
      outcomes.delete(key);
      // Gone (its finalizer removed by hand?): the garbage collector removes what it owned, and
      // an edge it still held would wait for us for ever.
      await releaseOrphanedEdges(namespace, name, signal);
      return {};
    }
    if (cr.metadata.deletionTimestamp) return finalize(cr, signal);
    // Before the traffic step: what it makes outside exists only under the finalizer.
    if (needsFinalizer(cr) && !cr.metadata.finalizers?.includes(FINALIZER)) await setFinalizer(cr, true, signal);

    const desired = desiredObjects(cr);
    // Server-side apply with force would adopt an object of the same name made by someone else
    // (a Reservation named `default` rewriting that namespace's default ServiceAccount): refused
    // up front, and nothing of the Reservation is applied.
    const foreign = await ownedByOthers(cr, desired, signal);
    if (foreign.length > 0) return refuseForeign(cr, foreign, signal);
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
        const objectKey = `${obj.kind}/${obj.metadata.name}`;
        if (inSync(obj, cache.get(namespace, obj.metadata.name), outcomes.get(key)?.get(objectKey))) return;
        try {
          const live = await client.apply(obj, FIELD_MANAGER, { signal });
          applied.push(objectKey);
          rememberOutcome(key, objectKey, obj, live);
        } catch (err) {
          failures.push(`${obj.kind} ${obj.metadata.name}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }),
    );

    const wanted = new Set(desired.map((o) => `${o.kind}/${o.metadata.name}`));
    // Before the prune: an edge the spec no longer wants loses its hold first, then goes at once.
    await holdEdge(cr, { wanted, recordsGone: !traffic }, signal);
    const pruned: string[] = [];
    for (const cache of owned.values()) {
      for (const live of cache.list(namespace)) {
        if (controllerUid(live) !== cr.metadata.uid || wanted.has(`${live.kind}/${live.metadata.name}`)) continue;
        if (await client.remove(live, { signal })) pruned.push(`${live.kind}/${live.metadata.name}`);
        forgetOutcome(key, `${live.kind}/${live.metadata.name}`);
      }
    }

    const deployments: Partial<Record<ServiceName, ObservedDeployment>> = {};
    for (const service of SERVICE_NAMES) {
      deployments[service] = owned.get('Deployment')?.get(namespace, objectName(cr, service)) as ObservedDeployment | undefined;
    }
    const applyError = failures.length > 0 ? failures.join('; ') : undefined;
    const edge = edgeHostname(cr, namespace);
    const trafficOutcome = await trafficStep(cr, edge, signal);
    const connectionBudget = deps.connectionLimit === undefined ? undefined : budgetCondition(connectionBudgets(cr), deps.connectionLimit);
    const status = computeStatus(cr, { deployments, edgeHostname: edge, applyError, traffic: trafficOutcome, connectionBudget }, now());
    await writeStatus(cr, status, signal);
    const budgetBefore = cr.status?.conditions?.find((c) => c.type === CONDITION.ConnectionBudget);
    if (connectionBudget?.status === 'False' && budgetBefore?.message !== connectionBudget.message)
      events.warning(cr, connectionBudget.reason, connectionBudget.message);
    recordTrafficEvents(cr, trafficOutcome);

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
    if (trafficOutcome?.error) throw new Error(trafficOutcome.error); // retried with backoff
    return trafficOutcome?.requeueAfterMs ? { requeueAfterMs: trafficOutcome.requeueAfterMs } : {};
  }

  /**
   * The desired objects that exist without this Reservation as their controller. The cache holds
   * only objects with the operator's label, so one it lacks is looked up (once, at creation).
   */
  async function ownedByOthers(cr: Reservation, desired: readonly KubeObject[], signal: AbortSignal): Promise<string[]> {
    const found = await Promise.all(
      desired.map(async (obj) => {
        const cache = owned.get(obj.kind);
        if (!cache) return undefined; // reported by the apply as not served
        const namespace = cr.metadata.namespace as string;
        let live: KubeObject | undefined = cache.get(namespace, obj.metadata.name);
        if (!live) {
          try {
            live = await client.request<KubeObject>('GET', resourcePath(resourceTypeOf(obj), namespace, obj.metadata.name), { signal });
          } catch (err) {
            if (isNotFound(err)) return undefined;
            throw err;
          }
        }
        return controllerUid(live) === cr.metadata.uid ? undefined : `${obj.kind} ${obj.metadata.name}`;
      }),
    );
    return found.filter((f): f is string => f !== undefined).sort();
  }

  async function refuseForeign(cr: Reservation, foreign: string[], signal: AbortSignal): Promise<ReconcileResult> {
    const one = foreign.length === 1;
    const [it, is] = one ? ['it', 'is'] : ['them', 'are'];
    const message =
      `${foreign.join(', ')} already exist${one ? 's' : ''} and ${is} not this Reservation's (no controller reference to this ` +
      `Reservation): the operator applies nothing rather than take ${it} over; rename the Reservation, or remove or rename ${it}`;
    const before = cr.status?.conditions?.find((c) => c.type === CONDITION.Degraded);
    if (before?.message !== message) events.warning(cr, REASON.ObjectOwnedByOther, message);
    const conditions = setCondition(
      cr.status?.conditions ?? [],
      { type: CONDITION.Degraded, status: 'True', reason: REASON.ObjectOwnedByOther, message, observedGeneration: cr.metadata.generation },
      now(),
    );
    await writeStatus(cr, { ...cr.status, observedGeneration: cr.metadata.generation, conditions }, signal);
    return { requeueAfterMs: FOREIGN_RETRY_MS };
  }

  function trafficStep(cr: Reservation, edge: string | undefined, signal: AbortSignal): Promise<TrafficOutcome> | undefined {
    return cr.spec.traffic && traffic ? traffic.reconcile(cr, edge, signal) : undefined;
  }

  async function writeStatus(cr: Reservation, status: Reservation['status'], signal: AbortSignal) {
    if (isDeepStrictEqual(status, cr.status)) return;
    const { name, namespace } = cr.metadata;
    try {
      await client.apply({ apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace }, status }, FIELD_MANAGER, {
        subresource: 'status',
        signal,
      });
    } catch (err) {
      // Deleted meanwhile (without a finalizer, deletion does not wait for us): nothing to report on.
      if (!isNotFound(err)) throw err;
    }
  }

  /** Changes as they happen; a warning only when the TrafficReady condition turns to it, not on every retry. */
  function recordTrafficEvents(cr: Reservation, outcome: TrafficOutcome | undefined) {
    if (!outcome) return;
    for (const e of outcome.events) (e.type === 'Normal' ? events.normal : events.warning)(cr, e.reason, e.message);
    const before = cr.status?.conditions?.find((c) => c.type === CONDITION.TrafficReady);
    const { condition } = outcome;
    const quiet: string[] = [
      REASON.RecordInSync,
      REASON.ChangePending,
      REASON.WaitingForTarget,
      REASON.WeightsHandedOver,
      REASON.PreScaling,
      REASON.RecordRemoved,
    ];
    if (quiet.includes(condition.reason) || (before?.reason === condition.reason && before.message === condition.message)) return;
    events.warning(cr, condition.reason, condition.message);
  }

  function recordReadiness(cr: Reservation, ready: { status: string; message: string } | undefined) {
    const before = cr.status?.conditions?.find((c) => c.type === CONDITION.Ready)?.status;
    if (!ready || ready.status === before) return;
    if (ready.status === 'True') events.normal(cr, 'Ready', ready.message);
    else if (before === 'True') events.warning(cr, 'NotReady', ready.message);
  }

  async function finalize(cr: Reservation, signal: AbortSignal): Promise<ReconcileResult> {
    if (!cr.metadata.finalizers?.includes(FINALIZER)) return {};
    // The record still follows the spec while deletion waits: lowering spec.traffic.weight to 0
    // is how an SRE lets a held deletion go on.
    const trafficOutcome = await trafficStep(cr, cr.status?.edge?.hostname, signal);
    let status: Reservation['status'] = trafficOutcome
      ? {
          ...cr.status,
          traffic: trafficOutcome.status,
          conditions: setCondition(
            cr.status?.conditions ?? [],
            { type: CONDITION.TrafficReady, ...trafficOutcome.condition, observedGeneration: cr.metadata.generation },
            now(),
          ),
        }
      : cr.status;
    const current = { ...cr, status };
    recordTrafficEvents(cr, trafficOutcome);
    for (const step of cleanups) {
      const result = await step.cleanup(current, signal);
      if (result.done && result.released) {
        logger.warn({ reservation: cr.metadata.name, cleanup: step.name, released: result.released }, 'cleanup released');
        events.warning(cr, 'CleanupReleased', `${step.name}: ${result.released}`);
      }
      if (!result.done) {
        const kept = heldEdges(cr);
        const message = `${step.name}: ${result.reason}${kept.length > 0 ? `; ${kept.join(', ')} kept until then` : ''}`;
        logger.info({ reservation: cr.metadata.name, cleanup: step.name, reason: result.reason }, 'deletion held');
        const before = cr.status?.conditions?.find((c) => c.type === CONDITION.DeletionHeld);
        if (before?.message !== message) events.warning(cr, 'DeletionHeld', message);
        status = {
          ...status,
          conditions: setCondition(
            status?.conditions ?? [],
            {
              type: CONDITION.DeletionHeld,
              status: 'True',
              reason: REASON.ExternalCleanupPending,
              message,
              observedGeneration: cr.metadata.generation,
            },
            now(),
          ),
        };
        await writeStatus(cr, status, signal);
        return { requeueAfterMs: Math.min(result.retryAfterMs ?? HOLD_RETRY_MS, trafficOutcome?.requeueAfterMs ?? HOLD_RETRY_MS) };
      }
    }
    await holdEdge(cr, { wanted: new Set(), recordsGone: true }, signal);
    await setFinalizer(cr, false, signal);
    return {};
  }

  async function releaseOrphanedEdges(namespace: string, name: string, signal: AbortSignal) {
    for (const kind of EDGE_KINDS) {
      for (const live of owned.get(kind)?.list(namespace) ?? []) {
        if (ownerKey(live) === `${namespace}/${name}`) await writeFinalizers(live, edgeFinalizers(live, false), signal);
      }
    }
  }

  /** The edge objects this Reservation's hold keeps, as `Kind name`. */
  function heldEdges(cr: Reservation): string[] {
    const namespace = cr.metadata.namespace as string;
    return EDGE_KINDS.flatMap((kind) =>
      (owned.get(kind)?.list(namespace) ?? [])
        .filter((o) => controllerUid(o) === cr.metadata.uid && o.metadata.finalizers?.includes(EDGE_FINALIZER))
        .map((o) => `${kind} ${o.metadata.name}`),
    );
  }

  /** Sets or removes the hold on each edge this Reservation controls (edge-hold.ts). */
  async function holdEdge(cr: Reservation, state: { wanted: ReadonlySet<string>; recordsGone: boolean }, signal: AbortSignal) {
    const namespace = cr.metadata.namespace as string;
    for (const kind of EDGE_KINDS) {
      for (const live of owned.get(kind)?.list(namespace) ?? []) {
        if (controllerUid(live) !== cr.metadata.uid) continue;
        const desired = state.wanted.has(`${kind}/${live.metadata.name}`);
        const held = edgeHeld(cr, live, { desired, recordsGone: state.recordsGone, now: now() });
        await writeFinalizers(live, edgeFinalizers(live, held), signal);
      }
    }
  }

  /** A merge patch with the resourceVersion read: a conflicting write fails the reconcile, retried on what is there then. */
  async function writeFinalizers(live: KubeObject, finalizers: string[] | undefined, signal: AbortSignal) {
    if (!finalizers) return;
    try {
      await client.request('PATCH', resourcePath(resourceTypeOf(live), live.metadata.namespace, live.metadata.name), {
        body: { metadata: { finalizers, resourceVersion: live.metadata.resourceVersion } },
        contentType: PATCH.merge,
        signal,
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /** Server-side apply of just our finalizer: other owners' finalizers stay as they are. */
  async function setFinalizer(cr: Reservation, present: boolean, signal: AbortSignal) {
    const { name, namespace } = cr.metadata;
    await client.apply(
      { apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace, ...(present ? { finalizers: [FINALIZER] } : {}) } },
      FIELD_MANAGER,
      { signal },
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
