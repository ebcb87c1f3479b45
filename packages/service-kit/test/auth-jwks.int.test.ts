import { generateKeyPairSync, type KeyObject, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { waitUntil } from '@reservations/testkit';
import Fastify, { type FastifyInstance } from 'fastify';
import { auth, type JwksOptions } from '../src/auth.ts';
import { problemHandler } from '../src/problem.ts';
import { createTokenMinter } from '../src/token-minter.ts';

const ISSUER = 'https://idp.test/';
const AUDIENCE = 'reservations';

/** An issuer's signing key: its private half mints, its public half goes into the JWKS under `kid`. */
function signingKey(kid: string, type: 'rsa' | 'ec' = 'rsa') {
  const { publicKey, privateKey } =
    type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const algorithm = type === 'rsa' ? ('RS256' as const) : ('ES256' as const);
  const mint = createTokenMinter({
    issuer: ISSUER,
    audience: AUDIENCE,
    key: { privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), algorithm, kid },
  });
  return { kid, publicKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: algorithm, use: 'sig' }, mint };
}
type SigningKey = ReturnType<typeof signingKey>;

/**
 * The identity provider's JWKS endpoint on a real loopback port: the keys it publishes can be
 * changed, it counts what it served, and it can stop answering (hang) or answer garbage.
 */
async function startJwksServer() {
  const state = { keys: [] as SigningKey[], mode: 'serve' as 'serve' | 'hang' | 'garbage', served: [] as string[][] };
  const server: Server = createServer((_request, response) => {
    if (state.mode === 'hang') return; // the connection stays open, unanswered
    if (state.mode === 'garbage') return response.writeHead(200, { 'content-type': 'application/json' }).end('{"keys": 42}');
    state.served.push(state.keys.map((k) => k.kid));
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: state.keys.map((k) => k.jwk) }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  return {
    url,
    state,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A Fastify app with the kit's auth and problem handler, answering who the caller is. */
async function appTrusting(jwksUrl: string, jwks: JwksOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  await app.register(problemHandler);
  await app.register(auth, { jwksUrl, jwks, issuer: ISSUER, audience: AUDIENCE, maxTokenAgeSeconds: 3600, clockSkewSeconds: 30 });
  app.get('/whoami', async (request) => request.principal);
  return app;
}

const call = (app: FastifyInstance, token: string) =>
  app.inject({ method: 'GET', url: '/whoami', headers: { authorization: `Bearer ${token}` } });

describe('keys from a JWKS URL', () => {
  let idp: Awaited<ReturnType<typeof startJwksServer>>;
  const first = signingKey('key-1');
  const elliptic = signingKey('key-ec', 'ec');
  beforeAll(async () => {
    idp = await startJwksServer();
    idp.state.keys = [first, elliptic];
  });
  afterAll(() => idp.close());

  it('accepts RS256 and ES256 tokens of the keys the issuer publishes, picked by kid', async () => {
    const app = await appTrusting(idp.url, { timeoutMs: 1000, cooldownMs: 60_000, maxAgeMs: 600_000 });
    expect((await call(app, first.mint({ sub: 'alice', role: 'customer' }))).json()).toEqual({ id: 'alice', role: 'customer' });
    expect((await call(app, elliptic.mint({ sub: 'bob', role: 'provider' }))).json()).toEqual({ id: 'bob', role: 'provider' });
    await app.close();
  });

  describe('refuses with a 401 problem', () => {
    const rsaPem = (first.publicKey as KeyObject).export({ type: 'spki', format: 'pem' }).toString();
    const impostor = signingKey('key-1'); // claims the published kid, signs with another private key
    const unknown = signingKey('key-unknown');
    const confused = createTokenMinter({ issuer: ISSUER, audience: AUDIENCE, key: { secret: rsaPem } });
    it.each([
      ['signed by another key under a published kid', () => impostor.mint({ sub: 'a', role: 'admin' })],
      ['of a kid the issuer does not publish', () => unknown.mint({ sub: 'a', role: 'admin' })],
      ['HS256 with the published RSA public key as its secret (algorithm confusion)', () => confused({ sub: 'a', role: 'admin' })],
      ['from another issuer', () => first.mint({ sub: 'a', role: 'admin', iss: 'https://evil.test/' })],
      ['for another audience', () => first.mint({ sub: 'a', role: 'admin', aud: 'elsewhere' })],
      ['without an expiry', () => first.mint({ sub: 'a', role: 'admin', exp: undefined })],
    ])('a token %s', async (_name, token) => {
      const app = await appTrusting(idp.url, { timeoutMs: 1000, cooldownMs: 60_000, maxAgeMs: 600_000 });
      const response = await call(app, token());
      expect(response.statusCode).toBe(401);
      expect(response.headers['content-type']).toBe('application/problem+json; charset=utf-8');
      expect(response.json()).toMatchObject({ type: 'https://reservations.dev/problems/unauthorized', status: 401 });
      expect(response.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
      await app.close();
    });
  });

  it('an unknown kid fetches the set again, at most once per cool-down', async () => {
    const app = await appTrusting(idp.url, { timeoutMs: 1000, cooldownMs: 60_000, maxAgeMs: 600_000 });
    idp.state.served = [];
    expect((await call(app, first.mint({ sub: 'a', role: 'admin' }))).statusCode).toBe(200);
    expect(idp.state.served).toHaveLength(1);
    const later = signingKey('key-later');
    for (let i = 0; i < 5; i++) expect((await call(app, later.mint({ sub: 'a', role: 'admin', jti: randomUUID() }))).statusCode).toBe(401);
    // Within the cool-down, unknown kids cost no fetch: a flood of made-up kids cannot hammer the issuer.
    expect(idp.state.served).toHaveLength(1);
    await app.close();

    const eager = await appTrusting(idp.url, { timeoutMs: 1000, cooldownMs: 0, maxAgeMs: 600_000 });
    idp.state.served = [];
    expect((await call(eager, first.mint({ sub: 'a', role: 'admin' }))).statusCode).toBe(200);
    idp.state.keys = [first, elliptic, later];
    expect((await call(eager, later.mint({ sub: 'a', role: 'admin' }))).statusCode).toBe(200);
    expect(idp.state.served).toEqual([
      ['key-1', 'key-ec'],
      ['key-1', 'key-ec', 'key-later'],
    ]);
    idp.state.keys = [first, elliptic];
    await eager.close();
  });

  it.each([
    ['does not answer (the fetch times out)', 'hang' as const],
    ['answers something that is not a key set', 'garbage' as const],
  ])('when the JWKS endpoint %s, a token is a 503 problem with Retry-After, not a 401', async (_name, mode) => {
    const app = await appTrusting(idp.url, { timeoutMs: 300, cooldownMs: 0, maxAgeMs: 600_000 });
    idp.state.mode = mode;
    try {
      const response = await call(app, first.mint({ sub: 'a', role: 'admin' }));
      expect(response.statusCode).toBe(503);
      expect(response.headers['content-type']).toBe('application/problem+json; charset=utf-8');
      expect(response.json()).toMatchObject({ type: 'https://reservations.dev/problems/token-keys-unavailable' });
      expect(response.headers['retry-after']).toBe('1');
    } finally {
      idp.state.mode = 'serve';
    }
    // Once the endpoint answers again, the same token is good.
    expect((await call(app, first.mint({ sub: 'a', role: 'admin' }))).statusCode).toBe(200);
    await app.close();
  });
});

describe('a key rotation under load', () => {
  it('no request fails while the issuer adds a key, signs with it, then retires the old one', async () => {
    const idp = await startJwksServer();
    const old = signingKey('2026-11');
    const next = signingKey('2026-12');
    idp.state.keys = [old];
    // A short max age stands for the hours a real deployment caches the set: the issuer waits
    // until its endpoint has served each new set before relying on it, as an IdP waits out caches.
    const app = await appTrusting(idp.url, { timeoutMs: 1000, cooldownMs: 100, maxAgeMs: 200 });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/whoami`;
    let signing = old;
    let stop = false;
    const statuses: number[] = [];
    const okBy = new Map<string, number>();
    const lastKidOf: string[] = [];
    // Eight clients, each minting a fresh token (unique jti, so every request is verified, not remembered).
    const workers = Array.from({ length: 8 }, async (_, n) => {
      while (!stop) {
        const key = signing;
        const response = await fetch(url, {
          headers: { authorization: `Bearer ${key.mint({ sub: `c${n}`, role: 'customer', jti: randomUUID() })}` },
          signal: AbortSignal.timeout(10_000),
        });
        await response.arrayBuffer();
        statuses.push(response.status);
        if (response.status === 200) okBy.set(key.kid, (okBy.get(key.kid) ?? 0) + 1);
        lastKidOf[n] = key.kid;
      }
    });
    const servedSince = (from: number, kids: string[]) => idp.state.served.slice(from).some((s) => s.join() === kids.join());
    try {
      await waitUntil('requests under the old key', () => (okBy.get(old.kid) ?? 0) >= 50);
      // 1. The issuer publishes the next key beside the old one.
      let mark = idp.state.served.length;
      idp.state.keys = [old, next];
      await waitUntil('the set with both keys served', () => servedSince(mark, [old.kid, next.kid]));
      // 2. It signs with the next key.
      signing = next;
      await waitUntil('every client on the next key', () => lastKidOf.length === 8 && lastKidOf.every((kid) => kid === next.kid));
      await waitUntil('requests under the next key', () => (okBy.get(next.kid) ?? 0) >= 50);
      // 3. It retires the old key.
      mark = idp.state.served.length;
      idp.state.keys = [next];
      await waitUntil('the set without the old key served', () => servedSince(mark, [next.kid]));
      const after = okBy.get(next.kid) ?? 0;
      await waitUntil('requests after the retirement', () => (okBy.get(next.kid) ?? 0) >= after + 50);
    } finally {
      stop = true;
      await Promise.all(workers);
    }
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    // A token of the retired key is now refused.
    const stale = await fetch(url, { headers: { authorization: `Bearer ${old.mint({ sub: 'late', role: 'customer' })}` } });
    expect(stale.status).toBe(401);
    await app.close();
    await idp.close();
  });
});
