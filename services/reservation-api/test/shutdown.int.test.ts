import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import {
  createQueueWithDlq,
  harnessEnv,
  REFUSALS,
  type ServiceProcess,
  sigtermUnderLoad,
  startServiceProcess,
  testSqs,
} from '@reservations/testkit';
import { API_ENV, freshDatabase, token } from './support/app.ts';
import { sql } from './support/fixtures.ts';

let service: ServiceProcess | undefined;
afterEach(async () => {
  await service?.server.stop(0);
});

describe('reservation-api process', () => {
  it('on SIGTERM under load: readiness 503, every request it accepted completes and is answered, then it exits 0', async () => {
    const db = await freshDatabase('rsv_shutdown');
    await db.migrate();
    service = await startServiceProcess(join(import.meta.dirname, '..', 'src', 'server.ts'), {
      MYSQL_PRIMARY_URL: db.as.reservationApi.primaryUrl,
      REDIS_URL: harnessEnv('REDIS_URL'),
      ...API_ENV,
      // Readiness is 503 only from SIGTERM until the process exits: a window wide enough for a
      // loaded machine's poll to see.
      SHUTDOWN_DELAY_MS: '1000',
      // With its outbox relay, which finishes its pass on the way out.
      SQS_QUEUE_URL: (await createQueueWithDlq(testSqs(), `rsv-shutdown-${Date.now()}.fifo`)).queueUrl,
      AWS_ENDPOINT_URL_SQS: harnessEnv('AWS_ENDPOINT_URL_SQS'),
      AWS_REGION: harnessEnv('AWS_REGION'),
      AWS_ACCESS_KEY_ID: harnessEnv('AWS_ACCESS_KEY_ID'),
      AWS_SECRET_ACCESS_KEY: harnessEnv('AWS_SECRET_ACCESS_KEY'),
    });
    const { api } = service;
    const resource = await fetch(`${api}/v1/resources`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token('admin', 'admin-1')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'r', providerId: 'p', timeZone: 'UTC', capacity: 1 }),
    }).then((r) => r.json() as Promise<{ id: string }>);

    const headers = { authorization: `Bearer ${token('customer', 'c')}`, 'content-type': 'application/json' };
    const { code, answered, refused } = await sigtermUnderLoad(service, (hour) => {
      const start = new Date(Date.UTC(2040, 0, 1) + hour * 3_600_000);
      return fetch(`${api}/v1/reservations`, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          resourceId: resource.id,
          startsAt: start.toISOString(),
          endsAt: new Date(start.getTime() + 3_600_000).toISOString(),
        }),
      });
    });

    expect(code).toBe(0);
    expect(service.log()).toContain('shut down cleanly');
    // Once closing, Fastify refuses new requests on kept-alive connections with 503 + Connection: close (a retryable refusal, nothing written).
    expect([...new Set(answered)].filter((s) => s !== 201 && s !== 503)).toEqual([]);
    for (const reason of refused) expect(REFUSALS).toContain(reason);
    // Nothing committed without its answer reaching the client, nothing answered that did not commit.
    const [row] = await sql<{ n: number }>(db.primaryUrl, 'SELECT COUNT(*) AS n FROM reservations');
    expect(Number(row?.n)).toBe(answered.filter((s) => s === 201).length);
  });
});
