import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createSigner } from 'fast-jwt';
import type { FastifyInstance } from 'fastify';
import { freePort } from '../../../scripts/harness/ports.ts';
import { harnessEnv } from '../../../scripts/harness/test/env.ts';
import { JWT_SECRET } from '../../reservation-api/test/support/app.ts';
import { freshDatabase, queryApp } from './support/apps.ts';

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
      JWT_SECRET,
      PORT: String(await freePort()),
      ADMIN_PORT: String(await freePort()),
    });
    expect(result).toEqual({
      code: 1,
      out: 'query-api: schema version 0 in the replica is older than the 2 this build needs: run `npm run migrate -w @reservations/reservation-api`\n',
    });
  });

  it('refuses to start without a way to verify tokens', async () => {
    const result = await runServer({
      MYSQL_PRIMARY_URL: 'mysql://a@127.0.0.1:1/x',
      MYSQL_REPLICA_URL: 'mysql://a@127.0.0.1:1/x',
      REDIS_URL: 'redis://127.0.0.1:1',
    });
    expect(result).toEqual({ code: 1, out: 'query-api: set JWT_SECRET (HS256) or JWT_PUBLIC_KEY (RS256)\n' });
  });
});

describe('RS256 tokens', () => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  let app: FastifyInstance;
  beforeAll(async () => {
    const db = await freshDatabase('qry_rs256');
    await db.migrate();
    ({ app } = await queryApp({
      MYSQL_PRIMARY_URL: db.primaryUrl,
      MYSQL_REPLICA_URL: db.primaryUrl,
      JWT_SECRET: undefined,
      JWT_PUBLIC_KEY: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    }));
  });
  afterAll(async () => {
    await app?.close();
  });

  it('accepts a token signed by the issuer’s private key, refuses an HS256 one', async () => {
    const rs = createSigner({ key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), algorithm: 'RS256' })({
      sub: 'a',
      role: 'admin',
    });
    const hs = createSigner({ key: JWT_SECRET, algorithm: 'HS256' })({ sub: 'a', role: 'admin' });
    const list = (token: string) => app.inject({ method: 'GET', url: '/v1/reservations', headers: { authorization: `Bearer ${token}` } });
    expect((await list(rs)).statusCode).toBe(200);
    expect((await list(hs)).statusCode).toBe(401);
  });
});
