/**
 * A busy neighbour on the hosted zone, as most EKS clusters have one: the real ExternalDNS of a
 * cluster (its own owner id, the TXT registry, `--policy=sync`) making records for other apps'
 * Services in the same zone as the operators' weighted name, through the same Route53 stand-in,
 * so it spends the account's one request budget beside the operators. Busy: it syncs every
 * `intervalMs`, and the apps' Services come and go (one made every `churnMs`, deleted `churnMs`
 * later), so it creates and deletes records all along.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { KubeClient } from '@reservations/operator/kube';
import { RESOURCE_TYPES, resourcePath } from '@reservations/operator/kube';
import { createLoadBalancerService, type ExternalDns, startExternalDns } from '@reservations/operator/testing';

/** The namespace of the other apps whose Services the neighbour turns into records. */
export const APPS_NAMESPACE = 'apps';

export interface NeighbourOptions {
  stack: string;
  kc: KubeConfig;
  kube: KubeClient;
  kubeconfig: string;
  /** Where its log goes. */
  dir: string;
  zone: { id: string; name: string };
  /** The Route53 stand-in's URL. */
  route53: string;
  intervalMs: number;
  churnMs: number;
  progress: (message: string) => void;
}

export interface Neighbour {
  /** Its owner id, also its AWS SDK's app id: the stand-in's `calledBy(call, appId)` picks its calls. */
  appId: string;
  externalDns: ExternalDns;
  /** Services made so far (each a record ExternalDNS made, and deletes once the Service is gone). */
  servicesMade(): number;
  stop(): Promise<void>;
}

export async function startExternalDnsNeighbour(o: NeighbourOptions): Promise<Neighbour> {
  const appId = `external-dns-${o.stack}`;
  await o.kc
    .makeApiClient(CoreV1Api)
    .createNamespace({ body: { metadata: { name: APPS_NAMESPACE } } })
    .catch((err: unknown) => {
      if ((err as { code?: number }).code !== 409) throw err; // an existing cluster may have it already
    });
  const host = (name: string) => `${name}-${o.stack}.${o.zone.name}`;
  // One app that stays: its record lives through the whole run.
  await createLoadBalancerService(o.kube, APPS_NAMESPACE, 'shop', { 'external-dns.kubernetes.io/hostname': host('shop') }, 'shop.lb.local');
  const externalDns = await startExternalDns(
    {
      dir: o.dir,
      kubeconfig: o.kubeconfig,
      route53: o.route53,
      zone: o.zone,
      ownerId: appId,
      namespace: APPS_NAMESPACE,
      intervalMs: o.intervalMs,
      appId,
    },
    `${o.stack}-external-dns`,
  );
  let stopped = false;
  let made = 0;
  const churn = (async () => {
    for (let i = 0; !stopped; i++) {
      const name = `churn-${i}`;
      try {
        await createLoadBalancerService(
          o.kube,
          APPS_NAMESPACE,
          name,
          { 'external-dns.kubernetes.io/hostname': host(name) },
          `${name}.lb.local`,
        );
        made += 1;
        await sleep(o.churnMs);
        await o.kube.request('DELETE', resourcePath(RESOURCE_TYPES.Service, APPS_NAMESPACE, name));
      } catch (err) {
        if (!stopped) o.progress(`${appId}'s apps: ${(err as Error).message}`);
      }
    }
  })();
  return {
    appId,
    externalDns,
    servicesMade: () => made,
    stop: async () => {
      stopped = true;
      await Promise.race([churn, sleep(o.churnMs + 5000)]);
      await externalDns.stop();
    },
  };
}
