import { describe, expect, it } from '@jest/globals';
import { MAX_PARAM_LENGTH, placeLinks, plumbingResponses, RouteMethods } from '../src/api-document.ts';

const security = [{ bearer: [] }];

describe('plumbingResponses', () => {
  it('a secured command with a path parameter and a body may get every status the plumbing gives', () => {
    const added = plumbingResponses({ method: 'PATCH', url: '/v1/things/:id', schema: { security, params: {}, body: {} } });
    expect(Object.keys(added)).toEqual(['400', '401', '413', '414', '415', '429', '503']);
    expect(added[414]?.description).toContain(String(MAX_PARAM_LENGTH));
    for (const response of Object.values(added)) expect(Object.keys(response.content)).toEqual(['application/problem+json']);
  });

  it('a public read without input gets only 503; a route’s own description of a status wins', () => {
    expect(Object.keys(plumbingResponses({ method: 'GET', url: '/v1/ping', schema: {} }))).toEqual(['503']);
    const added = plumbingResponses({
      method: ['GET', 'HEAD'],
      url: '/v1/things',
      schema: { security, querystring: {}, response: { 400: {} } },
    });
    expect(Object.keys(added)).toEqual(['401', '429', '503']);
  });

  it('leaves routes without a schema, or hidden from the document, alone', () => {
    expect(plumbingResponses({ method: 'GET', url: '/docs/json' })).toEqual({});
    expect(plumbingResponses({ method: 'GET', url: '/docs/:file', schema: { hide: true, params: {} } })).toEqual({});
  });
});

describe('placeLinks', () => {
  it('moves an operation’s x-links into the responses they belong to', () => {
    const link = { operationId: 'getThing', parameters: { 'path.id': '$response.body#/id' } };
    const document = placeLinks({
      paths: { '/v1/things': { post: { 'x-links': { 201: { Read: link } }, responses: { 201: { description: 'created' }, 400: {} } } } },
    });
    expect(document.paths['/v1/things'].post).toEqual({ responses: { 201: { description: 'created', links: { Read: link } }, 400: {} } });
  });

  it('refuses links for a status the operation does not document', () => {
    const document = { paths: { '/v1/things': { post: { 'x-links': { 200: { Read: { operationId: 'x' } } }, responses: { 201: {} } } } } };
    expect(() => placeLinks(document)).toThrow('links for status 200, which the operation does not document');
  });
});

describe('RouteMethods', () => {
  const routes = new RouteMethods();
  routes.add(['GET', 'HEAD'], '/v1/things/:id');
  routes.add('PATCH', '/v1/things/:id');
  routes.add('POST', '/v1/things/:id/confirm');
  routes.add('GET', '/v1/a.b');

  it('lists the methods that answer a concrete path, a parameter standing for one segment', () => {
    expect(routes.allowed('/v1/things/42')).toEqual(['GET', 'HEAD', 'PATCH']);
    expect(routes.allowed('/v1/things/42/confirm')).toEqual(['POST']);
  });

  it('lists none for a path no route has (a 404, not a 405)', () => {
    expect(routes.allowed('/v1/things')).toEqual([]);
    expect(routes.allowed('/v1/things/42/43')).toEqual([]);
    expect(routes.allowed('/v1/aXb')).toEqual([]);
  });
});
