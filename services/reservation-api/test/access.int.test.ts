import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTokenMinter } from '@reservations/service-kit/token-minter';
import type { FastifyInstance } from 'fastify';
import mysql from 'mysql2/promise';
import { bearer, freshDatabase, JWT_AUDIENCE, JWT_ISSUER, mintToken, testApp } from './support/app.ts';
import { ADMIN, createResource } from './support/fixtures.ts';

let app: FastifyInstance;
let primary: mysql.Connection;
let resourceId: string;

beforeAll(async () => {
  const db = await freshDatabase('rsv_access');
  await db.migrate();
  primary = await mysql.createConnection(db.primaryUrl);
  ({ app } = await testApp({ MYSQL_PRIMARY_URL: db.as.reservationApi.primaryUrl }));
  resourceId = await createResource(app, { providerId: 'prov-a', capacity: 100 });
});
afterAll(async () => {
  await app?.close();
  await primary?.end();
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

const now = () => Math.floor(Date.now() / 1000);
const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const claims = (extra: Record<string, unknown>) => ({ sub: 'a', role: 'admin', ...extra });

describe('authentication', () => {
  const other = createTokenMinter({ issuer: JWT_ISSUER, audience: JWT_AUDIENCE, key: { secret: 'x'.repeat(40) } });
  it.each([
    ['no token', () => undefined],
    ['not a bearer token', () => 'Basic YTpi'],
    ['garbage', () => 'Bearer not.a.jwt'],
    ['signed with another secret', () => `Bearer ${other(claims({}))}`],
    ['from another issuer', () => `Bearer ${mintToken(claims({ iss: 'https://other-idp.test/' }))}`],
    ['without an issuer', () => `Bearer ${mintToken(claims({ iss: undefined }))}`],
    ['for another audience', () => `Bearer ${mintToken(claims({ aud: 'another-app' }))}`],
    ['for other audiences only', () => `Bearer ${mintToken(claims({ aud: ['another-app', 'a-third'] }))}`],
    ['without an audience', () => `Bearer ${mintToken(claims({ aud: undefined }))}`],
    ['without an expiry', () => `Bearer ${mintToken(claims({ exp: undefined }))}`],
    ['expired beyond the clock skew', () => `Bearer ${mintToken(claims({ iat: now() - 600, exp: now() - 31 }))}`],
    ['issued longer ago than the maximum age', () => `Bearer ${mintToken(claims({ iat: now() - 86_400 - 60, exp: now() + 3600 }))}`],
    ['without an issue time', () => `Bearer ${mintToken(claims({ iat: undefined }))}`],
    ['issued in the future beyond the clock skew', () => `Bearer ${mintToken(claims({ iat: now() + 120, exp: now() + 3600 }))}`],
    ['not valid before a time beyond the clock skew', () => `Bearer ${mintToken(claims({ nbf: now() + 120 }))}`],
    [
      'unsigned (alg none)',
      () =>
        `Bearer ${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(claims({ iss: JWT_ISSUER, aud: JWT_AUDIENCE, iat: now(), exp: now() + 60 }))}.`,
    ],
    ['without a subject', () => `Bearer ${mintToken({ role: 'admin', sub: undefined as unknown as string })}`],
    ['with an unknown role', () => `Bearer ${mintToken(claims({ role: 'root' }))}`],
  ])('a token %s → 401 problem, nothing written', async (_name, authorization) => {
    const header = authorization();
    const response = await app.inject({
      method: 'POST',
      url: '/v1/resources',
      headers: header === undefined ? {} : { authorization: header },
      payload: { name: 'refused', providerId: 'p', timeZone: 'UTC' },
    });
    expect(response.statusCode).toBe(401);
    expect(response.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(response.json().type).toMatch(/\/unauthorized$/);
    expect(response.headers['www-authenticate']).toMatch(/^Bearer/);
    const [rows] = await primary.query('SELECT COUNT(*) AS n FROM resources WHERE name = ?', ['refused']);
    expect(rows).toEqual([{ n: 0 }]);
  });

  it.each([
    ['issued a little in the future, within the clock skew', { iat: now() + 20 }],
    ['not valid before a moment within the clock skew', { nbf: now() + 20 }],
    ['for several audiences, ours among them', { aud: ['another-app', JWT_AUDIENCE] }],
  ])('a token %s is accepted', async (_name, extra) => {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/resources',
      headers: { authorization: `Bearer ${mintToken(claims(extra))}` },
      payload: { name: 'accepted', providerId: 'p', timeZone: 'UTC' },
    });
    expect(response.statusCode).toBe(201);
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
