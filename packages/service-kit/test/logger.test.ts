import { Writable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import Fastify from 'fastify';
import { pino } from 'pino';
import { loggerOptions, OneLinePerRequest, type RequestLogPolicy, requestLogLevel } from '../src/logger.ts';

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

function captured(policy: RequestLogPolicy) {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const app = Fastify({ loggerInstance: pino(loggerOptions('query-api', 'info'), sink), logController: new OneLinePerRequest(policy) });
  app.get('/things/:id', async (request, reply) =>
    (request.params as { id: string }).id === 'missing' ? reply.code(404).send({}) : { ok: true },
  );
  app.get('/broken', async () => {
    throw new Error('boom');
  });
  app.get('/slow', async () => {
    await new Promise((r) => setTimeout(r, policy.slowMs + 20));
    return { ok: true };
  });
  // Like the notifier's SSE route: the raw response, held open past slowMs.
  app.get('/stream', (_request, reply) => {
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
    reply.raw.write(': hello\n\n');
    setTimeout(() => reply.raw.end(), policy.slowMs + 20);
  });
  return { app, lines: () => lines.map((line) => JSON.parse(line)) };
}

describe('requestLogLevel', () => {
  const errors: RequestLogPolicy = { mode: 'errors', slowMs: 500 };
  const all: RequestLogPolicy = { mode: 'all', slowMs: 500 };
  const done = (statusCode: number, responseTimeMs = 3, errored = false) => ({ statusCode, responseTimeMs, errored });

  it('under errors, gives a fast success no line and every 4xx, 5xx and slow request one', () => {
    expect(requestLogLevel(errors, done(200))).toBeUndefined();
    expect(requestLogLevel(errors, done(201, 499.9))).toBeUndefined();
    expect(requestLogLevel(errors, done(304))).toBeUndefined();
    expect(requestLogLevel(errors, done(404))).toBe('info');
    expect(requestLogLevel(errors, done(409))).toBe('info');
    expect(requestLogLevel(errors, done(503))).toBe('warn');
    expect(requestLogLevel(errors, done(200, 500))).toBe('warn');
    expect(requestLogLevel(errors, done(409, 800))).toBe('warn');
    expect(requestLogLevel(errors, done(500, 1, true))).toBe('error');
  });

  it('does not call a stream slow, however long its client stays', () => {
    expect(requestLogLevel(errors, { ...done(200, 3_600_000), streamed: true })).toBeUndefined();
    expect(requestLogLevel(all, { ...done(200, 3_600_000), streamed: true })).toBe('info');
    expect(requestLogLevel(errors, { ...done(500, 3_600_000), streamed: true })).toBe('warn');
  });

  it('under all, gives every request a line, at the same level as under errors otherwise', () => {
    expect(requestLogLevel(all, done(200))).toBe('info');
    expect(requestLogLevel(all, done(404))).toBe('info');
    expect(requestLogLevel(all, done(200, 600))).toBe('warn');
    expect(requestLogLevel(all, done(500, 1, true))).toBe('error');
  });
});

it('logs one line per request under all, when it ends, with the request, the status and the duration', async () => {
  const { app, lines } = captured({ mode: 'all', slowMs: 500 });
  await app.inject({ method: 'GET', url: '/things/1', headers: { authorization: 'Bearer secret-token' } });
  expect(lines()).toHaveLength(1);
  const [line] = lines();
  expect(line).toMatchObject({ level: 30, msg: 'request completed', req: { method: 'GET', url: '/things/1' }, res: { statusCode: 200 } });
  expect(line.responseTime).toEqual(expect.any(Number));
  expect(JSON.stringify(line)).not.toContain('secret-token');
});

it('under errors, logs the 4xx and the failure (its error and its completion) and not the fast success', async () => {
  const { app, lines } = captured({ mode: 'errors', slowMs: 500 });
  await app.inject({ method: 'GET', url: '/things/1' });
  await app.inject({ method: 'GET', url: '/things/missing' });
  await app.inject({ method: 'GET', url: '/broken' });
  const completed = lines().filter((line) => line.req);
  expect(completed.map((line) => [line.req.url, line.res.statusCode, line.level])).toEqual([
    ['/things/missing', 404, 30],
    ['/broken', 500, 50],
    ['/broken', 500, 40],
  ]);
  // Fastify's error handler logs the error itself; the completion line adds status and duration.
  expect(completed[1]).toMatchObject({ msg: 'boom', err: { message: 'boom' } });
  expect(completed[2]).toMatchObject({ msg: 'request completed', responseTime: expect.any(Number) });
});

it('a slow request gets a warn line; an event stream held open as long gets none', async () => {
  const { app, lines } = captured({ mode: 'errors', slowMs: 30 });
  await app.inject({ method: 'GET', url: '/slow' });
  await app.inject({ method: 'GET', url: '/stream' });
  expect(lines().map((line) => [line.level, line.msg, line.req?.url])).toEqual([[40, 'slow request', '/slow']]);
});
