import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { FastifyInstance } from 'fastify';
import { bearer, freshDatabase, testApp } from './support/app.ts';
import { ADMIN, createResource, tableCounts } from './support/fixtures.ts';

/** The booking policy with the service's documented defaults (the other tests book under a wide one). */
let app: FastifyInstance;
let db: Awaited<ReturnType<typeof freshDatabase>>;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** An instant `ms` from now, on a whole minute, so each test's windows are apart. */
const at = (ms: number) => new Date(Math.floor((Date.now() + ms) / 60_000) * 60_000).toISOString();

beforeAll(async () => {
  db = await freshDatabase('rsv_policy');
  await db.migrate();
  ({ app } = await testApp({
    MYSQL_PRIMARY_URL: db.as.reservationApi.primaryUrl,
    BOOKING_MAX_DURATION_MINUTES: 1440,
    BOOKING_HORIZON_DAYS: 365,
    BOOKING_CLOCK_SKEW_SECONDS: 60,
    MAX_ACTIVE_HOLDS_PER_CUSTOMER: 3,
  }));
});
afterAll(async () => {
  await app?.close();
});

function book(resourceId: string, startsAt: string, endsAt: string, { customer = 'carol', hold = false, key = '' } = {}) {
  return app.inject({
    method: 'POST',
    url: '/v1/reservations',
    headers: { ...bearer('customer', customer), ...(key ? { 'idempotency-key': key } : {}) },
    payload: { resourceId, startsAt, endsAt, hold },
  });
}

/** The refusal a user sees, and that nothing was written (not even the Idempotency-Key). */
async function expectRefused(request: () => Promise<{ statusCode: number; headers: Record<string, unknown>; json: () => unknown }>) {
  const before = await tableCounts(db.primaryUrl);
  const response = await request();
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(await tableCounts(db.primaryUrl)).toEqual(before);
  return { status: response.statusCode, problem: response.json() as { type: string; errors?: { field: string; message: string }[] } };
}

const fieldsOf = (problem: { errors?: { field: string }[] }) => problem.errors?.map((e) => e.field);

describe('windows under the default policy', () => {
  let resource: string;
  beforeAll(async () => {
    resource = await createResource(app, { capacity: 100 });
  });

  it('a window within a day, starting soon, is booked', async () => {
    expect((await book(resource, at(HOUR), at(2 * HOUR))).statusCode).toBe(201);
  });

  it.each([
    ['[1970, 9999) (the window the API once accepted)', '1970-01-01T00:00:00Z', '9999-01-01T00:00:00Z', ['body/startsAt', 'body/endsAt']],
    ['a start five minutes ago', at(-5 * 60_000), at(HOUR), ['body/startsAt']],
    ['a window of a day and a minute', at(DAY), at(2 * DAY + 60_000), ['body/endsAt']],
    ['an end past the 365-day horizon', at(366 * DAY), at(366 * DAY + HOUR), ['body/endsAt']],
  ])('%s is a 400 naming the field, with or without an Idempotency-Key, and writes nothing', async (_what, start, end, fields) => {
    for (const key of ['', `policy-${start}`]) {
      const { status, problem } = await expectRefused(() => book(resource, start, end, { key }));
      expect(status).toBe(400);
      expect(problem.type).toBe('https://reservations.dev/problems/validation-failed');
      expect([...new Set(fieldsOf(problem))]).toEqual(fields);
    }
  });

  it('a start within the clock-skew allowance (30 s ago) is taken', async () => {
    expect((await book(resource, new Date(Date.now() - 30_000).toISOString(), at(HOUR))).statusCode).toBe(201);
  });
});

describe("a resource's own policy", () => {
  it('overrides the defaults, is shown on the resource, and null goes back to them', async () => {
    const created = await app.inject({
      method: 'POST',
      url: '/v1/resources',
      headers: ADMIN,
      payload: { name: 'Short slots', providerId: 'p', timeZone: 'UTC', maxDurationMinutes: 30, bookingHorizonDays: 7 },
    });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ maxDurationMinutes: 30, bookingHorizonDays: 7 });
    const id = created.json().id as string;

    const long = await expectRefused(() => book(id, at(HOUR), at(HOUR + 45 * 60_000)));
    expect(long.problem.errors).toEqual([
      { field: 'body/endsAt', message: "makes the window longer than the resource's maximum of 30 minutes" },
    ]);
    const far = await expectRefused(() => book(id, at(8 * DAY), at(8 * DAY + 15 * 60_000)));
    expect(fieldsOf(far.problem)).toEqual(['body/endsAt']);
    expect(far.problem.errors?.[0]?.message).toMatch(/^is beyond the resource's booking horizon of 7 days/);
    expect((await book(id, at(6 * DAY), at(6 * DAY + 30 * 60_000))).statusCode).toBe(201);

    const reset = await app.inject({ method: 'PATCH', url: `/v1/resources/${id}`, headers: ADMIN, payload: { maxDurationMinutes: null } });
    expect(reset.json()).toMatchObject({ maxDurationMinutes: null, bookingHorizonDays: 7 });
    expect((await book(id, at(HOUR), at(HOUR + 45 * 60_000))).statusCode).toBe(201);
  });

  it.each([
    ['0 minutes', { maxDurationMinutes: 0 }, 'body/maxDurationMinutes'],
    ['more than a year', { maxDurationMinutes: 525_601 }, 'body/maxDurationMinutes'],
    ['a horizon of 0 days', { bookingHorizonDays: 0 }, 'body/bookingHorizonDays'],
    ['a horizon as a string', { bookingHorizonDays: '7' }, 'body/bookingHorizonDays'],
  ])('a setting of %s is a 400 naming it', async (_what, setting, field) => {
    const { status, problem } = await expectRefused(() =>
      app.inject({
        method: 'POST',
        url: '/v1/resources',
        headers: ADMIN,
        payload: { name: 'X', providerId: 'p', timeZone: 'UTC', ...setting },
      }),
    );
    expect(status).toBe(400);
    expect(fieldsOf(problem)).toContain(field);
  });
});

describe('rescheduling under the policy', () => {
  it('a move into the past or past the maximum is a 400 naming the field; moving only the end of a window under way is allowed', async () => {
    const resource = await createResource(app, { capacity: 10 });
    const created = await book(resource, at(2 * HOUR), at(3 * HOUR));
    const { id, version } = created.json();
    const patch = (payload: object) =>
      app.inject({
        method: 'PATCH',
        url: `/v1/reservations/${id}`,
        headers: { ...bearer('customer', 'carol'), 'if-match': `"${version}"` },
        payload,
      });
    const past = await expectRefused(() => patch({ startsAt: at(-HOUR) }));
    expect([past.status, fieldsOf(past.problem)]).toEqual([400, ['body/startsAt']]);
    const long = await expectRefused(() => patch({ endsAt: at(2 * HOUR + DAY + 60_000) }));
    expect([long.status, fieldsOf(long.problem)]).toEqual([400, ['body/endsAt']]);
    expect((await patch({ endsAt: at(4 * HOUR) })).statusCode).toBe(200);
  });
});

describe('active holds per customer', () => {
  it('past the cap a hold is a 409 naming the limit; confirming one frees a place; bookings are not holds', async () => {
    const resource = await createResource(app, { capacity: 100 });
    const dave = { customer: 'dave', hold: true };
    const holds = [];
    for (let i = 0; i < 3; i++) {
      const held = await book(resource, at((10 + i) * HOUR), at((11 + i) * HOUR), dave);
      expect(held.statusCode).toBe(201);
      holds.push(held.json().id as string);
    }
    const fourth = await expectRefused(() => book(resource, at(20 * HOUR), at(21 * HOUR), dave));
    expect(fourth.status).toBe(409);
    expect(fourth.problem).toMatchObject({ type: 'https://reservations.dev/problems/hold-limit-reached', limit: 3 });

    // Another customer, and a confirmed booking of dave's, are not held back.
    expect((await book(resource, at(20 * HOUR), at(21 * HOUR), { customer: 'erin', hold: true })).statusCode).toBe(201);
    expect((await book(resource, at(22 * HOUR), at(23 * HOUR), { customer: 'dave' })).statusCode).toBe(201);

    const confirmed = await app.inject({
      method: 'POST',
      url: `/v1/reservations/${holds[0]}/confirm`,
      headers: bearer('customer', 'dave'),
    });
    expect(confirmed.statusCode).toBe(200);
    expect((await book(resource, at(20 * HOUR), at(21 * HOUR), dave)).statusCode).toBe(201);
  });
});
