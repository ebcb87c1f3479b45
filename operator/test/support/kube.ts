import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiException, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { gatewayApiCrds, harnessEnv, waitUntil } from '@reservations/testkit';
import { parse } from 'yaml';
import { createKubeClient, KubeApiError } from '../../src/kube/client.ts';
import { type KubeObject, RESOURCE_TYPES, resourcePath } from '../../src/kube/resources.ts';

const crdDir = join(import.meta.dirname, '..', '..', '..', 'crds');

/** The harness cluster's admin kubeconfig. */
export function testKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(harnessEnv('KUBECONFIG'));
  return kc;
}

/** A namespace of its own for a test file (the harness cluster is shared by the whole run). */
export async function createTestNamespace(kc: KubeConfig, prefix: string): Promise<string> {
  const name = `${prefix}-${randomUUID().slice(0, 8)}`;
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name } } });
  return name;
}

/**
 * Installs the CRDs from crds/ (as an SRE would), and the Gateway API's when asked, and waits
 * until they are served.
 */
export async function installCrds(kc: KubeConfig, { gatewayApi = false } = {}): Promise<void> {
  const files = readdirSync(crdDir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => join(crdDir, f));
  if (gatewayApi) files.push(...(await gatewayApiCrds()));
  await applyCrdFiles(kc, files);
}

/** Applies CRD files (server-side: big CRDs overflow client-side apply's annotation) and waits until each is served. */
export async function applyCrdFiles(kc: KubeConfig, files: readonly string[]): Promise<void> {
  await applyCrds(
    kc,
    files.map((file) => parse(readFileSync(file, 'utf8')) as KubeObject),
  );
}

/** Applies CRDs server-side and waits until each is established. */
export async function applyCrds(kc: KubeConfig, crds: readonly KubeObject[]): Promise<void> {
  const client = createKubeClient(kc);
  for (const crd of crds) {
    await client.apply(crd, 'reservation-tests');
    const path = resourcePath(RESOURCE_TYPES.CustomResourceDefinition, undefined, crd.metadata.name);
    await waitUntil(`CRD ${crd.metadata.name} established`, async () => {
      const live = await client.request<{ status?: { conditions?: { type: string; status: string }[] } }>('GET', path);
      return live.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ?? false;
    });
  }
}

/** The message of the Status an API call was refused with. */
export function apiErrorMessage(err: unknown): string {
  if (err instanceof KubeApiError) return err.message;
  if (err instanceof ApiException) {
    try {
      return String((JSON.parse(String(err.body)) as { message?: string }).message);
    } catch {
      return String(err.body);
    }
  }
  return err instanceof Error ? err.message : String(err);
}
