import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { FastifyInstance } from 'fastify';
import { freshDatabase, testApp } from './support/app.ts';
import { ADMIN } from './support/fixtures.ts';

let app: FastifyInstance;
beforeAll(async () => {
  const db = await freshDatabase('rsv_overload');
  await db.migrate();
  // Any measurable event loop delay counts as overload here.
  ({ app } = await testApp({ MYSQL_PRIMARY_URL: db.as.reservationApi.primaryUrl, MAX_EVENT_LOOP_DELAY_MS: 1 }));
});
afterAll(async () => {
  await app?.close();
});

function blockEventLoop(ms: number) {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // a busy loop is the point: it is what an overloaded process looks like to under-pressure
  }
}

describe('load shedding', () => {
  it('an event loop running late sheds requests with 503 problem+json and Retry-After', async () => {
    let shed: Awaited<ReturnType<FastifyInstance['inject']>> | undefined;
    // under-pressure samples the delay about once a second; block, let it sample, ask.
    for (let attempt = 0; attempt < 5 && !shed; attempt++) {
      blockEventLoop(300);
      await sleep(1100);
      const response = await app.inject({
        method: 'POST',
        url: '/v1/resources',
        headers: ADMIN,
        payload: { name: 'x', providerId: 'p', timeZone: 'UTC' },
      });
      if (response.statusCode === 503) shed = response;
    }
    expect(shed?.headers['retry-after']).toBe('1');
    expect(shed?.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(shed?.json()).toMatchObject({ type: 'https://reservations.dev/problems/overloaded', status: 503 });
  });
});
