import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { createControllerMetrics } from '@reservations/operator/metrics';
import { repoRoot } from '@reservations/testkit';
import { Registry } from 'prom-client';
import { parse } from 'yaml';

/** The operator's own series the dashboard and the alerts query must be ones it exports. */

const chart = join(repoRoot, 'charts', 'reservation-operator');
const exported = async () => {
  const registry = new Registry();
  createControllerMetrics(registry, 'reservation');
  return new Set((await registry.getMetricsAsJSON()).map((m) => m.name));
};
/** Series names in PromQL: identifiers followed by a selector, a range or a closing parenthesis (grouping labels dropped first). */
const seriesIn = (promql: string) =>
  [...promql.replace(/\b(by|without)\s*\([^)]*\)/g, '').matchAll(/\b([a-z_:][a-z0-9_:]*)\s*(?=[{[)])/g)].map((m) =>
    (m[1] as string).replace(/_(bucket|sum|count)$/, ''),
  );

describe('the operator chart’s monitoring', () => {
  it('dashboard panels query only series the operator exports', async () => {
    const dashboard = JSON.parse(readFileSync(join(chart, 'dashboards', 'reservation-operator.json'), 'utf8')) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    const names = await exported();
    const unknown = dashboard.panels.flatMap((p) => p.targets.flatMap((t) => seriesIn(t.expr))).filter((s) => !names.has(s));
    expect(unknown).toEqual([]);
    expect(dashboard.panels.length).toBeGreaterThan(0);
  });

  it('alerts on the operator’s own series by their exported names (the others are settings)', async () => {
    const rules = readFileSync(join(chart, 'templates', 'prometheusrule.yaml'), 'utf8');
    const exprs = [...rules.matchAll(/expr: (.*)/g)].map((m) => m[1] as string).filter((e) => !e.includes('{{'));
    const names = await exported();
    const used = exprs.flatMap(seriesIn);
    expect(used.filter((s) => !names.has(s))).toEqual([]);
    expect(used).toEqual(expect.arrayContaining(['controller_runtime_reconcile_errors_total', 'leader_election_master_status']));
  });

  it('counts aborted cutovers under the name the CutoverAborted alert uses by default', async () => {
    const values = parse(readFileSync(join(chart, 'values.yaml'), 'utf8')) as { prometheusRule: { cutoverAborted: { metric: string } } };
    expect((await exported()).has(values.prometheusRule.cutoverAborted.metric)).toBe(true);
  });
});
