import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type ServerResponse } from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { freePort, harnessEnv, waitUntil, writePrometheusTargets } from '@reservations/testkit';
import type { AnalysisTemplate } from '../../../src/api/v1alpha1/reservation.ts';
import { addTotals, histogramQuantile, NO_REQUESTS, successRate } from '../../../src/traffic/analysis/histogram.ts';
import { createAnalysisSources, type TakenMeasurement } from '../../../src/traffic/analysis/index.ts';
import { instantQuery } from '../../../src/traffic/analysis/prometheus-source.ts';
import { scrape } from '../../../src/traffic/analysis/scrape.ts';
import { type ServicePod, startServicePod } from './service-pods.ts';
import { template } from './templates.ts';

/**
 * The prometheus source and its default PromQL against the harness's real Prometheus (2.42),
 * scraping real service-kit apps every second with the labels a Kubernetes scrape gives them
 * (`namespace`, `pod`). Another Reservation's pod in the same namespace fails all along: the
 * queries must not see it.
 */

const prometheusUrl = harnessEnv('PROMETHEUS_URL');
const namespace = `shop-${randomUUID().slice(0, 8)}`;
const booking = { namespace, name: 'booking' };
const slo = (overrides: Partial<AnalysisTemplate> = {}) =>
  template({ metrics: undefined, prometheus: { url: prometheusUrl }, interval: '5s', minRequests: 20, ...overrides });
const sources = createAnalysisSources({});

let pods: ServicePod[] = [];
let other: ServicePod;
let removeTargets = () => {};

/** Steady traffic to both booking pods (and failing traffic to the other Reservation's) until stopped. */
let mode: 'idle' | 'healthy' | 'failing' = 'idle';
let stopped = false;
let loops: Promise<void>[] = [];
async function traffic(pod: ServicePod) {
  let n = 0;
  while (!stopped) {
    n++;
    if (mode !== 'idle')
      await pod.send(mode === 'failing' && n % 5 === 0 ? '/fail' : '/ok', 1, mode === 'failing' && n % 5 === 0 ? 500 : 200);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
async function otherTraffic() {
  while (!stopped) {
    await other.send('/fail', 1, 500);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Takes measurements until one has `verdict` (and passes `also`); returns it. */
async function until(verdict: string, also: (m: TakenMeasurement) => boolean = () => true): Promise<TakenMeasurement> {
  let last: TakenMeasurement | undefined;
  await waitUntil(
    `a ${verdict} measurement`,
    async () => {
      last = await sources.take(booking, slo());
      return last?.judgement.verdict === verdict && also(last);
    },
    { timeoutMs: 40_000, intervalMs: 500 },
  );
  return last as TakenMeasurement;
}

beforeAll(async () => {
  pods = [
    await startServicePod('booking-query-api-5d8f7c9b4-x7k2p'),
    await startServicePod('booking-reservation-api-6c9d8b7f5-q9z4w', 'reservation-api'),
  ];
  other = await startServicePod('other-query-api-7f8e9d6c5-m3n4b');
  removeTargets = writePrometheusTargets(
    harnessEnv('PROMETHEUS_TARGETS_DIR'),
    `analysis-${namespace}`,
    [...pods, other].map((p) => ({ url: p.metricsUrl, labels: { namespace, pod: p.pod } })),
  );
  await waitUntil(
    'Prometheus scraping the three pods',
    async () => (await instantQuery(prometheusUrl, `count(up{namespace="${namespace}"} == 1)`)) === 3,
    {
      timeoutMs: 30_000,
      intervalMs: 250,
    },
  );
  loops = [...pods.map(traffic), otherTraffic()];
}, 60_000);

afterAll(async () => {
  stopped = true;
  await Promise.allSettled(loops);
  removeTargets();
  await Promise.all([...pods, other].map((p) => p?.close()));
});

describe('the prometheus source with the default queries', () => {
  it('is inconclusive before the pods have had any traffic (no series), whatever other pods do', async () => {
    const taken = await sources.take(booking, slo());
    expect(taken?.judgement).toEqual({
      verdict: 'inconclusive',
      message: 'no request count over 5s (the source found no series), so minRequests 20 cannot be checked',
    });
  });

  it('is ok while the services answer well', async () => {
    mode = 'healthy';
    const taken = await until('ok');
    expect(taken.measurement.successRate).toBe(1);
    expect(taken.measurement.requests).toBeGreaterThanOrEqual(20);
    expect(taken.measurement.latencyP99Ms).toBeLessThanOrEqual(500);
    expect(taken.judgement.message).toMatch(/^success rate 100% ≥ 99%, p99 [\d.]+ ms ≤ 500 ms over 5s \([\d,]+ requests\)$/);
  });

  it('fails when a fifth of the requests get a 500', async () => {
    mode = 'failing';
    const taken = await until('failed');
    expect(taken.measurement.successRate).toBeLessThan(0.99);
    expect(taken.judgement.message).toMatch(/^success rate [\d.]+% < 99%, p99 [\d.]+ ms ≤ 500 ms over 5s \([\d,]+ requests\)$/);
  });

  it('is inconclusive once the traffic stops (0 requests in the window)', async () => {
    mode = 'idle';
    // Fewer requests first, as the window slides past the last of them.
    const taken = await until('inconclusive', (m) => m.measurement.requests === 0);
    expect(taken.judgement.message).toBe('no requests over 5s: no traffic to judge');
  });

  it("agrees with the metrics source's arithmetic on the same counters", async () => {
    // No traffic now, so the counters stand still: Prometheus's last scrape and ours see the same.
    const ours = (await Promise.all(pods.map((p) => scrape(p.target)))).reduce((sum, s) => addTotals(sum, s.totals), NO_REQUESTS);
    const selector = `namespace="${namespace}",pod=~"booking-.+"`;
    await waitUntil('Prometheus has the last counts', async () => {
      return (await instantQuery(prometheusUrl, `sum(http_request_duration_seconds_count{${selector}})`)) === ours.requests;
    });
    const p99 = await instantQuery(
      prometheusUrl,
      `histogram_quantile(0.99, sum by (le) (http_request_duration_seconds_bucket{${selector}}))`,
    );
    expect(histogramQuantile(0.99, ours.buckets)).toBeCloseTo(p99 as number, 9);
    const p50 = await instantQuery(
      prometheusUrl,
      `histogram_quantile(0.5, sum by (le) (http_request_duration_seconds_bucket{${selector}}))`,
    );
    expect(histogramQuantile(0.5, ours.buckets)).toBeCloseTo(p50 as number, 9);
    const rate = await instantQuery(
      prometheusUrl,
      `1 - sum(http_request_duration_seconds_count{${selector},status_code=~"5.."}) / sum(http_request_duration_seconds_count{${selector}})`,
    );
    expect(successRate(ours)).toBeCloseTo(rate as number, 9);
  });
});

describe('the prometheus source when it cannot measure', () => {
  it('makes an unreachable Prometheus an inconclusive measurement that says so', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const taken = await sources.take(booking, slo({ prometheus: { url } }));
    expect(taken?.judgement).toEqual({ verdict: 'inconclusive', message: `could not measure: Prometheus at ${url}: ECONNREFUSED` });
  });

  it('gives up on a Prometheus that does not answer, after the timeout', async () => {
    // Stands for a hung server or a dead network path: connections are accepted, nothing is answered.
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      const impatient = createAnalysisSources({ prometheusTimeoutMs: 300 });
      const taken = await impatient.take(booking, slo({ prometheus: { url } }));
      expect(taken?.judgement).toEqual({ verdict: 'inconclusive', message: `could not measure: Prometheus at ${url}: no answer in 0.3 s` });
    } finally {
      silent.close();
    }
  });

  it("passes on Prometheus's own error for a bad query", async () => {
    const taken = await sources.take(booking, slo({ prometheus: { url: prometheusUrl, successRate: 'sum(' } }));
    expect(taken?.judgement.verdict).toBe('inconclusive');
    expect(taken?.judgement.message).toMatch(
      new RegExp(`^could not measure: Prometheus at ${prometheusUrl}: bad_data: .*\\(query: sum\\(\\)$`),
    );
  });

  describe('a URL from the spec that points somewhere hostile', () => {
    /** An HTTP server that answers every request with `answer` (a redirect, a flood, HTML with a secret in it). */
    async function answering(answer: (res: ServerResponse) => void) {
      const server = createHttpServer((_req, res) => answer(res));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
    }
    const measure = async (url: string, allowedHosts?: string[]) =>
      (
        await createAnalysisSources(allowedHosts ? { prometheusAllowedHosts: allowedHosts } : {}).take(
          booking,
          slo({ prometheus: { url } }),
        )
      )?.judgement;

    it('does not follow a redirect (to the real Prometheus here)', async () => {
      const hostile = await answering((res) => res.writeHead(302, { location: prometheusUrl }).end());
      try {
        expect(await measure(hostile.url)).toEqual({
          verdict: 'inconclusive',
          message: `could not measure: Prometheus at ${hostile.url}: answered with a redirect (HTTP 302), which the operator does not follow: give the API's own URL`,
        });
      } finally {
        hostile.close();
      }
    });

    it('reads no more than 1 MiB of an answer, declared or streamed', async () => {
      const chunk = 'x'.repeat(64 * 1024);
      const streamed = await answering((res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        const more = () => {
          while (res.write(chunk)) {}
        };
        res.on('drain', more);
        res.on('close', () => res.off('drain', more));
        more();
      });
      const declared = await answering((res) => res.writeHead(200, { 'content-length': String(96 * 1024 * 1024) }).end());
      try {
        expect((await measure(streamed.url))?.message).toBe(
          `could not measure: Prometheus at ${streamed.url}: answer longer than the 1048576 bytes the operator reads`,
        );
        expect((await measure(declared.url))?.message).toBe(
          `could not measure: Prometheus at ${declared.url}: answer of 100663296 bytes, more than the 1048576 the operator reads`,
        );
      } finally {
        streamed.close();
        declared.close();
      }
    });

    it('never copies a body that is not the query API into status', async () => {
      const page = await answering((res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>db-password=hunter2</html>'));
      try {
        const judgement = await measure(page.url);
        expect(judgement?.message).toBe(`could not measure: Prometheus at ${page.url}: HTTP 200, not the query API's JSON (text/html)`);
        expect(judgement?.message).not.toContain('hunter2');
      } finally {
        page.close();
      }
    });

    it("refuses a host outside the operator's PROMETHEUS_ALLOWED_HOSTS without calling it, and queries one inside", async () => {
      const other = `http://localhost:${new URL(prometheusUrl).port}`;
      expect((await measure(other, ['127.0.0.1']))?.message).toBe(
        `could not measure: Prometheus at ${other}: host localhost is not in the operator's PROMETHEUS_ALLOWED_HOSTS (127.0.0.1)`,
      );
      expect((await measure(prometheusUrl, ['127.0.0.1']))?.message).not.toContain('PROMETHEUS_ALLOWED_HOSTS');
    });
  });

  it('refuses a query that gives several series instead of one number', async () => {
    const query = 'up{namespace="{{namespace}}"}';
    const taken = await sources.take(booking, slo({ prometheus: { url: prometheusUrl, latencyP99: query } }));
    expect(taken?.judgement.message).toBe(
      `could not measure: Prometheus at ${prometheusUrl}: the query gave 3 series, not one number (aggregate it, e.g. with sum()): up{namespace="${namespace}"}`,
    );
  });
});
