import { DeleteMessageBatchCommand, type Message, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, expect } from '@jest/globals';
import type { FastifyInstance } from 'fastify';
import { bearer, freshDatabase, testApp } from './app.ts';
import { createResource } from './fixtures.ts';

/** Receives (and deletes) everything in the queue, in the order SQS hands it out. */
export async function drainQueue(sqs: SQSClient, queueUrl: string): Promise<Message[]> {
  const all: Message[] = [];
  for (let empty = 0; empty < 2; ) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: ['MessageGroupId'],
      }),
    );
    if (Messages.length === 0) {
      empty++;
      continue;
    }
    all.push(...Messages);
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle as string })),
      }),
    );
  }
  return all;
}

/** Books, confirms and cancels on `count` reservations: 3 events each, in order per reservation. */
export async function makeEvents(app: FastifyInstance, count: number): Promise<string[]> {
  const resourceId = await createResource(app, { providerId: 'prov-relay', capacity: count });
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const created = await app.inject({
      method: 'POST',
      url: '/v1/reservations',
      headers: bearer('customer', 'dan'),
      payload: { resourceId, startsAt: '2032-01-01T10:00:00Z', endsAt: '2032-01-01T11:00:00Z', hold: true },
    });
    const { id } = created.json<{ id: string }>();
    ids.push(id);
    await app.inject({ method: 'POST', url: `/v1/reservations/${id}/confirm`, headers: bearer('customer', 'dan') });
    await app.inject({ method: 'POST', url: `/v1/reservations/${id}/cancel`, headers: bearer('customer', 'dan') });
  }
  return ids;
}

/**
 * What a consumer of the queue sees: each message in its aggregate's group, no event id twice
 * (the FIFO deduplication id drops a repeat), each aggregate's versions increasing. Returns the
 * event ids, in the order received.
 */
export function expectOncePerEventInOrder(messages: Message[]): string[] {
  const ids: string[] = [];
  const versions = new Map<string, number[]>();
  for (const m of messages) {
    const event = JSON.parse(m.Body as string);
    expect(m.Attributes?.MessageGroupId).toBe(`${event.aggregateType}:${event.aggregateId}`);
    ids.push(event.eventId);
    versions.set(event.aggregateId, [...(versions.get(event.aggregateId) ?? []), event.version]);
  }
  expect(new Set(ids).size).toBe(ids.length);
  for (const [, seen] of versions) expect(seen).toEqual([...seen].sort((x, y) => x - y));
  return ids;
}

/** A pino-like logger that keeps its lines, to count what the relay said. */
export function recordingLog() {
  const lines: { level: string; msg: string; obj: Record<string, unknown> }[] = [];
  const at =
    (level: string) =>
    (obj: unknown, msg?: string): void => {
      if (typeof obj === 'string') lines.push({ level, msg: obj, obj: {} });
      else lines.push({ level, msg: msg ?? '', obj: obj as Record<string, unknown> });
    };
  const log = { warn: at('warn'), info: at('info'), error: at('error'), debug: at('debug') };
  return { lines, log: log as never };
}

/**
 * The API (relay off) on a database of the test file's own, for the hooks of a relay test file:
 * `primaryUrl` for the test's own SQL, `serviceUrl` (reservation-api's account) for relays.
 */
export function appOnFreshDatabase(prefix: string): { app: FastifyInstance; primaryUrl: string; serviceUrl: string } {
  const context = {} as { app: FastifyInstance; primaryUrl: string; serviceUrl: string };
  beforeAll(async () => {
    const db = await freshDatabase(prefix);
    await db.migrate();
    context.primaryUrl = db.primaryUrl;
    context.serviceUrl = db.as.reservationApi.primaryUrl;
    ({ app: context.app } = await testApp({ MYSQL_PRIMARY_URL: db.as.reservationApi.primaryUrl }));
  });
  afterAll(async () => {
    await context.app?.close();
  });
  return context;
}
