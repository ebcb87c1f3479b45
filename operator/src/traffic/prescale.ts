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
  settings: Prescale,
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
