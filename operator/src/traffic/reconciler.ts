import type { Logger } from 'pino';
import { RELEASE_RECORDS_ANNOTATION, type Reservation, type TrafficStatus } from '../api/v1alpha1/reservation.ts';
import { iso } from '../kube/time.ts';
import type { CutoverObserver } from '../metrics.ts';
import type { CleanupResult } from '../reconcile/reconciler.ts';
import { removeRecords } from './cleanup.ts';
import { type AnalysisHook, changePending, TrafficContext, type TrafficRuntime } from './context.ts';
import { isFinished } from './cutover.ts';
import { syncCutover } from './cutover-sync.ts';
import { DnsChangeRejectedError, DnsNotConfiguredError, type DnsProvider } from './dns-provider.ts';
import { syncIdle } from './idle.ts';
import { outcomeOf, type TrafficCondition, type TrafficEvent, type TrafficOutcome } from './outcome.ts';
import { classifyOwnership, defaultOwnerId, NO_AFFIX, ownerIdError, type TxtAffix } from './ownership.ts';
import { TRAFFIC_REASON } from './reasons.ts';
import { namesToRead, RECORD_TYPE, type RecordSetKey, resourceLabel } from './record-set.ts';

/**
 * The traffic step of a reconcile, for a Reservation with spec.traffic: keep this cluster's
 * weighted record and its ownership TXT as the spec says, one atomic batch per change, and count
 * a change as applied only once Route53 reports it INSYNC. It never waits on Route53: a PENDING
 * change is looked at again on a requeue, with its id kept in status.traffic.lastChange.
 *
 * The recipe: a change in flight first; then, unless the last read is recent and settled, read
 * Route53 and check ownership; then the idle record (idle.ts) or the cutover (cutover-sync.ts),
 * both through one context (context.ts) and its one write path. The finalizer's removal is in
 * cleanup.ts.
 */

export type { TrafficEvent, TrafficOutcome } from './outcome.ts';

export interface TrafficReconcilerOptions {
  /** Created on first use: the operator starts without any AWS configuration. */
  provider: () => DnsProvider;
  /** ExternalDNS owner id (TXT_OWNER_ID); default `defaultOwnerId(spec.traffic.cluster, clusterUid)`. */
  ownerId?: string;
  /** This cluster's kube-system namespace UID, for the default owner id. */
  clusterUid?: string;
  affix?: TxtAffix;
  logger: Logger;
  now?: () => Date;
  /** How often a settled record set is read back to catch changes made outside (default 1 min). */
  driftCheckMs?: number;
  /** How soon a PENDING change is looked at again (default 5 s). */
  pendingPollMs?: number;
  /**
   * A Prometheus instant query (one number; undefined when no series matched): the load for
   * pre-scaling and a draining peer's request rate.
   */
  prometheusQuery?: TrafficRuntime['prometheusQuery'];
  /** Cutover metrics (share, step, phase, aborts). */
  cutoverObserver?: CutoverObserver;
  /** Takes one measurement of an analysis step (a new run when `run` is undefined). */
  analysis?: AnalysisHook;
}

export type TrafficReconciler = ReturnType<typeof createTrafficReconciler>;

/**
 * A settled record set is read back this often: a hand edit is undone, and a peer's cutover
 * (which starts writing our weight) is noticed within a minute, well inside an autoscaler's
 * 5-minute scale-down window, so keeping this cluster warm starts before it could shrink.
 */
export const DEFAULT_DRIFT_CHECK_MS = 60_000;

export function createTrafficReconciler(options: TrafficReconcilerOptions) {
  const { affix = NO_AFFIX } = options;
  let dns: DnsProvider | undefined;
  const runtime: TrafficRuntime = {
    provider: () => {
      dns ??= options.provider();
      return dns;
    },
    now: options.now ?? (() => new Date()),
    logger: options.logger,
    driftCheckMs: options.driftCheckMs ?? DEFAULT_DRIFT_CHECK_MS,
    pendingPollMs: options.pendingPollMs ?? 5_000,
    lastRead: new Map(),
    ...(options.prometheusQuery ? { prometheusQuery: options.prometheusQuery } : {}),
    ...(options.analysis ? { analysis: options.analysis } : {}),
    ...(options.cutoverObserver ? { cutoverObserver: options.cutoverObserver } : {}),
  };
  const { lastRead, now } = runtime;
  /**
   * The traffic status this instance last computed, by uid. The informer's copy of the status can
   * lag our own write by a watch event; a reconcile in that gap must not forget a PENDING change
   * (and take records it can read for records Route53 serves everywhere). The status is the copy
   * that survives a restart.
   */
  const known = new Map<string, TrafficStatus>();

  const { ownerId, clusterUid } = options;
  if (!ownerId && !clusterUid) throw new Error('createTrafficReconciler: pass ownerId or clusterUid (the default owner id needs it)');
  const ownerOf = (cr: Reservation) => ownerId ?? defaultOwnerId(cr.spec.traffic?.cluster ?? '', clusterUid as string);
  const keyOf = (cr: Reservation): RecordSetKey => {
    const t = cr.spec.traffic as NonNullable<Reservation['spec']['traffic']>;
    return { name: t.dns.name, setIdentifier: t.cluster, affix };
  };

  /** `signal` aborts the calls to Route53 and Prometheus once the reconcile is past its deadline. */
  async function reconcile(cr: Reservation, edgeHostname: string | undefined, signal?: AbortSignal): Promise<TrafficOutcome> {
    const result = await sync(cr, edgeHostname, signal);
    known.set(cr.metadata.uid, result.status);
    return result;
  }

  async function sync(cr: Reservation, edgeHostname: string | undefined, signal: AbortSignal | undefined): Promise<TrafficOutcome> {
    const t = cr.spec.traffic;
    if (!t) throw new Error('traffic.reconcile called for a Reservation without spec.traffic');
    const key = keyOf(cr);
    const owner = ownerOf(cr);
    const target = t.target ?? edgeHostname;
    const previous = known.get(cr.metadata.uid) ?? cr.status?.traffic;
    const sameRecordSet = previous?.recordName === t.dns.name && previous.setIdentifier === t.cluster;
    const carried = sameRecordSet ? previous : undefined;
    let status: TrafficStatus = {
      recordName: t.dns.name,
      setIdentifier: t.cluster,
      ...(target ? { target } : {}),
      owner: carried?.owner ?? owner,
      // What we last decided (a cutover's, a peer's handover, an override), until this reconcile decides again.
      desiredWeight:
        carried?.cutover || carried?.handover || carried?.weightOverride?.specWeight === t.weight ? carried.desiredWeight : t.weight,
      ...(carried?.verifiedWeight !== undefined ? { verifiedWeight: carried.verifiedWeight } : {}),
      ...(carried?.verifiedAt ? { verifiedAt: carried.verifiedAt } : {}),
      ...(carried?.lastChange ? { lastChange: carried.lastChange } : {}),
      ...(carried?.cutover ? { cutover: carried.cutover } : {}),
      ...(carried?.handover ? { handover: carried.handover } : {}),
      ...(carried?.weightOverride ? { weightOverride: carried.weightOverride } : {}),
      ...(carried?.minReplicas ? { minReplicas: carried.minReplicas } : {}),
    };
    const events: TrafficEvent[] = [];
    // Until Route53 is read and the context built, outcomes come from here; after, from the context.
    let ctx: TrafficContext | undefined;
    const outcome = (condition: TrafficCondition, extra?: Partial<Pick<TrafficOutcome, 'requeueAfterMs' | 'error'>>) =>
      outcomeOf(ctx?.status ?? status, events, condition, extra);

    const ownerError = ownerIdError(owner);
    if (ownerError) return outcome({ status: 'False', reason: TRAFFIC_REASON.Route53NotConfigured, message: ownerError });

    try {
      // 1. A change in flight: applied only once INSYNC.
      const pending = status.lastChange?.status === 'PENDING' ? status.lastChange : undefined;
      let verifiedNow = false;
      if (pending) {
        if ((await runtime.provider().changeStatus(pending.id, { signal })) === 'PENDING') {
          if (status.cutover)
            status = { ...status, cutover: { ...status.cutover, message: `waiting for Route53 change ${pending.id} to be INSYNC` } };
          return outcome(changePending(pending.id, pending.weight), { requeueAfterMs: runtime.pendingPollMs });
        }
        status = { ...status, verifiedWeight: pending.weight, verifiedAt: iso(now()), lastChange: { ...pending, status: 'INSYNC' } };
        verifiedNow = true;
        const peer = pending.peerWeight !== undefined && status.cutover ? ` and ${status.cutover.from} with ${pending.peerWeight}` : '';
        events.push({
          type: 'Normal',
          reason: 'WeightVerified',
          message: `Route53 serves ${t.dns.name} (${t.cluster}) with weight ${pending.weight}${peer}: change ${pending.id} is INSYNC`,
        });
      }

      if (!target) {
        return outcome({
          status: 'False',
          reason: TRAFFIC_REASON.WaitingForTarget,
          message: "no record target yet: waiting for the edge's load balancer hostname (status.edge.hostname), or set spec.traffic.target",
        });
      }

      const cutoverRuns = !!t.cutover || (!!status.cutover && !isFinished(status.cutover));

      // 2. Settled (in sync, or refused as someone else's) for this spec and target, and read
      // recently: nothing to ask Route53. Reconciles woken by Deployment status churn cost no call.
      // A cutover reuses the records it read last (it is their only writer, and a stale read
      // only makes its compare-and-swap batch fail), and always runs its state machine.
      const settled = lastRead.get(cr.metadata.uid);
      const fresh =
        !pending &&
        !verifiedNow &&
        settled &&
        settled.generation === cr.metadata.generation &&
        settled.target === target &&
        now().getTime() - settled.at < settled.recheckMs;
      if (fresh && !cutoverRuns && !status.cutover) {
        return outcome(settled.condition, { requeueAfterMs: Math.max(1000, settled.at + settled.recheckMs - now().getTime()) });
      }

      // 3. Read what Route53 has, and whose it is.
      const seen =
        fresh && settled.seen ? settled.seen : await runtime.provider().records(t.dns.hostedZoneId, namesToRead(key), { signal });
      if (!fresh) lastRead.delete(cr.metadata.uid);
      ctx = new TrafficContext({ cr, key, owner, target, seen, status, events, signal, runtime });
      const ownership = classifyOwnership(
        { name: key.name, setIdentifier: key.setIdentifier, recordType: RECORD_TYPE, owner, resource: resourceLabel(cr), affix },
        seen.filter((r) => r.setIdentifier === key.setIdentifier),
      );
      if (ownership.kind === 'foreign') {
        const { verifiedWeight: _weight, verifiedAt: _at, ...rest } = ctx.status;
        ctx.status = { ...rest, owner: ownership.owner ?? '(unknown)' };
        return ctx.settle({
          status: 'False',
          reason: TRAFFIC_REASON.RecordOwnedByOther,
          message: `not touching ${t.dns.name}: ${ownership.reason}`,
        });
      }
      ctx.status = { ...ctx.status, owner };

      // 4. The cutover while one runs (or has run), else the idle record.
      return cutoverRuns || ctx.status.cutover ? await syncCutover(ctx) : await syncIdle(ctx);
    } catch (err) {
      lastRead.delete(cr.metadata.uid);
      const message = err instanceof Error ? err.message : String(err);
      if (err instanceof DnsNotConfiguredError)
        return outcome({ status: 'False', reason: TRAFFIC_REASON.Route53NotConfigured, message }, { error: message });
      if (err instanceof DnsChangeRejectedError) {
        // Someone changed the records between our read and our write (read again and retry), or
        // Route53 will never take this batch (a plain record at the name, say): either way the
        // queue's growing backoff, not a fixed poll.
        return outcome({ status: 'False', reason: TRAFFIC_REASON.Route53Error, message }, { error: message });
      }
      return outcome(
        { status: 'False', reason: TRAFFIC_REASON.Route53Error, message: `Route53: ${message}` },
        { error: `Route53: ${message}` },
      );
    }
  }

  /**
   * The finalizer's cleanup of a Reservation's records (cleanup.ts), unless an SRE released them
   * (RELEASE_RECORDS_ANNOTATION naming the cluster): then they stay in Route53 as they are.
   */
  async function cleanup(cr: Reservation, signal?: AbortSignal): Promise<CleanupResult> {
    const t = cr.spec.traffic;
    if (!t) return { done: true };
    const forget = () => {
      lastRead.delete(cr.metadata.uid);
      known.delete(cr.metadata.uid);
    };
    const where = `${t.dns.name} (${t.cluster})`;
    const release = cr.metadata.annotations?.[RELEASE_RECORDS_ANNOTATION];
    if (release === t.cluster) {
      forget();
      return {
        done: true,
        released: `${RELEASE_RECORDS_ANNOTATION}: ${where} and its ownership TXT were left in Route53 as they were; remove them by hand once no client is sent here`,
      };
    }
    const hatch =
      release === undefined
        ? `; if this cluster's Route53 access is gone for good, annotate ${RELEASE_RECORDS_ANNOTATION}=${t.cluster} to delete without removing them`
        : `; ${RELEASE_RECORDS_ANNOTATION} names "${release}", not this Reservation's cluster "${t.cluster}"`;
    const status = known.get(cr.metadata.uid) ?? cr.status?.traffic;
    try {
      return await removeRecords(cr, { key: keyOf(cr), owner: ownerOf(cr), affix, status, runtime, forget, signal });
    } catch (err) {
      if (signal?.aborted) throw err; // the reconcile ran out of time: not Route53's answer
      return { done: false, reason: `cannot remove ${where} from Route53: ${(err as Error).message}${hatch}` };
    }
  }

  return { reconcile, cleanup };
}
