import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { FastifyInstance } from 'fastify';
import { bearer, freshDatabase, testApp } from './support/app.ts';
import { ADMIN, createResource, expectProblem, tableCounts } from './support/fixtures.ts';

let app: FastifyInstance;
let db: Awaited<ReturnType<typeof freshDatabase>>;
let resourceId: string;

beforeAll(async () => {
  db = await freshDatabase('rsv_validation');
  await db.migrate();
  ({ app } = await testApp({ MYSQL_PRIMARY_URL: db.as.reservationApi.primaryUrl, BODY_LIMIT_BYTES: 2048 }));
  resourceId = await createResource(app);
});
afterAll(async () => {
  await app?.close();
});

const valid = () => ({ resourceId: '$RESOURCE', startsAt: '2033-01-01T10:00:00+02:00', endsAt: '2033-01-01T11:00:00+02:00' });
const customer = bearer('customer', 'customer-1');

interface Case {
  name: string;
  url?: string;
  method?: 'POST' | 'PATCH';
  headers?: Record<string, string>;
  payload: unknown;
  status: number;
  type: string;
  fields?: string[];
}

const cases: Case[] = [
  { name: 'unknown field', payload: { ...valid(), colour: 'red' }, status: 400, type: 'validation-failed', fields: ['body/colour'] },
  {
    name: 'missing fields, all named',
    payload: { notes: 'x' },
    status: 400,
    type: 'validation-failed',
    fields: ['body/resourceId', 'body/startsAt', 'body/endsAt'],
  },
  { name: 'wrong type', payload: { ...valid(), hold: 'yes' }, status: 400, type: 'validation-failed', fields: ['body/hold'] },
  {
    name: 'number where a string belongs (no coercion)',
    payload: { ...valid(), notes: 42 },
    status: 400,
    type: 'validation-failed',
    fields: ['body/notes'],
  },
  {
    name: 'not a uuid',
    payload: { ...valid(), resourceId: 'room-1' },
    status: 400,
    type: 'validation-failed',
    fields: ['body/resourceId'],
  },
  {
    name: 'instant without an offset',
    payload: { ...valid(), startsAt: '2033-01-01T10:00:00' },
    status: 400,
    type: 'validation-failed',
    fields: ['body/startsAt'],
  },
  { name: 'not an instant', payload: { ...valid(), endsAt: 'tomorrow' }, status: 400, type: 'validation-failed', fields: ['body/endsAt'] },
  {
    name: 'endsAt equal to startsAt',
    payload: { ...valid(), endsAt: valid().startsAt },
    status: 400,
    type: 'validation-failed',
    fields: ['body/endsAt'],
  },
  {
    name: 'endsAt before startsAt',
    payload: { ...valid(), endsAt: '2033-01-01T09:00:00+02:00' },
    status: 400,
    type: 'validation-failed',
    fields: ['body/endsAt'],
  },
  {
    name: 'notes too long',
    payload: { ...valid(), notes: 'x'.repeat(1001) },
    status: 400,
    type: 'validation-failed',
    fields: ['body/notes'],
  },
  {
    name: 'malformed JSON',
    payload: '{"resourceId": ',
    headers: { 'content-type': 'application/json' },
    status: 400,
    type: 'malformed-json',
  },
  {
    name: 'body over the limit',
    payload: { ...valid(), notes: 'x'.repeat(4000) },
    status: 413,
    type: 'body-too-large',
    fields: ['body'],
  },
  {
    name: 'not JSON at all',
    payload: 'resourceId=1',
    headers: { 'content-type': 'text/plain' },
    status: 415,
    type: 'unsupported-media-type',
  },
  {
    name: 'empty Idempotency-Key',
    payload: valid(),
    headers: { 'idempotency-key': '' },
    status: 400,
    type: 'validation-failed',
    fields: ['headers/idempotency-key'],
  },
  {
    name: 'a leap second (RFC 3339 allows it; no JavaScript instant holds it)',
    payload: { ...valid(), startsAt: '2032-12-31T23:59:60Z' },
    status: 400,
    type: 'validation-failed',
    fields: ['body/startsAt'],
  },
  {
    name: 'a day the month does not have',
    payload: { ...valid(), endsAt: '2033-02-30T11:00:00+02:00' },
    status: 400,
    type: 'validation-failed',
    fields: ['body/endsAt'],
  },
  {
    name: 'Idempotency-Key longer than 255 characters',
    payload: valid(),
    headers: { 'idempotency-key': 'k'.repeat(300) },
    status: 400,
    type: 'validation-failed',
    fields: ['headers/idempotency-key'],
  },
  {
    name: 'Idempotency-Key with a space',
    payload: valid(),
    headers: { 'idempotency-key': 'two words' },
    status: 400,
    type: 'validation-failed',
    fields: ['headers/idempotency-key'],
  },
  {
    name: 'Idempotency-Key longer than 255 characters on a cancel',
    url: '/v1/reservations/00000000-0000-4000-8000-000000000000/cancel',
    headers: { 'idempotency-key': 'k'.repeat(300) },
    payload: undefined,
    status: 400,
    type: 'validation-failed',
    fields: ['headers/idempotency-key'],
  },
  {
    name: 'Idempotency-Key longer than 255 characters on a reschedule',
    method: 'PATCH',
    url: '/v1/reservations/00000000-0000-4000-8000-000000000000',
    headers: { 'if-match': '"1"', 'idempotency-key': 'k'.repeat(300) },
    payload: { notes: 'x' },
    status: 400,
    type: 'validation-failed',
    fields: ['headers/idempotency-key'],
  },
  {
    name: 'Idempotency-Key longer than 255 characters on a resource change',
    method: 'PATCH',
    url: '/v1/resources/$RESOURCE_ID',
    headers: { ...ADMIN, 'idempotency-key': 'k'.repeat(300) },
    payload: { name: 'Renamed' },
    status: 400,
    type: 'validation-failed',
    fields: ['headers/idempotency-key'],
  },
  {
    name: 'the year 0000 (RFC 3339 allows it; the database does not)',
    payload: { ...valid(), startsAt: '0000-01-01T10:00:00Z' },
    status: 400,
    type: 'validation-failed',
    fields: ['body/startsAt'],
  },
  {
    name: 'an offset that makes it the year 10000 in UTC',
    payload: { ...valid(), endsAt: '9999-12-31T23:59:59-01:00' },
    status: 400,
    type: 'validation-failed',
    fields: ['body/endsAt'],
  },
  {
    name: 'an offset of 24 hours',
    payload: { ...valid(), startsAt: '2033-01-01T10:00:00+24:00' },
    status: 400,
    type: 'validation-failed',
    fields: ['body/startsAt'],
  },
  {
    name: 'a start in the past',
    payload: { ...valid(), startsAt: '2020-01-01T10:00:00Z', endsAt: '2020-01-01T11:00:00Z' },
    status: 400,
    type: 'validation-failed',
    fields: ['body/startsAt'],
  },
  {
    name: 'an end beyond the booking horizon',
    payload: { ...valid(), startsAt: '2200-01-01T10:00:00Z', endsAt: '2200-01-01T11:00:00Z' },
    status: 400,
    type: 'validation-failed',
    fields: ['body/endsAt'],
  },
  {
    name: 'a window longer than the maximum duration',
    payload: { ...valid(), endsAt: '2035-01-01T11:00:00+02:00' },
    status: 400,
    type: 'validation-failed',
    fields: ['body/endsAt'],
  },
  {
    name: '[1970, 9999): in the past, too long and beyond the horizon',
    payload: { ...valid(), startsAt: '1970-01-01T00:00:00Z', endsAt: '9999-01-01T00:00:00Z' },
    status: 400,
    type: 'validation-failed',
    fields: ['body/startsAt', 'body/endsAt'],
  },
  {
    name: 'a policy breach with an Idempotency-Key (not stored: bad input writes nothing)',
    payload: { ...valid(), startsAt: '2020-01-01T10:00:00Z', endsAt: '2020-01-01T11:00:00Z' },
    headers: { 'idempotency-key': 'past-window-1' },
    status: 400,
    type: 'validation-failed',
    fields: ['body/startsAt'],
  },
  {
    name: 'Idempotency-Key with a tab inside',
    payload: valid(),
    headers: { 'idempotency-key': 'key\twith-tab' },
    status: 400,
    type: 'validation-failed',
    fields: ['headers/idempotency-key'],
  },
  {
    name: 'Idempotency-Key with a space on a confirm',
    url: '/v1/reservations/00000000-0000-4000-8000-000000000000/confirm',
    headers: { 'idempotency-key': 'two words' },
    payload: undefined,
    status: 400,
    type: 'validation-failed',
    fields: ['headers/idempotency-key'],
  },
  {
    name: 'Idempotency-Key longer than 255 characters on a resource creation',
    url: '/v1/resources',
    headers: { ...ADMIN, 'idempotency-key': 'k'.repeat(256) },
    payload: { name: 'X', providerId: 'p', timeZone: 'UTC' },
    status: 400,
    type: 'validation-failed',
    fields: ['headers/idempotency-key'],
  },
  {
    name: 'a leap second in a reschedule',
    method: 'PATCH',
    url: '/v1/reservations/00000000-0000-4000-8000-000000000000',
    headers: { 'if-match': '"1"' },
    payload: { startsAt: '2032-12-31T23:59:60Z' },
    status: 400,
    type: 'validation-failed',
    fields: ['body/startsAt'],
  },
  {
    name: 'a maximum duration of 0 minutes on a resource',
    url: '/v1/resources',
    headers: ADMIN,
    payload: { name: 'X', providerId: 'p', timeZone: 'UTC', maxDurationMinutes: 0 },
    status: 400,
    type: 'validation-failed',
    fields: ['body/maxDurationMinutes'],
  },
  {
    name: 'a negative booking horizon on a resource change',
    method: 'PATCH',
    url: '/v1/resources/$RESOURCE_ID',
    headers: ADMIN,
    payload: { bookingHorizonDays: -1 },
    status: 400,
    type: 'validation-failed',
    fields: ['body/bookingHorizonDays'],
  },
  {
    name: 'unknown resource',
    payload: { ...valid(), resourceId: '00000000-0000-4000-8000-000000000000' },
    status: 404,
    type: 'resource-not-found',
  },
  { name: 'customer booking for someone else', payload: { ...valid(), customerId: 'mallory' }, status: 403, type: 'forbidden' },
  {
    name: 'bad time zone',
    url: '/v1/resources',
    headers: ADMIN,
    payload: { name: 'X', providerId: 'p', timeZone: 'Mars/Olympus' },
    status: 400,
    type: 'validation-failed',
    fields: ['body/timeZone'],
  },
  {
    name: 'capacity 0',
    url: '/v1/resources',
    headers: ADMIN,
    payload: { name: 'X', providerId: 'p', timeZone: 'UTC', capacity: 0 },
    status: 400,
    type: 'validation-failed',
    fields: ['body/capacity'],
  },
  {
    name: 'bad id in the path',
    url: '/v1/reservations/nope/cancel',
    payload: undefined,
    status: 400,
    type: 'validation-failed',
    fields: ['params/id'],
  },
  {
    name: 'empty reschedule',
    method: 'PATCH',
    url: '/v1/reservations/00000000-0000-4000-8000-000000000000',
    headers: { 'if-match': '"1"' },
    payload: {},
    status: 400,
    type: 'validation-failed',
    fields: ['body'],
  },
];

describe('bad input is refused with problem+json and writes nothing', () => {
  it.each(cases)(
    '$name → $status $type',
    async ({ url = '/v1/reservations', method = 'POST', headers = {}, payload, status, type, fields }) => {
      const before = await tableCounts(db.primaryUrl);
      const response = await app.inject({
        method,
        url: url.replace('$RESOURCE_ID', resourceId),
        headers: { ...customer, ...headers },
        ...(payload === undefined
          ? {}
          : {
              payload: typeof payload === 'string' ? payload : JSON.stringify(payload).replace('"$RESOURCE"', JSON.stringify(resourceId)),
            }),
        ...(typeof payload === 'object' && !headers['content-type']
          ? { headers: { ...customer, 'content-type': 'application/json', ...headers } }
          : {}),
      });
      expectProblem(response, { status, type, ...(fields ? { fields } : {}) });
      expect(await tableCounts(db.primaryUrl)).toEqual(before);
    },
  );
});
