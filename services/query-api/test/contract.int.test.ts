import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CONSISTENCY_HEADER } from '@reservations/contracts';
import { ADMIN, createResource, token } from '@reservations/reservation-api/testing';
import { harnessEnv, runSchemathesis, waitForReplica } from '@reservations/testkit';
import type { FastifyInstance } from 'fastify';
import { bothApps } from './support/apps.ts';

let writer: FastifyInstance;
let reader: FastifyInstance;
let baseUrl: string;
const ids: string[] = [];
const tokens: string[] = [];
let resourceId: string;

// What the run reads: a resource and reservations booked through the real write side, as an admin
// (the token the run sends), with the consistency tokens those writes returned.
beforeAll(async () => {
  ({ writer, reader } = await bothApps('qry_contract'));
  resourceId = await createResource(writer, { timeZone: 'UTC' });
  const day = new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10);
  for (const hour of ['09', '11', '13']) {
    const booked = await writer.inject({
      method: 'POST',
      url: '/v1/reservations',
      headers: ADMIN,
      payload: { resourceId, startsAt: `${day}T${hour}:00:00Z`, endsAt: `${day}T${hour}:30:00Z`, customerId: 'contract-customer' },
    });
    expect(booked.statusCode).toBe(201);
    ids.push(booked.json<{ id: string }>().id);
    tokens.push(String(booked.headers[CONSISTENCY_HEADER]));
  }
  await waitForReplica({
    MYSQL_PRIMARY_ADMIN_URL: harnessEnv('MYSQL_PRIMARY_ADMIN_URL'),
    MYSQL_REPLICA_ADMIN_URL: harnessEnv('MYSQL_REPLICA_ADMIN_URL'),
  });
  baseUrl = await reader.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await Promise.all([writer?.close(), reader?.close()]);
});

describe('the OpenAPI document is the contract', () => {
  it('Schemathesis, with an admin token and every check, finds nothing the API answers that its document does not say', async () => {
    const run = await runSchemathesis({
      baseUrl,
      token: token('admin', 'admin-1'),
      configFile: join(import.meta.dirname, 'contract', 'schemathesis.toml'),
      dictionaries: { ids: [...ids, resourceId], resources: [resourceId], tokens },
      maxExamples: 15,
    });
    if (run.exitCode !== 0) throw new Error(`Schemathesis found failures (exit ${run.exitCode}):\n${run.output}`);
    expect(run.linksCovered).toBeGreaterThan(0);
  }, 240_000);
});
