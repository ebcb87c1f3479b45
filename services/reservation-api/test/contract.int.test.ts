import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { runSchemathesis } from '@reservations/testkit';
import type { FastifyInstance } from 'fastify';
import { bearer, freshDatabase, testApp, token } from './support/app.ts';
import { ADMIN, createResource, tableCounts } from './support/fixtures.ts';

let app: FastifyInstance;
let baseUrl: string;
let db: Awaited<ReturnType<typeof freshDatabase>>;

beforeAll(async () => {
  db = await freshDatabase('rsv_contract');
  await db.migrate();
  ({ app } = await testApp({ MYSQL_PRIMARY_URL: db.as.reservationApi.primaryUrl }));
  baseUrl = await app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await app?.close();
});

type Document = {
  paths: Record<
    string,
    Record<
      string,
      { parameters?: { name: string; in: string; required?: boolean }[]; responses: Record<string, { content?: Record<string, unknown> }> }
    >
  >;
};

describe('the OpenAPI document is the contract', () => {
  it('declares every error as application/problem+json, and If-Match as required on PATCH with its 428', async () => {
    const document = (await (await fetch(`${baseUrl}/docs/json`)).json()) as Document;
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        for (const [status, response] of Object.entries(operation.responses)) {
          const expected = Number(status) >= 400 ? ['application/problem+json'] : ['application/json'];
          expect({ operation: `${method} ${path} ${status}`, types: Object.keys(response.content ?? {}) }).toEqual({
            operation: `${method} ${path} ${status}`,
            types: expected,
          });
        }
      }
    }
    const patch = document.paths['/v1/reservations/{id}']?.patch;
    expect(patch?.parameters?.find((p) => p.name === 'if-match')).toMatchObject({ in: 'header', required: true });
    expect(Object.keys(patch?.responses ?? {})).toEqual(expect.arrayContaining(['412', '414', '415', '428']));
  });

  it('answers what it documents for what the router refuses: a long path segment, an undeclared method', async () => {
    const resource = await createResource(app);
    const before = await tableCounts(db.primaryUrl);
    const long = await fetch(`${baseUrl}/v1/reservations/${'a'.repeat(3000)}/confirm`, { method: 'POST', headers: ADMIN });
    expect(long.status).toBe(414);
    expect(long.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
    expect(await long.json()).toMatchObject({ type: expect.stringMatching(/\/uri-too-long$/), status: 414 });

    // Shorter than the router's limit: validation names the parameter.
    const notUuid = await fetch(`${baseUrl}/v1/reservations/${'a'.repeat(150)}/confirm`, { method: 'POST', headers: ADMIN });
    expect(notUuid.status).toBe(400);
    expect(await notUuid.json()).toMatchObject({ errors: [{ field: 'params/id', message: expect.any(String) }] });

    const deleted = await fetch(`${baseUrl}/v1/resources/${resource}`, { method: 'DELETE', headers: ADMIN });
    expect(deleted.status).toBe(405);
    expect(deleted.headers.get('allow')).toBe('PATCH');
    expect(deleted.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
    const unknown = await fetch(`${baseUrl}/v1/nothing-here`, { headers: ADMIN });
    expect(unknown.status).toBe(404);

    const noIfMatch = await fetch(`${baseUrl}/v1/reservations/${crypto.randomUUID()}`, {
      method: 'PATCH',
      headers: { ...bearer('customer', 'contract'), 'content-type': 'application/json' },
      body: JSON.stringify({ notes: 'x' }),
    });
    expect(noIfMatch.status).toBe(428);
    expect(await noIfMatch.json()).toMatchObject({ type: expect.stringMatching(/\/precondition-required$/) });
    expect(await tableCounts(db.primaryUrl)).toEqual(before);
  });

  it('Schemathesis, with an admin token and every check, finds nothing the API answers that its document does not say', async () => {
    const day = new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10);
    const run = await runSchemathesis({
      baseUrl,
      token: token('admin', 'contract-admin'),
      configFile: join(import.meta.dirname, 'contract', 'schemathesis.toml'),
      dictionaries: {
        'time-zones': ['Europe/Paris', 'UTC', 'America/New_York', 'Asia/Tokyo'],
        starts: [`${day}T09:00:00Z`, `${day}T10:00:00+02:00`],
        ends: [`${day}T10:30:00Z`, `${day}T11:00:00Z`],
      },
      maxExamples: 15,
    });
    if (run.exitCode !== 0) throw new Error(`Schemathesis found failures (exit ${run.exitCode}):\n${run.output}`);
    expect(run.linksCovered).toBeGreaterThan(0);
  }, 240_000);
});
