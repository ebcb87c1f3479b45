import { describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import { createAnalysisMetrics } from '../../../src/traffic/analysis/metrics.ts';

const booking = { namespace: 'shop', name: 'booking' };
const labels = 'namespace="shop",name="booking",template="slo"';

describe("the analysis's operator metrics", () => {
  it('count every verdict and keep the last values, in seconds', async () => {
    const registry = new Registry();
    const metrics = createAnalysisMetrics(registry);
    metrics.record(booking, 'slo', { requests: 100, successRate: 0.97, latencyP99Ms: 250 }, 'failed');
    metrics.record(booking, 'slo', { requests: 100, successRate: 0.995, latencyP99Ms: 120 }, 'ok');
    const text = await registry.metrics();
    expect(text).toContain(`cutover_analysis_measurements_total{${labels},verdict="failed"} 1`);
    expect(text).toContain(`cutover_analysis_measurements_total{${labels},verdict="ok"} 1`);
    expect(text).toContain(`cutover_analysis_success_rate{${labels}} 0.995`);
    expect(text).toContain(`cutover_analysis_latency_p99_seconds{${labels}} 0.12`);
  });

  it('drop a value the last measurement did not have, and all gauges of a forgotten Reservation', async () => {
    const registry = new Registry();
    const metrics = createAnalysisMetrics(registry);
    metrics.record(booking, 'slo', { requests: 100, successRate: 1, latencyP99Ms: 20 }, 'ok');
    metrics.record(booking, 'slo', { requests: 0, successRate: Number.NaN }, 'inconclusive');
    let text = await registry.metrics();
    expect(text).not.toContain('cutover_analysis_success_rate{');
    expect(text).not.toContain('cutover_analysis_latency_p99_seconds{');

    metrics.record(booking, 'slo', { requests: 100, successRate: 1, latencyP99Ms: 20 }, 'ok');
    metrics.record(booking, 'fast', { requests: 100, successRate: 1, latencyP99Ms: 5 }, 'ok');
    metrics.record({ namespace: 'shop', name: 'other' }, 'slo', { requests: 100, successRate: 1, latencyP99Ms: 5 }, 'ok');
    metrics.forget(booking);
    text = await registry.metrics();
    expect(text).not.toContain('cutover_analysis_success_rate{namespace="shop",name="booking"');
    expect(text).toContain('cutover_analysis_success_rate{namespace="shop",name="other",template="slo"} 1');
    expect(text).toContain(`cutover_analysis_measurements_total{${labels},verdict="inconclusive"} 1`);
  });
});
