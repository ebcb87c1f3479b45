import { Writable } from 'node:stream';
import { expect, it } from '@jest/globals';
import { pino } from 'pino';
import { loggerOptions } from '../src/logger.ts';

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
