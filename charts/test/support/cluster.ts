import { join } from 'node:path';
import type { KubeObject } from '@reservations/operator/kube';
import { applyCrdFiles, testKubeConfig } from '@reservations/operator/testing';
import { harnessEnv, prometheusOperatorCrds } from '@reservations/testkit';
import { kubectl, OPERATOR_CHART } from './charts.ts';

export const adminKubeconfig = () => harnessEnv('KUBECONFIG');

/**
 * Installs what an SRE's cluster would have before these charts: the operator chart's own CRDs
 * (helm installs crds/ first) and the Prometheus Operator's, for the ServiceMonitor and
 * PrometheusRule the chart can render.
 */
export async function installChartCrds(): Promise<void> {
  const own = join(OPERATOR_CHART, 'crds', 'platform.reservations.dev_reservations.yaml');
  await applyCrdFiles(testKubeConfig(), [own, ...(await prometheusOperatorCrds())]);
}

/**
 * Server-side dry-run apply of rendered manifests: the API server validates, defaults and admits
 * all of it, stores nothing, and returns the objects as they would be stored.
 */
export async function dryRunApply(yaml: string, namespace: string): Promise<{ code: number; error: string; objects: KubeObject[] }> {
  const r = await kubectl(
    adminKubeconfig(),
    ['apply', '--server-side', '--dry-run=server', '--field-manager=chart-tests', '-n', namespace, '-o', 'json', '-f', '-'],
    yaml,
  );
  if (r.code !== 0) return { code: r.code, error: r.stderr, objects: [] };
  const out = JSON.parse(r.stdout) as KubeObject & { items?: KubeObject[] };
  return { code: 0, error: r.stderr, objects: out.kind === 'List' ? (out.items ?? []) : [out] };
}
