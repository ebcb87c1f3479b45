import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Histogram, Registry } from 'prom-client';

/**
 * A test exporter: a `/metrics` endpoint with the services' request histogram
 * (`http_request_duration_seconds{method,route,status_code}`, service-kit's buckets) whose
 * observations the test makes directly, so a test decides exactly how many requests a "cluster"
 * answered, how many failed and how long they took, without sending them.
 */
export interface TestExporter {
  metricsUrl: string;
  /** Records `n` requests with this status, each taking `seconds`. */
  observe(n: number, status: number, seconds: number): void;
  close(): Promise<void>;
}

export const SERVICE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export async function startTestExporter(): Promise<TestExporter> {
  const registry = new Registry();
  const histogram = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'request duration (test exporter)',
    labelNames: ['method', 'route', 'status_code'],
    buckets: SERVICE_BUCKETS,
    registers: [registry],
  });
  // Series exist at 0 from the first scrape, so increase() counts every later observation.
  for (const status of ['200', '500']) histogram.zero({ method: 'GET', route: '/slots', status_code: status });
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') return void res.writeHead(404).end();
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: Error) => res.writeHead(500).end(err.message),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    metricsUrl: `http://127.0.0.1:${port}/metrics`,
    observe(n, status, seconds) {
      const labels = { method: 'GET', route: '/slots', status_code: String(status) };
      for (let i = 0; i < n; i++) histogram.observe(labels, seconds);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
