import type { Logger } from 'pino';
import type { Reservation, TrafficStatus } from '../api/v1alpha1/reservation.ts';
import { REASON } from '../reconcile/conditions.ts';
import { DnsChangeRejectedError, DnsNotConfiguredError, type DnsProvider, type DnsRecord } from './dns-provider.ts';
import { classifyOwnership, NO_AFFIX, ownerIdError, type TxtAffix } from './ownership.ts';
import {
  currentRecordSet,
  desiredRecordSet,
  liveWeightsAfter,
  namesToRead,
  RECORD_TYPE,
  type RecordSetKey,
  recordSetChanges,
  removalChanges,
  resourceLabel,
} from './record-set.ts';
import { liveWeightsError } from './weights.ts';

/**
 * The traffic step of a reconcile, for a Reservation with spec.traffic: keep this cluster's
 * weighted record and its ownership TXT as the spec says, one atomic batch per change, and count
 * a change as applied only once Route53 reports it INSYNC. It never waits on Route53: a PENDING
 * change is looked at again on a requeue, with its id kept in status.traffic.lastChange.
 */

export interface TrafficEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface TrafficOutcome {
  status: TrafficStatus;
  condition: { status: 'True' | 'False'; reason: string; message: string };
  events: TrafficEvent[];
  requeueAfterMs?: number;
  /** Set when Route53 could not be reached or refused us: the reconcile fails and is retried with backoff. */
  error?: string;
}

export interface TrafficControllerOptions {
  /** Created on first use: the operator starts without any AWS configuration. */
  provider: () => DnsProvider;
  /** ExternalDNS owner id; default `reservation-operator-<spec.traffic.cluster>`. */
  ownerId?: string;
  affix?: TxtAffix;
  logger: Logger;
  now?: () => Date;
  /** How often a converged record set is read back to catch changes made outside (default 5 min). */
  driftCheckMs?: number;
  /** How soon a PENDING change is looked at again (default 5 s). */
  pendingPollMs?: number;
}

export type TrafficController = ReturnType<typeof createTrafficController>;

export const DEFAULT_DRIFT_CHECK_MS = 5 * 60_000;

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
    { at: number; generation: number | undefined; target: string; condition: TrafficOutcome['condition'] }
  >();
  /**
   * The traffic status this instance last computed, by uid. The informer's copy of the status can
   * lag our own write by a watch event; a reconcile in that gap must not forget a PENDING change
   * (and take records it can read for records Route53 serves everywhere). The status is the copy
   * that survives a restart.
   */
  const known = new Map<string, TrafficStatus>();

  const ownerOf = (cr: Reservation) => options.ownerId ?? `reservation-operator-${cr.spec.traffic?.cluster}`;
  const keyOf = (cr: Reservation): RecordSetKey => {
    const t = cr.spec.traffic as NonNullable<Reservation['spec']['traffic']>;
    return { name: t.dns.name, setIdentifier: t.cluster, affix };
  };
  const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

  async function reconcile(cr: Reservation, edgeHostname: string | undefined): Promise<TrafficOutcome> {
    const result = await sync(cr, edgeHostname);
    known.set(cr.metadata.uid, result.status);
    return result;
  }

  async function sync(cr: Reservation, edgeHostname: string | undefined): Promise<TrafficOutcome> {
    const t = cr.spec.traffic;
    if (!t) throw new Error('traffic.reconcile called for a Reservation without spec.traffic');
    const key = keyOf(cr);
    const owner = ownerOf(cr);
    const target = t.target ?? edgeHostname;
    const previous = known.get(cr.metadata.uid) ?? cr.status?.traffic;
    const sameRecordSet = previous?.recordName === t.dns.name && previous.setIdentifier === t.cluster;
    let status: TrafficStatus = {
      recordName: t.dns.name,
      setIdentifier: t.cluster,
      ...(target ? { target } : {}),
      owner: sameRecordSet ? (previous.owner ?? owner) : owner,
      desiredWeight: t.weight,
      ...(sameRecordSet && previous.verifiedWeight !== undefined ? { verifiedWeight: previous.verifiedWeight } : {}),
      ...(sameRecordSet && previous.verifiedAt ? { verifiedAt: previous.verifiedAt } : {}),
      ...(sameRecordSet && previous.lastChange ? { lastChange: previous.lastChange } : {}),
    };
    const events: TrafficEvent[] = [];
    const outcome = (
      condition: TrafficOutcome['condition'],
      extra: Partial<Pick<TrafficOutcome, 'requeueAfterMs' | 'error'>> = {},
    ): TrafficOutcome => ({ status, condition, events, ...extra });

    const ownerError = ownerIdError(owner);
    if (ownerError) return outcome({ status: 'False', reason: REASON.Route53NotConfigured, message: ownerError });

    try {
      // 1. A change in flight: applied only once INSYNC.
      const pending = status.lastChange?.status === 'PENDING' ? status.lastChange : undefined;
      if (pending) {
        if ((await provider().changeStatus(pending.id)) === 'PENDING') {
          return outcome(
            {
              status: 'False',
              reason: REASON.ChangePending,
              message: `waiting for Route53 change ${pending.id} (weight ${pending.weight}) to be INSYNC`,
            },
            { requeueAfterMs: pendingPollMs },
          );
        }
        status = { ...status, verifiedWeight: pending.weight, verifiedAt: iso(now()), lastChange: { ...pending, status: 'INSYNC' } };
        events.push({
          type: 'Normal',
          reason: 'WeightVerified',
          message: `Route53 serves ${t.dns.name} (${t.cluster}) with weight ${pending.weight}: change ${pending.id} is INSYNC`,
        });
      }

      if (!target) {
        return outcome({
          status: 'False',
          reason: REASON.WaitingForTarget,
          message: "no record target yet: waiting for the edge's load balancer hostname (status.edge.hostname), or set spec.traffic.target",
        });
      }

      // 2. Settled (in sync, or refused as someone else's) for this spec and target, and read
      // recently: nothing to ask Route53. Reconciles woken by Deployment status churn cost no call.
      const settled = lastRead.get(cr.metadata.uid);
      if (
        !pending &&
        settled &&
        settled.generation === cr.metadata.generation &&
        settled.target === target &&
        now().getTime() - settled.at < driftCheckMs
      ) {
        return outcome(settled.condition);
      }
      lastRead.delete(cr.metadata.uid);
      const settle = (condition: TrafficOutcome['condition']) => {
        lastRead.set(cr.metadata.uid, { at: now().getTime(), generation: cr.metadata.generation, target, condition });
        return outcome(condition);
      };

      // 3. Read what Route53 has, and whose it is.
      const seen = await provider().records(t.dns.hostedZoneId, namesToRead(key));
      const ownership = classifyOwnership(
        { name: key.name, setIdentifier: key.setIdentifier, recordType: RECORD_TYPE, owner, affix },
        seen.filter((r) => r.setIdentifier === key.setIdentifier),
      );
      if (ownership.kind === 'foreign') {
        status = { ...status, owner: ownership.owner ?? '(unknown)' };
        delete status.verifiedWeight;
        delete status.verifiedAt;
        return settle({ status: 'False', reason: REASON.RecordOwnedByOther, message: `not touching ${t.dns.name}: ${ownership.reason}` });
      }
      status = { ...status, owner };

      // 4. Make it so, in one batch.
      const desired = desiredRecordSet(key, { target, ttl: t.dns.ttl, weight: t.weight, owner, resource: resourceLabel(cr) });
      const current = currentRecordSet(key, seen);
      const changes = recordSetChanges(current, desired);
      if (changes.length === 0) {
        if (status.verifiedWeight !== t.weight) status = { ...status, verifiedWeight: t.weight, verifiedAt: iso(now()) };
        return settle(inSync(cr));
      }
      if (current.record?.weight !== status.verifiedWeight) {
        // Changed behind our back (or never ours yet): what Route53 serves is not what we verified.
        delete status.verifiedWeight;
        delete status.verifiedAt;
      }
      const rejected = liveWeightsError(t.dns.name, liveWeightsAfter(key, seen, t.weight));
      if (rejected) return outcome({ status: 'False', reason: REASON.WeightRejected, message: rejected });

      const was = current.record?.weight;
      const change = await provider().change(
        t.dns.hostedZoneId,
        changes,
        `reservation-operator: ${resourceLabel(cr)} sets ${t.cluster} to weight ${t.weight}`,
      );
      status = { ...status, lastChange: { id: change.id, status: change.status, weight: t.weight, submittedAt: iso(now()) } };
      events.push({
        type: 'Normal',
        reason: 'RecordChanged',
        message:
          `${current.record ? 'changed' : 'created'} ${t.dns.name} (${t.cluster}): weight ${was ?? '-'} → ${t.weight}, ` +
          `target ${target}, TTL ${t.dns.ttl}s, with its ownership TXT, in change ${change.id}`,
      });
      logger.info({ reservation: resourceLabel(cr), change: change.id, weight: t.weight, was }, 'route53 change submitted');
      if (change.status === 'PENDING') {
        return outcome(
          {
            status: 'False',
            reason: REASON.ChangePending,
            message: `waiting for Route53 change ${change.id} (weight ${t.weight}) to be INSYNC`,
          },
          { requeueAfterMs: pendingPollMs },
        );
      }
      status = { ...status, verifiedWeight: t.weight, verifiedAt: iso(now()) };
      return outcome(inSync(cr));
    } catch (err) {
      lastRead.delete(cr.metadata.uid);
      const message = err instanceof Error ? err.message : String(err);
      if (err instanceof DnsNotConfiguredError)
        return outcome({ status: 'False', reason: REASON.Route53NotConfigured, message }, { error: message });
      if (err instanceof DnsChangeRejectedError) {
        // Someone changed the records between our read and our write (read again and retry), or
        // Route53 will never take this batch (a plain record at the name, say): either way the
        // queue's growing backoff, not a fixed poll.
        return outcome({ status: 'False', reason: REASON.Route53Error, message }, { error: message });
      }
      return outcome({ status: 'False', reason: REASON.Route53Error, message: `Route53: ${message}` }, { error: `Route53: ${message}` });
    }
  }

  function inSync(cr: Reservation): TrafficOutcome['condition'] {
    const t = cr.spec.traffic as NonNullable<Reservation['spec']['traffic']>;
    return {
      status: 'True',
      reason: REASON.RecordInSync,
      message: `${t.dns.name} (${t.cluster}) has weight ${t.weight}, verified INSYNC in Route53`,
    };
  }

  /**
   * The finalizer's rule: this cluster's records go only when Route53 already serves them with
   * weight 0, verified INSYNC, and one TTL has passed since (so resolvers' cached answers that
   * still point here have expired before the load balancer goes). Anything else holds the
   * deletion: removing a live record would black-hole its share of the traffic.
   */
  async function cleanup(cr: Reservation): Promise<{ done: true } | { done: false; reason: string; retryAfterMs?: number }> {
    const t = cr.spec.traffic;
    if (!t) return { done: true };
    const key = keyOf(cr);
    const owner = ownerOf(cr);
    let seen: DnsRecord[];
    try {
      seen = await provider().records(t.dns.hostedZoneId, namesToRead(key));
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
