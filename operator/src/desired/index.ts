import type { Reservation } from '../api/v1alpha1/reservation.ts';
import type { KubeObject } from '../kube/resources.ts';
import { edge } from './edge.ts';
import { workloads } from './workloads.ts';

/** Every object a Reservation stands for in its namespace, built from the spec alone. */
export function desiredObjects(cr: Reservation): KubeObject[] {
  return [...workloads(cr), ...edge(cr)];
}
export { ADMIN_PORT, API_PORT, objectName, SERVICES } from './metadata.ts';
export { configMap, deployment } from './workloads.ts';
