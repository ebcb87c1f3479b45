import { randomBytes } from 'node:crypto';
import { CUTOVER_REQUEST_ANNOTATION, type CutoverVerb, KIND, type Reservation } from '../api/v1alpha1/reservation.ts';
import { isConflict, isNotFound, KubeApiError, type KubeClient, PATCH } from '../kube/client.ts';
import { RESOURCE_TYPES, resourcePath } from '../kube/resources.ts';
import { cutoverRequestValue, requestError } from '../traffic/verbs.ts';

/**
 * Reading a Reservation and asking its operator for a cutover verb: the one implementation behind
 * `kubectl reservation pause|resume|promote|abort|retry` and the dashboard's buttons. Both act with
 * the caller's kube credentials, so RBAC applies as for kubectl.
 */

export const FIELD_MANAGER = 'kubectl-reservation';

/** A failure said in one sentence to the user: no such Reservation, no CRD, or a verb refused now. */
export class SteerError extends Error {
  /** `refused`: verbError's reason (409 in the dashboard); `not-found`: the Reservation or its CRD (404). */
  readonly kind: 'refused' | 'not-found';
  constructor(kind: SteerError['kind'], message: string) {
    super(message);
    this.kind = kind;
  }
}

export interface ReservationRef {
  client: KubeClient;
  namespace: string;
  name: string;
}

const pathOf = (ref: ReservationRef) => resourcePath(RESOURCE_TYPES.Reservation, ref.namespace, ref.name);

export async function readReservation(ref: ReservationRef): Promise<Reservation> {
  try {
    return await ref.client.request<Reservation>('GET', pathOf(ref));
  } catch (err) {
    if (isNotFound(err)) {
      // A 404 for the kind itself (no CRD) reads the same; say which.
      const message = err instanceof KubeApiError ? err.message : '';
      if (/the server could not find the requested resource/.test(message)) {
        throw new SteerError('not-found', `the ${KIND} CRD (reservations.platform.reservations.dev) is not installed in this cluster`);
      }
      throw new SteerError('not-found', `${KIND} "${ref.name}" not found in namespace "${ref.namespace}"`);
    }
    throw err;
  }
}

export interface VerbRequest {
  /** The Reservation as read just before the annotation was set. */
  cr: Reservation;
  /** The annotation value set; status.traffic.cutover.handledRequest says when the operator acted on it. */
  value: string;
  /** A request the operator had not acted on yet, replaced by this one. */
  replaced?: string;
}

/**
 * Checks the verb against the Reservation as read (verbs.ts's rules: a refusal throws a
 * SteerError of kind `refused` with the reason), then sets the annotation with a merge patch that
 * carries that resourceVersion: if the cutover moved on in between, the API server answers
 * 409 Conflict and the check runs again on the new state.
 */
export async function requestVerb(ref: ReservationRef, verb: CutoverVerb, now: () => Date = () => new Date()): Promise<VerbRequest> {
  let replaced: string | undefined;
  for (let attempt = 0; ; attempt++) {
    const cr = await readReservation(ref);
    const refused = requestError(cr, verb);
    if (refused) throw new SteerError('refused', `cannot ${verb} ${ref.namespace}/${ref.name}: ${refused}`);
    const pending = cr.metadata.annotations?.[CUTOVER_REQUEST_ANNOTATION];
    if (attempt === 0 && pending && pending !== cr.status?.traffic?.cutover?.handledRequest) replaced = pending;
    const value = cutoverRequestValue(verb, now(), randomBytes(2).toString('hex'));
    try {
      await ref.client.request('PATCH', pathOf(ref), {
        body: { metadata: { resourceVersion: cr.metadata.resourceVersion, annotations: { [CUTOVER_REQUEST_ANNOTATION]: value } } },
        contentType: PATCH.merge,
        query: { fieldManager: FIELD_MANAGER },
      });
      return { cr, value, replaced };
    } catch (err) {
      if (!isConflict(err) || attempt >= 4) throw err;
    }
  }
}
