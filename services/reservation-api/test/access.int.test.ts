import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createSigner } from 'fast-jwt';
import type { FastifyInstance } from 'fastify';
import { bearer, freshDatabase, testApp } from './support/app.ts';
import { ADMIN, createResource } from './support/fixtures.ts';

let app: FastifyInstance;
let resourceId: string;

beforeAll(async () => {
  const db = await freshDatabase('rsv_access');
  await db.migrate();
  ({ app } = await testApp({ MYSQL_PRIMARY_URL: db.primaryUrl }));
  resourceId = await createResource(app, { providerId: 'prov-a', capacity: 100 });
});
afterAll(async () => {
  await app?.close();
});

let hour = 0;
async function reservationOf(customer: string) {
  hour++;
  const response = await app.inject({
    method: 'POST',
    url: '/v1/reservations',
    headers: bearer('customer', customer),
    payload: {
      resourceId,
      startsAt: new Date(Date.UTC(2034, 0, 1, hour)).toISOString(),
      endsAt: new Date(Date.UTC(2034, 0, 1, hour + 1)).toISOString(),
    },
  });
  expect(response.statusCode).toBe(201);
  return response.json<{ id: string }>().id;
}

describe('authentication', () => {
  it.each([
    ['no token', {}],
    ['not a bearer token', { authorization: 'Basic YTpi' }],
    ['garbage', { authorization: 'Bearer not.a.jwt' }],
    ['signed with another secret', { authorization: `Bearer ${createSigner({ key: 'x'.repeat(40) })({ sub: 'a', role: 'admin' })}` }],
    [
      'expired',
      {
        authorization: `Bearer ${createSigner({ key: 'test-secret-that-is-at-least-32-bytes-long', expiresIn: 1 })({ sub: 'a', role: 'admin', iat: 1 })}`,
      },
    ],
    [
      'unknown role',
      { authorization: `Bearer ${createSigner({ key: 'test-secret-that-is-at-least-32-bytes-long' })({ sub: 'a', role: 'root' })}` },
    ],
  ])('%s → 401 problem', async (_name, headers) => {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/resources',
      headers,
      payload: { name: 'x', providerId: 'p', timeZone: 'UTC' },
    });
    expect(response.statusCode).toBe(401);
    expect(response.json().type).toMatch(/\/unauthorized$/);
    expect(response.headers['www-authenticate']).toMatch(/^Bearer/);
  });

  it('the OpenAPI document is public and lists every route', async () => {
    const response = await app.inject({ method: 'GET', url: '/docs/json' });
    expect(response.statusCode).toBe(200);
    expect(Object.keys(response.json().paths).sort()).toEqual([
      '/v1/reservations',
      '/v1/reservations/{id}',
      '/v1/reservations/{id}/cancel',
      '/v1/reservations/{id}/confirm',
      '/v1/resources',
      '/v1/resources/{id}',
    ]);
  });
});

describe('role matrix', () => {
  const cancel = (id: string, headers: Record<string, string>) =>
    app.inject({ method: 'POST', url: `/v1/reservations/${id}/cancel`, headers });

  it.each([
    ['its customer', bearer('customer', 'alice'), 200],
    ['another customer (404: ids do not leak)', bearer('customer', 'bob'), 404],
    ['the provider of its resource', bearer('provider', 'prov-a'), 200],
    ['another provider', bearer('provider', 'prov-b'), 404],
    ['an admin', ADMIN, 200],
  ])('a reservation of alice can be cancelled by %s → %i', async (_who, headers, status) => {
    const id = await reservationOf('alice');
    expect((await cancel(id, headers)).statusCode).toBe(status);
  });

  it.each([
    ['customer', bearer('customer', 'alice'), 403],
    ['provider', bearer('provider', 'prov-a'), 403],
    ['admin', ADMIN, 201],
  ])('creating a resource as %s → %i', async (_role, headers, status) => {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/resources',
      headers,
      payload: { name: 'x', providerId: 'p', timeZone: 'UTC' },
    });
    expect(response.statusCode).toBe(status);
  });

  it('a provider cannot book (403); an admin can book on behalf of a customer', async () => {
    const payload = { resourceId, startsAt: '2035-01-01T10:00:00Z', endsAt: '2035-01-01T11:00:00Z' };
    const byProvider = await app.inject({ method: 'POST', url: '/v1/reservations', headers: bearer('provider', 'prov-a'), payload });
    expect(byProvider.statusCode).toBe(403);
    expect(byProvider.json().type).toMatch(/\/forbidden$/);
    const byAdmin = await app.inject({
      method: 'POST',
      url: '/v1/reservations',
      headers: ADMIN,
      payload: { ...payload, customerId: 'dave' },
    });
    expect(byAdmin.statusCode).toBe(201);
    expect(byAdmin.json().customerId).toBe('dave');
    expect((await cancel(byAdmin.json().id, bearer('customer', 'dave'))).statusCode).toBe(200);
  });

  it('only an admin changes a resource', async () => {
    const patch = (headers: Record<string, string>) =>
      app.inject({ method: 'PATCH', url: `/v1/resources/${resourceId}`, headers, payload: { name: 'Renamed' } });
    expect((await patch(bearer('provider', 'prov-a'))).statusCode).toBe(403);
    const done = await patch(ADMIN);
    expect(done.statusCode).toBe(200);
    expect(done.json()).toMatchObject({ name: 'Renamed', version: 2, capacity: 100 });
  });
});
