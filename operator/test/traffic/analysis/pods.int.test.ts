import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { waitUntil } from '@reservations/testkit';
import { createKubeClient, type KubeClient, PATCH } from '../../../src/kube/client.ts';
import { RESOURCE_TYPES, resourcePath } from '../../../src/kube/resources.ts';
import { listScrapeTargets } from '../../../src/traffic/analysis/pods.ts';
import { createTestNamespace, testKubeConfig } from '../../support/kube.ts';

/**
 * Which pods the metrics source scrapes, listed from the real API server; kwok plays the
 * kubelet, so scheduled pods turn Running and Ready with an IP. (The IPs are kwok's fake ones:
 * nothing here connects to them; scraping is metrics-source.int.test.ts.)
 */

let kube: KubeClient;
let namespace: string;

const pod = (
  name: string,
  labels: Record<string, string>,
  extra: { adminPort?: number; nodeSelector?: Record<string, string>; finalizers?: string[] } = {},
) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace, labels, ...(extra.finalizers ? { finalizers: extra.finalizers } : {}) },
  spec: {
    containers: [
      {
        name: 'app',
        image: 'registry.example.com/reservations/query-api:1.4.2',
        ports: [{ name: 'http', containerPort: 3000 }, ...(extra.adminPort ? [{ name: 'admin', containerPort: extra.adminPort }] : [])],
      },
    ],
    ...(extra.nodeSelector ? { nodeSelector: extra.nodeSelector } : {}),
  },
});
const labels = (instance: string, service: string) => ({
  'app.kubernetes.io/instance': instance,
  'app.kubernetes.io/name': service,
  'app.kubernetes.io/managed-by': 'reservation-operator',
});
const podPath = (name?: string) => resourcePath(RESOURCE_TYPES.Pod, namespace, name);

beforeAll(async () => {
  const kc = testKubeConfig();
  kube = createKubeClient(kc);
  namespace = await createTestNamespace(kc, 'analysis-pods');
  const pods = [
    pod('booking-query-api-7d9c5b8f4-aaaaa', labels('booking', 'query-api'), { adminPort: 9090 }),
    pod('booking-notifier-5f6b7c8d9-bbbbb', labels('booking', 'notifier'), { adminPort: 9191 }),
    pod('booking-reservation-api-6c7d8e9f1-ccccc', labels('booking', 'reservation-api')), // no port named admin: the default 9090
    pod('other-query-api-7d9c5b8f4-ddddd', labels('other', 'query-api'), { adminPort: 9090 }), // another Reservation
    pod('booking-debug', { ...labels('booking', 'debug-shell') }, { adminPort: 9090 }), // not one of the services
    pod('booking-query-api-7d9c5b8f4-eeeee', labels('booking', 'query-api'), { adminPort: 9090, nodeSelector: { nowhere: 'true' } }), // Pending
    pod('booking-query-api-7d9c5b8f4-fffff', labels('booking', 'query-api'), { adminPort: 9090, finalizers: ['example.com/hold'] }), // leaving
  ];
  for (const p of pods) await kube.request('POST', podPath(), { body: p });
  const running = async (name: string) =>
    (await kube.request<{ status?: { phase?: string; podIP?: string } }>('GET', podPath(name))).status?.podIP !== undefined;
  await waitUntil(
    'kwok runs the pods',
    async () => (await running('booking-query-api-7d9c5b8f4-fffff')) && (await running('booking-reservation-api-6c7d8e9f1-ccccc')),
    {
      timeoutMs: 60_000,
      intervalMs: 250,
    },
  );
  await kube.request('DELETE', podPath('booking-query-api-7d9c5b8f4-fffff'));
}, 90_000);

afterAll(async () => {
  await kube
    ?.request('PATCH', podPath('booking-query-api-7d9c5b8f4-fffff'), { body: { metadata: { finalizers: null } }, contentType: PATCH.merge })
    .catch(() => {});
});

it("lists the admin /metrics of the Reservation's Ready service pods, and no others", async () => {
  const booking = { namespace, name: 'booking' };
  let targets: Awaited<ReturnType<typeof listScrapeTargets>> = [];
  await waitUntil(
    'three Ready pods',
    async () => {
      targets = await listScrapeTargets(kube, booking);
      return targets.length >= 3;
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );
  const pods = await kube.request<{ items: Array<{ metadata: { name: string; uid: string }; status: { podIP: string } }> }>(
    'GET',
    podPath(),
  );
  const expected = (name: string, port: number) => {
    const p = pods.items.find((i) => i.metadata.name === name);
    return { key: p?.metadata.uid, pod: name, url: `http://${p?.status.podIP}:${port}/metrics` };
  };
  expect(targets.sort((a, b) => a.pod.localeCompare(b.pod))).toEqual([
    expected('booking-notifier-5f6b7c8d9-bbbbb', 9191),
    expected('booking-query-api-7d9c5b8f4-aaaaa', 9090),
    expected('booking-reservation-api-6c7d8e9f1-ccccc', 9090),
  ]);
});
