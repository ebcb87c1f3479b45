import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from '@jest/globals';
import { harnessEnv, waitUntil, writePrometheusTargets } from '@reservations/testkit';
import type { AnalysisTemplate, Reservation } from '../../../src/api/v1alpha1/reservation.ts';
import { analysisStep, createAnalysisSources } from '../../../src/traffic/analysis/index.ts';
import { instantQuery } from '../../../src/traffic/analysis/prometheus-source.ts';
import { template } from './templates.ts';
import { startTestExporter, type TestExporter } from './test-exporter.ts';

/**
 * The peer comparison against the harness's real Prometheus (2.42): two test exporters, one
 * scraped as `cluster=blue` and one as `cluster=green`, with the `namespace` and `pod` labels a
 * Kubernetes scrape gives a Reservation's pods. Each case has its own namespace, so its series
 * start from nothing; the test drives the exporters' counters and histograms, waits until
 * Prometheus has scraped them, and runs the analysis step the cutover runs.
 */

const prometheusUrl = harnessEnv('PROMETHEUS_URL');
const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const vsBlue = (peer: Partial<NonNullable<AnalysisTemplate['peer']>> = {}, overrides: Partial<AnalysisTemplate> = {}) =>
  template({
    name: 'vs-blue',
    metrics: undefined,
    prometheus: { url: prometheusUrl },
    interval: '30s',
    count: 3,
    peer: {
      label: 'cluster',
      confidence: 0.95,
      minRequests: 50,
      errorRate: { maxIncrease: 0.001 },
      latency: { quantile: 0.99, maxIncreasePercent: 10 },
      ...peer,
    },
    ...overrides,
  });

/** A Reservation in a fresh namespace, cutting over from eks-blue to eks-green, as far as the analysis reads it. */
function reservation(namespace: string): Reservation {
  return {
    metadata: { namespace, name: 'booking' },
    spec: { traffic: { cluster: 'green', cutover: { from: 'blue' } } },
  } as unknown as Reservation;
}

/** Blue's and green's exporters for `namespace`, scraped by Prometheus, their zero series already in. */
async function clusters(): Promise<{ namespace: string; blue: TestExporter; green: TestExporter }> {
  const namespace = `peer-${randomUUID().slice(0, 8)}`;
  const blue = await startTestExporter();
  const green = await startTestExporter();
  cleanups.push(
    () => blue.close(),
    () => green.close(),
  );
  const remove = writePrometheusTargets(harnessEnv('PROMETHEUS_TARGETS_DIR'), `peer-${namespace}`, [
    { url: blue.metricsUrl, labels: { namespace, pod: 'booking-query-api-5d8f7c9b4-b1b1b', cluster: 'blue' } },
    { url: green.metricsUrl, labels: { namespace, pod: 'booking-query-api-6e9a8d0c5-g2g2g', cluster: 'green' } },
  ]);
  cleanups.push(remove);
  // Two scrapes of the zero series, so that increase() has a start to count from.
  await waitUntil(
    'Prometheus holding two scrapes of both test exporters',
    async () => ((await instantQuery(prometheusUrl, `sum(count_over_time(up{namespace="${namespace}"}[1m]))`)) ?? 0) >= 4,
    { timeoutMs: 30_000, intervalMs: 250 },
  );
  return { namespace, blue, green };
}

/** Waits until Prometheus has scraped `requests` requests from each cluster. */
async function scraped(namespace: string, requests: number): Promise<void> {
  await waitUntil(
    `Prometheus seeing ${requests} requests from each cluster`,
    async () =>
      (await instantQuery(prometheusUrl, `min(sum by (cluster) (http_request_duration_seconds_count{namespace="${namespace}"}))`)) ===
      requests,
    { timeoutMs: 30_000, intervalMs: 250 },
  );
}

const step = analysisStep(createAnalysisSources({}));

describe('a peer analysis against the real Prometheus', () => {
  it('passes green when it answers as blue does, with enough traffic to show it', async () => {
    const { namespace, blue, green } = await clusters();
    for (const cluster of [blue, green]) {
      cluster.observe(9000, 200, 0.02);
      // The slowest 10% spread over 60-95 ms: p99 near 95 ms on both.
      for (let ms = 60; ms < 95; ms += 3.5) cluster.observe(100, 200, ms / 1000);
    }
    await scraped(namespace, 10_000);
    const run = await step(reservation(namespace), vsBlue(), undefined, 4);
    expect(run.result).toBe('Successful');
    expect(run.message).toMatch(
      /^Successful: green is within the allowances of blue; look 1\/3 over 30s: error rate green 0% vs blue 0%: difference −0\.\d+ points to \+0\.\d+ points, within allowed \+0\.10 points; p99 green \d+ ms \(\d+ ms-\d+ ms\) vs blue \d+ ms \(\d+ ms-\d+ ms\): within 10% above blue's \(green [\d,]+, blue [\d,]+ requests, 95% confidence\)$/,
    );
    expect(run.comparison?.self).toMatchObject({ cluster: 'green', errors: 0 });
    expect(run.comparison?.peer).toMatchObject({ cluster: 'blue', errors: 0 });
    expect(run.comparison?.self.requests).toBeGreaterThanOrEqual(10_000);
  });

  it('fails green when its error rate is clearly above blue’s, at the first look', async () => {
    const { namespace, blue, green } = await clusters();
    blue.observe(1000, 200, 0.02);
    green.observe(900, 200, 0.02);
    green.observe(100, 500, 0.02);
    await scraped(namespace, 1000);
    const run = await step(reservation(namespace), vsBlue({ latency: undefined }), undefined, 4);
    expect(run).toMatchObject({ result: 'Failed', measurements: 1, failures: 1 });
    // increase() extrapolates to the window's edges, so the shown rate is near 10 %, not exactly it.
    expect(run.message).toMatch(
      /^Failed: green is worse than blue by more than allowed; look 1\/3 over 30s: error rate green (9\.\d|10(\.\d)?|11(\.\d)?)% vs blue 0%: difference \+\d+\.\d\d points to \+\d+\.\d\d points, worse than allowed \+0\.10 points/,
    );
    expect(run.comparison?.errorRateDifferenceLow).toBeGreaterThan(0.001);
  });

  it('is inconclusive, never successful, when the clusters answered too few requests to compare', async () => {
    const { namespace, blue, green } = await clusters();
    blue.observe(20, 200, 0.02);
    green.observe(20, 200, 0.02);
    await scraped(namespace, 20);
    const run = await step(reservation(namespace), vsBlue({}, { count: 1 }), undefined, 4);
    expect(run.result).toBe('Inconclusive');
    expect(run.message).toMatch(
      /^Inconclusive: no verdict after 1 looks .*\(policy: Pause\); look 1\/1 over 30s: error rate: too few requests to compare \(green 2\d(\.\d)?, blue 2\d(\.\d)?; minRequests 50 each\); p99: too few requests to compare/,
    );
  });

  it('says when Prometheus has no series for a cluster value (a wrong label value looks like no traffic)', async () => {
    const { namespace, blue, green } = await clusters();
    blue.observe(100, 200, 0.02);
    green.observe(100, 200, 0.02);
    await scraped(namespace, 100);
    const run = await step(reservation(namespace), vsBlue({ peerCluster: 'eks-blue' }), undefined, 4);
    expect(run.result).toBe('Running');
    expect(run.message).toContain('Prometheus has no request series with cluster="eks-blue" (check the label and its values)');
  });
});
