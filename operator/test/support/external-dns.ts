import { join } from 'node:path';
import { externalDnsBinary, freePort, logTail, type Server, startServer, waitUntil } from '@reservations/testkit';
import type { KubeClient } from '../../src/kube/client.ts';
import { RESOURCE_TYPES, resourcePath } from '../../src/kube/resources.ts';
import { metric } from './operator-process.ts';

export interface ExternalDnsOptions {
  /** Where its log goes (a run directory of the test's). */
  dir: string;
  kubeconfig: string;
  /** Route53's endpoint for its AWS SDK (AWS_ENDPOINT_URL_ROUTE_53): the test's stand-in in front of moto. */
  route53: string;
  zone: { id: string; name: string };
  /** --txt-owner-id: who its TXT registry says owns what it writes. */
  ownerId: string;
  /** The namespace whose Services it turns into records. */
  namespace: string;
  /** --interval, in ms. */
  intervalMs: number;
  /** Its AWS SDK's app id (AWS_SDK_UA_APP_ID, in its user agent): the stand-in's `calledBy` tells its calls from others'. */
  appId?: string;
}

export interface ExternalDns {
  server: Server;
  /** Its metrics endpoint (read with `metric`). */
  admin: string;
  /** Syncs it has finished finding nothing to change (external_dns_controller_no_op_runs_total). */
  noOpRuns(): Promise<number>;
  log(): string;
  stop(): Promise<void>;
}

/**
 * The real ExternalDNS (built by the harness) as a cluster runs it for other apps: the Service
 * source, the AWS provider, the TXT registry under its own owner id and `--policy=sync` (it
 * deletes what it owns and no longer wants), confined to the test's zone and namespace.
 */
export async function startExternalDns(options: ExternalDnsOptions, logName = 'external-dns'): Promise<ExternalDns> {
  const port = await freePort();
  const admin = `http://127.0.0.1:${port}`;
  const logFile = join(options.dir, `${logName}.log`);
  const aws = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('AWS_'))) as Record<string, string>;
  const server = startServer(
    logName,
    externalDnsBinary(),
    [
      '--source=service',
      `--namespace=${options.namespace}`,
      '--provider=aws',
      `--domain-filter=${options.zone.name}`,
      `--zone-id-filter=${options.zone.id}`,
      '--registry=txt',
      `--txt-owner-id=${options.ownerId}`,
      '--policy=sync',
      `--interval=${options.intervalMs}ms`,
      `--kubeconfig=${options.kubeconfig}`,
      `--metrics-address=127.0.0.1:${port}`,
      '--log-level=debug',
    ],
    // Nothing from ~/.aws: the harness's keys and region, and the stand-in's endpoint (aws-sdk-go-v2 reads it).
    {
      logFile,
      env: {
        PATH: process.env.PATH,
        HOME: options.dir,
        ...aws,
        AWS_ENDPOINT_URL_ROUTE_53: options.route53,
        ...(options.appId ? { AWS_SDK_UA_APP_ID: options.appId } : {}),
      },
    },
  );
  const noOpRuns = async () => (await metric({ admin }, 'external_dns_controller_no_op_runs_total')) ?? 0;
  await waitUntil(
    'ExternalDNS serving its metrics',
    async () => {
      if (server.hasExited()) throw new Error(`ExternalDNS exited: ${logTail(logFile)}`);
      await noOpRuns();
      return true;
    },
    { timeoutMs: 30_000 },
  );
  return { server, admin, noOpRuns, log: () => logTail(logFile, 200), stop: () => server.stop() };
}

/**
 * Another app's Service of type LoadBalancer, which ExternalDNS turns into records, with the load
 * balancer's hostname set in its status as its controller would (none runs here).
 */
export async function createLoadBalancerService(
  kube: KubeClient,
  namespace: string,
  name: string,
  annotations: Record<string, string>,
  lbHostname: string,
): Promise<void> {
  const path = resourcePath(RESOURCE_TYPES.Service, namespace, name);
  await kube.request('POST', resourcePath(RESOURCE_TYPES.Service, namespace), {
    body: {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, annotations },
      spec: { type: 'LoadBalancer', selector: { app: name }, ports: [{ port: 80, targetPort: 8080 }] },
    },
  });
  const live = await kube.request<Record<string, unknown>>('GET', path);
  await kube.request('PUT', `${path}/status`, { body: { ...live, status: { loadBalancer: { ingress: [{ hostname: lbHostname }] } } } });
}
