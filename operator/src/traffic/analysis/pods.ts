import { ADMIN_PORT, MANAGED_BY, SERVICES } from '../../desired/metadata.ts';
import type { KubeClient } from '../../kube/client.ts';
import { RESOURCE_TYPES, resourcePath } from '../../kube/resources.ts';

/** A pod's `/metrics` to scrape. `key` tells pods apart across scrapes (the pod's UID). */
export interface ScrapeTarget {
  key: string;
  /** The pod's name, for messages. */
  pod: string;
  url: string;
}

export interface ReservationRef {
  namespace: string;
  name: string;
}

interface Pod {
  metadata: { name: string; uid?: string; deletionTimestamp?: string };
  spec?: { containers?: Array<{ ports?: Array<{ name?: string; containerPort: number }> }> };
  status?: { phase?: string; podIP?: string; conditions?: Array<{ type: string; status: string }> };
}

/** The label selector of the pods of a Reservation's three Deployments (desired/workloads.ts). */
export function podSelector(name: string): string {
  const components = Object.values(SERVICES).map((s) => s.component);
  return [
    `app.kubernetes.io/instance=${name}`,
    `app.kubernetes.io/name in (${components.join(',')})`,
    `app.kubernetes.io/managed-by=${MANAGED_BY}`,
  ].join(',');
}

/**
 * The admin `/metrics` of every Ready pod of the Reservation's services, read from the API
 * server (one list; pods are not in the operator's informer caches). A pod that is not Ready gets
 * no traffic from its Service, and one being deleted is leaving; neither is scraped.
 */
export async function listScrapeTargets(
  kube: KubeClient,
  { namespace, name }: ReservationRef,
  signal?: AbortSignal,
): Promise<ScrapeTarget[]> {
  const list = await kube.request<{ items: Pod[] }>('GET', resourcePath(RESOURCE_TYPES.Pod, namespace), {
    query: { labelSelector: podSelector(name) },
    ...(signal ? { signal } : {}),
  });
  return list.items.filter(isScrapable).map((pod) => scrapeTarget(pod, namespace));
}

export function isScrapable(pod: Pod): boolean {
  return (
    !pod.metadata.deletionTimestamp &&
    pod.status?.phase === 'Running' &&
    Boolean(pod.status.podIP) &&
    (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
  );
}

function scrapeTarget(pod: Pod, namespace: string): ScrapeTarget {
  const port = pod.spec?.containers?.flatMap((c) => c.ports ?? []).find((p) => p.name === 'admin')?.containerPort ?? ADMIN_PORT;
  const ip = pod.status?.podIP as string;
  const host = ip.includes(':') ? `[${ip}]` : ip;
  return { key: pod.metadata.uid ?? `${namespace}/${pod.metadata.name}`, pod: pod.metadata.name, url: `http://${host}:${port}/metrics` };
}
