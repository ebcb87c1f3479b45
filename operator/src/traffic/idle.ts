import { type ReservationStatus, TAKE_BACK_ANNOTATION, type TrafficStatus } from '../api/v1alpha1/reservation.ts';
import { iso } from '../kube/time.ts';
import type { TrafficContext } from './context.ts';
import type { DnsRecord } from './dns-provider.ts';
import { inSync, type TrafficEvent, type TrafficOutcome, type TrafficSpec } from './outcome.ts';
import { decodeFloors, describeFloors, maxFloors, warmFloors } from './prescale.ts';
import { TRAFFIC_REASON } from './reasons.ts';
import { nextRebalance } from './rebalance.ts';
import {
  type DesiredRecordSet,
  desiredRecordSet,
  drainRequested,
  floorsRequested,
  handedBackBy,
  liveWeightsAfter,
  type RecordSet,
  type RecordSetKey,
  rebalanceRequested,
  recordSetChanges,
  resourceLabel,
  weightWriter,
} from './record-set.ts';
import { liveWeightsError } from './weights.ts';

/**
 * The idle record: no cutover of ours runs, so this cluster's weighted record follows
 * spec.traffic.weight, except while a peer's cutover writes it (a handover) and, once the peer
 * hands it back, at the weight the peer left until the spec's weight changes (an override).
 */

export interface IdleInput {
  spec: TrafficSpec;
  /** The traffic status so far in this reconcile. */
  status: TrafficStatus;
  key: RecordSetKey;
  owner: string;
  target: string;
  /** The ExternalDNS resource label of the Reservation. */
  resource: string;
  /** The records read at the name. */
  seen: readonly DnsRecord[];
  /** Our two records among them. */
  current: RecordSet;
  /** The Reservation is being deleted. */
  deleting: boolean;
  /** The TAKE_BACK_ANNOTATION's value: the owner id of a handover's writer to take the record back from. */
  takeBack?: string;
  /** The services as the Reservation's status has them: the replicas held while a peer writes our weight. */
  services: ReservationStatus['services'];
  now: Date;
}

interface Decided {
  /** The traffic status after this decision. */
  status: TrafficStatus;
  events: TrafficEvent[];
  /** The weight this cluster's record should have (or has, handed over). */
  weight: number;
}

/**
 * How old a handover must be before an SRE may take the record back from its writer: a running
 * cutover rewrites the label within a step, so one untouched this long is very likely orphaned
 * (the SRE still stops the peer's operator first: a live one would write it again).
 */
export const TAKE_BACK_AFTER_MS = 10 * 60_000;

export type IdleDecision = Decided &
  (
    | { kind: 'handedOver'; writer: string; takeBackRefused?: string }
    | { kind: 'removedWhileDeleting' }
    | { kind: 'rejected'; message: string }
    | { kind: 'inSync' | 'change'; desired: DesiredRecordSet }
  );

/** What the idle record needs now (pure). */
export function decideIdle(input: IdleInput): IdleDecision {
  const { spec: t, key, owner, current, now } = input;
  let status = input.status;
  const events: TrafficEvent[] = [];
  const where = `${t.dns.name} (${t.cluster})`;

  // A peer's cutover writes our weight: leave it alone until it hands the record back, or an
  // SRE takes it back from a writer that is gone.
  const writer = weightWriter(current.txt);
  const take = writer && writer !== owner ? takeBackOf(input, writer) : undefined;
  if (take?.allowed) {
    events.push({
      type: 'Warning',
      reason: 'WeightTakenBack',
      message: `${where}: taken back from ${writer}, whose cutover had written its weight since ${status.handover?.since} (${TAKE_BACK_ANNOTATION})`,
    });
  } else if (writer && writer !== owner) {
    const weight = current.record?.weight ?? 0;
    if (!status.handover) {
      events.push({
        type: 'Normal',
        reason: 'WeightsHandedOver',
        message: `${writer} runs a cutover and writes the weight of ${where} until it ends; this cluster leaves it alone`,
      });
    }
    const rebalance = nextRebalance(status.handover?.rebalance, rebalanceRequested(current.txt), iso(now));
    if (rebalance && rebalance !== status.handover?.rebalance) {
      events.push({
        type: 'Normal',
        reason: 'ConnectionsRebalancing',
        message: `${writer}'s cutover moved ${where} from ${rebalance.fromShare}% to ${rebalance.toShare}%: its services close ${Math.round(rebalance.fraction * 1000) / 10}% of their keep-alive connections over one TTL, so those clients resolve again`,
      });
    }
    // Keep warm: the replicas of when the handover began, so an abort can shift traffic back here;
    // and, when the writer's abort finds too few of them for the traffic it gives back, the ones it asks for.
    const held = status.handover && status.minReplicas ? status.minReplicas : warmFloors(input.services);
    const asked = decodeFloors(floorsRequested(current.txt));
    const floors = maxFloors(held, asked);
    if (JSON.stringify(floors) !== JSON.stringify(held)) {
      events.push({
        type: 'Normal',
        reason: 'TakeBackPreScaling',
        message: `${writer}'s cutover is aborting and asks for ${describeFloors(asked)} to take the traffic back: minReplicas raised`,
      });
    }
    status = {
      ...status,
      handover: {
        by: writer,
        since: status.handover?.since ?? iso(now),
        weight,
        ...(drainRequested(current.txt) ? { connectionClose: true } : {}),
        ...(rebalance ? { rebalance } : {}),
      },
      minReplicas: floors,
      desiredWeight: weight,
      verifiedWeight: weight,
      verifiedAt: status.verifiedWeight === weight && status.verifiedAt ? status.verifiedAt : iso(now),
    };
    return { kind: 'handedOver', writer, weight, status, events, ...(take?.refused ? { takeBackRefused: take.refused } : {}) };
  }

  // Handed back while we looked (a handover in status), or between two looks (the label the
  // hand-back leaves): keep the weight the peer's cutover left, not the older spec or override.
  const backBy = status.handover?.by ?? unseenHandBack(status, current);
  if (backBy) {
    const { handover: _ended, minReplicas: _warm, ...rest } = status;
    const weight = current.record?.weight ?? 0;
    status = { ...rest, weightOverride: { weight, specWeight: t.weight, by: backBy } };
    if (!take?.allowed)
      events.push({
        type: 'Normal',
        reason: 'WeightsHandedBack',
        message: `${backBy}'s cutover ended with ${t.cluster} at weight ${weight}; it stays until spec.traffic.weight changes`,
      });
  }
  if (status.weightOverride && status.weightOverride.specWeight !== t.weight) {
    const { weightOverride: _ended, ...rest } = status;
    status = rest;
  }
  const weight = status.weightOverride?.weight ?? t.weight;
  status = { ...status, desiredWeight: weight };

  // A Reservation being deleted never gets its records back: its finalizer may have removed them
  // already (a reconcile of a cached copy comes late).
  if (input.deleting && !current.record) return { kind: 'removedWhileDeleting', weight, status, events };

  const desired = desiredRecordSet(key, { target: input.target, ttl: t.dns.ttl, weight, owner, resource: input.resource });
  if (recordSetChanges(current, desired).length === 0) return { kind: 'inSync', desired, weight, status, events };
  if (current.record?.weight !== status.verifiedWeight) {
    // Changed behind our back (or never ours yet): what Route53 serves is not what we verified.
    const { verifiedWeight: _weight, verifiedAt: _at, ...rest } = status;
    status = rest;
  }
  const rejected = liveWeightsError(t.dns.name, liveWeightsAfter(key, input.seen, weight));
  if (rejected) return { kind: 'rejected', message: rejected, weight, status, events };
  return { kind: 'change', desired, weight, status, events };
}

/**
 * Who handed our record back between two looks, by the label the hand-back leaves (pure). It
 * counts while our record is not at the weight we last verified (once we have written and
 * verified it, a label left behind means nothing), even when an earlier hand-back's override
 * holds: the newer cutover's weight replaces it.
 */
function unseenHandBack(status: TrafficStatus, current: RecordSet): string | undefined {
  return current.record?.weight !== status.verifiedWeight ? handedBackBy(current.txt) : undefined;
}

/**
 * Whether a peer's cutover writes this cluster's weight now, or has handed it back since, so the
 * idle record's rules decide the weight rather than this cluster's own ended cutover (pure).
 */
export function peerCutoverFollowed(status: TrafficStatus, current: RecordSet, owner: string): boolean {
  const writer = weightWriter(current.txt);
  return (!!writer && writer !== owner) || !!status.handover || !!status.weightOverride || !!unseenHandBack(status, current);
}

/** What the TAKE_BACK_ANNOTATION asks of a handover by `writer`, if anything (pure). */
function takeBackOf(input: IdleInput, writer: string): { allowed: true } | { allowed: false; refused: string } | undefined {
  if (input.takeBack === undefined) return undefined;
  if (input.takeBack !== writer)
    return { allowed: false, refused: `${TAKE_BACK_ANNOTATION} names "${input.takeBack}", but the weight writer is "${writer}"` };
  // A handover first seen now (no `since` yet) is as young as it gets.
  const allowedFrom = Date.parse(input.status.handover?.since ?? iso(input.now)) + TAKE_BACK_AFTER_MS;
  if (input.now.getTime() < allowedFrom) {
    const at = iso(new Date(allowedFrom));
    return {
      allowed: false,
      refused: `${TAKE_BACK_ANNOTATION}: the handover is younger than ${TAKE_BACK_AFTER_MS / 60_000} minutes; allowed from ${at}`,
    };
  }
  return { allowed: true };
}

/** The idle record's step: decide, then make it so in one batch. */
export async function syncIdle(ctx: TrafficContext): Promise<TrafficOutcome> {
  const { cr, spec: t } = ctx;
  const decision = decideIdle({
    spec: t,
    status: ctx.status,
    key: ctx.key,
    owner: ctx.owner,
    target: ctx.target,
    resource: resourceLabel(cr),
    seen: ctx.seen,
    current: ctx.current,
    deleting: !!cr.metadata.deletionTimestamp,
    takeBack: cr.metadata.annotations?.[TAKE_BACK_ANNOTATION],
    services: cr.status?.services,
    now: ctx.now(),
  });
  ctx.status = decision.status;
  ctx.events.push(...decision.events);
  const where = `${t.dns.name} (${t.cluster})`;
  const { weight } = decision;
  switch (decision.kind) {
    case 'handedOver': {
      // Notice the hand-back soon: look again every TTL.
      const recheckMs = Math.min(ctx.runtime.driftCheckMs, t.dns.ttl * 1000);
      return ctx.settle(
        {
          status: 'True',
          reason: TRAFFIC_REASON.WeightsHandedOver,
          message:
            `${where} has weight ${weight}, written by ${decision.writer}'s cutover; this cluster leaves it alone until the cutover ends` +
            (decision.takeBackRefused ? ` (not taken back: ${decision.takeBackRefused})` : ''),
        },
        recheckMs,
        recheckMs,
      );
    }
    case 'removedWhileDeleting':
      return ctx.outcome({
        status: 'False',
        reason: TRAFFIC_REASON.RecordRemoved,
        message: `${where} removed: the Reservation is being deleted`,
      });
    case 'rejected':
      return ctx.outcome({ status: 'False', reason: TRAFFIC_REASON.WeightRejected, message: decision.message });
    case 'inSync':
    case 'change':
      return ctx.applyRecordSets({
        sets: [[ctx.current, decision.desired]],
        weights: { self: weight },
        done: inSync(t, weight, ctx.status.weightOverride),
        comment: `reservation-operator: ${resourceLabel(cr)} sets ${t.cluster} to weight ${weight}`,
        event: {
          reason: 'RecordChanged',
          message:
            `${ctx.current.record ? 'changed' : 'created'} ${where}: weight ${ctx.current.record?.weight ?? '-'} → ${weight}, ` +
            `target ${ctx.target}, TTL ${t.dns.ttl}s, with its ownership TXT`,
        },
      });
  }
}
