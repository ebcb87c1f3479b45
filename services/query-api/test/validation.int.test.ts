import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { book, createResource, expectProblem } from '@reservations/reservation-api/testing';
import type { FastifyInstance } from 'fastify';
import { bearer, bothApps } from './support/apps.ts';

/** The read side's share of the table of bad inputs (reservation-api's is its validation.int.test.ts). */
let writer: FastifyInstance;
let reader: FastifyInstance;
let resourceId: string;
let reservationId: string;
let token: string;

beforeAll(async () => {
  ({ writer, reader } = await bothApps('qry_validation'));
  resourceId = await createResource(writer);
  const created = await book(writer, resourceId, '2030-08-01T10:00:00Z', '2030-08-01T11:00:00Z', { customer: 'alice' });
  reservationId = created.json().id;
  token = created.headers['x-consistency-token'] as string;
});
afterAll(async () => {
  await Promise.all([writer?.close(), reader?.close()]);
});

const customer = bearer('customer', 'alice');
const RES = '$RESERVATION';
const RSC = '$RESOURCE';

const cases: { name: string; url: string; headers?: Record<string, string>; status: number; type: string; fields?: string[] }[] = [
  {
    name: 'a list from the year 0000',
    url: '/v1/reservations?from=0000-01-01T00:00:00Z',
    status: 400,
    type: 'validation-failed',
    fields: ['querystring/from'],
  },
  {
    name: 'a list to a leap second',
    url: '/v1/reservations?to=2032-12-31T23:59:60Z',
    status: 400,
    type: 'validation-failed',
    fields: ['querystring/to'],
  },
  {
    name: 'a list to an instant the year 10000 in UTC',
    url: `/v1/reservations?to=${encodeURIComponent('9999-12-31T23:59:59-01:00')}`,
    status: 400,
    type: 'validation-failed',
    fields: ['querystring/to'],
  },
  {
    name: 'a list ending before it starts',
    url: '/v1/reservations?from=2030-02-01T00:00:00Z&to=2030-01-01T00:00:00Z',
    status: 400,
    type: 'validation-failed',
    fields: ['querystring/to'],
  },
  { name: 'a limit of 0', url: '/v1/reservations?limit=0', status: 400, type: 'validation-failed', fields: ['querystring/limit'] },
  { name: 'a limit of 101', url: '/v1/reservations?limit=101', status: 400, type: 'validation-failed', fields: ['querystring/limit'] },
  {
    name: 'a cursor this API never handed out',
    url: '/v1/reservations?cursor=bm9wZQ',
    status: 400,
    type: 'validation-failed',
    fields: ['querystring/cursor'],
  },
  {
    name: 'an unknown status',
    url: '/v1/reservations?status=pending',
    status: 400,
    type: 'validation-failed',
    fields: ['querystring/status'],
  },
  {
    name: 'an unknown query parameter',
    url: '/v1/reservations?colour=red',
    status: 400,
    type: 'validation-failed',
    fields: ['querystring/colour'],
  },
  { name: 'a customer listing another customer', url: '/v1/reservations?customerId=bob', status: 403, type: 'forbidden' },
  {
    name: 'a reservation id that is not a uuid',
    url: '/v1/reservations/nope',
    status: 400,
    type: 'validation-failed',
    fields: ['params/id'],
  },
  {
    name: 'a consistency token that is a bare GTID',
    url: `/v1/reservations/${RES}`,
    headers: { 'x-consistency-token': '0-1-1' },
    status: 400,
    type: 'validation-failed',
    fields: ['headers/x-consistency-token'],
  },
  {
    name: "another principal's consistency token",
    url: `/v1/reservations/${RES}`,
    headers: { ...bearer('customer', 'bob'), 'x-consistency-token': '$TOKEN' },
    status: 400,
    type: 'validation-failed',
    fields: ['headers/x-consistency-token'],
  },
  {
    name: 'a consistency token longer than 512 characters',
    url: `/v1/reservations/${RES}`,
    headers: { 'x-consistency-token': '0-1-1,'.repeat(100) },
    status: 400,
    type: 'validation-failed',
    fields: ['headers/x-consistency-token'],
  },
  {
    name: 'a tampered consistency token on the event history',
    url: `/v1/reservations/${RES}/events`,
    headers: { 'x-consistency-token': '$TOKEN_TAMPERED' },
    status: 400,
    type: 'validation-failed',
    fields: ['headers/x-consistency-token'],
  },
  {
    name: 'availability over more than 31 days',
    url: `/v1/resources/${RSC}/availability?from=2030-01-01T00:00:00Z&to=2030-03-01T00:00:00Z`,
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'availability from the year 0000',
    url: `/v1/resources/${RSC}/availability?from=0000-01-01T00:00:00Z&to=0000-01-02T00:00:00Z`,
    status: 400,
    type: 'validation-failed',
    fields: ['querystring/from', 'querystring/to'],
  },
  { name: 'no bearer token', url: '/v1/reservations', headers: { authorization: '' }, status: 401, type: 'unauthorized' },
  {
    name: "someone else's reservation",
    url: `/v1/reservations/${RES}`,
    headers: bearer('customer', 'bob'),
    status: 404,
    type: 'reservation-not-found',
  },
];

describe('bad input on the read side is a problem+json naming the field, never a 5xx', () => {
  it.each(cases)('$name → $status $type', async ({ url, headers = {}, status, type, fields }) => {
    const tampered = `${token.slice(0, -10)}${token.at(-10) === 'A' ? 'B' : 'A'}${token.slice(-9)}`;
    const fill = (value: string) =>
      value.replace(RES, reservationId).replace(RSC, resourceId).replace('$TOKEN_TAMPERED', tampered).replace('$TOKEN', token);
    const response = await reader.inject({
      method: 'GET',
      url: fill(url),
      headers: Object.fromEntries(Object.entries({ ...customer, ...headers }).map(([k, v]) => [k, fill(v)])),
    });
    expectProblem(response, { status, type, ...(fields ? { fields } : {}) });
  });
});
