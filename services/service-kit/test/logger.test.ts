import { Writable } from 'node:stream';
import { expect, it } from '@jest/globals';
import Fastify from 'fastify';
import { pino } from 'pino';
import { loggerOptions, OneLinePerRequest } from '../src/logger.ts';

it('redacts credentials from logged requests and keeps the rest', () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const log = pino(loggerOptions('reservation-api', 'info'), sink);
  log.info(
    { req: { method: 'POST', headers: { authorization: 'Bearer secret-token', cookie: 'sid=1', 'x-request-id': 'r1' } } },
    'request',
  );
  const line = JSON.parse(lines[0] ?? '{}') as { service: string; req: { headers: Record<string, string> } };
  expect(line.service).toBe('reservation-api');
  expect(line.req.headers).toEqual({ authorization: '[redacted]', cookie: '[redacted]', 'x-request-id': 'r1' });
  expect(lines.join('')).not.toContain('secret-token');
});

it('logs one line per request, when it ends, with the request, the status and the duration', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const app = Fastify({ loggerInstance: pino(loggerOptions('query-api', 'info'), sink), logController: new OneLinePerRequest() });
  app.get('/things/:id', async () => ({ ok: true }));
  await app.inject({ method: 'GET', url: '/things/1', headers: { authorization: 'Bearer secret-token' } });
  expect(lines).toHaveLength(1);
  const line = JSON.parse(lines[0] ?? '{}');
  expect(line).toMatchObject({ msg: 'request completed', req: { method: 'GET', url: '/things/1' }, res: { statusCode: 200 } });
  expect(line.responseTime).toEqual(expect.any(Number));
  expect(lines[0]).not.toContain('secret-token');
});
