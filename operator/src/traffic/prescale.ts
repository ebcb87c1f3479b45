import type { Prescale, ReservationSpec, ReservationStatus, ServiceName } from '../api/v1alpha1/reservation.ts';
import { SERVICES } from '../desired/metadata.ts';

/**
 * Capacity around a cutover (pure). Raising this cluster's share sends it load its autoscalers
 * have not seen yet, and they react only after CPU has risen, a minute or more late. So before a
 * share rises the operator raises the HPAs' minReplicas (a floor in status.traffic.minReplicas,
 * which the HPA builder reads) to carry that share of the current total load, and waits until
 * the pods are available. The peer, whose weight a cutover writes, holds its replicas as they were
 * until the cutover hands its record back, so an abort can always shift traffic back onto it.
 */

/** The HTTP services: their load is requests. The notifier scales on its queue and is left to its HPA. */
export const PRESCALED = ['reservationApi', 'queryApi'] as const satisfies readonly ServiceName[];
export type PrescaledService = (typeof PRESCALED)[number];

export type Floors = Partial<Record<ServiceName, number>>;

/**
 * The pods each HTTP service needs for `share` % of `rates` (requests per second, both clusters
 * together) plus headroom, within the spec's replica bounds.
 */
export function prescaleFloors(
  services: ReservationSpec['services'],
  prescale: Pick<Prescale, 'requestsPerPod' | 'headroomPercent'>,
  rates: Readonly<Record<PrescaledService, number>>,
  share: number,
): Floors {
  const floors: Floors = {};
  for (const name of PRESCALED) {
    const load = (rates[name] * share * (100 + prescale.headroomPercent)) / 100 / 100;
    const pods = Math.ceil(load / prescale.requestsPerPod[name] - 1e-9);
    const { min, max } = services[name].replicas;
    floors[name] = Math.min(max, Math.max(min, pods));
  }
  return floors;
}

/** The larger floor of each service. */
export function maxFloors(a: Floors | undefined, b: Floors): Floors {
  const out: Floors = { ...a };
  for (const [name, floor] of Object.entries(b) as [ServiceName, number][]) out[name] = Math.max(out[name] ?? 0, floor);
  return out;
}

/** The services whose available pods are still below their floor, e.g. `query-api 2/4 available`. */
export function capacityShortfall(floors: Floors, services: ReservationStatus['services']): string[] {
  return (Object.entries(floors) as [ServiceName, number][])
    .filter(([name, floor]) => (services?.[name]?.available ?? 0) < floor)
    .map(([name, floor]) => `${SERVICES[name].component} ${services?.[name]?.available ?? 0}/${floor} available`);
}

/** Floors that keep this cluster as it is: the replicas each service's autoscaler asks for now. */
export function warmFloors(services: ReservationStatus['services']): Floors {
  const floors: Floors = {};
  for (const [name, s] of Object.entries(services ?? {}) as [ServiceName, { desired: number }][]) floors[name] = s.desired;
  return floors;
}

/**
 * The current request rate of each HTTP service from the pre-scaling Prometheus query. `query`
 * throws when it has no number (an empty answer, NaN): the cutover then waits rather than
 * pre-scale for a load it cannot see.
 */
export async function prescaleRates(
  settings: { prometheus: Pick<Prescale['prometheus'], 'url' | 'query'> },
  query: (url: string, promql: string) => Promise<number>,
): Promise<Record<PrescaledService, number>> {
  const entries = await Promise.all(
    PRESCALED.map(
      async (name) =>
        [
          name,
          await query(settings.prometheus.url, settings.prometheus.query.replaceAll('{{service}}', SERVICES[name].component)),
        ] as const,
    ),
  );
  return Object.fromEntries(entries) as Record<PrescaledService, number>;
}

/** The peer's ready-pods query for one service, its placeholders filled in. */
export function peerReadyQuery(query: string, vars: { peer: string; namespace: string; name: string; service: PrescaledService }): string {
  const component = SERVICES[vars.service].component;
  return query
    .replaceAll('{{peer}}', vars.peer)
    .replaceAll('{{namespace}}', vars.namespace)
    .replaceAll('{{deployment}}', `${vars.name}-${component}`)
    .replaceAll('{{service}}', component);
}

/** The ready pods each HTTP service of the peer has, as Prometheus counts them. */
export type ReadyPods = Partial<Record<PrescaledService, number>>;

/** The services whose ready pods are below what they need, e.g. `query-api 4 ready of 12`. */
export function takeBackShortfall(needed: Floors, ready: ReadyPods): string[] {
  return PRESCALED.filter((name) => (ready[name] ?? 0) < (needed[name] ?? 0)).map(
    (name) => `${SERVICES[name].component} ${ready[name] ?? 0} ready of ${needed[name]}`,
  );
}

/**
 * Floors asked of the peer through its ownership TXT (a label value of ExternalDNS's format: no
 * comma, no equals sign): `reservation-api:6;query-api:12`.
 */
export function encodeFloors(floors: Floors): string {
  return (Object.entries(floors) as [ServiceName, number][])
    .filter(([name]) => SERVICES[name])
    .map(([name, n]) => `${SERVICES[name].component}:${n}`)
    .join(';');
}

/** Floors as people read them: `reservation-api 6, query-api 12`. */
export function describeFloors(floors: Floors): string {
  return (Object.entries(floors) as [ServiceName, number][]).map(([name, n]) => `${SERVICES[name].component} ${n}`).join(', ');
}

/** The most replicas a TXT label may ask of a service: the peer clamps to its own replicas.max anyway. */
const MAX_ASKED = 1000;

/** The floors a TXT label asks for; anything else in it (another writer's, a hand edit) is ignored. */
export function decodeFloors(value: string | undefined): Floors {
  const floors: Floors = {};
  for (const part of (value ?? '').split(';')) {
    const [component, count] = part.split(':');
    const name = (Object.keys(SERVICES) as ServiceName[]).find((n) => SERVICES[n].component === component);
    const n = Number(count);
    if (name && /^\d{1,4}$/.test(count ?? '') && n >= 1) floors[name] = Math.min(n, MAX_ASKED);
  }
  return floors;
}
