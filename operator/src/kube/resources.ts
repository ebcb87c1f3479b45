import { API_VERSION, KIND as RESERVATION_KIND, PLURAL as RESERVATION_PLURAL } from '../api/v1alpha1/reservation.ts';

/** A Kubernetes object as JSON, exactly as the API server sends and takes it. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: OwnerReference[];
    finalizers?: string[];
    deletionTimestamp?: string;
    creationTimestamp?: string;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ResourceType {
  apiVersion: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

const type = (apiVersion: string, kind: string, plural: string, namespaced = true): ResourceType => ({
  apiVersion,
  kind,
  plural,
  namespaced,
});

/**
 * Every kind the operator reads or writes, with its REST name. A fixed table instead of
 * discovery: no extra requests, and the RBAC rules can be read off this list.
 */
export const RESOURCE_TYPES = {
  Reservation: type(API_VERSION, RESERVATION_KIND, RESERVATION_PLURAL),
  ConfigMap: type('v1', 'ConfigMap', 'configmaps'),
  ServiceAccount: type('v1', 'ServiceAccount', 'serviceaccounts'),
  Service: type('v1', 'Service', 'services'),
  Event: type('v1', 'Event', 'events'),
  Pod: type('v1', 'Pod', 'pods'),
  Deployment: type('apps/v1', 'Deployment', 'deployments'),
  HorizontalPodAutoscaler: type('autoscaling/v2', 'HorizontalPodAutoscaler', 'horizontalpodautoscalers'),
  PodDisruptionBudget: type('policy/v1', 'PodDisruptionBudget', 'poddisruptionbudgets'),
  Ingress: type('networking.k8s.io/v1', 'Ingress', 'ingresses'),
  HTTPRoute: type('gateway.networking.k8s.io/v1', 'HTTPRoute', 'httproutes'),
  Gateway: type('gateway.networking.k8s.io/v1', 'Gateway', 'gateways'),
  Lease: type('coordination.k8s.io/v1', 'Lease', 'leases'),
  Namespace: type('v1', 'Namespace', 'namespaces', false),
  CustomResourceDefinition: type('apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'customresourcedefinitions', false),
} as const;

export type KindName = keyof typeof RESOURCE_TYPES;

export function resourceTypeOf(obj: Pick<KubeObject, 'apiVersion' | 'kind'>): ResourceType {
  const found = Object.values(RESOURCE_TYPES).find((t) => t.apiVersion === obj.apiVersion && t.kind === obj.kind);
  if (!found) throw new Error(`the operator does not manage ${obj.apiVersion} ${obj.kind}`);
  return found;
}

/** The REST path of a collection (no name) or of one object. */
export function resourcePath(t: ResourceType, namespace?: string, name?: string): string {
  const root = t.apiVersion.includes('/') ? `/apis/${t.apiVersion}` : `/api/${t.apiVersion}`;
  const ns = t.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${root}${ns}/${t.plural}${name ? `/${encodeURIComponent(name)}` : ''}`;
}
