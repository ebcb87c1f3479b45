import { join } from 'node:path';
import { applyCrdFiles, testKubeConfig } from '../../../operator/test/support/kube.ts';
import { prometheusOperatorCrds } from '../../../scripts/harness/go-tools.ts';
import { harnessEnv } from '../../../scripts/harness/test/env.ts';
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

/** Server-side dry-run apply of rendered manifests: the API server validates all of it, stores nothing. */
export async function dryRunApply(yaml: string, namespace: string): Promise<{ code: number; output: string }> {
  const r = await kubectl(
    adminKubeconfig(),
    ['apply', '--server-side', '--dry-run=server', '--field-manager=chart-tests', '-n', namespace, '-f', '-'],
    yaml,
  );
  return { code: r.code, output: `${r.stdout}${r.stderr}` };
}
