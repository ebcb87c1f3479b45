import { randomUUID } from 'node:crypto';
import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createResource } from '@reservations/reservation-api/testing';
import { testSqs, waitUntil } from '@reservations/testkit';
import type { FastifyInstance } from 'fastify';
import mysql from 'mysql2/promise';
import { Registry } from 'prom-client';
import { buildApp } from '../src/app.ts';
import {
  bearer,
  freshQueue,
  migratedDatabase,
  notifierConfig,
  openStream,
  reservationApp,
  setWebhook,
  startReceiver,
} from './support/pipeline.ts';

const PROVIDER = 'prov-pipeline';
let writer: FastifyInstance;
let notifier: FastifyInstance;
let registry: Registry;
let base: string;
let resourceId: string;
let secret: string | undefined;
let queue: { queueUrl: string; dlqUrl: string };
let primaryUrl: string;
/** The database as each service's own account (the test's own SQL uses primaryUrl). */
let as: Awaited<ReturnType<typeof migratedDatabase>>['as'];
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let slot = 0;

/** A booking on its own hour, so bookings never conflict. */
async function book(extra: Record<string, unknown> = {}) {
  const hour = slot++;
  const start = new Date(Date.UTC(2031, 0, 1) + hour * 3_600_000);
  const response = await writer.inject({
    method: 'POST',
    url: '/v1/reservations',
    headers: bearer('customer', 'carol'),
    payload: { resourceId, startsAt: start.toISOString(), endsAt: new Date(start.getTime() + 3_600_000).toISOString(), ...extra },
  });
  expect(response.statusCode).toBe(201);
  return response.json<{ id: string; version: number }>();
}

const effectsFor = (reservationId: string) =>
  [...receiver.effects.values()].filter((r) => JSON.parse(r.body).reservation.id === reservationId).sort((a, b) => a.at - b.at);

beforeAll(async () => {
  const db = await migratedDatabase('ntf_pipeline');
  primaryUrl = db.primaryUrl;
  as = db.as;
  queue = await freshQueue('pipeline', { maxReceiveCount: 3, visibilityTimeoutSeconds: 5 });
  receiver = await startReceiver(() => secret);
  ({ app: writer } = await reservationApp({
    MYSQL_PRIMARY_URL: as.reservationApi.primaryUrl,
    OUTBOX_RELAY: 'in-process',
    SQS_QUEUE_URL: queue.queueUrl,
    OUTBOX_POLL_INTERVAL_MS: 200,
  }));
  registry = new Registry();
  notifier = await buildApp(notifierConfig(as.notifier.primaryUrl, queue), { registry, logger: false });
  await notifier.listen({ host: '127.0.0.1', port: 0 });
  const { port } = notifier.server.address() as { port: number };
  base = `http://127.0.0.1:${port}`;
  resourceId = await createResource(writer, { providerId: PROVIDER });
  secret = await setWebhook(notifier, PROVIDER, receiver.url);
});

afterAll(async () => {
  await Promise.all([writer?.close(), notifier?.close()]);
  await receiver?.close();
});

describe('a booking reaches the provider', () => {
  it('as a signed webhook and on the SSE stream; Last-Event-ID resumes with what was missed', async () => {
    const stream = await openStream(`${base}/v1/providers/${PROVIDER}/notifications`, bearer('provider', PROVIDER));
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const first = await book();

    await waitUntil('the webhook arrives', () => effectsFor(first.id).length === 1);
    const [hook] = effectsFor(first.id);
    expect(hook?.invalid).toBeUndefined();
    const notification = JSON.parse(hook?.body ?? '');
    expect(notification).toMatchObject({ type: 'reservation.created', version: 1, reservation: { id: first.id, status: 'confirmed' } });
    expect(hook?.headers['webhook-id']).toBe(notification.eventId);
    expect(hook?.headers['content-type']).toBe('application/json');

    await waitUntil('the SSE event arrives', () => stream.events.length === 1);
    expect(stream.events[0]).toMatchObject({ id: notification.eventId, event: 'reservation.created', data: notification });
    await stream.close();

    // While the driver app is offline: a cancellation and, once it is recorded, a new booking (two
    // reservations' events have no order between them unless one was recorded before the other
    // happened: docs/events.md, Ordering).
    await writer.inject({ method: 'POST', url: `/v1/reservations/${first.id}/cancel`, headers: bearer('customer', 'carol') });
    await waitUntil('the cancellation is recorded', () => effectsFor(first.id).length === 2);
    const second = await book();
    await waitUntil('the booking is recorded', () => effectsFor(second.id).length === 1);

    const resumed = await openStream(`${base}/v1/providers/${PROVIDER}/notifications`, {
      ...bearer('provider', PROVIDER),
      'last-event-id': notification.eventId,
    });
    await waitUntil('the missed events are replayed', () => resumed.events.length === 2);
    expect(resumed.events.map((e) => [e.event, e.data.reservation.id])).toEqual([
      ['reservation.cancelled', first.id],
      ['reservation.created', second.id],
    ]);
    await resumed.close();
  });

  it('reaches a stream held by another replica at once (Redis doorbell, not its slow poll)', async () => {
    // Replica B reads an empty queue of its own, so the event is processed by replica A.
    const registryB = new Registry();
    const otherQueue = await freshQueue('pipeline-b');
    const replicaB = await buildApp(notifierConfig(as.notifier.primaryUrl, otherQueue, { SSE_POLL_INTERVAL_MS: 600_000 }), {
      registry: registryB,
      logger: false,
    });
    await replicaB.listen({ host: '127.0.0.1', port: 0 });
    const { port } = replicaB.server.address() as { port: number };
    const stream = await openStream(`http://127.0.0.1:${port}/v1/providers/${PROVIDER}/notifications`, bearer('provider', PROVIDER));
    try {
      const booking = await book();
      // Its own poll is 10 minutes away, so the default wait still proves the doorbell; a shorter
      // one only measured how busy the machine was (relay, queue, replica A, Redis all in between).
      await waitUntil('replica B streams it', () => stream.events.some((e) => e.data.reservation.id === booking.id));
      expect(await registryB.metrics()).toMatch(/notifier_events_total\{outcome="processed"[^}]*\} 0/);
    } finally {
      await stream.close();
      await replicaB.close();
    }
  });

  it('refuses a Last-Event-ID it does not know, and another provider’s token', async () => {
    const unknown = await notifier.inject({
      method: 'GET',
      url: `/v1/providers/${PROVIDER}/notifications`,
      headers: { ...bearer('provider', PROVIDER), 'last-event-id': randomUUID() },
    });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().type).toMatch(/unknown-last-event-id$/);
    const other = await notifier.inject({
      method: 'GET',
      url: `/v1/providers/${PROVIDER}/notifications`,
      headers: bearer('provider', 'x'),
    });
    expect(other.statusCode).toBe(403);
    const customer = await notifier.inject({ method: 'GET', url: `/v1/providers/${PROVIDER}/webhook`, headers: bearer('customer', 'c') });
    expect(customer.statusCode).toBe(403);
  });

  it('delivers one reservation’s events in order', async () => {
    const held = await book({ hold: true });
    const id = held.id;
    const confirm = await writer.inject({ method: 'POST', url: `/v1/reservations/${id}/confirm`, headers: bearer('customer', 'carol') });
    expect(confirm.statusCode).toBe(200);
    const patch = await writer.inject({
      method: 'PATCH',
      url: `/v1/reservations/${id}`,
      headers: { ...bearer('customer', 'carol'), 'if-match': '"2"' },
      payload: { notes: 'window seat' },
    });
    expect(patch.statusCode).toBe(200);
    await writer.inject({ method: 'POST', url: `/v1/reservations/${id}/cancel`, headers: bearer('customer', 'carol') });
    await waitUntil('four events arrive', () => effectsFor(id).length === 4);
    expect(effectsFor(id).map((r) => JSON.parse(r.body).type)).toEqual([
      'reservation.created',
      'reservation.confirmed',
      'reservation.rescheduled',
      'reservation.cancelled',
    ]);
    // The query side serves the same history.
    const history = await historyOf(id);
    expect(history).toEqual(['reservation.created', 'reservation.confirmed', 'reservation.rescheduled', 'reservation.cancelled']);
  });
});

describe('failures', () => {
  it('retries while the receiver is down, then delivers once', async () => {
    receiver.down();
    const refusedBefore = receiver.refusedCount();
    const booking = await book();
    await waitUntil('three attempts were refused', () => receiver.refusedCount() - refusedBefore >= 3);
    expect(effectsFor(booking.id)).toHaveLength(0);
    receiver.up();
    await waitUntil('delivered once up again', () => effectsFor(booking.id).length === 1);
    await new Promise((r) => setTimeout(r, 500));
    expect(receiver.receipts.filter((r) => JSON.parse(r.body).reservation.id === booking.id)).toHaveLength(1);
    expect(await registry.metrics()).toMatch(
      /webhook_deliveries_total\{result="retry",service="[^"]*"\} [1-9]|webhook_deliveries_total\{result="retry"\} [1-9]/,
    );
  });

  it('moves a poison message to the DLQ after maxReceiveCount; other events go through', async () => {
    const sqs = testSqs();
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queue.queueUrl,
        MessageBody: '{"not":"an event"}',
        MessageGroupId: 'reservation:poison',
        MessageDeduplicationId: randomUUID(),
      }),
    );
    const booking = await book();
    await waitUntil('the booking is delivered meanwhile', () => effectsFor(booking.id).length === 1);
    let dead: string | undefined;
    await waitUntil('the poison message is in the DLQ', async () => {
      const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queue.dlqUrl, MaxNumberOfMessages: 10 }));
      dead = Messages[0]?.Body;
      return Messages.length > 0;
    });
    expect(dead).toBe('{"not":"an event"}');
    expect(await registry.metrics()).toMatch(/notifier_dlq_sends_total(\{[^}]*\})? 1/);
  });

  it('acknowledges a redelivered event without a second effect', async () => {
    const booking = await book();
    await waitUntil('delivered', () => effectsFor(booking.id).length === 1);
    const conn = await mysql.createConnection(primaryUrl);
    const [[row]] = (await conn.query('SELECT * FROM outbox WHERE aggregate_id = ?', [booking.id])) as unknown as [
      Record<string, unknown>[],
    ];
    await conn.end();
    const { toEnvelope } = await import('@reservations/reservation-api/testing');
    const envelope = toEnvelope(row as never);
    await testSqs().send(
      new SendMessageCommand({
        QueueUrl: queue.queueUrl,
        MessageBody: JSON.stringify(envelope),
        MessageGroupId: `reservation:${booking.id}`,
        MessageDeduplicationId: randomUUID(), // past SQS's own deduplication
      }),
    );
    await waitUntil('the repeat is counted as deduplicated', async () =>
      /notifier_events_total\{outcome="deduplicated"[^}]*\} [1-9]/.test(await registry.metrics()),
    );
    expect(receiver.receipts.filter((r) => r.id === envelope.eventId)).toHaveLength(1);
    expect(await historyOf(booking.id)).toEqual(['reservation.created']);
  });
});

async function historyOf(id: string): Promise<string[]> {
  const conn = await mysql.createConnection(primaryUrl);
  const [rows] = (await conn.query('SELECT type FROM event_history WHERE reservation_id = ? ORDER BY version', [id])) as unknown as [
    { type: string }[],
  ];
  await conn.end();
  return rows.map((r) => r.type);
}
