import type { Reservation, TrafficStatus } from '../api/v1alpha1/reservation.ts';
import type { CleanupResult } from '../reconcile/reconciler.ts';
import type { TrafficRuntime } from './context.ts';
import { DnsNotConfiguredError, type DnsRecord } from './dns-provider.ts';
import type { TrafficSpec } from './outcome.ts';
import { classifyOwnership, type TxtAffix } from './ownership.ts';
import {
  currentRecordSet,
  namesToRead,
  RECORD_TYPE,
  type RecordSetKey,
  removalChanges,
  resourceLabel,
  weightWriter,
} from './record-set.ts';

export interface RemoveRecordsDeps {
  key: RecordSetKey;
  owner: string;
  affix: TxtAffix;
  /** The traffic status as this operator last knew it. */
  status: TrafficStatus | undefined;
  runtime: TrafficRuntime;
  /** Drops what the reconciler remembers of the Reservation: its records are gone, or never were ours. */
  forget(): void;
  signal: AbortSignal | undefined;
}

/**
 * The finalizer's rule: this cluster's records go only when Route53 already serves them with
 * weight 0, verified INSYNC, and one TTL has passed since (so resolvers' cached answers that
 * still point here have expired before the load balancer goes). Anything else holds the
 * deletion: removing a live record would black-hole its share of the traffic.
 */
export async function removeRecords(cr: Reservation, deps: RemoveRecordsDeps): Promise<CleanupResult> {
  const t = cr.spec.traffic as TrafficSpec;
  const { key, owner, affix, status, runtime, signal } = deps;
  let seen: DnsRecord[];
  try {
    seen = await runtime.provider().records(t.dns.hostedZoneId, namesToRead(key), { signal });
  } catch (err) {
    // Without Route53 there is nothing we could have written: let a Reservation that never got
    // a record go (an SRE deleting one that failed for want of AWS credentials).
    const never = cr.status?.traffic?.lastChange === undefined && cr.status?.traffic?.verifiedWeight === undefined;
    if (err instanceof DnsNotConfiguredError && never) return { done: true };
    throw err;
  }
  const ownership = classifyOwnership(
    { name: key.name, setIdentifier: key.setIdentifier, recordType: RECORD_TYPE, owner, resource: resourceLabel(cr), affix },
    seen.filter((r) => r.setIdentifier === key.setIdentifier),
  );
  if (ownership.kind !== 'ours') {
    runtime.logger.info({ reservation: resourceLabel(cr), ownership }, 'no records of ours to remove');
    deps.forget();
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
  if (status?.lastChange?.status === 'PENDING' || status?.verifiedWeight !== 0 || !status.verifiedAt) {
    return {
      done: false,
      reason: `${where} has weight 0 in Route53 but it is not verified INSYNC yet`,
      retryAfterMs: runtime.pendingPollMs,
    };
  }
  const sinceMs = runtime.now().getTime() - Date.parse(status.verifiedAt);
  const ttlMs = t.dns.ttl * 1000;
  if (sinceMs < ttlMs) {
    const waitMs = ttlMs - sinceMs;
    return {
      done: false,
      reason: `${where} went to weight 0 at ${status.verifiedAt}; waiting one TTL (${t.dns.ttl}s) for cached answers to expire`,
      retryAfterMs: waitMs,
    };
  }
  // A removal, not a record set as it should be: no event, and nothing to verify afterwards.
  const change = await runtime
    .provider()
    .change(t.dns.hostedZoneId, removalChanges(current), `reservation-operator: ${resourceLabel(cr)} deleted`, { signal });
  runtime.logger.info({ reservation: resourceLabel(cr), change: change.id }, 'route53 records removed');
  deps.forget();
  return { done: true };
}
