import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ApiextensionsV1Api, AppsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, VersionApi } from '@kubernetes/client-node';
import { harnessEnv } from '../src/env.ts';
import { KUBERNETES_VERSION } from '../src/harness/go-tools.ts';
import { KWOK_NODE } from '../src/harness/kube.ts';
import { waitUntil } from '../src/poll.ts';

const kc = new KubeConfig();
kc.loadFromFile(harnessEnv('KUBECONFIG'));
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const crds = kc.makeApiClient(ApiextensionsV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const namespace = `harness-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  // Pods need the namespace's default ServiceAccount, which the controller manager creates.
  await waitUntil('default ServiceAccount', async () => Boolean(await core.readNamespacedServiceAccount({ name: 'default', namespace })));
});
afterAll(() => core.deleteNamespace({ name: namespace }));

describe('the local control plane', () => {
  // An existing cluster (HARNESS_KUBECONFIG) runs whatever version it runs.
  (process.env.HARNESS_KUBECONFIG ? it.skip : it)('serves the pinned Kubernetes version', async () => {
    const version = await kc.makeApiClient(VersionApi).getCode();
    expect(version.gitVersion).toBe(KUBERNETES_VERSION);
  });

  it('installs a CRD, then creates and lists a custom object', async () => {
    const group = 'harness.reservations.dev';
    await crds.createCustomResourceDefinition({
      body: {
        metadata: { name: `probes.${group}` },
        spec: {
          group,
          scope: 'Namespaced',
          names: { plural: 'probes', singular: 'probe', kind: 'Probe' },
          versions: [
            {
              name: 'v1',
              served: true,
              storage: true,
              schema: {
                openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { size: { type: 'integer' } } } } },
              },
            },
          ],
        },
      },
    });
    await waitUntil('CRD established', async () => {
      const crd = await crds.readCustomResourceDefinition({ name: `probes.${group}` });
      return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ?? false;
    });
    const ref = { group, version: 'v1', namespace, plural: 'probes' };
    await custom.createNamespacedCustomObject({
      ...ref,
      body: { apiVersion: `${group}/v1`, kind: 'Probe', metadata: { name: 'one' }, spec: { size: 3 } },
    });
    const list = (await custom.listNamespacedCustomObject(ref)) as { items: { metadata: { name: string }; spec: { size: number } }[] };
    expect(list.items.map((i) => [i.metadata.name, i.spec.size])).toEqual([['one', 3]]);
  });

  it('runs a Deployment to available replicas on the kwok node', async () => {
    const labels = { app: 'probe' };
    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'probe' },
        spec: {
          replicas: 2,
          selector: { matchLabels: labels },
          template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'registry.invalid/probe:1' }] } },
        },
      },
    });
    await waitUntil(
      'Deployment available',
      async () => (await apps.readNamespacedDeployment({ name: 'probe', namespace })).status?.availableReplicas === 2,
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    const pods = await core.listNamespacedPod({ namespace, labelSelector: 'app=probe' });
    expect(pods.items.map((p) => [p.spec?.nodeName, p.status?.phase])).toEqual([
      [KWOK_NODE, 'Running'],
      [KWOK_NODE, 'Running'],
    ]);
  });
});
