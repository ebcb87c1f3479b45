import { describe, expect, it } from '@jest/globals';
import Fastify from 'fastify';
import { Type } from 'typebox';
import { defineProblems, Problem, problemHandler } from '../src/problem.ts';
import { createValidatorCompiler } from '../src/validation.ts';

async function app() {
  const app = Fastify({ bodyLimit: 1024 });
  app.setValidatorCompiler(createValidatorCompiler());
  await app.register(problemHandler);
  const registry = defineProblems('https://example.test/problems/', { 'slot-unavailable': { status: 409, title: 'Taken' } });
  app.post(
    '/things',
    {
      schema: {
        body: Type.Object({ n: Type.Integer(), s: Type.String() }, { additionalProperties: false }),
        querystring: Type.Object({ limit: Type.Optional(Type.Integer()) }),
      },
    },
    async (request) => ({ body: request.body, query: request.query }),
  );
  app.get('/conflict', async () => {
    throw new Problem(registry, 'slot-unavailable', 'taken from 10:00 to 11:00', { extensions: { conflict: { from: '10:00' } } });
  });
  app.get('/boom', async () => {
    throw new Error('secret internals');
  });
  return app;
}

describe('problem+json', () => {
  it('a validation error names every offending field; unknown fields and wrong types are refused, not stripped or coerced', async () => {
    const response = await (await app()).inject({ method: 'POST', url: '/things', payload: { n: '3', extra: 1 } });
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(response.json()).toMatchObject({ type: 'https://reservations.dev/problems/validation-failed', status: 400 });
    expect(
      response
        .json()
        .errors.map((e: { field: string }) => e.field)
        .sort(),
    ).toEqual(['body/extra', 'body/n', 'body/s']);
  });

  it('query strings are still coerced from strings', async () => {
    const response = await (await app()).inject({ method: 'POST', url: '/things?limit=5', payload: { n: 3, s: 'x' } });
    expect(response.json()).toEqual({ body: { n: 3, s: 'x' }, query: { limit: 5 } });
  });

  it('a Problem keeps its registry type and extensions', async () => {
    const response = await (await app()).inject({ method: 'GET', url: '/conflict' });
    expect(response.statusCode).toBe(409);
    expect(response.json()).toEqual({
      type: 'https://example.test/problems/slot-unavailable',
      title: 'Taken',
      status: 409,
      detail: 'taken from 10:00 to 11:00',
      conflict: { from: '10:00' },
    });
  });

  it('an unexpected error is an opaque 500, and an unknown route a 404, both problems', async () => {
    const a = await app();
    const boom = await a.inject({ method: 'GET', url: '/boom' });
    expect(boom.statusCode).toBe(500);
    expect(boom.body).not.toContain('secret internals');
    const missing = await a.inject({ method: 'GET', url: '/nowhere' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().type).toBe('https://reservations.dev/problems/not-found');
  });

  it('a body over the limit is a 413 naming the limit', async () => {
    const response = await (await app()).inject({ method: 'POST', url: '/things', payload: { n: 1, s: 'x'.repeat(2000) } });
    expect(response.statusCode).toBe(413);
    expect(response.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(response.json()).toEqual({
      type: 'https://reservations.dev/problems/body-too-large',
      title: 'The body is larger than this API accepts',
      status: 413,
      detail: 'the body is larger than the 1024 bytes this API accepts',
      limitBytes: 1024,
      errors: [{ field: 'body', message: 'must be at most 1024 bytes' }],
    });
  });

  it('a code outside the registry is a programming error', () => {
    const registry = defineProblems('https://example.test/', { known: { status: 400, title: 'k' } });
    expect(() => new Problem(registry, 'unknown', 'x')).toThrow('problem code unknown is not in the registry');
  });
});
