import { randomBytes } from 'node:crypto';
import { CUTOVER_REQUEST_ANNOTATION, type CutoverVerb, KIND, type Reservation, TAKE_BACK_ANNOTATION } from '../api/v1alpha1/reservation.ts';
import { isConflict, isNotFound, KubeApiError, type KubeClient, PATCH } from '../kube/client.ts';
import { RESOURCE_TYPES, resourcePath } from '../kube/resources.ts';
import { cutoverRequestValue, requestError, startError } from '../traffic/verbs.ts';

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
 * The one way the plugin writes a Reservation: read it, let `decide` check the request against
 * what it reads (a refusal throws), then merge-patch carrying that resourceVersion. If the
 * operator moved the Reservation on in between, the API server answers 409 Conflict and the
 * check runs again on the new state, so a click never meets a race it did not cause.
 */
async function patchChecked<T>(
  ref: ReservationRef,
  decide: (cr: Reservation, attempt: number) => { patch: Record<string, unknown>; result: T },
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const cr = await readReservation(ref);
    const { patch, result } = decide(cr, attempt);
    const metadata = { ...(patch.metadata as Record<string, unknown> | undefined), resourceVersion: cr.metadata.resourceVersion };
    try {
      await ref.client.request('PATCH', pathOf(ref), {
        body: { ...patch, metadata },
        contentType: PATCH.merge,
        query: { fieldManager: FIELD_MANAGER },
      });
      return result;
    } catch (err) {
      if (!isConflict(err) || attempt >= CONFLICT_RETRIES) throw err;
    }
  }
}

/** Conflicts in a row before the API server's 409 reaches the user: each means the operator wrote meanwhile. */
const CONFLICT_RETRIES = 8;

/**
 * Checks the verb against the Reservation as read (verbs.ts's rules: a refusal throws a
 * SteerError of kind `refused` with the reason), then sets the annotation.
 */
export function requestVerb(ref: ReservationRef, verb: CutoverVerb, now: () => Date = () => new Date()): Promise<VerbRequest> {
  let replaced: string | undefined;
  return patchChecked(ref, (cr, attempt) => {
    const refused = requestError(cr, verb);
    if (refused) throw new SteerError('refused', `cannot ${verb} ${ref.namespace}/${ref.name}: ${refused}`);
    const pending = cr.metadata.annotations?.[CUTOVER_REQUEST_ANNOTATION];
    if (attempt === 0 && pending && pending !== cr.status?.traffic?.cutover?.handledRequest) replaced = pending;
    const value = cutoverRequestValue(verb, now(), randomBytes(2).toString('hex'));
    return { patch: { metadata: { annotations: { [CUTOVER_REQUEST_ANNOTATION]: value } } }, result: { cr, value, replaced } };
  });
}

/** Sets spec.traffic.cutover to `plan` when verbs.ts's startError allows a new cutover on the Reservation as read. */
export function startCutover(ref: ReservationRef, plan: unknown, context: string): Promise<Reservation> {
  return patchChecked(ref, (cr) => {
    const refused = startError(cr);
    if (refused) throw new SteerError('refused', `cannot start a cutover on ${context}: ${refused}`);
    return { patch: { spec: { traffic: { cutover: plan } } }, result: cr };
  });
}

/**
 * Asks this cluster's operator to take its record back from the handover's writer (a peer whose
 * cluster is gone): TAKE_BACK_ANNOTATION set to the writer the status names, so the request is
 * about that writer and no other. Refused when no peer writes this cluster's weight.
 */
export function requestTakeBack(ref: ReservationRef): Promise<{ cr: Reservation; writer: string }> {
  return patchChecked(ref, (cr) => {
    const writer = cr.status?.traffic?.handover?.by;
    if (!writer) {
      throw new SteerError(
        'refused',
        `cannot take back ${ref.namespace}/${ref.name}: no peer's cutover writes its weight (status.traffic.handover is empty)`,
      );
    }
    return { patch: { metadata: { annotations: { [TAKE_BACK_ANNOTATION]: writer } } }, result: { cr, writer } };
  });
}
