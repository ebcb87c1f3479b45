import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import { createAnalysisMetrics, createAnalysisSources } from '../../../src/traffic/analysis/index.ts';
import type { ScrapeTarget } from '../../../src/traffic/analysis/pods.ts';
import { type ServicePod, startServicePod } from './service-pods.ts';
import { template } from './templates.ts';

/**
 * The metrics source against real servers: service-kit apps (httpMetrics, the admin server's
 * /metrics) on loopback stand for the pods, and real requests fill their histograms. Which pods
 * to scrape comes from a list here; listing them from the API server is pods.int.test.ts.
 */

const booking = { namespace: 'shop', name: 'booking' };
const slo = template({ interval: '30s', minRequests: 20 });

let pods: ServicePod[] = [];
let targets: ScrapeTarget[] = [];
const registry = new Registry();
const sources = createAnalysisSources({ listTargets: async () => targets, metrics: createAnalysisMetrics(registry) });

beforeAll(async () => {
  pods = [
    await startServicePod('booking-query-api-7d9c-aaaaa'),
    await startServicePod('booking-reservation-api-5f6b-bbbbb', 'reservation-api'),
  ];
  targets = pods.map((p) => p.target);
});
afterAll(async () => {
  await Promise.all(pods.map((p) => p.close()));
});

describe('the metrics source', () => {
  it('takes a baseline first, then measures exactly the requests since, over every pod and route', async () => {
    await pods[0]?.send('/ok', 10, 200); // before the baseline: not counted
    expect(await sources.take(booking, slo)).toBeUndefined();

    await pods[0]?.send('/ok', 100, 200);
    await pods[1]?.send('/ok', 45, 200);
    await pods[1]?.send('/fail', 5, 500);
    await pods[1]?.send('/nowhere', 3, 404); // a 4xx is the client's fault: it counts as a success
    const taken = await sources.take(booking, slo);
    expect(taken?.measurement).toMatchObject({ requests: 153, successRate: 148 / 153 });
    expect(taken?.judgement.verdict).toBe('failed');
    expect(taken?.judgement.message).toMatch(/^success rate 96\.7% < 99%, p99 [\d.]+ ms ≤ 500 ms over [\d.]+s \(153 requests\)$/);

    const text = await registry.metrics();
    expect(text).toContain('cutover_analysis_measurements_total{namespace="shop",name="booking",template="slo",verdict="failed"} 1');
    expect(text).toContain(`cutover_analysis_success_rate{namespace="shop",name="booking",template="slo"} ${148 / 153}`);
    expect(text).toMatch(/cutover_analysis_latency_p99_seconds\{namespace="shop",name="booking",template="slo"\} [\d.e-]+/);
  });

  it('is ok when the SLO holds, and inconclusive without traffic', async () => {
    await pods[0]?.send('/ok', 30, 200);
    expect((await sources.take(booking, slo))?.judgement).toMatchObject({ verdict: 'ok' });

    const idle = await sources.take(booking, slo);
    expect(idle?.measurement.requests).toBe(0);
    expect(idle?.judgement.message).toMatch(/^no requests over [\d.]+s: no traffic to judge$/);
    // No data is no gauge: a stale number would read as a measurement.
    expect(await registry.metrics()).not.toContain('cutover_analysis_success_rate{');
  });

  it('measures p99 from the histogram the way histogram_quantile does', async () => {
    await pods[0]?.send('/ok', 97, 200);
    await pods[0]?.send('/slow?ms=300', 3, 200);
    // 97 fast requests under 0.25 s, 3 in (0.25, 0.5]: rank 99 of 100 is 2/3 into that bucket.
    const taken = await sources.take(booking, template({ latencyP99MaxMs: 300 }));
    expect(taken?.measurement.requests).toBe(100);
    expect(taken?.measurement.latencyP99Ms).toBeCloseTo(250 + 250 * (2 / 3), 6);
    expect(taken?.judgement).toEqual({
      verdict: 'failed',
      message: expect.stringMatching(/^p99 417 ms > 300 ms, success rate 100% ≥ 99%/),
    });
  });

  it('counts a restarted pod from its restart (its counters went down)', async () => {
    const t = template({ name: 'restart' });
    await sources.take(booking, t); // baseline
    const old = pods[1] as ServicePod;
    await old.send('/ok', 5, 200);
    await old.close();
    // The same pod (key), a new process: new counters from 0, on the same admin port.
    const restarted = await startServicePod(old.pod, 'reservation-api', { adminPort: old.adminPort, key: old.target.key });
    pods[1] = restarted;
    await restarted.send('/ok', 25, 200);
    const taken = await sources.take(booking, t);
    // Like rate(): what the old process answered after the baseline (5) is lost with it.
    expect(taken?.measurement).toMatchObject({ requests: 25, successRate: 1 });
  });

  it('leaves out a pod that does not answer, and says so', async () => {
    const t = template({ name: 'gone' });
    const gone = await startServicePod('booking-notifier-6c7d-ccccc', 'notifier');
    targets = [...pods.map((p) => p.target), gone.target];
    await sources.take(booking, t); // baseline
    await gone.close();
    await pods[0]?.send('/ok', 40, 200);
    const taken = await sources.take(booking, t);
    expect(taken?.measurement.requests).toBe(40);
    expect(taken?.judgement.verdict).toBe('ok');
    expect(taken?.judgement.message).toContain(
      `1 of 3 pods did not answer their scrape and are left out: booking-notifier-6c7d-ccccc (${gone.metricsUrl}): ECONNREFUSED`,
    );
    targets = pods.map((p) => p.target);
  });

  it('makes a measurement that cannot be taken an inconclusive one, with the reason', async () => {
    const nobody = createAnalysisSources({ listTargets: async () => [] });
    expect(await nobody.take(booking, slo)).toEqual({
      measurement: { requests: Number.NaN },
      judgement: { verdict: 'inconclusive', message: "could not measure: no Ready pods of shop/booking's services to scrape" },
    });
    const closed = await startServicePod('booking-query-api-7d9c-ddddd');
    await closed.close();
    const down = createAnalysisSources({ listTargets: async () => [closed.target] });
    expect((await down.take(booking, slo))?.judgement.message).toBe(
      `could not measure: no pod answered its scrape: booking-query-api-7d9c-ddddd (${closed.metricsUrl}): ECONNREFUSED`,
    );
  });

  it('takes a new baseline when the last scrape is older than two intervals (the window would be stretched)', async () => {
    let clock = Date.parse('2026-11-25T10:00:00Z');
    const clocked = createAnalysisSources({ listTargets: async () => targets, now: () => clock });
    expect(await clocked.take(booking, slo)).toBeUndefined();
    clock += 30_000;
    await pods[0]?.send('/ok', 20, 200);
    expect((await clocked.take(booking, slo))?.judgement.message).toMatch(/over 30s \(20 requests\)$/);
    clock += 60_001;
    expect(await clocked.take(booking, slo)).toBeUndefined();
    clock += 45_000;
    expect((await clocked.take(booking, slo))?.measurement.windowMs).toBe(45_000);
  });

  it('starts over with a new baseline after forget', async () => {
    await sources.take(booking, slo);
    sources.forget(booking);
    expect(await sources.take(booking, slo)).toBeUndefined();
  });
});
