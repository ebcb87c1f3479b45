import type { ReservationSpec } from './spec.ts';
import type { ReservationStatus } from './status.ts';

/**
 * The `Reservation` API, v1alpha1: one installation of the platform in one cluster.
 *
 * This folder is the single source of truth: the TypeScript types are `Static<>` of its TypeBox
 * schemas, and `crds/` is generated from them (`npm run generate:crds`, checked by a test). The
 * schemas live by concept: `spec.ts` (images, services, backends, edge), `traffic.ts`
 * (spec.traffic: the record and the cutover plan), `analysis.ts` (SLO checks and their runs),
 * `status.ts`; this file holds the group, version and kind, the root type, and re-exports the rest,
 * so importers need only this one.
 * Conventions the generator relies on:
 * - every property has a description (it is what `kubectl explain rsv.spec...` prints);
 * - a property with a `default` is written as required here, because the API server fills it
 *   in before anyone reads the object; the generator drops it from the CRD's `required`;
 * - cross-field rules are CEL (`x-kubernetes-validations`) with messages for an SRE.
 */

export const GROUP = 'platform.reservations.dev';
export const VERSION = 'v1alpha1';
export const KIND = 'Reservation';
export const PLURAL = 'reservations';
export const API_VERSION = `${GROUP}/${VERSION}`;

/**
 * How an SRE (or `kubectl reservation promote|pause|resume|abort|retry`) asks a running cutover to
 * act: the annotation's value is a verb, optionally `<verb>/<token>` so the same verb can be asked
 * again. The operator acts on each distinct value once (status.traffic.cutover.handledRequest).
 */
export const CUTOVER_REQUEST_ANNOTATION = `${GROUP}/cutover-request`;
export const CUTOVER_VERBS = ['pause', 'resume', 'promote', 'promote-full', 'abort', 'retry'] as const;

/**
 * The escape hatch of a deletion whose records cannot be removed (AWS access gone): set to the
 * Reservation's spec.traffic.cluster, the finalizer lets it go and leaves its Route53 records as
 * they are, with a Warning event. Naming the cluster makes it a deliberate act on this record set.
 */
export const RELEASE_RECORDS_ANNOTATION = `${GROUP}/release-records`;

/**
 * The escape hatch of a handover whose writer is gone (the peer's cluster died mid-cutover, its
 * `weight-writer` label left on our TXT): set to that writer's owner id, this cluster takes its
 * record back once the handover is older than TAKE_BACK_AFTER_MS (traffic/idle.ts).
 */
export const TAKE_BACK_ANNOTATION = `${GROUP}/take-back-weight`;
export type CutoverVerb = (typeof CUTOVER_VERBS)[number];

export type { AnalysisRun, AnalysisTemplate } from './analysis.ts';
export { ReservationSpec, SERVICE_COMPONENTS, SERVICE_NAMES, type ServiceName, type ServiceSpec } from './spec.ts';
export { type Condition, CUTOVER_PHASES, type CutoverStatus, ReservationStatus, type ServiceStatus, type TrafficStatus } from './status.ts';
export type { ClusterPrometheus, Drain, Pacing, Prescale, Settle } from './traffic.ts';

export interface Reservation {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    generation?: number;
    resourceVersion?: string;
    deletionTimestamp?: string | Date;
    finalizers?: string[];
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: ReservationSpec;
  status?: ReservationStatus;
}
