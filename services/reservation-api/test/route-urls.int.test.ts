import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { bearer, freshDatabase, testApp } from './support/app.ts';
import { book, createResource, sql } from './support/fixtures.ts';

let app: FastifyInstance;
let registry: Registry;
let db: Awaited<ReturnType<typeof freshDatabase>>;
let resource: string;

beforeAll(async () => {
  db = await freshDatabase('rsv_route_urls');
  await db.migrate();
  ({ app, registry } = await testApp({ MYSQL_PRIMARY_URL: db.as.reservationApi.primaryUrl }));
  resource = await createResource(app);
});
afterAll(async () => {
  await app?.close();
});

const at = (h: number) => new Date(Date.UTC(2032, 2, 1, h)).toISOString();

// The routes are registered under a `/v1` prefix; what names a route must still carry it, or
// dashboards lose their series and stored Idempotency-Keys stop matching their retries.
describe('route URLs under the /v1 prefix', () => {
  it('the request metrics label each route with its full template', async () => {
    const booked = await book(app, resource, at(9), at(10), { hold: true });
    expect(booked.statusCode).toBe(201);
    const confirmed = await app.inject({
      method: 'POST',
      url: `/v1/reservations/${booked.json<{ id: string }>().id}/confirm`,
      headers: bearer('customer', 'customer-1'),
    });
    expect(confirmed.statusCode).toBe(200);
    const metric = await registry.getSingleMetric('http_request_duration_seconds')?.get();
    const routes = new Set(metric?.values.map((v) => `${v.labels.method} ${v.labels.route}`));
    expect(routes).toContain('POST /v1/reservations');
    expect(routes).toContain('POST /v1/reservations/:id/confirm');
    expect(routes).toContain('POST /v1/resources');
  });

  it('an Idempotency-Key is scoped to the full route', async () => {
    const key = randomUUID();
    expect((await book(app, resource, at(11), at(12), { key })).statusCode).toBe(201);
    const rows = await sql<{ route: string }>(db.primaryUrl, 'SELECT route FROM idempotency_keys WHERE idempotency_key = ?', [key]);
    expect(rows).toEqual([{ route: 'POST /v1/reservations' }]);
  });
});
