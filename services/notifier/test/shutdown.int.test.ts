import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createResource } from '@reservations/reservation-api/testing';
import { freePort, harnessEnv, repoRoot, type Server, startServer, testSqs, waitUntil } from '@reservations/testkit';
import type { FastifyInstance } from 'fastify';
import mysql from 'mysql2/promise';
import { API_ENV, bearer, freshQueue, migratedDatabase, reservationApp, startReceiver } from './support/pipeline.ts';

/**
 * Graceful shutdown with messages in flight, against real processes: a test transaction holds
 * the lock every event's effect needs (the provider's stream row), so the notifier's batches
 * are mid-processing, blocked in MariaDB, when SIGTERM arrives. Either the lock goes during the
 * shutdown (the batches finish: effect committed, messages deleted) or it outlasts the grace
 * (the messages are handed back, visible at once though the visibility timeout is long). A
 * second notifier then finishes the work, and every event takes effect exactly once.
 */
const BOOKINGS = 8;
const VISIBILITY_TIMEOUT_SECONDS = 120;
const SHUTDOWN_TIMEOUT_MS = 10_000;

let primaryUrl: string;
let replicaUrl: string;
let database: string;
let writer: FastifyInstance;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let secret: string | undefined;
const servers: Server[] = [];
let slot = 0;

beforeAll(async () => {
  const db = await migratedDatabase('ntf_shutdown');
  primaryUrl = db.primaryUrl;
  replicaUrl = db.replicaUrl;
  database = db.name;
  receiver = await startReceiver(() => secret);
}, 60_000);

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop(2000)));
  await writer?.close();
});

afterAll(async () => {
  await receiver?.close();
});

async function startNotifier(name: string, queue: { queueUrl: string; dlqUrl: string }) {
  const port = await freePort();
  const adminPort = await freePort();
  const server = startServer(name, process.execPath, [join(repoRoot, 'services/notifier/src/server.ts')], {
    logFile: join(harnessEnv('HARNESS_DIR'), `${name}-${queue.queueUrl.split('/').pop()}.log`),
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: String(port),
      ADMIN_PORT: String(adminPort),
      LOG_LEVEL: 'info',
      MYSQL_PRIMARY_URL: primaryUrl,
      MYSQL_REPLICA_URL: replicaUrl,
      REDIS_URL: harnessEnv('REDIS_URL'),
      ...API_ENV,
      SQS_QUEUE_URL: queue.queueUrl,
      SQS_DLQ_URL: queue.dlqUrl,
      SHUTDOWN_DELAY_MS: '0',
      SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
      SQS_CONSUMERS: '2',
      SQS_BATCH_SIZE: '10',
      SQS_WAIT_TIME_SECONDS: '1',
      SQS_VISIBILITY_TIMEOUT_SECONDS: String(VISIBILITY_TIMEOUT_SECONDS),
      SQS_RETRY_BASE_SECONDS: '0',
      WEBHOOK_ALLOW_HTTP: 'true',
      WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true',
      WEBHOOK_TIMEOUT_MS: '1000',
      WEBHOOK_RETRY_BASE_MS: '50',
      WEBHOOK_RETRY_MAX_MS: '500',
      WEBHOOK_POLL_INTERVAL_MS: '100',
    },
  });
  servers.push(server);
  await waitUntil(`${name} ready`, async () => (await fetch(`http://127.0.0.1:${adminPort}/readyz`)).ok, { server, timeoutMs: 60_000 });
  return { server, port, log: () => readFileSync(server.logFile, 'utf8') };
}

async function queueDepth(queueUrl: string) {
  const { Attributes = {} } = await testSqs().send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'VisibilityTimeout'],
    }),
  );
  return {
    visible: Number(Attributes.ApproximateNumberOfMessages),
    inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible),
    visibilityTimeout: Number(Attributes.VisibilityTimeout),
  };
}

async function query<T>(sql: string, params: unknown[] = [], url = primaryUrl): Promise<T[]> {
  const conn = await mysql.createConnection(url);
  try {
    const [rows] = await conn.query(sql, params);
    return rows as T[];
  } finally {
    await conn.end();
  }
}

/**
 * Transactions on this database open right now, and those of them waiting for a row lock (seen as
 * the admin: it needs PROCESS). The test's own lock is one of the open ones.
 */
async function transactions(): Promise<{ open: number; lockWaits: number }> {
  const [row] = await query<{ open: number; waiting: number }>(
    `SELECT COUNT(*) AS open, COALESCE(SUM(t.trx_state = 'LOCK WAIT'), 0) AS waiting FROM information_schema.INNODB_TRX t
     JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id
     WHERE p.DB = ?`,
    [database],
    harnessEnv('MYSQL_PRIMARY_ADMIN_URL'),
  );
  return { open: Number(row?.open), lockWaits: Number(row?.waiting) };
}

/**
 * A provider with a webhook, a fresh queue with a writer relaying into it and a notifier on it,
 * and BOOKINGS bookings whose events are all received and blocked on the provider's stream row.
 */
async function inFlight(name: string) {
  const provider = `prov-${name}`;
  const queue = await freshQueue(name, { maxReceiveCount: 10, visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_SECONDS });
  ({ app: writer } = await reservationApp({
    MYSQL_PRIMARY_URL: primaryUrl,
    OUTBOX_RELAY: 'in-process',
    SQS_QUEUE_URL: queue.queueUrl,
    OUTBOX_POLL_INTERVAL_MS: 100,
  }));
  const first = await startNotifier(`notifier-1-${name}`, queue);
  const put = await fetch(`http://127.0.0.1:${first.port}/v1/providers/${provider}/webhook`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', ...bearer('provider', provider) },
    body: JSON.stringify({ url: receiver.url }),
  });
  expect(put.status).toBe(201);
  secret = ((await put.json()) as { secret: string }).secret;
  const resourceId = await createResource(writer, { providerId: provider });

  // The lock: an uncommitted row for the provider's stream, which every event's effect upserts.
  const lock = await mysql.createConnection(primaryUrl);
  await lock.beginTransaction();
  await lock.query('INSERT INTO provider_streams (provider_id, last_seq) VALUES (?, 0)', [provider]);

  const bookings: string[] = [];
  for (let i = 0; i < BOOKINGS; i++) {
    const start = new Date(Date.UTC(2032, 0, 1) + slot++ * 3_600_000);
    const response = await writer.inject({
      method: 'POST',
      url: '/v1/reservations',
      headers: bearer('customer', 'dana'),
      payload: { resourceId, startsAt: start.toISOString(), endsAt: new Date(start.getTime() + 3_600_000).toISOString() },
    });
    expect(response.statusCode).toBe(201);
    bookings.push(response.json<{ id: string }>().id);
  }
  // Every event relayed; the notifier received some (its consumers now each hold a batch), and
  // every transaction but the test's is blocked on the lock: a batch's (one for all its events),
  // or, had one gone one event at a time, that event's.
  let seen = { visible: 0, inFlight: 0, open: 0, lockWaits: 0 };
  await waitUntil(
    'all events received by the notifier and blocked on the lock',
    async () => {
      const depth = await queueDepth(queue.queueUrl);
      seen = { visible: depth.visible, inFlight: depth.inFlight, ...(await transactions()) };
      return depth.visible + depth.inFlight === BOOKINGS && depth.inFlight > 0 && seen.lockWaits > 0 && seen.lockWaits === seen.open - 1;
    },
    { timeoutMs: 30_000 },
  ).catch((err: Error) => {
    throw new Error(`${err.message}: ${JSON.stringify(seen)}`);
  });
  const eventIds = (
    await query<{ event_id: string }>(
      `SELECT event_id FROM outbox WHERE aggregate_id IN (${bookings.map(() => '?').join(',')}) ORDER BY event_id`,
      bookings,
    )
  ).map((r) => r.event_id);
  expect(eventIds).toHaveLength(BOOKINGS);
  return { queue, first, lock, eventIds, provider, received: seen.inFlight };
}

const historyIds = async (provider: string) =>
  (await query<{ event_id: string }>('SELECT event_id FROM event_history WHERE provider_id = ? ORDER BY event_id', [provider])).map(
    (r) => r.event_id,
  );

/** After a second notifier: every event in the history once, delivered (and acknowledged) once, the queue empty. */
async function expectExactlyOnce(queue: { queueUrl: string; dlqUrl: string }, provider: string, eventIds: string[]) {
  await waitUntil('every event delivered', () => eventIds.every((id) => receiver.effects.has(id)), { timeoutMs: 60_000 });
  expect(await historyIds(provider)).toEqual(eventIds);
  for (const id of eventIds) expect(receiver.receipts.filter((r) => r.id === id)).toHaveLength(1);
  await waitUntil('the queue is empty', async () => {
    const depth = await queueDepth(queue.queueUrl);
    return depth.visible === 0 && depth.inFlight === 0;
  });
  expect(await queueDepth(queue.dlqUrl)).toMatchObject({ visible: 0, inFlight: 0 });
}

describe('notifier graceful shutdown with messages in flight', () => {
  it('finishes the batches in flight when their step completes within the shutdown timeout: effects committed, messages deleted', async () => {
    const { queue, first, lock, eventIds, provider, received } = await inFlight('finish');
    process.kill(first.server.pid, 'SIGTERM');
    // The lock goes once the notifier has begun its shutdown.
    await waitUntil('shutdown begun', async () => first.log().includes('shutting down'), { intervalMs: 20 });
    await lock.rollback();
    await lock.end();
    expect(await first.server.exited).toBe(0);

    // The batches in flight finished (the first `received` events, at least, took effect, their
    // messages deleted); nothing is left hidden: what it did not process is visible in the queue.
    const processed = await historyIds(provider);
    expect(processed.length).toBeGreaterThanOrEqual(received);
    expect(await queueDepth(queue.queueUrl)).toMatchObject({ visible: BOOKINGS - processed.length, inFlight: 0 });

    // A second notifier has nothing left to do but deliveries the first claimed and did not attempt.
    await startNotifier('notifier-2-finish', queue);
    await expectExactlyOnce(queue, provider, eventIds);
  }, 150_000);

  it('hands back at once the messages whose step outlasts the shutdown timeout; a second notifier takes them promptly', async () => {
    const { queue, first, lock, eventIds, provider, received } = await inFlight('release');
    expect((await queueDepth(queue.queueUrl)).visibilityTimeout).toBe(VISIBILITY_TIMEOUT_SECONDS);
    process.kill(first.server.pid, 'SIGTERM');
    // Within its shutdown timeout (past it the process exits 1) and with the lock still held.
    expect(await first.server.exited).toBe(0);

    // Nothing took effect (its transactions are gone from the server, not left waiting on the
    // lock), and every message is visible again now, not VISIBILITY_TIMEOUT_SECONDS from now.
    // KILL returns once the victim is told, before its thread wakes from the lock wait: poll, for
    // far less than the 50 s a forgotten transaction would wait there.
    let waits = -1;
    await waitUntil(
      'the cut transactions stop waiting on the lock',
      async () => {
        ({ lockWaits: waits } = await transactions());
        return waits === 0;
      },
      { timeoutMs: 10_000 },
    );
    expect(waits).toBe(0);
    expect(await historyIds(provider)).toEqual([]);
    expect(received).toBeGreaterThan(0);
    expect(await queueDepth(queue.queueUrl)).toMatchObject({ visible: BOOKINGS, inFlight: 0 });

    await lock.rollback();
    await lock.end();
    await startNotifier('notifier-2-release', queue);
    // Well inside the visibility timeout: the released messages, not expired ones, are what it takes.
    await waitUntil('the second notifier processed every event', async () => (await historyIds(provider)).length === BOOKINGS, {
      timeoutMs: 60_000,
    });
    await expectExactlyOnce(queue, provider, eventIds);
  }, 150_000);
});
