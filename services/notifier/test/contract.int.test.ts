import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { token } from '@reservations/reservation-api/testing';
import { runSchemathesis } from '@reservations/testkit';
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { buildApp } from '../src/app.ts';
import { bearer, freshQueue, migratedDatabase, notifierConfig } from './support/pipeline.ts';

const PROVIDERS = ['acme', 'globex'];
let notifier: FastifyInstance;
let baseUrl: string;

beforeAll(async () => {
  const db = await migratedDatabase('ntf_contract');
  const queue = await freshQueue('contract');
  notifier = await buildApp(notifierConfig(db.as.notifier.primaryUrl, queue), { registry: new Registry(), logger: false });
  baseUrl = await notifier.listen({ port: 0, host: '127.0.0.1' });
  // One provider with an endpoint, one without: reads that find something and reads that do not.
  const set = await fetch(`${baseUrl}/v1/providers/acme/webhook`, {
    method: 'PUT',
    headers: { ...bearer('provider', 'acme'), 'content-type': 'application/json' },
    body: JSON.stringify({ url: 'https://hooks.example.com/acme' }),
  });
  expect(set.status).toBe(201);
});
afterAll(async () => {
  await notifier?.close();
});

describe('the OpenAPI document is the contract', () => {
  it('a provider id is bounded by its documented maxLength (400 naming it), past the router’s limit a 414 problem', async () => {
    const at = (id: string) => fetch(`${baseUrl}/v1/providers/${id}/webhook`, { headers: bearer('admin', 'admin-1') });
    expect((await at('p'.repeat(128))).status).toBe(404);
    const long = await at('p'.repeat(129));
    expect(long.status).toBe(400);
    expect(await long.json()).toMatchObject({ errors: [{ field: 'params/id', message: expect.any(String) }] });
    // Percent-encoded, 128 characters are longer than the router's default of 100 (Fastify's 414).
    expect((await at(encodeURIComponent('é'.repeat(128)))).status).toBe(404);
    const tooLong = await at('p'.repeat(3000));
    expect(tooLong.status).toBe(414);
    expect(tooLong.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
  });

  it('Schemathesis, with an admin token and every check, finds nothing the API answers that its document does not say', async () => {
    const run = await runSchemathesis({
      baseUrl,
      token: token('admin', 'admin-1'),
      configFile: join(import.meta.dirname, 'contract', 'schemathesis.toml'),
      dictionaries: { providers: PROVIDERS },
      maxExamples: 15,
    });
    if (run.exitCode !== 0) throw new Error(`Schemathesis found failures (exit ${run.exitCode}):\n${run.output}`);
    expect(run.linksCovered).toBeGreaterThan(0);
  }, 240_000);
});
