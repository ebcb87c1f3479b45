import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { operatorRbac, type PolicyRule } from '@reservations/operator/rbac';
import { CHART_NODE_OPTIONS, CHART_PROCESS_ENV, createTestNamespace, testKubeConfig } from '@reservations/operator/testing';
import { harnessEnv } from '@reservations/testkit';
import { find, helm, helmTemplateResult, OPERATOR_CHART, PLATFORM_CHART, render } from './support/charts.ts';
import { dryRunApply, installChartCrds } from './support/cluster.ts';

const FULL = join(OPERATOR_CHART, 'examples', 'eks.yaml');

/** Rules in a canonical order, so the chart may group them as it likes to read well. */
const canonical = (rules: readonly PolicyRule[]) =>
  rules.map((r) => JSON.stringify([r.apiGroups, r.resources, [...(r.resourceNames ?? [])].sort(), [...r.verbs].sort()])).sort();

let namespace: string;
beforeAll(async () => {
  await installChartCrds();
  namespace = await createTestNamespace(testKubeConfig(), 'operator-chart');
});

describe('charts/reservation-operator', () => {
  it.each([
    ['the default values', []],
    ['the full example', [FULL]],
  ])('lints clean with %s', async (_what, valuesFiles) => {
    const r = await helm('lint', '--strict', OPERATOR_CHART, ...valuesFiles.flatMap((f) => ['--values', f]));
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
  });

  it.each([
    ['the default values', []],
    ['the full example', [FULL]],
  ])('renders with %s into objects the API server accepts (server-side dry-run)', async (_what, valuesFiles) => {
    const { yaml, objects } = await render(OPERATOR_CHART, { namespace, valuesFiles });
    const result = await dryRunApply(yaml, namespace);
    expect(result).toMatchObject({ code: 0, error: '' });
    expect(result.objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(objects.map((o) => `${o.kind}/${o.metadata.name}`));
  });

  it('installs with helm, tells the next command, and the platform chart installs beside it', async () => {
    const kubeconfig = ['--kubeconfig', harnessEnv('KUBECONFIG')];
    const release = `op-${namespace}`;
    const operator = await helm('install', release, OPERATOR_CHART, '-n', namespace, '--wait', '--timeout', '2m', ...kubeconfig);
    expect(operator).toMatchObject({ code: 0, stderr: '' });
    expect(operator.stdout).toContain('STATUS: deployed');
    expect(operator.stdout).toContain(`kubectl -n ${namespace} rollout status deployment/${release}-reservation-operator`);
    expect(operator.stdout).toContain('helm install booking charts/reservation-platform');
    expect(operator.stdout).toContain('No serviceAccount.roleArn is set');

    const platform = await helm(
      'install',
      'booking',
      PLATFORM_CHART,
      '-n',
      namespace,
      '--values',
      join(PLATFORM_CHART, 'examples', 'local.yaml'),
      ...kubeconfig,
    );
    expect(platform).toMatchObject({ code: 0, stderr: '' });
    expect(platform.stdout).toContain(`kubectl -n ${namespace} get rsv booking -w`);

    for (const r of ['booking', release])
      expect(await helm('uninstall', r, '-n', namespace, '--wait', ...kubeconfig)).toMatchObject({ code: 0 });
  });

  it('renders the optional monitoring objects and the IRSA annotation only when asked', async () => {
    const plain = (await render(OPERATOR_CHART, { namespace })).objects;
    expect(plain.map((o) => o.kind)).not.toEqual(expect.arrayContaining(['ServiceMonitor']));
    expect(plain.map((o) => o.kind)).not.toEqual(expect.arrayContaining(['PrometheusRule']));
    expect(find(plain, 'ServiceAccount').metadata.annotations).toBeUndefined();

    const full = (await render(OPERATOR_CHART, { namespace, valuesFiles: [FULL] })).objects;
    expect(find(full, 'ServiceAccount').metadata.annotations).toEqual({
      'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/reservation-operator-route53',
    });
    const rule = find(full, 'PrometheusRule') as unknown as { spec: { groups: { rules: { alert: string; expr: string }[] }[] } };
    const exprs = Object.fromEntries(rule.spec.groups.flatMap((g) => g.rules).map((r) => [r.alert, r.expr]));
    expect(Object.keys(exprs).sort()).toEqual([
      'ReservationCutoverAborted',
      'ReservationOperatorNoLeader',
      'ReservationOutboxLag',
      'ReservationOutboxParked',
      'ReservationReconcileErrors',
    ]);
    expect(exprs.ReservationOutboxParked).toBe('max by (namespace) (outbox_parked_rows) > 0');
    // The outbox-lag metric comes from another component: its name is a setting.
    const renamed = (
      await render(OPERATOR_CHART, { namespace, valuesFiles: [FULL], set: { 'prometheusRule.outboxLag.metric': 'relay_lag_seconds' } })
    ).objects;
    expect(JSON.stringify(find(renamed, 'PrometheusRule'))).toContain('max by (namespace) (relay_lag_seconds) > 60');
  });

  it('runs the operator as a Deployment with leader election, probes on the admin port and a locked-down pod', async () => {
    const { objects } = await render(OPERATOR_CHART, { namespace, release: 'reservation-operator' });
    const deployment = find(objects, 'Deployment') as unknown as {
      spec: { replicas: number; template: { spec: Record<string, unknown> & { containers: Record<string, unknown>[] } } };
    };
    expect(deployment.spec.replicas).toBe(2);
    const pod = deployment.spec.template.spec;
    expect(pod.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 10001,
      runAsGroup: 10001,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    const [container] = pod.containers;
    expect(container?.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(container?.env).toEqual(
      expect.arrayContaining([
        { name: 'LEADER_ELECT', value: 'true' },
        { name: 'LEADER_ELECTION_NAMESPACE', value: namespace },
        { name: 'ADMIN_PORT', value: '8081' },
        { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        // The heap flags and malloc settings the operator's tests and benchmark run it with too.
        { name: 'NODE_OPTIONS', value: CHART_NODE_OPTIONS },
        { name: 'MALLOC_ARENA_MAX', value: '2' },
        { name: 'MALLOC_TRIM_THRESHOLD_', value: '131072' },
        { name: 'MALLOC_MMAP_THRESHOLD_', value: '131072' },
      ]),
    );
    expect(CHART_NODE_OPTIONS).toMatch(/--max-old-space-size=\d+/);
    expect(CHART_PROCESS_ENV).toEqual({
      NODE_OPTIONS: CHART_NODE_OPTIONS,
      MALLOC_ARENA_MAX: '2',
      MALLOC_TRIM_THRESHOLD_: '131072',
      MALLOC_MMAP_THRESHOLD_: '131072',
    });
    expect(container?.readinessProbe).toMatchObject({ httpGet: { path: '/readyz', port: 'admin' } });
    expect(container?.livenessProbe).toMatchObject({ httpGet: { path: '/healthz', port: 'admin' } });
    expect(find(objects, 'PodDisruptionBudget').spec).toMatchObject({ maxUnavailable: 1 });
    expect(find(objects, 'Service', 'reservation-operator-metrics').spec).toMatchObject({ ports: [{ name: 'admin', port: 8081 }] });
  });

  it("sets each of glibc malloc's variables from its value as written, 0 included, and leaves out one set to null", async () => {
    const { objects } = await render(OPERATOR_CHART, { namespace, set: { 'malloc.arenaMax': 'null', 'malloc.mmapThreshold': '0' } });
    const env = (find(objects, 'Deployment') as unknown as { spec: { template: { spec: { containers: { env: { name: string }[] }[] } } } })
      .spec.template.spec.containers[0]?.env;
    expect(env?.filter((e) => e.name.startsWith('MALLOC_'))).toEqual([
      { name: 'MALLOC_MMAP_THRESHOLD_', value: '0' },
      { name: 'MALLOC_TRIM_THRESHOLD_', value: '131072' },
    ]);
  });

  describe('RBAC', () => {
    it('grants exactly the rules the operator code needs (operator/src/rbac.ts), cluster-wide by default', async () => {
      const { objects } = await render(OPERATOR_CHART, { namespace });
      const expected = operatorRbac();
      const clusterRoles = objects.filter((o) => o.kind === 'ClusterRole') as unknown as KubeObjectWithRules[];
      const isIdentity = (o: KubeObjectWithRules) => o.metadata.name.endsWith('-cluster-identity');
      const [reconcile, identity] = [clusterRoles.filter((o) => !isIdentity(o)), clusterRoles.filter(isIdentity)];
      expect(reconcile).toHaveLength(1);
      expect(canonical(reconcile?.[0]?.rules ?? [])).toEqual(canonical(expected.reconcile));
      expect(identity).toHaveLength(1);
      expect(canonical(identity?.[0]?.rules ?? [])).toEqual(canonical(expected.clusterIdentity));
      const lease = find(objects, 'Role') as unknown as KubeObjectWithRules;
      expect(lease.metadata.namespace).toBe(namespace);
      expect(canonical(lease.rules)).toEqual(canonical(expected.leaderElection));
      const text = JSON.stringify(objects.filter((o) => o.kind.endsWith('Role')));
      expect(text).not.toContain('"*"');
      expect(text).not.toContain('secrets');
    });

    it('becomes a Role in the one namespace the operator watches when watchNamespace is set', async () => {
      const { objects } = await render(OPERATOR_CHART, { namespace, set: { watchNamespace: 'reservations' } });
      // Only the one namespace read for the default owner id is cluster-wide.
      const clusterWide = objects.filter((o) => o.kind.startsWith('Cluster'));
      expect(clusterWide.map((o) => o.kind)).toEqual(['ClusterRole', 'ClusterRoleBinding']);
      expect(canonical((clusterWide[0] as unknown as KubeObjectWithRules).rules)).toEqual(canonical(operatorRbac().clusterIdentity));
      const role = objects.find((o) => o.kind === 'Role' && o.metadata.namespace === 'reservations') as unknown as KubeObjectWithRules;
      expect(canonical(role.rules)).toEqual(canonical(operatorRbac().reconcile));
      const deployment = JSON.stringify(find(objects, 'Deployment'));
      expect(deployment).toContain('{"name":"WATCH_NAMESPACE","value":"reservations"}');
    });

    it("passes the Prometheus allow-list and the database's connection limit to the operator", async () => {
      const { objects } = await render(OPERATOR_CHART, { namespace, valuesFiles: [FULL] });
      const env = JSON.stringify(find(objects, 'Deployment'));
      expect(env).toContain('{"name":"PROMETHEUS_ALLOWED_HOSTS","value":"prometheus-operated.monitoring.svc"}');
      expect(env).toContain('{"name":"DB_MAX_CONNECTIONS","value":"2000"}');
      expect(JSON.stringify(find((await render(OPERATOR_CHART, { namespace })).objects, 'Deployment'))).not.toContain(
        'PROMETHEUS_ALLOWED_HOSTS',
      );
    });

    it("passes the operator's share of the account's Route53 rate, and refuses one above the account's 5 per second", async () => {
      const defaults = JSON.stringify(find((await render(OPERATOR_CHART, { namespace })).objects, 'Deployment'));
      expect(defaults).toContain('{"name":"ROUTE53_REQUESTS_PER_SECOND","value":"2"}');
      expect(defaults).toContain('{"name":"ROUTE53_BURST","value":"5"}');
      // A values file: helm's --set makes 0.5 a string.
      const dir = mkdtempSync(join(tmpdir(), 'operator-chart-'));
      const values = join(dir, 'rate.yaml');
      writeFileSync(values, 'traffic:\n  route53:\n    requestsPerSecond: 0.5\n');
      const { objects } = await render(OPERATOR_CHART, { namespace, valuesFiles: [values] });
      rmSync(dir, { recursive: true, force: true });
      expect(JSON.stringify(find(objects, 'Deployment'))).toContain('{"name":"ROUTE53_REQUESTS_PER_SECOND","value":"0.5"}');
      await expect(render(OPERATOR_CHART, { namespace, set: { 'traffic.route53.requestsPerSecond': '6' } })).rejects.toThrow(
        /traffic.route53.requestsPerSecond/,
      );
    });

    it('reads no namespace when traffic.txtOwnerId names the owner', async () => {
      const { objects } = await render(OPERATOR_CHART, { namespace, set: { 'traffic.txtOwnerId': 'platform-blue' } });
      expect(JSON.stringify(objects.filter((o) => o.kind.endsWith('Role')))).not.toContain('namespaces');
      expect(JSON.stringify(find(objects, 'Deployment'))).toContain('{"name":"TXT_OWNER_ID","value":"platform-blue"}');
    });
  });

  // What helm prints for values the schema refuses: the path and what is wrong with it.
  it.each([
    ['replicaCount: 0', { replicaCount: '0' }, "at '/replicaCount': minimum: got 0, want 1"],
    ['a typo in a key', { replicas: '2' }, "additional properties 'replicas' not allowed"],
    ['an unknown log level', { logLevel: 'verbose' }, "at '/logLevel': value must be one of"],
    ['a role ARN that is not one', { 'serviceAccount.roleArn': 'reservation-operator' }, "at '/serviceAccount/roleArn'"],
    ['a watchNamespace that is not a namespace name', { watchNamespace: 'Reservations' }, "at '/watchNamespace'"],
    ['a digest without its algorithm', { 'image.digest': 'abc123' }, "at '/image/digest'"],
    ['workers out of range', { workers: '100' }, "at '/workers': maximum: got 100, want 64"],
    ['malloc arenas out of range', { 'malloc.arenaMax': '0' }, "at '/malloc/arenaMax': minimum: got 0, want 1"],
    ["an mmap threshold over glibc's ceiling", { 'malloc.mmapThreshold': '67108864' }, "at '/malloc/mmapThreshold': maximum"],
    ['a memory limit with a typo', { 'resources.limits.memory': '256MB' }, "at '/resources/limits/memory'"],
    ['an alert duration without a unit', { 'prometheusRule.reconcileErrors.for': '15' }, "at '/prometheusRule/reconcileErrors/for'"],
    ['two replicas without leader election', { 'leaderElection.enabled': 'false' }, "at '/replicaCount': value must be 1"],
    ['a metric name with a dash', { 'prometheusRule.outboxLag.metric': 'outbox-lag' }, "at '/prometheusRule/outboxLag/metric'"],
  ])('refuses %s with a message naming the value', async (_what, set, message) => {
    const r = await helmTemplateResult(OPERATOR_CHART, { namespace, set });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("values don't meet the specifications of the schema");
    expect(r.stderr).toContain(message);
  });
});

type KubeObjectWithRules = { metadata: { name: string; namespace?: string }; rules: PolicyRule[] };
