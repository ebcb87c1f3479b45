import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createResource } from '@reservations/reservation-api/testing';
import { waitUntil } from '@reservations/testkit';
import type { FastifyInstance } from 'fastify';
import type { RowDataPacket } from 'mysql2/promise';
import { Registry } from 'prom-client';
import { buildApp } from '../src/app.ts';
import { open, parseKeyRing } from '../src/domain/secret-box.ts';
import {
  bearer,
  bookHour,
  freshQueue,
  migratedDatabase,
  notifierConfig,
  openStream,
  relayingWriter,
  startReceiver,
  WEBHOOK_SECRET_KEYS,
} from './support/pipeline.ts';

// Providers are JWT `sub` strings, compared exactly: `ACME` passes the access check for
// /v1/providers/ACME/… and must find only ACME's rows there, never acme's.
const PROVIDER = 'acme';
const VARIANTS = ['ACME', 'Acme', 'acmé', 'acme '];
let writer: FastifyInstance;
let notifier: FastifyInstance;
let base: string;
let resourceId: string;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let acmeUrl: string;
let slot = 0;

const book = () => bookHour(writer, resourceId, new Date(Date.UTC(2033, 0, 1) + slot++ * 3_600_000), 'erin');

const webhookOf = (provider: string, method: 'GET' | 'PUT' | 'DELETE', payload?: object) =>
  notifier.inject({
    method,
    url: `/v1/providers/${encodeURIComponent(provider)}/webhook`,
    headers: bearer('provider', provider),
    ...(payload ? { payload } : {}),
  });

const endpoints = async () =>
  (
    await notifier.db.query<RowDataPacket[]>(
      'SELECT provider_id, url, secret_key_id, secret_sealed FROM webhook_endpoints ORDER BY provider_id',
    )
  )[0];
/** The secret a row holds, opened with the tests' KEKs for the provider it names (sealed for that provider alone). */
const secretOf = (row: RowDataPacket | undefined) =>
  open(parseKeyRing(WEBHOOK_SECRET_KEYS), { keyId: row?.secret_key_id, box: row?.secret_sealed }, row?.provider_id);

beforeAll(async () => {
  const db = await migratedDatabase('ntf_identities');
  const queue = await freshQueue('identities');
  receiver = await startReceiver(() => undefined);
  acmeUrl = `${receiver.url}?for=acme`;
  writer = await relayingWriter(db.primaryUrl, queue.queueUrl);
  notifier = await buildApp(notifierConfig(db.as.notifier.primaryUrl, queue, { SSE_POLL_INTERVAL_MS: 100 }), {
    registry: new Registry(),
    logger: false,
  });
  await notifier.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(notifier.server.address() as { port: number }).port}`;
  resourceId = await createResource(writer, { providerId: PROVIDER });
  expect((await webhookOf(PROVIDER, 'PUT', { url: acmeUrl })).statusCode).toBe(201);
});

afterAll(async () => {
  await Promise.all([writer?.close(), notifier?.close()]);
  await receiver?.close();
});

describe('exact provider identities', () => {
  it.each(VARIANTS)('%j does not read acme’s webhook endpoint (404: it has none of its own)', async (provider) => {
    const response = await webhookOf(provider, 'GET');
    expect(response.statusCode).toBe(404);
    expect(response.json().type).toMatch(/\/webhook-not-found$/);
  });

  it.each(VARIANTS)('%j does not delete acme’s webhook endpoint (404)', async (provider) => {
    expect((await webhookOf(provider, 'DELETE')).statusCode).toBe(404);
    expect((await endpoints()).map((r) => r.provider_id)).toEqual([PROVIDER]);
  });

  it('a variant setting its webhook makes an endpoint of its own, with its own secret; acme’s is untouched', async () => {
    const [before] = await endpoints();
    const put = await webhookOf('ACME', 'PUT', { url: `${receiver.url}?for=ACME`, rotateSecret: true });
    expect(put.statusCode).toBe(201);
    expect(put.json().secret).not.toBe(secretOf(before));
    const after = await endpoints();
    expect(after).toEqual([
      { provider_id: 'ACME', url: `${receiver.url}?for=ACME`, secret_key_id: 'kek-1', secret_sealed: expect.any(Buffer) },
      { provider_id: PROVIDER, url: acmeUrl, secret_key_id: 'kek-1', secret_sealed: before?.secret_sealed },
    ]);
    expect(secretOf(after[0])).toBe(put.json().secret);
    expect((await webhookOf(PROVIDER, 'GET')).json()).toMatchObject({ url: acmeUrl });
    expect((await webhookOf('ACME', 'DELETE')).statusCode).toBe(204);
    expect((await endpoints()).map((r) => r.provider_id)).toEqual([PROVIDER]);
  });

  it('a variant’s notification stream carries none of acme’s events, and acme’s event ids are unknown to it', async () => {
    const first = await book();
    const own = await openStream(`${base}/v1/providers/${PROVIDER}/notifications`, bearer('provider', PROVIDER));
    try {
      await waitUntil('acme’s first event is recorded', async () => {
        const [rows] = await notifier.db.query<RowDataPacket[]>('SELECT event_id FROM event_history WHERE reservation_id = ?', [first]);
        return rows.length === 1;
      });
      const [[recorded]] = await notifier.db.query<RowDataPacket[]>('SELECT event_id FROM event_history WHERE reservation_id = ?', [first]);
      const acmeEventId = recorded?.event_id as string;

      const others = await Promise.all(
        VARIANTS.map((p) => openStream(`${base}/v1/providers/${encodeURIComponent(p)}/notifications`, bearer('provider', p))),
      );
      try {
        expect(others.map((s) => s.status)).toEqual(VARIANTS.map(() => 200));
        const second = await book();
        await waitUntil('acme’s stream has the second booking', () => own.events.some((e) => e.data.reservation.id === second));
        // Several of the variants' 100 ms polls later, still nothing.
        await sleep(500);
        expect(others.map((s) => s.events)).toEqual(VARIANTS.map(() => []));
      } finally {
        await Promise.all(others.map((s) => s.close()));
      }

      // Resuming after one of acme's events is refused as after any event not in the stream.
      for (const provider of VARIANTS) {
        const resumed = await notifier.inject({
          method: 'GET',
          url: `/v1/providers/${encodeURIComponent(provider)}/notifications`,
          headers: { ...bearer('provider', provider), 'last-event-id': acmeEventId },
        });
        expect(resumed.statusCode).toBe(400);
        expect(resumed.json().type).toMatch(/\/unknown-last-event-id$/);
      }
    } finally {
      await own.close();
    }
  });
});
