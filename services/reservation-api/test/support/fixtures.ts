import { expect } from '@jest/globals';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import mysql from 'mysql2/promise';
import { bearer } from './app.ts';

export const ADMIN = bearer('admin', 'admin-1');

export async function createResource(
  app: FastifyInstance,
  { capacity = 1, providerId = 'provider-1', timeZone = 'Europe/Paris', admin = ADMIN } = {},
) {
  const response = await app.inject({
    method: 'POST',
    url: '/v1/resources',
    headers: admin,
    payload: { name: 'Room 1', providerId, timeZone, capacity },
  });
  if (response.statusCode !== 201) throw new Error(`resource not created: ${response.body}`);
  return response.json<{ id: string }>().id;
}

export function book(
  app: FastifyInstance,
  resourceId: string,
  startsAt: string,
  endsAt: string,
  { customer = 'customer-1', key, hold }: { customer?: string; key?: string; hold?: boolean } = {},
) {
  return app.inject({
    method: 'POST',
    url: '/v1/reservations',
    headers: { ...bearer('customer', customer), ...(key ? { 'idempotency-key': key } : {}) },
    payload: { resourceId, startsAt, endsAt, ...(hold !== undefined ? { hold } : {}) },
  });
}

/** Row counts of every table a command writes, to prove a refused request wrote nothing. */
export async function tableCounts(url: string) {
  const conn = await mysql.createConnection(url);
  try {
    const counts: Record<string, number> = {};
    for (const table of ['reservations', 'outbox', 'idempotency_keys', 'resources']) {
      const [[row]] = (await conn.query(`SELECT COUNT(*) AS n FROM ${table}`)) as unknown as [{ n: number }[]];
      counts[table] = Number(row?.n);
    }
    return counts;
  } finally {
    await conn.end();
  }
}

export async function sql<T = Record<string, unknown>>(url: string, query: string, params: unknown[] = []): Promise<T[]> {
  const conn = await mysql.createConnection({ uri: url, timezone: 'Z' });
  try {
    const [rows] = await conn.query(query, params);
    return rows as T[];
  } finally {
    await conn.end();
  }
}

/**
 * What a client sees of a refusal: the status, an RFC 9457 problem of that `type` (code) with a
 * title and a detail, and, given `fields`, exactly those fields named in `errors`.
 */
export function expectProblem(
  response: LightMyRequestResponse,
  { status, type, fields }: { status: number; type: string; fields?: string[] },
) {
  expect(response.statusCode).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  const problem = response.json();
  expect(problem).toMatchObject({
    type: `https://reservations.dev/problems/${type}`,
    status,
    title: expect.any(String),
    detail: expect.any(String),
  });
  if (fields) expect([...new Set(problem.errors.map((e: { field: string }) => e.field))].sort()).toEqual([...fields].sort());
  return problem;
}
