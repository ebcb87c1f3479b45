import type { Reservation } from '../api/v1alpha1/reservation.ts';
import type { KubeObject } from '../kube/resources.ts';

/**
 * The edge (Ingress or HTTPRoute) carries this finalizer while this cluster's weighted record may
 * send clients to it. Deleting the namespace deletes everything in it at once: without the hold
 * the load balancer would go while Route53 still sends it its share of the traffic (and its
 * hostname, still in the record, could be handed to someone else).
 */
export const EDGE_FINALIZER = 'platform.reservations.dev/edge-while-weighted';

/** The kinds that make the edge: the ones that get the hold. */
export const EDGE_KINDS: readonly string[] = ['Ingress', 'HTTPRoute'];

/**
 * Whether no client is sent to this cluster's edge any more: no weighted record, or weight 0
 * verified INSYNC and one TTL passed since (resolvers' cached answers have expired).
 */
export function edgeMayGo(cr: Reservation, now: Date): boolean {
  const t = cr.spec.traffic;
  const s = cr.status?.traffic;
  if (!t) return true;
  if (s?.verifiedWeight !== 0 || !s.verifiedAt || s.lastChange?.status === 'PENDING') return false;
  return now.getTime() - Date.parse(s.verifiedAt) >= t.dns.ttl * 1000;
}

export interface EdgeHoldContext {
  /** Whether the spec still wants this object (an edge being replaced is let go). */
  desired: boolean;
  /** The Reservation's records are gone from Route53 (or an SRE released them): its deletion finishes now. */
  recordsGone: boolean;
  now: Date;
}

/** Whether the edge object should carry EDGE_FINALIZER. */
export function edgeHeld(cr: Reservation, edge: KubeObject, ctx: EdgeHoldContext): boolean {
  if (ctx.recordsGone || !cr.spec.traffic || !ctx.desired) return false;
  // Deleted (by hand, or with its namespace) while the Reservation lives on: it goes once nothing is sent here.
  if (edge.metadata.deletionTimestamp) return !edgeMayGo(cr, ctx.now);
  return true;
}

/**
 * The edge's finalizers with the hold set or removed; undefined when nothing changes (a finalizer
 * cannot be added to an object being deleted, so none is).
 */
export function edgeFinalizers(edge: KubeObject, held: boolean): string[] | undefined {
  const current = edge.metadata.finalizers ?? [];
  const has = current.includes(EDGE_FINALIZER);
  if (held === has) return undefined;
  if (held) return edge.metadata.deletionTimestamp ? undefined : [...current, EDGE_FINALIZER];
  return current.filter((f) => f !== EDGE_FINALIZER);
}
