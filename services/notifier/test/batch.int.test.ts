import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ReceiveMessageCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { EventEnvelope } from '@reservations/contracts';
import { createMysqlEventHistory } from '@reservations/database';
import { createResource, sql, toEnvelope } from '@reservations/reservation-api/testing';
import { createMysqlPool } from '@reservations/service-kit';
import { testSqs, waitUntil } from '@reservations/testkit';
import type { FastifyInstance } from 'fastify';
import type { Pool } from 'mysql2/promise';
import mysql from 'mysql2/promise';
import { Registry } from 'prom-client';
import { buildApp } from '../src/app.ts';
import { parseKeyRing } from '../src/domain/secret-box.ts';
import { primaryPool } from '../src/infra/db.ts';
import { createEventProcessor, type EventProcessor } from '../src/workers/event-processor.ts';
import { createWebhookDeliverer } from '../src/workers/webhook-deliverer.ts';
import {
  bearer,
  bookHour,
  freshQueue,
  migratedDatabase,
  notifierConfig,
  reservationApp,
  setWebhook,
  startReceiver,
  WEBHOOK_SECRET_KEYS,
} from './support/pipeline.ts';

// The batch path: a received batch takes effect in one transaction. Against the real MariaDB
// (as the notifier's own account) and ElasticMQ: duplicates inside and across batches, a batch
// whose transaction fails halfway (a constraint, a killed connection), a poison message among
// its batch-mates, and each provider's order.

const PROVIDER = 'prov-batch';
let db: Awaited<ReturnType<typeof migratedDatabase>>;
let writer: FastifyInstance;
let resourceId: string;
let pool: Pool;
let replica: Pool;
let processor: EventProcessor;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let secret: string | undefined;
let slot = 0;

/** Bookings through the real reservation-api (no relay): their events, as the relay would send them. */
async function bookings(count: number, { cancel = false } = {}): Promise<{ ids: string[]; events: EventEnvelope[] }> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = await bookHour(writer, resourceId, new Date(Date.UTC(2032, 0, 1) + slot++ * 3_600_000), 'dora');
    if (cancel) {
      const cancelled = await writer.inject({ method: 'POST', url: `/v1/reservations/${id}/cancel`, headers: bearer('customer', 'dora') });
      expect(cancelled.statusCode).toBe(200);
    }
    ids.push(id);
  }
  const rows = await sql(db.primaryUrl, 'SELECT * FROM outbox WHERE aggregate_id IN (?) ORDER BY id', [ids]);
  return { ids, events: rows.map((row) => toEnvelope(row as never)) };
}

/** What the notifier's tables hold for these events: ids processed, history rows (with stream numbers), delivery rows. */
async function recorded(events: EventEnvelope[]) {
  const ids = events.map((e) => e.eventId);
  const [processed, history, deliveries] = await Promise.all([
    sql<{ event_id: string }>(db.primaryUrl, 'SELECT event_id FROM processed_events WHERE event_id IN (?)', [ids]),
    sql<{ event_id: string; provider_seq: number }>(
      db.primaryUrl,
      'SELECT event_id, provider_seq FROM event_history WHERE event_id IN (?) ORDER BY provider_seq',
      [ids],
    ),
    sql<{ event_id: string }>(db.primaryUrl, 'SELECT event_id FROM webhook_deliveries WHERE event_id IN (?)', [ids]),
  ]);
  return {
    processed: processed.map((r) => r.event_id).sort(),
    history: history.map((r) => r.event_id),
    seqs: history.map((r) => Number(r.provider_seq)),
    deliveries: deliveries.map((r) => r.event_id).sort(),
  };
}

const sorted = (events: EventEnvelope[]) => events.map((e) => e.eventId).sort();

beforeAll(async () => {
  db = await migratedDatabase('ntf_batch');
  ({ app: writer } = await reservationApp({ MYSQL_PRIMARY_URL: db.as.reservationApi.primaryUrl }));
  resourceId = await createResource(writer, { providerId: PROVIDER });
  receiver = await startReceiver(() => secret);
  // The endpoint, through a notifier of the test's that reads a queue nobody writes to.
  const setup = await buildApp(notifierConfig(db.as.notifier.primaryUrl, await freshQueue('batch-setup')), {
    registry: new Registry(),
    logger: false,
  });
  secret = await setWebhook(setup, PROVIDER, receiver.url);
  await setup.close();
  pool = primaryPool(db.as.notifier.primaryUrl, 4);
  replica = createMysqlPool(db.as.notifier.replicaUrl, { connectionLimit: 2 });
  processor = createEventProcessor({ pool, replica, history: createMysqlEventHistory(), leaseMs: 60_000 });
});

afterAll(async () => {
  await Promise.all([writer?.close(), pool?.end(), replica?.end()]);
  await receiver?.close();
});

describe('one transaction per batch', () => {
  it('takes a duplicate inside a batch and one across batches once, numbering the provider’s stream in order', async () => {
    const { events } = await bookings(3, { cancel: true });
    const [a1, a2, b1, b2, c1, c2] = events as [EventEnvelope, EventEnvelope, EventEnvelope, EventEnvelope, EventEnvelope, EventEnvelope];

    const first = await processor.processBatch([a1, a2, b1, a1]);
    expect(first.map((o) => o.kind)).toEqual(['processed', 'processed', 'processed', 'deduplicated']);
    // a2 waits behind a1's delivery (the poll claims it once a1 is delivered); a1 and b1 are claimed.
    expect(first.map((o) => o.kind === 'processed' && o.claimed !== undefined)).toEqual([true, false, true, false]);

    const second = await processor.processBatch([b1, b2, c1, c2, a2]);
    expect(second.map((o) => o.kind)).toEqual(['deduplicated', 'processed', 'processed', 'processed', 'deduplicated']);

    const seen = await recorded(events);
    expect(seen.processed).toEqual(sorted(events));
    expect(seen.deliveries).toEqual(sorted(events));
    // Each event once in the history, the provider's stream in the order the batches gave them.
    expect(seen.history).toEqual([a1, a2, b1, b2, c1, c2].map((e) => e.eventId));
    expect(seen.seqs).toEqual(seen.seqs.map((_, i) => (seen.seqs[0] as number) + i));
  });

  it('commits nothing of a batch that fails on a constraint; its redelivery takes each event once', async () => {
    const { events } = await bookings(3);
    const [d, e, f] = events as [EventEnvelope, EventEnvelope, EventEnvelope];
    // A history row already holding f's id (as a row left from before its dedupe row was swept):
    // the batch's history insert fails after its dedupe and delivery rows were written.
    await sql(
      db.primaryUrl,
      `INSERT INTO event_history (event_id, reservation_id, provider_id, provider_seq, type, version, occurred_at, payload)
       VALUES (?, ?, 'someone-else', 1, 'reservation.created', 1, NOW(6), '{}')`,
      [f.eventId, randomUUID()],
    );
    const streamBefore = await sql(db.primaryUrl, 'SELECT last_seq FROM provider_streams WHERE provider_id = ?', [PROVIDER]);

    await expect(processor.processBatch([d, e, f])).rejects.toThrow(/Duplicate entry/);
    expect(await recorded([d, e])).toEqual({ processed: [], history: [], seqs: [], deliveries: [] });
    expect(await sql(db.primaryUrl, 'SELECT last_seq FROM provider_streams WHERE provider_id = ?', [PROVIDER])).toEqual(streamBefore);

    await sql(db.primaryUrl, 'DELETE FROM event_history WHERE event_id = ?', [f.eventId]);
    const redelivered = await processor.processBatch([d, e, f]);
    expect(redelivered.map((o) => o.kind)).toEqual(['processed', 'processed', 'processed']);
    const seen = await recorded(events);
    expect(seen.processed).toEqual(sorted(events));
    expect(seen.history).toEqual([d, e, f].map((x) => x.eventId));
    expect(seen.deliveries).toEqual(sorted(events));
  });

  it('commits nothing of a batch whose connection is killed halfway; its redelivery takes each event once', async () => {
    const { events } = await bookings(4);
    // The test holds the provider's stream row, so the batch stops at its history statements with
    // its dedupe and delivery rows written.
    const holder = await mysql.createConnection(db.primaryUrl);
    await holder.query('START TRANSACTION');
    await holder.query('SELECT last_seq FROM provider_streams WHERE provider_id = ? FOR UPDATE', [PROVIDER]);
    const batch = processor.processBatch(events);
    const failed = batch.then(
      () => undefined,
      (err: Error) => err,
    );
    const admin = await mysql.createConnection(db.adminUrl);
    let victim: number | undefined;
    await waitUntil(
      'the batch waits on the stream row',
      async () => {
        const [rows] = (await admin.query(
          `SELECT id, state FROM information_schema.processlist WHERE user = 'notifier' AND db = ? AND info LIKE '%INSERT INTO provider_streams%'`,
          [db.name],
        )) as unknown as [{ id: number; state: string }[]];
        victim = rows[0]?.id;
        if (victim === undefined) throw new Error('no statement of the batch on provider_streams yet');
        return true;
      },
      { timeoutMs: 30_000 },
    );
    await admin.query('KILL ?', [victim]);
    expect(await failed).toBeInstanceOf(Error);
    await holder.query('ROLLBACK');
    await holder.end();
    await admin.end();
    expect(await recorded(events)).toEqual({ processed: [], history: [], seqs: [], deliveries: [] });

    const redelivered = await processor.processBatch(events);
    expect(redelivered.map((o) => o.kind)).toEqual(['processed', 'processed', 'processed', 'processed']);
    const seen = await recorded(events);
    expect(seen.processed).toEqual(sorted(events));
    expect(seen.history).toEqual(events.map((x) => x.eventId));
  });
});

/** A deliverer on the notifier's pool that claims only when a mark made something due (its poll is a minute apart); the warnings it logs. */
function testDeliverer(options: { markDelayMs?: number; registry?: Registry } = {}) {
  const warnings: unknown[] = [];
  const log = {
    info: () => undefined,
    debug: () => undefined,
    warn: (...args: unknown[]) => warnings.push(args),
    error: (...args: unknown[]) => warnings.push(args),
  };
  const deliverer = createWebhookDeliverer({
    pool,
    registry: options.registry ?? new Registry(),
    log: log as never,
    secretKeys: parseKeyRing(WEBHOOK_SECRET_KEYS),
    timeoutMs: 5000,
    allowPrivateAddresses: true,
    retryBaseMs: 50,
    retryMaxMs: 500,
    maxAttempts: 3,
    concurrency: 4,
    concurrencyPerProvider: 4,
    pollIntervalMs: 60_000,
    breakerFailures: 5,
    breakerCoolDownMs: 1000,
    leaseMs: 60_000,
    markDelayMs: options.markDelayMs,
  });
  return { deliverer, warnings };
}

describe('marks', () => {
  it('of deliveries that end together commit in one transaction, which makes each reservation’s next event due', async () => {
    const { events } = await bookings(3, { cancel: true });
    const outcomes = await processor.processBatch(events);
    // Each booking's delivery claimed for the fast path; each cancellation written behind it.
    const claimed = outcomes.flatMap((o) => (o.kind === 'processed' && o.claimed ? [o.claimed] : []));
    expect(claimed.map((d) => d.eventId)).toEqual(events.filter((e) => e.type === 'reservation.created').map((e) => e.eventId));
    // Marks wait 3 s for others: the three POSTs to this loopback receiver end well within it.
    const registry = new Registry();
    const { deliverer, warnings } = testDeliverer({ markDelayMs: 3000, registry });
    try {
      for (const delivery of claimed) deliverer.deliverClaimed(delivery);
      const ids = events.map((e) => e.eventId);
      await waitUntil('every event delivered and marked', async () => {
        const rows = await sql<{ state: string }>(db.primaryUrl, 'SELECT state FROM webhook_deliveries WHERE event_id IN (?)', [ids]);
        return rows.length === ids.length && rows.every((r) => r.state === 'delivered');
      });
      // The bookings' three marks in one transaction, which made the three cancellations due: one
      // claim took them (the poll is a minute away), and their marks went in a second transaction.
      const metrics = await registry.metrics();
      expect(metrics).toMatch(/^webhook_mark_batch_size_count 2$/m);
      expect(metrics).toMatch(/^webhook_mark_batch_size_sum 6$/m);
      for (const e of events) expect(receiver.receipts.filter((r) => r.id === e.eventId)).toHaveLength(1);
      const order = receiver.receipts.map((r) => r.id);
      for (const [created, cancelled] of [0, 1, 2].map((i) => [events[2 * i], events[2 * i + 1]] as const)) {
        expect(order.indexOf(cancelled?.eventId ?? '')).toBeGreaterThan(order.indexOf(created?.eventId ?? ''));
      }
      expect(warnings).toEqual([]);
    } finally {
      await deliverer.stop(0);
    }
  });

  it('gathered when the deliverer stops are written before it returns', async () => {
    const { events } = await bookings(2);
    const outcomes = await processor.processBatch(events);
    const claimed = outcomes.flatMap((o) => (o.kind === 'processed' && o.claimed ? [o.claimed] : []));
    expect(claimed).toHaveLength(2);
    // Marks would wait a minute: stopping writes them at once.
    const { deliverer, warnings } = testDeliverer({ markDelayMs: 60_000 });
    for (const delivery of claimed) deliverer.deliverClaimed(delivery);
    await waitUntil('both webhooks received', async () => events.every((e) => receiver.receipts.some((r) => r.id === e.eventId)));
    await deliverer.stop(10_000);
    const rows = await sql<{ state: string }>(db.primaryUrl, 'SELECT state FROM webhook_deliveries WHERE event_id IN (?)', [
      events.map((e) => e.eventId),
    ]);
    expect(rows.map((r) => r.state)).toEqual(['delivered', 'delivered']);
    expect(warnings).toEqual([]);
  });
});

describe('a redirect', () => {
  it('is not followed: a 3xx is a failed attempt, recorded, and its Location receives nothing', async () => {
    const provider = 'prov-redirect';
    const target = await startReceiver(() => undefined);
    const bouncer = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(307, { location: target.url }).end());
    });
    bouncer.listen(0, '127.0.0.1');
    await once(bouncer, 'listening');
    const deliverer = testDeliverer().deliverer;
    try {
      const setup = await buildApp(notifierConfig(db.as.notifier.primaryUrl, await freshQueue('batch-redirect')), {
        registry: new Registry(),
        logger: false,
      });
      await setWebhook(setup, provider, `http://127.0.0.1:${(bouncer.address() as AddressInfo).port}/hook`);
      await setup.close();
      const resource = await createResource(writer, { providerId: provider });
      const id = await bookHour(writer, resource, new Date(Date.UTC(2033, 0, 1)), 'dora');
      const rows = await sql(db.primaryUrl, 'SELECT * FROM outbox WHERE aggregate_id = ?', [id]);
      const [outcome] = await processor.processBatch(rows.map((row) => toEnvelope(row as never)));
      const claimed = outcome?.kind === 'processed' ? outcome.claimed : undefined;
      if (!claimed) throw new Error('the booking was not claimed for the fast path');
      deliverer.deliverClaimed(claimed);
      await waitUntil('the attempt is recorded', async () => {
        const [row] = await sql<{ last_error: string | null }>(
          db.primaryUrl,
          'SELECT last_error FROM webhook_deliveries WHERE event_id = ?',
          [claimed.eventId],
        );
        return row?.last_error === 'the receiver answered 307';
      });
      expect(target.receipts).toEqual([]);
    } finally {
      await deliverer.stop(0);
      bouncer.close();
      await target.close();
    }
  });
});

describe("a reservation's next delivery", () => {
  it('is left to the claim that took it while its predecessor is being marked, then made due once', async () => {
    const {
      ids: [id],
      events,
    } = await bookings(1, { cancel: true });
    const [created, cancelled] = events as [EventEnvelope, EventEnvelope];
    const [first, second] = await processor.processBatch([created, cancelled]);
    // The booking's delivery claimed for the fast path; the cancellation's written due, behind it.
    const claimed = first?.kind === 'processed' ? first.claimed : undefined;
    if (!claimed) throw new Error('the first event was not claimed for the fast path');
    expect(second?.kind === 'processed' && second.claimed).toBeFalsy();

    const { deliverer, warnings } = testDeliverer();
    // Another deliverer's claim, in its transaction (READ COMMITTED, as the notifier's sessions):
    // its locking read of due rows (claim()'s) has taken the cancellation's.
    const claim = await mysql.createConnection(db.primaryUrl);
    const admin = await mysql.createConnection(db.adminUrl);
    try {
      await claim.query("SET SESSION tx_isolation = 'READ-COMMITTED'");
      await claim.query('START TRANSACTION');
      // Its locking read takes the row's entry in the due index and the row; only the row's (a
      // range would also lock the entry after it, the booking's, which the mark must change).
      const [locked] = (await claim.query(
        `SELECT event_id FROM webhook_deliveries FORCE INDEX (webhook_deliveries_due)
         WHERE state = 'pending' AND next_attempt_at = (SELECT next_attempt_at FROM webhook_deliveries WHERE event_id = ?)
         FOR UPDATE SKIP LOCKED`,
        [cancelled.eventId],
      )) as unknown as [{ event_id: string }[]];
      expect(locked.map((r) => r.event_id)).toEqual([cancelled.eventId]);
      const [[trx]] = (await admin.query('SELECT trx_id FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = ?', [
        claim.threadId,
      ])) as unknown as [{ trx_id: string }[]];
      const claimTrx = trx?.trx_id;
      expect(claimTrx).toBeDefined();

      deliverer.deliverClaimed(claimed);
      await waitUntil('the booking’s delivery, POSTed, waits on the claimed row to make it due', async () => {
        const [waits] = (await admin.query(
          `SELECT 1 FROM information_schema.INNODB_LOCK_WAITS w JOIN information_schema.INNODB_LOCKS l ON l.lock_id = w.requested_lock_id
           WHERE w.blocking_trx_id = ? AND l.lock_data LIKE ?`,
          [claimTrx, `%${cancelled.eventId}%`],
        )) as unknown as [unknown[]];
        return waits.length > 0;
      });
      expect(receiver.receipts.filter((r) => r.id === created.eventId)).toHaveLength(1);
      // The claim's plain read of the reservation's earliest pending delivery (as claim() reads
      // it) still finds the booking's: the mark is not committed apart from making its successor
      // due. So the claim leaves the cancellation blocked rather than leasing it for a POST.
      const [[earliest]] = (await claim.query(
        "SELECT MIN(version) AS version FROM webhook_deliveries WHERE reservation_id = ? AND state = 'pending'",
        [id],
      )) as unknown as [{ version: number }[]];
      expect(Number(earliest?.version)).toBe(1);
      await claim.query('UPDATE webhook_deliveries SET next_attempt_at = NOW(6) + INTERVAL 60 SECOND WHERE event_id = ?', [
        cancelled.eventId,
      ]);
      await claim.query('COMMIT');

      // Then the mark commits with the cancellation made due, and the deliverer's own claim POSTs it.
      await waitUntil('the cancellation is delivered', async () => {
        const rows = await sql<{ state: string }>(db.primaryUrl, 'SELECT state FROM webhook_deliveries WHERE event_id = ?', [
          cancelled.eventId,
        ]);
        return rows[0]?.state === 'delivered';
      });
      for (const e of events) expect(receiver.receipts.filter((r) => r.id === e.eventId)).toHaveLength(1);
      expect(warnings).toEqual([]);
    } finally {
      await claim.end();
      await admin.end();
      await deliverer.stop(0);
    }
  });
});

describe('through SQS', () => {
  /** Puts `messages` on the queue, 10 per call, in order. */
  async function enqueue(queueUrl: string, messages: { body: string; group: string }[]) {
    for (let i = 0; i < messages.length; i += 10) {
      const entries = messages.slice(i, i + 10).map((m, j) => ({
        Id: String(j),
        MessageBody: m.body,
        MessageGroupId: m.group,
        MessageDeduplicationId: randomUUID(),
      }));
      const sent = await testSqs().send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
      expect(sent.Failed ?? []).toEqual([]);
    }
  }
  const message = (e: EventEnvelope) => ({ body: JSON.stringify(e), group: `reservation:${e.aggregateId}` });
  const metric = (text: string, pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? Number.NaN);

  it('delivers every event once and in order per reservation; a poison message goes to the DLQ without holding its batch-mates', async () => {
    const queue = await freshQueue('batch', { maxReceiveCount: 2, visibilityTimeoutSeconds: 5 });
    const wave1 = await bookings(4, { cancel: true });
    const wave2 = await bookings(3, { cancel: true });
    // Wave 1 waits on the queue before a notifier starts, a repeat of its first event among it.
    await enqueue(queue.queueUrl, [...wave1.events.map(message), message(wave1.events[0] as EventEnvelope)]);
    const registry = new Registry();
    const config = notifierConfig(db.as.notifier.primaryUrl, queue, { SQS_CONSUMERS: 1, MYSQL_REPLICA_URL: db.as.notifier.replicaUrl });
    let notifier = await buildApp(config, { registry, logger: false });
    await notifier.ready();
    const effectsOf = (ids: string[]) =>
      [...receiver.effects.values()].filter((r) => ids.includes(JSON.parse(r.body).reservation.id)).sort((x, y) => x.at - y.at);
    await waitUntil('wave 1’s webhooks arrive', () => {
      const got = effectsOf(wave1.ids).length;
      if (got < wave1.events.length) throw new Error(`${got} of ${wave1.events.length} webhooks`);
      return true;
    });
    const text = await registry.metrics();
    // Some transaction took more than one event, and none failed.
    expect(metric(text, /^notifier_transaction_events_count(?:\{[^}]*\})? (\d+)/m)).toBeLessThan(wave1.events.length + 1);
    expect(metric(text, /^notifier_batch_fallbacks_total(?:\{[^}]*\})? (\d+)/m)).toBe(0);
    await notifier.close();

    // Wave 2 with a repeat of wave 1's last event (a redelivery across batches) and a poison
    // message: an envelope whose payload is not a reservation, in a group of its own. On a queue
    // of its own, which no closed notifier's long poll ever read, so they come as one batch.
    const queue2 = await freshQueue('batch-2', { maxReceiveCount: 2, visibilityTimeoutSeconds: 5 });
    const poison = {
      ...(wave2.events[0] as EventEnvelope),
      eventId: randomUUID(),
      aggregateId: randomUUID(),
      payload: { not: 'a booking' },
    };
    await enqueue(queue2.queueUrl, [message(poison), ...wave2.events.map(message), message(wave1.events.at(-1) as EventEnvelope)]);
    const registry2 = new Registry();
    notifier = await buildApp(
      { ...config, SQS_QUEUE_URL: queue2.queueUrl, SQS_DLQ_URL: queue2.dlqUrl },
      { registry: registry2, logger: false },
    );
    await notifier.ready();
    try {
      await waitUntil('wave 2’s webhooks arrive', () => {
        const got = effectsOf(wave2.ids).length;
        if (got < wave2.events.length) throw new Error(`${got} of ${wave2.events.length} webhooks`);
        return true;
      });
      let dead: string | undefined;
      await waitUntil(
        'the poison message is in the DLQ',
        async () => {
          const { Messages = [] } = await testSqs().send(new ReceiveMessageCommand({ QueueUrl: queue2.dlqUrl, MaxNumberOfMessages: 10 }));
          dead = Messages[0]?.Body;
          if (!dead) throw new Error('the DLQ is empty');
          return true;
        },
        { timeoutMs: 60_000 },
      );
      expect(JSON.parse(dead as string).eventId).toBe(poison.eventId);
      const text2 = await registry2.metrics();
      expect(metric(text2, /^notifier_batch_fallbacks_total(?:\{[^}]*\})? (\d+)/m)).toBeGreaterThanOrEqual(1);
      expect(metric(text2, /^notifier_events_total\{outcome="deduplicated"[^}]*\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    } finally {
      await notifier.close();
    }

    const all = [...wave1.events, ...wave2.events];
    // Once each at the receiver (no second POST of a repeat), once in the history.
    for (const e of all) expect(receiver.receipts.filter((r) => r.id === e.eventId)).toHaveLength(1);
    const seen = await recorded(all);
    expect(seen.history.sort()).toEqual(sorted(all));
    // Per reservation: created before cancelled, at the receiver and in the provider's stream.
    for (const id of [...wave1.ids, ...wave2.ids]) {
      expect(effectsOf([id]).map((r) => JSON.parse(r.body).type)).toEqual(['reservation.created', 'reservation.cancelled']);
      const stream = await sql<{ type: string }>(
        db.primaryUrl,
        'SELECT type FROM event_history WHERE reservation_id = ? ORDER BY provider_seq',
        [id],
      );
      expect(stream.map((r) => r.type)).toEqual(['reservation.created', 'reservation.cancelled']);
    }
  });
});
