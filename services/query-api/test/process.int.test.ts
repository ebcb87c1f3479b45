import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { API_ENV, BOOKING_SIGNING_KEYS, JWT_ENV, JWT_SECRET, mintToken, token } from '@reservations/reservation-api/testing';
import { createTokenMinter } from '@reservations/service-kit/token-minter';
import { freePort, harnessEnv, REFUSALS, sigtermUnderLoad, startServiceProcess } from '@reservations/testkit';
import type { FastifyInstance } from 'fastify';
import { bothApps, freshDatabase, queryApp } from './support/apps.ts';

function runServer(env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(import.meta.dirname, '..', 'src', 'server.ts')], {
      env: { PATH: process.env.PATH, ...env },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (out += d));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

describe('query-api process', () => {
  it('refuses to start on a schema older than it needs, with one line saying what to run', async () => {
    const db = await freshDatabase('qry_old_schema');
    const result = await runServer({
      MYSQL_PRIMARY_URL: db.primaryUrl,
      MYSQL_REPLICA_URL: db.primaryUrl,
      REDIS_URL: harnessEnv('REDIS_URL'),
      ...API_ENV,
      PORT: String(await freePort()),
      ADMIN_PORT: String(await freePort()),
    });
    expect(result).toEqual({
      code: 1,
      out: 'query-api: schema version 0 in the replica is older than the 8 this build needs: run `npm run migrate -w @reservations/database`\n',
    });
  });

  const backends = {
    MYSQL_PRIMARY_URL: 'mysql://a@127.0.0.1:1/x',
    MYSQL_REPLICA_URL: 'mysql://a@127.0.0.1:1/x',
    REDIS_URL: 'redis://127.0.0.1:1',
    BOOKING_SIGNING_KEYS,
  };

  it('refuses to start without the keys that sign consistency tokens and cache entries, or with a short one, naming the variable and hiding its value', async () => {
    const { BOOKING_SIGNING_KEYS: _, ...withoutKeys } = backends;
    const missing = await runServer({ ...withoutKeys, ...JWT_ENV });
    expect(missing.code).toBe(1);
    expect(missing.out).toMatch(
      /^query-api: invalid configuration: BOOKING_SIGNING_KEYS is required \(keys reservation-api and query-api share/,
    );
    const short = await runServer({ ...backends, ...JWT_ENV, BOOKING_SIGNING_KEYS: `${BOOKING_SIGNING_KEYS},too-short-a-key` });
    expect(short).toEqual({
      code: 1,
      out: 'query-api: BOOKING_SIGNING_KEYS (value hidden) must be comma-separated keys of at least 32 characters each\n',
    });
  });

  it('refuses to start without the issuer and audience tokens must name, naming both variables', async () => {
    const result = await runServer({ ...backends, JWT_SECRET });
    expect(result).toEqual({
      code: 1,
      out:
        "query-api: invalid configuration: JWT_ISSUER is required (the `iss` every token must carry: the identity provider's issuer identifier); " +
        'JWT_AUDIENCE is required (the `aud` every token must carry: this platform as the identity provider names it)\n',
    });
  });

  it('refuses to start without a way to verify tokens, or with two', async () => {
    const { JWT_ISSUER, JWT_AUDIENCE } = JWT_ENV;
    expect(await runServer({ ...backends, JWT_ISSUER, JWT_AUDIENCE })).toEqual({
      code: 1,
      out: 'query-api: set one of JWT_SECRET (HS256), JWT_PUBLIC_KEY (RS256) or JWT_JWKS_URL (the issuer’s keys by kid)\n',
    });
    expect(await runServer({ ...backends, ...JWT_ENV, JWT_JWKS_URL: 'https://idp.test/jwks' })).toEqual({
      code: 1,
      out: 'query-api: set only one of JWT_SECRET, JWT_JWKS_URL: a token is verified with one kind of key\n',
    });
  });
});

describe('query-api on SIGTERM', () => {
  it('under load: readiness 503, every read it accepted is answered, then it exits 0', async () => {
    const { writer, reader, readerUrls } = await bothApps('qry_shutdown');
    const admin = { authorization: `Bearer ${token('admin', 'admin-1')}` };
    const resource = (
      await writer.inject({
        method: 'POST',
        url: '/v1/resources',
        headers: admin,
        payload: { name: 'r', providerId: 'p', timeZone: 'UTC' },
      })
    ).json<{ id: string }>();
    const created = (
      await writer.inject({
        method: 'POST',
        url: '/v1/reservations',
        headers: { authorization: `Bearer ${token('customer', 'c')}` },
        payload: { resourceId: resource.id, startsAt: '2040-01-01T10:00:00Z', endsAt: '2040-01-01T11:00:00Z' },
      })
    ).json<{ id: string }>();
    await Promise.all([writer.close(), reader.close()]);
    // As query-api's own database account, read-only.
    const service = await startServiceProcess(join(import.meta.dirname, '..', 'src', 'server.ts'), {
      MYSQL_PRIMARY_URL: readerUrls.primary,
      MYSQL_REPLICA_URL: readerUrls.replica,
      REDIS_URL: harnessEnv('REDIS_URL'),
      ...API_ENV,
      // Readiness is 503 only from SIGTERM until the process exits: a window wide enough for a
      // loaded machine's poll to see.
      SHUTDOWN_DELAY_MS: '1000',
    });
    try {
      // Cached reads of one reservation and uncached list queries, to keep both pools busy.
      const headers = { authorization: `Bearer ${token('customer', 'c')}` };
      const { code, answered, refused } = await sigtermUnderLoad(service, (n) =>
        fetch(n % 2 ? `${service.api}/v1/reservations/${created.id}` : `${service.api}/v1/reservations?limit=5`, { headers }),
      );
      expect(code).toBe(0);
      expect(service.log()).toContain('shut down cleanly');
      // Once closing, Fastify refuses new requests on kept-alive connections with 503 + Connection: close.
      expect([...new Set(answered)].filter((s) => s !== 200 && s !== 503)).toEqual([]);
      expect(answered.filter((s) => s === 200).length).toBeGreaterThanOrEqual(100);
      for (const reason of refused) expect(REFUSALS).toContain(reason);
    } finally {
      await service.server.stop(0);
    }
  });
});

describe('RS256 tokens', () => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  let app: FastifyInstance;
  beforeAll(async () => {
    const db = await freshDatabase('qry_rs256');
    await db.migrate();
    ({ app } = await queryApp({
      MYSQL_PRIMARY_URL: db.as.queryApi.primaryUrl,
      MYSQL_REPLICA_URL: db.as.queryApi.replicaUrl,
      JWT_SECRET: undefined,
      JWT_PUBLIC_KEY: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    }));
  });
  afterAll(async () => {
    await app?.close();
  });

  it('accepts a token signed by the issuer’s private key, refuses an HS256 one', async () => {
    const { JWT_ISSUER: issuer, JWT_AUDIENCE: audience } = JWT_ENV;
    const rs = createTokenMinter({ issuer, audience, key: { privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() } })(
      {
        sub: 'a',
        role: 'admin',
      },
    );
    const hs = mintToken({ sub: 'a', role: 'admin' });
    const list = (token: string) => app.inject({ method: 'GET', url: '/v1/reservations', headers: { authorization: `Bearer ${token}` } });
    expect((await list(rs)).statusCode).toBe(200);
    expect((await list(hs)).statusCode).toBe(401);
  });
});
