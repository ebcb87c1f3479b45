import { lookup } from 'node:dns/promises';
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createResource } from '@reservations/reservation-api/testing';
import { waitUntil } from '@reservations/testkit';
import type { FastifyInstance } from 'fastify';
import type { RowDataPacket } from 'mysql2/promise';
import { Registry } from 'prom-client';
import { buildApp } from '../src/app.ts';
import { isPublicAddress } from '../src/domain/public-address.ts';
import { bearer, freshQueue, migratedDatabase, notifierConfig, reservationApp, startReceiver } from './support/pipeline.ts';

// The notifier as deployed: webhooks only to public addresses.
const PROVIDER = 'prov-addresses';
let writer: FastifyInstance;
let notifier: FastifyInstance;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let resourceId: string;

beforeAll(async () => {
  const db = await migratedDatabase('ntf_addresses');
  const queue = await freshQueue('addresses');
  receiver = await startReceiver(() => undefined);
  ({ app: writer } = await reservationApp({
    MYSQL_PRIMARY_URL: db.primaryUrl,
    OUTBOX_RELAY: 'in-process',
    SQS_QUEUE_URL: queue.queueUrl,
    OUTBOX_POLL_INTERVAL_MS: 200,
  }));
  notifier = await buildApp(notifierConfig(db.as.notifier.primaryUrl, queue, { WEBHOOK_ALLOW_PRIVATE_ADDRESSES: false }), {
    registry: new Registry(),
    logger: false,
  });
  await notifier.ready();
  resourceId = await createResource(writer, { providerId: PROVIDER });
});

afterAll(async () => {
  await Promise.all([writer?.close(), notifier?.close()]);
  await receiver?.close();
});

const register = (url: string) =>
  notifier.inject({ method: 'PUT', url: `/v1/providers/${PROVIDER}/webhook`, headers: bearer('provider', PROVIDER), payload: { url } });

describe('webhooks go to public addresses only', () => {
  it.each([
    'http://127.0.0.1:8080/hook',
    'https://localhost/hook',
    'https://api.localhost/hook',
    'https://10.1.2.3/hook',
    'https://169.254.169.254/latest/meta-data/',
    'https://[::1]/hook',
    'https://[::ffff:192.168.0.1]/hook',
  ])('registering %s is a 400 naming body/url, and stores nothing', async (url) => {
    const response = await register(url);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ errors: [{ field: 'body/url', message: expect.stringMatching(/reachable on the internet/) }] });
    const [rows] = await notifier.db.query<RowDataPacket[]>('SELECT url FROM webhook_endpoints WHERE provider_id = ?', [PROVIDER]);
    expect(rows).toEqual([]);
  });

  it('a name that resolves to a private address is refused when the delivery connects, and the reason is recorded', async () => {
    // A name the registration check cannot see through: this machine's own, which resolves to a
    // loopback or private address here, in a container and in a pod alike.
    const name = hostname();
    const { address } = await lookup(name);
    expect(isPublicAddress(address)).toBe(false);
    const { port } = new URL(receiver.url);
    const endpoint = `http://${name}:${port}/hook`;
    await notifier.db.query('INSERT INTO webhook_endpoints (provider_id, url, secret) VALUES (?, ?, ?)', [PROVIDER, endpoint, 'whsec_x']);
    const start = new Date(Date.UTC(2032, 0, 1));
    const booked = await writer.inject({
      method: 'POST',
      url: '/v1/reservations',
      headers: bearer('customer', 'dora'),
      payload: { resourceId, startsAt: start.toISOString(), endsAt: new Date(start.getTime() + 3_600_000).toISOString() },
    });
    expect(booked.statusCode).toBe(201);
    const lastError = async () => {
      const [[row]] = await notifier.db.query<RowDataPacket[]>(
        'SELECT last_error FROM webhook_deliveries WHERE reservation_id = ? AND attempts > 0',
        [booked.json().id],
      );
      return (row?.last_error as string | null | undefined) ?? undefined;
    };
    await waitUntil('the delivery was attempted', async () => (await lastError()) !== undefined);
    expect(await lastError()).toBe(`PrivateAddressError: ${name} resolves to ${address}, which is not a public address`);
    expect(receiver.receipts).toHaveLength(0);
  });
});
