import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  bearer,
  freshDatabase,
  JWT_CONFIG,
  RATE_LIMIT_CONFIG,
  API_ENV as RESERVATION_API_ENV,
  testApp as reservationApp,
} from '@reservations/reservation-api/testing';
import { createQueueWithDlq, harnessEnv, testSqs } from '@reservations/testkit';
import type { FastifyInstance } from 'fastify';
import type { AppConfig } from '../../src/app.ts';
import { verificationFailure } from '../../src/domain/signature.ts';

export { bearer, freshDatabase, testApp as reservationApp } from '@reservations/reservation-api/testing';

/** The key-encryption keys of the tests' notifiers (test only): `kek-1` seals. */
export const WEBHOOK_SECRET_KEYS = `kek-1:${Buffer.alloc(32, 1).toString('base64')}`;

/** The environment a notifier process needs besides its backends (the booking APIs ignore what is not theirs). */
export const API_ENV = { ...RESERVATION_API_ENV, WEBHOOK_SECRET_KEYS };

/** Sets `provider`'s webhook endpoint to `url` (a new one: 201) through `notifier`, as the provider; its signing secret. */
export async function setWebhook(notifier: FastifyInstance, provider: string, url: string): Promise<string> {
  const put = await notifier.inject({
    method: 'PUT',
    url: `/v1/providers/${provider}/webhook`,
    headers: bearer('provider', provider),
    payload: { url },
  });
  if (put.statusCode !== 201) throw new Error(`setting the webhook answered ${put.statusCode}: ${put.body}`);
  return put.json<{ secret: string }>().secret;
}

/** A FIFO queue with its own DLQ for one test file, so tests never read each other's messages. */
export async function freshQueue(prefix: string, options: { maxReceiveCount?: number; visibilityTimeoutSeconds?: number } = {}) {
  return createQueueWithDlq(testSqs(), `${prefix}-${randomUUID().slice(0, 8)}.fifo`, options);
}

/** Everything a notifier needs, on the harness, with this database and queue. */
export function notifierConfig(
  primaryUrl: string,
  queue: { queueUrl: string; dlqUrl: string },
  overrides: Partial<AppConfig> = {},
): AppConfig {
  return {
    MYSQL_PRIMARY_URL: primaryUrl,
    MYSQL_REPLICA_URL: undefined,
    REDIS_URL: harnessEnv('REDIS_URL'),
    REDIS_COMMAND_TIMEOUT_MS: 250,
    REDIS_BREAKER_RESET_MS: 2000,
    ...JWT_CONFIG,
    ...RATE_LIMIT_CONFIG,
    MAX_EVENT_LOOP_DELAY_MS: 0,
    LOG_LEVEL: 'silent' as never,
    LOG_REQUESTS: 'errors',
    LOG_SLOW_REQUEST_MS: 500,
    SHUTDOWN_TIMEOUT_MS: 5000,
    MYSQL_POOL_SIZE: 10,
    MYSQL_QUEUE_LIMIT: 100,
    MYSQL_QUERY_TIMEOUT_MS: 10000,
    SQS_QUEUE_URL: queue.queueUrl,
    SQS_DLQ_URL: queue.dlqUrl,
    SQS_CONSUMERS: 2,
    SQS_BATCH_SIZE: 10,
    SQS_WAIT_TIME_SECONDS: 1,
    SQS_RECEIVE_GAP_MS: 50,
    SQS_CONNECTION_TIMEOUT_MS: 2000,
    SQS_REQUEST_TIMEOUT_MS: 5000,
    SQS_VISIBILITY_TIMEOUT_SECONDS: 5,
    SQS_RETRY_BASE_SECONDS: 0,
    WEBHOOK_SECRET_KEYS,
    WEBHOOK_SECRET_OVERLAP_SECONDS: 86_400,
    WEBHOOK_TIMEOUT_MS: 2000,
    WEBHOOK_RETRY_BASE_MS: 50,
    WEBHOOK_RETRY_MAX_MS: 500,
    WEBHOOK_MAX_ATTEMPTS: 50,
    WEBHOOK_CONCURRENCY: 16,
    WEBHOOK_CONCURRENCY_PER_PROVIDER: 4,
    WEBHOOK_BREAKER_FAILURES: 5,
    WEBHOOK_BREAKER_COOLDOWN_MS: 500,
    WEBHOOK_POLL_INTERVAL_MS: 100,
    WEBHOOK_MARK_DELAY_MS: 20,
    WEBHOOK_ALLOW_HTTP: true,
    WEBHOOK_ALLOW_PRIVATE_ADDRESSES: true,
    SSE_HEARTBEAT_MS: 15_000,
    SSE_POLL_INTERVAL_MS: 1000,
    SSE_MAX_STREAMS_PER_PROVIDER: 10,
    SSE_CATCH_UP_PAGE: 100,
    SSE_SLOW_READER_TIMEOUT_MS: 30_000,
    PROCESSED_EVENTS_RETENTION_DAYS: 30,
    WEBHOOK_DELIVERIES_RETENTION_DAYS: 30,
    ...overrides,
  };
}

export interface Receipt {
  id: string;
  body: string;
  headers: IncomingHttpHeaders;
  /** Why the signature did not verify, if it did not. */
  invalid: string | undefined;
  at: number;
}

/**
 * A real webhook receiver on loopback, as the docs tell providers to build one: it verifies
 * each request's signature and deduplicates on `webhook-id`. `receipts` has every request it
 * acknowledged, `effects` one per event id (what a receiver acts on). `down()` makes it answer
 * 503 until `up()`; `hang()` makes it take requests and never answer them, and `reset()` then
 * drops their connections and every new one's, until `up()`. `open()` is how many requests it
 * holds right now, `mostOpen()` the most it ever held at once.
 */
export async function startReceiver(secretOf: () => string | undefined) {
  const receipts: Receipt[] = [];
  const effects = new Map<string, Receipt>();
  let mode: 'up' | 'down' | 'hang' | 'reset' = 'up';
  let refused = 0;
  let open = 0;
  let mostOpen = 0;
  const held = new Set<IncomingMessage>();
  const server: Server = createServer((req, res) => {
    open++;
    mostOpen = Math.max(mostOpen, open);
    let closed = false;
    const done = () => {
      if (closed) return;
      closed = true;
      open--;
      held.delete(req);
    };
    res.on('close', done);
    if (mode === 'reset') {
      req.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (mode === 'hang') {
        held.add(req);
        return;
      }
      if (mode === 'reset') {
        req.socket.destroy();
        return;
      }
      if (mode === 'down') {
        refused++;
        res.writeHead(503).end();
        return;
      }
      const body = Buffer.concat(chunks).toString('utf8');
      const secret = secretOf();
      const invalid = secret ? verificationFailure(secret, req.headers, body) : 'no secret yet';
      const receipt = { id: String(req.headers['webhook-id']), body, headers: req.headers, invalid, at: Date.now() };
      receipts.push(receipt);
      if (!invalid && !effects.has(receipt.id)) effects.set(receipt.id, receipt);
      res.writeHead(invalid ? 401 : 204).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    receipts,
    effects,
    refusedCount: () => refused,
    open: () => open,
    mostOpen: () => mostOpen,
    down: () => {
      mode = 'down';
    },
    hang: () => {
      mode = 'hang';
    },
    reset: () => {
      mode = 'reset';
      for (const req of held) req.socket.destroy();
    },
    up: () => {
      mode = 'up';
    },
    close: async () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** A reservation-api whose outbox relay sends to `queueUrl` in its own process, polling often: events reach the notifier soon. */
export async function relayingWriter(primaryUrl: string, queueUrl: string): Promise<FastifyInstance> {
  const { app } = await reservationApp({
    MYSQL_PRIMARY_URL: primaryUrl,
    OUTBOX_RELAY: 'in-process',
    SQS_QUEUE_URL: queueUrl,
    OUTBOX_POLL_INTERVAL_MS: 200,
  });
  return app;
}

/** Books `resourceId` for the hour starting at `start` as `customer`; the new reservation's id. */
export async function bookHour(writer: FastifyInstance, resourceId: string, start: Date, customer: string): Promise<string> {
  const response = await writer.inject({
    method: 'POST',
    url: '/v1/reservations',
    headers: bearer('customer', customer),
    payload: { resourceId, startsAt: start.toISOString(), endsAt: new Date(start.getTime() + 3_600_000).toISOString() },
  });
  if (response.statusCode !== 201) throw new Error(`booking answered ${response.statusCode}: ${response.body}`);
  return response.json<{ id: string }>().id;
}

/** A freshly migrated database of its own. */
export async function migratedDatabase(prefix: string) {
  const db = await freshDatabase(prefix);
  await db.migrate();
  return db;
}

/** Reads an SSE stream over a real connection, collecting parsed events. */
export async function openStream(url: string, headers: Record<string, string>) {
  const controller = new AbortController();
  const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
  const events: { id: string; event: string; data: { eventId: string; type: string; version: number; reservation: { id: string } } }[] = [];
  const reading = (async () => {
    if (!response.body) return;
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of response.body) {
        buffer += decoder.decode(chunk, { stream: true });
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = Object.fromEntries(
            block
              .split('\n')
              .filter((l) => l && !l.startsWith(':'))
              .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trimStart()]),
          );
          if (fields.data) events.push({ id: fields.id ?? '', event: fields.event ?? '', data: JSON.parse(fields.data) });
          end = buffer.indexOf('\n\n');
        }
      }
    } catch {
      // aborted
    }
  })();
  return {
    status: response.status,
    headers: response.headers,
    events,
    close: async () => {
      controller.abort();
      await reading;
    },
  };
}
