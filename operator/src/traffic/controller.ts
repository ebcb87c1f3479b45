import type { Logger } from 'pino';
import type { Reservation, TrafficStatus } from '../api/v1alpha1/reservation.ts';
import { iso } from '../kube/time.ts';
import type { CutoverObserver } from '../metrics.ts';
import { isFinished } from './cutover.ts';
import { type CutoverSyncContext, syncCutover } from './cutover-sync.ts';
import { DnsChangeRejectedError, DnsNotConfiguredError, type DnsProvider, type DnsRecord } from './dns-provider.ts';
import { inSync, type TrafficEvent, type TrafficOutcome } from './outcome.ts';
import { classifyOwnership, NO_AFFIX, ownerIdError, type TxtAffix } from './ownership.ts';
import { warmFloors } from './prescale.ts';
import { TRAFFIC_REASON } from './reasons.ts';
import {
  currentRecordSet,
  desiredRecordSet,
  drainRequested,
  liveWeightsAfter,
  namesToRead,
  RECORD_TYPE,
  type RecordSetKey,
  recordSetChanges,
  removalChanges,
  resourceLabel,
  weightWriter,
} from './record-set.ts';
import { liveWeightsError } from './weights.ts';

/**
 * The traffic step of a reconcile, for a Reservation with spec.traffic: keep this cluster's
 * weighted record and its ownership TXT as the spec says, one atomic batch per change, and count
 * a change as applied only once Route53 reports it INSYNC. It never waits on Route53: a PENDING
 * change is looked at again on a requeue, with its id kept in status.traffic.lastChange.
 */

export type { TrafficEvent, TrafficOutcome } from './outcome.ts';

export interface TrafficControllerOptions {
  /** Created on first use: the operator starts without any AWS configuration. */
  provider: () => DnsProvider;
  /** ExternalDNS owner id; default `reservation-operator-<spec.traffic.cluster>`. */
  ownerId?: string;
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
  prometheusQuery?: (url: string, promql: string, signal?: AbortSignal) => Promise<number | undefined>;
  /** Cutover metrics (share, step, phase, aborts). */
  cutoverObserver?: CutoverObserver;
  /** Takes one measurement of an analysis step (a new run when `run` is undefined). */
  analysis?: CutoverSyncContext['analysis'];
}

export type TrafficController = ReturnType<typeof createTrafficController>;

/**
 * A settled record set is read back this often: a hand edit is undone, and a peer's cutover
 * (which starts writing our weight) is noticed within a minute, well inside an autoscaler's
 * 5-minute scale-down window, so keeping this cluster warm starts before it could shrink.
 */
export const DEFAULT_DRIFT_CHECK_MS = 60_000;

export function createTrafficController(options: TrafficControllerOptions) {
  const { logger, affix = NO_AFFIX, driftCheckMs = DEFAULT_DRIFT_CHECK_MS, pendingPollMs = 5_000 } = options;
  const now = options.now ?? (() => new Date());
  let dns: DnsProvider | undefined;
  const provider = () => {
    dns ??= options.provider();
    return dns;
  };
  /**
   * Per Reservation (by uid), when its record set was last read and found settled, for which
   * generation (a spec change re-reads) and target, and the condition it gave.
   */
  const lastRead = new Map<
    string,
    {
      at: number;
      generation: number | undefined;
      target: string;
      condition: TrafficOutcome['condition'];
      seen: DnsRecord[];
      /** Read again after this long (shorter than the drift check while a peer's cutover holds our weight). */
      recheckMs: number;
    }
  >();
  /**
   * The traffic status this instance last computed, by uid. The informer's copy of the status can
   * lag our own write by a watch event; a reconcile in that gap must not forget a PENDING change
   * (and take records it can read for records Route53 serves everywhere). The status is the copy
   * that survives a restart.
   */
  const known = new Map<string, TrafficStatus>();

  const prometheus = async (url: string, promql: string, signal?: AbortSignal): Promise<number> => {
    if (!options.prometheusQuery) throw new Error('this operator has no Prometheus client');
    const value = await options.prometheusQuery(url, promql, signal);
    if (value === undefined || !Number.isFinite(value)) throw new Error(`no data from ${promql}`);
    return value;
  };
  const ownerOf = (cr: Reservation) => options.ownerId ?? `reservation-operator-${cr.spec.traffic?.cluster}`;
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
    const outcome = (
      condition: TrafficOutcome['condition'],
      extra: Partial<Pick<TrafficOutcome, 'requeueAfterMs' | 'error'>> = {},
    ): TrafficOutcome => ({ status, condition, events, ...extra });

    const ownerError = ownerIdError(owner);
    if (ownerError) return outcome({ status: 'False', reason: TRAFFIC_REASON.Route53NotConfigured, message: ownerError });

    try {
      // 1. A change in flight: applied only once INSYNC.
      const pending = status.lastChange?.status === 'PENDING' ? status.lastChange : undefined;
      let verifiedNow = false;
      if (pending) {
        if ((await provider().changeStatus(pending.id, { signal })) === 'PENDING') {
          if (status.cutover)
            status = { ...status, cutover: { ...status.cutover, message: `waiting for Route53 change ${pending.id} to be INSYNC` } };
          return outcome(
            {
              status: 'False',
              reason: TRAFFIC_REASON.ChangePending,
              message: `waiting for Route53 change ${pending.id} (weight ${pending.weight}) to be INSYNC`,
            },
            { requeueAfterMs: pendingPollMs },
          );
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
      const settle = (condition: TrafficOutcome['condition'], seen: DnsRecord[], recheckMs = driftCheckMs, requeueAfterMs?: number) => {
        lastRead.set(cr.metadata.uid, { at: now().getTime(), generation: cr.metadata.generation, target, condition, seen, recheckMs });
        // Come back for the next read-back even if nothing else wakes this Reservation.
        return outcome(condition, { requeueAfterMs: requeueAfterMs ?? recheckMs });
      };

      // 3. Read what Route53 has, and whose it is.
      const seen = fresh && settled.seen ? settled.seen : await provider().records(t.dns.hostedZoneId, namesToRead(key), { signal });
      if (!fresh) lastRead.delete(cr.metadata.uid);
      const ownership = classifyOwnership(
        { name: key.name, setIdentifier: key.setIdentifier, recordType: RECORD_TYPE, owner, affix },
        seen.filter((r) => r.setIdentifier === key.setIdentifier),
      );
      if (ownership.kind === 'foreign') {
        status = { ...status, owner: ownership.owner ?? '(unknown)' };
        delete status.verifiedWeight;
        delete status.verifiedAt;
        return settle(
          { status: 'False', reason: TRAFFIC_REASON.RecordOwnedByOther, message: `not touching ${t.dns.name}: ${ownership.reason}` },
          seen,
        );
      }
      status = { ...status, owner };
      const current = currentRecordSet(key, seen);

      if (cutoverRuns || status.cutover) {
        return await syncCutover({
          cr,
          key,
          owner,
          target,
          seen,
          current,
          get status() {
            return status;
          },
          set status(next) {
            status = next;
          },
          events,
          outcome,
          settle,
          submitted,
          forgetRead: () => lastRead.delete(cr.metadata.uid),
          provider,
          signal,
          now,
          prometheus: (url, promql) => prometheus(url, promql, signal),
          ...(options.analysis ? { analysis: options.analysis } : {}),
          ...(options.cutoverObserver ? { cutoverObserver: options.cutoverObserver } : {}),
          logger,
        });
      }

      // 4. A peer's cutover writes our weight: leave it alone until it hands the record back.
      const writer = weightWriter(current.txt);
      if (writer && writer !== owner) {
        const weight = current.record?.weight ?? 0;
        if (!status.handover) {
          events.push({
            type: 'Normal',
            reason: 'WeightsHandedOver',
            message: `${writer} runs a cutover and writes the weight of ${t.dns.name} (${t.cluster}) until it ends; this cluster leaves it alone`,
          });
        }
        status = {
          ...status,
          handover: {
            by: writer,
            since: status.handover?.since ?? iso(now()),
            weight,
            ...(drainRequested(current.txt) ? { connectionClose: true } : {}),
          },
          // Keep warm: the replicas of when the handover began, so an abort can shift traffic back here.
          minReplicas: status.handover && status.minReplicas ? status.minReplicas : warmFloors(cr.status?.services),
          desiredWeight: weight,
          verifiedWeight: weight,
          verifiedAt: status.verifiedWeight === weight && status.verifiedAt ? status.verifiedAt : iso(now()),
        };
        return settle(
          {
            status: 'True',
            reason: TRAFFIC_REASON.WeightsHandedOver,
            message: `${t.dns.name} (${t.cluster}) has weight ${weight}, written by ${writer}'s cutover; this cluster leaves it alone until the cutover ends`,
          },
          seen,
          // Notice the hand-back soon: look again every TTL.
          Math.min(driftCheckMs, t.dns.ttl * 1000),
          Math.min(driftCheckMs, t.dns.ttl * 1000),
        );
      }
      const handover = status.handover;
      if (handover) {
        // Handed back: keep the weight the peer's cutover left, not the older spec.
        const weight = current.record?.weight ?? 0;
        status = { ...status, weightOverride: { weight, specWeight: t.weight, by: handover.by } };
        events.push({
          type: 'Normal',
          reason: 'WeightsHandedBack',
          message: `${handover.by}'s cutover ended with ${t.cluster} at weight ${weight}; it stays until spec.traffic.weight changes`,
        });
        const { handover: _ended, minReplicas: _warm, ...rest } = status;
        status = rest;
      }
      if (status.weightOverride && status.weightOverride.specWeight !== t.weight) delete status.weightOverride;
      const weight = status.weightOverride?.weight ?? t.weight;
      status = { ...status, desiredWeight: weight };

      // 5. Make it so, in one batch. A Reservation being deleted never gets its records back:
      // its finalizer may have removed them already (a reconcile of a cached copy comes late).
      if (cr.metadata.deletionTimestamp && !current.record) {
        return outcome({
          status: 'False',
          reason: TRAFFIC_REASON.RecordRemoved,
          message: `${t.dns.name} (${t.cluster}) removed: the Reservation is being deleted`,
        });
      }
      const desired = desiredRecordSet(key, { target, ttl: t.dns.ttl, weight, owner, resource: resourceLabel(cr) });
      const changes = recordSetChanges(current, desired);
      if (changes.length === 0) {
        if (status.verifiedWeight !== weight) status = { ...status, verifiedWeight: weight, verifiedAt: iso(now()) };
        return settle(inSync(t, weight, status.weightOverride), seen);
      }
      if (current.record?.weight !== status.verifiedWeight) {
        // Changed behind our back (or never ours yet): what Route53 serves is not what we verified.
        delete status.verifiedWeight;
        delete status.verifiedAt;
      }
      const rejected = liveWeightsError(t.dns.name, liveWeightsAfter(key, seen, weight));
      if (rejected) return outcome({ status: 'False', reason: TRAFFIC_REASON.WeightRejected, message: rejected });

      const was = current.record?.weight;
      const change = await provider().change(
        t.dns.hostedZoneId,
        changes,
        `reservation-operator: ${resourceLabel(cr)} sets ${t.cluster} to weight ${weight}`,
        { signal },
      );
      events.push({
        type: 'Normal',
        reason: 'RecordChanged',
        message:
          `${current.record ? 'changed' : 'created'} ${t.dns.name} (${t.cluster}): weight ${was ?? '-'} → ${weight}, ` +
          `target ${target}, TTL ${t.dns.ttl}s, with its ownership TXT, in change ${change.id}`,
      });
      logger.info({ reservation: resourceLabel(cr), change: change.id, weight, was }, 'route53 change submitted');
      return submitted(change, { self: weight }, inSync(t, weight, status.weightOverride));
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

    /** A batch was accepted: verified now if Route53 says INSYNC at once, else looked at again soon. */
    function submitted(
      change: { id: string; status: 'PENDING' | 'INSYNC' },
      weights: { self: number; peer?: number },
      done: TrafficOutcome['condition'],
      requeueAfterMs?: number,
    ): TrafficOutcome {
      lastRead.delete(cr.metadata.uid);
      status = {
        ...status,
        lastChange: {
          id: change.id,
          status: change.status,
          weight: weights.self,
          ...(weights.peer !== undefined ? { peerWeight: weights.peer } : {}),
          submittedAt: iso(now()),
        },
      };
      if (change.status === 'PENDING') {
        return outcome(
          {
            status: 'False',
            reason: TRAFFIC_REASON.ChangePending,
            message: `waiting for Route53 change ${change.id} (weight ${weights.self}) to be INSYNC`,
          },
          { requeueAfterMs: pendingPollMs },
        );
      }
      status = { ...status, verifiedWeight: weights.self, verifiedAt: iso(now()) };
      // INSYNC at once: the next reconcile (soon) lets the cutover count it.
      return outcome(done, requeueAfterMs !== undefined ? { requeueAfterMs } : {});
    }
  }

  /**
   * The finalizer's rule: this cluster's records go only when Route53 already serves them with
   * weight 0, verified INSYNC, and one TTL has passed since (so resolvers' cached answers that
   * still point here have expired before the load balancer goes). Anything else holds the
   * deletion: removing a live record would black-hole its share of the traffic.
   */
  async function cleanup(
    cr: Reservation,
    signal?: AbortSignal,
  ): Promise<{ done: true } | { done: false; reason: string; retryAfterMs?: number }> {
    const t = cr.spec.traffic;
    if (!t) return { done: true };
    const key = keyOf(cr);
    const owner = ownerOf(cr);
    let seen: DnsRecord[];
    try {
      seen = await provider().records(t.dns.hostedZoneId, namesToRead(key), { signal });
    } catch (err) {
      // Without Route53 there is nothing we could have written: let a Reservation that never got
      // a record go (an SRE deleting one that failed for want of AWS credentials).
      const never = cr.status?.traffic?.lastChange === undefined && cr.status?.traffic?.verifiedWeight === undefined;
      if (err instanceof DnsNotConfiguredError && never) return { done: true };
      throw err;
    }
    const ownership = classifyOwnership(
      { name: key.name, setIdentifier: key.setIdentifier, recordType: RECORD_TYPE, owner, affix },
      seen.filter((r) => r.setIdentifier === key.setIdentifier),
    );
    if (ownership.kind !== 'ours') {
      logger.info({ reservation: resourceLabel(cr), ownership }, 'no records of ours to remove');
      forget(cr);
      return { done: true };
    }
    const current = currentRecordSet(key, seen);
    const live = current.record?.weight ?? 0;
    const where = `${t.dns.name} (${t.cluster})`;
    const writer = weightWriter(current.txt);
    if (writer && writer !== owner) {
      return {
        done: false,
        reason: `${where}: ${writer}'s cutover writes its weight; deletion waits until that cutover ends and hands the record back`,
        retryAfterMs: t.dns.ttl * 1000,
      };
    }
    if (live > 0) {
      return {
        done: false,
        reason:
          `${where} still has weight ${live} in Route53, so clients are sent here; set spec.traffic.weight to 0 ` +
          '(or cut over to the peer) and deletion continues once weight 0 is verified INSYNC and one TTL has passed',
      };
    }
    const status = known.get(cr.metadata.uid) ?? cr.status?.traffic;
    if (status?.lastChange?.status === 'PENDING' || status?.verifiedWeight !== 0 || !status.verifiedAt) {
      return { done: false, reason: `${where} has weight 0 in Route53 but it is not verified INSYNC yet`, retryAfterMs: pendingPollMs };
    }
    const sinceMs = now().getTime() - Date.parse(status.verifiedAt);
    const ttlMs = t.dns.ttl * 1000;
    if (sinceMs < ttlMs) {
      const waitMs = ttlMs - sinceMs;
      return {
        done: false,
        reason: `${where} went to weight 0 at ${status.verifiedAt}; waiting one TTL (${t.dns.ttl}s) for cached answers to expire`,
        retryAfterMs: waitMs,
      };
    }
    const change = await provider().change(
      t.dns.hostedZoneId,
      removalChanges(current),
      `reservation-operator: ${resourceLabel(cr)} deleted`,
      { signal },
    );
    logger.info({ reservation: resourceLabel(cr), change: change.id }, 'route53 records removed');
    forget(cr);
    return { done: true };
  }

  function forget(cr: Reservation) {
    lastRead.delete(cr.metadata.uid);
    known.delete(cr.metadata.uid);
  }

  return { reconcile, cleanup };
}
