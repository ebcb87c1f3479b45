import { afterAll, expect, it } from '@jest/globals';
import Fastify from 'fastify';
import { createRegistry, httpMetrics } from '../src/metrics.ts';

const registry = createRegistry('query-api');
const app = Fastify();
afterAll(() => app.close());

it('counts requests by route template, not by raw URL, and unmatched ones apart', async () => {
  await app.register(httpMetrics, { registry });
  app.get('/v1/reservations/:id', async () => ({ ok: true }));
  await app.inject('/v1/reservations/1');
  await app.inject('/v1/reservations/2');
  await app.inject('/nowhere');
  const text = await registry.metrics();
  expect(text).toContain(
    'http_request_duration_seconds_count{service="query-api",method="GET",route="/v1/reservations/:id",status_code="200"} 2',
  );
  expect(text).toContain('http_request_duration_seconds_count{service="query-api",method="GET",route="unmatched",status_code="404"} 1');
  expect(text).not.toContain('/v1/reservations/1"');
});
