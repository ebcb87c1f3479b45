import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { createSqsClient } from '@reservations/service-kit';
import {
  createQueueWithDlq,
  HARNESS_AWS,
  runDir,
  type Server,
  startElasticMq,
  startSilentServer,
  testSqs,
  waitUntil,
} from '@reservations/testkit';
import type { Pool } from 'mysql2/promise';
import mysql from 'mysql2/promise';
import { Registry } from 'prom-client';
import { primaryPool } from '../src/infra/db.ts';
import { createOutboxRelay, type OutboxRelay } from '../src/workers/outbox-relay.ts';
import { bearer } from './support/app.ts';
import { book, createResource, sql } from './support/fixtures.ts';
import { appOnFreshDatabase, drainQueue, expectOncePerEventInOrder, makeEvents, recordingLog } from './support/relay.ts';

const sqs = testSqs();
const ctx = appOnFreshDatabase('rsv_relay_faults');
const pools: Pool[] = [];
const servers: Server[] = [];

afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
  // SIGCONT first: a stopped process does not act on SIGTERM.
  for (const s of servers) {
    try {
      process.kill(-s.pid, 'SIGCONT');
    } catch {}
    await s.stop();
  }
});

const relays: OutboxRelay[] = [];
// A relay whose pass failed retries on its own after a backoff: left running, it would claim the
// next test's rows (SKIP LOCKED hides them from that test's relay) or send them to its own queue.
afterEach(async () => {
  await Promise.all(relays.splice(0).map((r) => r.stop()));
});

function newRelay(options: Partial<Parameters<typeof createOutboxRelay>[0]> & { queueUrl: string }) {
  const pool = primaryPool(ctx.serviceUrl, 4);
  pools.push(pool);
  const registry = new Registry();
  const { lines, log } = recordingLog();
  const relay = createOutboxRelay({ pool, sqs, registry, log, batchSize: 50, ...options });
  relays.push(relay);
  return { relay, registry, lines };
}

/** Each test starts from an outbox with nothing left to send (nor parked) by another. */
const settleOutbox = () =>
  sql(ctx.primaryUrl, 'UPDATE outbox SET sent_at = COALESCE(sent_at, NOW(6)), parked_at = NULL WHERE sent_at IS NULL');

const count = async (where: string, params: unknown[] = []) =>
  Number((await sql<{ n: number }>(ctx.primaryUrl, `SELECT COUNT(*) AS n FROM outbox WHERE ${where}`, params))[0]?.n);

const metric = async (registry: Registry, name: string) => {
  const line = (await registry.metrics()).split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
};

describe('the relay past a message SQS refuses', () => {
  it('parks the refused rows (kept, counted, logged once each) while the others flow; the later events of their reservations wait until an SRE un-parks or drops them', async () => {
    await settleOutbox();
    const [tooLong, badId, fine] = await makeEvents(ctx.app, 3);
    const rowsOf = (reservation: string | undefined) =>
      sql<{
        id: string;
        event_id: string;
        version: number;
        sent_at: Date | null;
        parked_at: Date | null;
        attempts: number;
        last_error: string | null;
      }>(
        ctx.primaryUrl,
        `SELECT id, event_id, version, sent_at, parked_at, attempts, last_error FROM outbox WHERE aggregate_id = ? ORDER BY id`,
        [reservation],
      );
    // Two refusals SQS makes for what a message is: a body over 256 KiB (the whole call is refused:
    // MessageTooLong) and a deduplication id it does not allow (that one entry is refused).
    const first = (await rowsOf(tooLong))[0];
    const original = await sql<{ payload: unknown }>(ctx.primaryUrl, 'SELECT payload FROM outbox WHERE id = ?', [first?.id]);
    await sql(ctx.primaryUrl, `UPDATE outbox SET payload = JSON_OBJECT('notes', REPEAT('x', 300000)) WHERE id = ?`, [first?.id]);
    const second = (await rowsOf(badId))[1];
    await sql(ctx.primaryUrl, `UPDATE outbox SET event_id = 'not a valid id' WHERE id = ?`, [second?.id]);

    const { queueUrl } = await createQueueWithDlq(sqs, `relay-refused-${Date.now()}.fifo`);
    const { relay, registry, lines } = newRelay({ queueUrl });
    expect(await relay.drain()).toBe(3 + 1 + 1); // the resource, `fine`'s three, `badId`'s first

    const [a, b] = [await rowsOf(tooLong), await rowsOf(badId)];
    expect(a.map((r) => [r.sent_at === null, r.parked_at !== null, r.attempts])).toEqual([
      [true, true, 1],
      [true, false, 0],
      [true, false, 0],
    ]);
    expect(a[0]?.last_error).toMatch(/MessageTooLong/);
    expect(b.map((r) => [r.sent_at === null, r.parked_at !== null, r.attempts])).toEqual([
      [false, false, 0],
      [true, true, 1],
      [true, false, 0],
    ]);
    expect(b[1]?.last_error).toMatch(/InvalidParameterValue: MessageDeduplicationId/);
    const parkedLines = lines.filter((l) => l.msg.startsWith('outbox row parked'));
    expect(parkedLines.map((l) => String(l.obj.outboxId)).sort()).toEqual([String(a[0]?.id), String(b[1]?.id)].sort());
    expect(lines.filter((l) => l.level === 'warn')).toHaveLength(2);
    expect(await metric(registry, 'outbox_parked_rows')).toBe(2);
    expect(await metric(registry, 'outbox_rows_parked_total')).toBe(2);
    // The rows held behind a parked row are not lag: the relay is not behind on them.
    expect(await metric(registry, 'outbox_lag_seconds')).toBe(0);

    let messages = await drainQueue(sqs, queueUrl);
    expect(messages.map((m) => JSON.parse(m.Body as string).aggregateId).filter((id) => id === tooLong)).toEqual([]);
    expect(
      messages.filter((m) => JSON.parse(m.Body as string).aggregateId === badId).map((m) => JSON.parse(m.Body as string).version),
    ).toEqual([1]);
    expect(messages.filter((m) => JSON.parse(m.Body as string).aggregateId === fine)).toHaveLength(3);

    // Passes go on and leave them be: nothing is sent again, no new line.
    expect(await relay.drain()).toBe(0);
    expect(lines.filter((l) => l.level === 'warn')).toHaveLength(2);

    // The SRE fixes the first (its payload back) and un-parks it; drops the second (its event is lost to the queue, on purpose).
    await sql(ctx.primaryUrl, 'UPDATE outbox SET payload = ?, parked_at = NULL, attempts = 0, last_error = NULL WHERE id = ?', [
      JSON.stringify(original[0]?.payload),
      first?.id,
    ]);
    await sql(ctx.primaryUrl, 'DELETE FROM outbox WHERE id = ?', [second?.id]);
    expect(await relay.drain()).toBe(3 + 1);
    messages = await drainQueue(sqs, queueUrl);
    const versionsOf = (id: string | undefined) =>
      messages.filter((m) => JSON.parse(m.Body as string).aggregateId === id).map((m) => JSON.parse(m.Body as string).version);
    expect(versionsOf(tooLong)).toEqual([1, 2, 3]);
    expect(versionsOf(badId)).toEqual([3]);
    expect(await count('sent_at IS NULL')).toBe(0);
    expect(await metric(registry, 'outbox_parked_rows')).toBe(0);
  });

  it('a queue that fails every call counts no attempt against any row, and the relay says so once', async () => {
    await settleOutbox();
    const [reservation] = await makeEvents(ctx.app, 1);
    // A queue that does not exist: every call fails as a whole. It says nothing of any row, so no row counts an attempt.
    const missing = `${(await createQueueWithDlq(sqs, `relay-gone-${Date.now()}.fifo`)).queueUrl}-missing.fifo`;
    const { relay, lines } = newRelay({ queueUrl: missing, maxAttempts: 2 });
    await expect(relay.drain()).rejects.toThrow(/queue|exist/i);
    await expect(relay.drain()).rejects.toThrow(/queue|exist/i);
    expect(await count('aggregate_id = ? AND (attempts > 0 OR parked_at IS NOT NULL)', [reservation])).toBe(0);
    // One line when the passes start failing, none for the next failures.
    expect(lines.filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual([
      'outbox relay passes are failing: unsent rows wait in the outbox, retried with backoff',
    ]);
    expect(await count('aggregate_id = ? AND sent_at IS NULL', [reservation])).toBe(3);
    await settleOutbox();
  });
});

describe('a pass against an SQS that never answers', () => {
  it('holds its rows’ locks only until its deadline: then its calls are aborted, the rows are unsent and free for another relay', async () => {
    await settleOutbox();
    const [reservation] = await makeEvents(ctx.app, 1);
    const silent = await startSilentServer();
    // Requests that would wait a minute: only the pass's own deadline ends this pass.
    const hung = createSqsClient(
      { connectionTimeoutMs: 60_000, requestTimeoutMs: 60_000 },
      { endpoint: silent.url, region: 'us-east-1', maxAttempts: 1, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } },
    );
    const { relay } = newRelay({ sqs: hung, queueUrl: `${silent.url}/000000000000/q.fifo`, passTimeoutMs: 2000 });
    const conn = await mysql.createConnection(ctx.primaryUrl);
    try {
      const tryLock = () =>
        conn
          .query('SELECT id FROM outbox WHERE aggregate_id = ? FOR UPDATE NOWAIT', [reservation])
          .then(
            () => 'free',
            () => 'locked',
          )
          .finally(() => conn.query('ROLLBACK'));
      await conn.query('START TRANSACTION');
      const pass = relay.drain();
      await waitUntil('the pass holds its rows', async () => (await tryLock()) === 'locked');
      await expect(pass).rejects.toThrow(/took longer than 2000 ms/);
      expect(await tryLock()).toBe('free');
      expect(await count('aggregate_id = ? AND sent_at IS NULL AND attempts = 0 AND parked_at IS NULL', [reservation])).toBe(3);
    } finally {
      await conn.end();
      hung.destroy();
      await silent.close();
    }
  });
});

describe('payloads SQS would refuse', () => {
  it('notes with U+FFFF, U+FFFE, a lone surrogate and NUL arrive as the API rendered them', async () => {
    await settleOutbox();
    const notes = 'a\uFFFFb\uFFFEc\uD800d\u0000e\uDFFFf 😀';
    const resourceId = await createResource(ctx.app, { providerId: 'prov-unicode', capacity: 1 });
    const booked = await book(ctx.app, resourceId, '2033-01-01T10:00:00Z', '2033-01-01T11:00:00Z', { customer: 'una' });
    expect(booked.statusCode).toBe(201);
    const { id, version } = booked.json<{ id: string; version: number }>();
    const changed = await ctx.app.inject({
      method: 'PATCH',
      url: `/v1/reservations/${id}`,
      headers: { ...bearer('customer', 'una'), 'if-match': `"${version}"` },
      payload: { notes },
    });
    expect(changed.statusCode).toBe(200);
    const rendered = changed.json<{ notes: string }>();

    const { queueUrl } = await createQueueWithDlq(sqs, `relay-unicode-${Date.now()}.fifo`);
    const { relay, registry } = newRelay({ queueUrl });
    expect(await relay.drain()).toBe(3);
    expect(await metric(registry, 'outbox_parked_rows')).toBe(0);
    const messages = (await drainQueue(sqs, queueUrl)).map((m) => JSON.parse(m.Body as string));
    const last = messages.filter((m) => m.aggregateId === id).at(-1);
    expect(last.version).toBe(2);
    expect(last.payload).toEqual(rendered);
    expect(last.payload.notes).toBe(rendered.notes);
    expect(rendered.notes).toContain('\uFFFF');
    expect(rendered.notes).toContain('\uFFFE');
    expect(rendered.notes).toContain('\u0000');
  });
});

describe('the relay through an SQS outage', () => {
  it('ElasticMQ stopped for a minute under load: nothing lost, every event sent once it returns, in order per reservation; one line when it fails, one when it recovers', async () => {
    await settleOutbox();
    const before = await count('1 = 1');
    // An ElasticMQ of this test's own: the shared one is never stopped.
    const own = await startElasticMq(runDir());
    servers.push(...own.servers);
    const [elasticmq] = own.servers as [Server];
    const ownSqs = createSqsClient(
      { connectionTimeoutMs: 500, requestTimeoutMs: 1000 },
      {
        region: HARNESS_AWS.AWS_REGION,
        endpoint: own.env.AWS_ENDPOINT_URL_SQS,
        credentials: { accessKeyId: HARNESS_AWS.AWS_ACCESS_KEY_ID, secretAccessKey: HARNESS_AWS.AWS_SECRET_ACCESS_KEY },
      },
    );
    const { relay, registry, lines } = newRelay({
      sqs: ownSqs,
      queueUrl: own.env.SQS_QUEUE_URL,
      pollIntervalMs: 100,
      passTimeoutMs: 4000,
      backoffBaseMs: 200,
      backoffMaxMs: 3000,
    });
    relay.start();

    // The load: bookings, each confirmed, two events per reservation, from before the outage to after it.
    const resourceId = await createResource(ctx.app, { providerId: 'prov-outage', capacity: 10_000 });
    let loading = true;
    const booked: string[] = [];
    const failures: number[] = [];
    const load = (async () => {
      while (loading) {
        const created = await book(ctx.app, resourceId, '2034-03-01T10:00:00Z', '2034-03-01T11:00:00Z', { customer: 'olga', hold: true });
        if (created.statusCode !== 201) {
          failures.push(created.statusCode);
          continue;
        }
        const { id } = created.json<{ id: string }>();
        booked.push(id);
        const confirmed = await ctx.app.inject({
          method: 'POST',
          url: `/v1/reservations/${id}/confirm`,
          headers: bearer('customer', 'olga'),
        });
        if (confirmed.statusCode !== 200) failures.push(confirmed.statusCode);
        await sleep(20);
      }
    })();

    await waitUntil('the relay sends under load', async () => ((await metric(registry, 'outbox_events_sent_total')) ?? 0) >= 50);
    process.kill(-elasticmq.pid, 'SIGSTOP');
    const stoppedAt = Date.now();
    const bookedAtStop = booked.length;
    await waitUntil('the relay noticed the outage', () => lines.some((l) => l.level === 'warn'), { timeoutMs: 20_000 });
    await sleep(Math.max(0, 60_000 - (Date.now() - stoppedAt)));
    // Bookings went on committing throughout, and the relay said so once, not once per wake.
    expect(booked.length).toBeGreaterThan(bookedAtStop + 100);
    expect(await count('sent_at IS NULL')).toBeGreaterThan(100);
    expect(((await metric(registry, 'outbox_relay_errors_total')) ?? 0) > 3).toBe(true);
    expect(lines.filter((l) => l.level === 'warn')).toHaveLength(1);
    expect(lines.filter((l) => l.level === 'info')).toHaveLength(0);
    process.kill(-elasticmq.pid, 'SIGCONT');

    await waitUntil('the relay recovered', () => lines.some((l) => l.level === 'info'), { timeoutMs: 30_000 });
    await sleep(2000); // more load after the outage
    loading = false;
    await load;
    await waitUntil('every row sent', async () => (await count('sent_at IS NULL')) === 0, { timeoutMs: 60_000 });
    await relay.stop();

    expect(failures).toEqual([]);
    expect(lines.map((l) => `${l.level}: ${l.msg}`)).toEqual([
      'warn: outbox relay passes are failing: unsent rows wait in the outbox, retried with backoff',
      'info: outbox relay passes succeed again: sending what waited',
    ]);
    expect(await count('parked_at IS NOT NULL OR attempts > 0')).toBe(0);
    const events = (await count('1 = 1')) - before;
    expect(events).toBe(1 + 2 * booked.length); // the resource, and two per reservation
    const messages = await drainQueue(ownSqs, own.env.SQS_QUEUE_URL);
    const ids = expectOncePerEventInOrder(messages);
    expect(ids).toHaveLength(events);
    const inOutbox = await sql<{ event_id: string }>(ctx.primaryUrl, 'SELECT event_id FROM outbox ORDER BY id DESC LIMIT ?', [events]);
    expect(new Set(ids)).toEqual(new Set(inOutbox.map((r) => r.event_id)));
    ownSqs.destroy();
  }, 240_000);
});
