import { createHash } from 'node:crypto';
import { API_VERSION, KIND, type Reservation, SERVICE_COMPONENTS, type ServiceName } from '../api/v1alpha1/reservation.ts';
import type { KubeObject, OwnerReference } from '../kube/resources.ts';

/** The field manager of every write the operator makes (server-side apply). */
export const FIELD_MANAGER = 'reservation-operator';
export const MANAGED_BY = 'reservation-operator';
/** Selects everything the operator made, for its informers. */
export const MANAGED_SELECTOR = `app.kubernetes.io/managed-by=${MANAGED_BY}`;

/** Each service's name in Kubernetes and in images, and what it needs from the backends. */
export const SERVICES: Record<ServiceName, { component: string; needs: readonly Backend[] }> = {
  // reservation-api runs the outbox relay, which sends to the queue (SQS_QUEUE_URL, from the ConfigMap).
  reservationApi: { component: SERVICE_COMPONENTS.reservationApi, needs: ['mysqlPrimary', 'redis', 'jwt', 'sqs', 'signing'] },
  queryApi: { component: SERVICE_COMPONENTS.queryApi, needs: ['mysqlReplica', 'mysqlPrimary', 'redis', 'jwt', 'signing'] },
  // The notifier rings its SSE streams across replicas through Redis pub/sub, and reads a far-behind stream's pages from the replica.
  // It alone holds the keys that open the webhook secrets it keeps in MySQL.
  notifier: { component: SERVICE_COMPONENTS.notifier, needs: ['mysqlPrimary', 'mysqlReplica', 'redis', 'sqs', 'jwt', 'webhookSecrets'] },
};
export type Backend = 'mysqlPrimary' | 'mysqlReplica' | 'redis' | 'sqs' | 'jwt' | 'signing' | 'webhookSecrets';

export const API_PORT = 3000;
export const ADMIN_PORT = 9090;

/** Names that must be DNS labels (RFC 1035, as Services are) and label values are at most this long. */
export const DNS_LABEL_MAX = 63;

/**
 * The longest Reservation name whose objects all fit: the longest derived name is a Service,
 * `<name>-<component>`, and the name itself is the app.kubernetes.io/instance label value (every
 * other derived name is a DNS subdomain, 253 characters).
 */
export const MAX_NAME_LENGTH = DNS_LABEL_MAX - Math.max(...Object.values(SERVICES).map((s) => `-${s.component}`.length));

export function objectName(cr: { metadata: Pick<Reservation['metadata'], 'name'> }, service?: ServiceName): string {
  return service ? `${cr.metadata.name}-${SERVICES[service].component}` : cr.metadata.name;
}

export function selectorLabels(cr: Reservation, service: ServiceName): Record<string, string> {
  return { 'app.kubernetes.io/name': SERVICES[service].component, 'app.kubernetes.io/instance': cr.metadata.name };
}

export function commonLabels(cr: Reservation, service?: ServiceName): Record<string, string> {
  return {
    ...(service ? selectorLabels(cr, service) : { 'app.kubernetes.io/instance': cr.metadata.name }),
    'app.kubernetes.io/part-of': 'reservation-platform',
    'app.kubernetes.io/managed-by': MANAGED_BY,
  };
}

export function ownerReference(cr: Reservation): OwnerReference {
  return { apiVersion: API_VERSION, kind: KIND, name: cr.metadata.name, uid: cr.metadata.uid, controller: true, blockOwnerDeletion: true };
}

/** metadata for an object the Reservation owns: deleting the Reservation deletes it (GC). */
export function ownedMetadata(cr: Reservation, name: string, service?: ServiceName): KubeObject['metadata'] {
  return { name, namespace: cr.metadata.namespace, labels: commonLabels(cr, service), ownerReferences: [ownerReference(cr)] };
}

/** A short stable hash, to roll pods when the configuration they read changes. */
export function contentHash(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}
