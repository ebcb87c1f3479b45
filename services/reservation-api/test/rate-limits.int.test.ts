import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { FastifyInstance } from 'fastify';
import { bearer, freshDatabase, testApp } from './support/app.ts';
import { book, createResource, tableCounts } from './support/fixtures.ts';

let app: FastifyInstance;
let primaryUrl: string;
let resourceId: string;

beforeAll(async () => {
  const db = await freshDatabase('rsv_limits');
  await db.migrate();
  primaryUrl = db.primaryUrl;
  ({ app } = await testApp({ MYSQL_PRIMARY_URL: db.as.reservationApi.primaryUrl, RATE_LIMIT_HOLDS: 2, RATE_LIMIT_WRITES: 100 }));
  // An admin of its own: the limits count per principal in the shared Redis, and the test files before
  // this one may have spent the shared admin's 100 writes of this minute.
  resourceId = await createResource(app, { capacity: 100, admin: bearer('admin', `admin-${randomUUID()}`) });
});
afterAll(async () => {
  await app?.close();
});

describe('rate limits on the booking commands', () => {
  it('bookings past the holds limit are a 429 problem with Retry-After and RateLimit-*, and write nothing; other writes go on', async () => {
    const customer = `limited-${randomUUID()}`;
    const window = (h: number) =>
      [`2035-03-01T${String(h).padStart(2, '0')}:00:00Z`, `2035-03-01T${String(h + 1).padStart(2, '0')}:00:00Z`] as const;
    const first = await book(app, resourceId, ...window(8), { customer, hold: true });
    const second = await book(app, resourceId, ...window(9), { customer });
    expect([first.statusCode, second.statusCode]).toEqual([201, 201]);
    expect(second.headers['ratelimit-limit']).toBe('2');
    expect(second.headers['ratelimit-remaining']).toBe('0');

    const before = await tableCounts(primaryUrl);
    const refused = await book(app, resourceId, ...window(10), { customer, key: `k-${randomUUID()}` });
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(refused.json()).toMatchObject({ type: 'https://reservations.dev/problems/rate-limited', status: 429, limit: 2, class: 'holds' });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(await tableCounts(primaryUrl)).toEqual(before);

    // Another customer books; this one may still cancel (a write, not a hold).
    expect((await book(app, resourceId, ...window(10), { customer: `other-${randomUUID()}` })).statusCode).toBe(201);
    const cancel = await app.inject({
      method: 'POST',
      url: `/v1/reservations/${first.json<{ id: string }>().id}/cancel`,
      headers: bearer('customer', customer),
    });
    expect(cancel.statusCode).toBe(200);
  });

  it('the OpenAPI document declares the 429', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json();
    expect(Object.keys(doc.paths['/v1/reservations'].post.responses)).toContain('429');
  });
});
