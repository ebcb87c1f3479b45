import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createResource } from '@reservations/reservation-api/testing';
import { waitUntil } from '@reservations/testkit';
import type { FastifyInstance } from 'fastify';
import type { RowDataPacket } from 'mysql2/promise';
import { Registry } from 'prom-client';
import { buildApp } from '../src/app.ts';
import { bearer, freshQueue, migratedDatabase, notifierConfig, reservationApp, startReceiver } from './support/pipeline.ts';

// Provider A's endpoint takes requests and never answers; provider B's answers at once.
const A = 'prov-fair-a';
const B = 'prov-fair-b';
const PER_PROVIDER = 2;
const ROUNDS = 12;
const BREAKER_FAILURES = 3;

let writer: FastifyInstance;
let notifier: FastifyInstance;
let registry: Registry;
const secrets = new Map<string, string>();
const resources = new Map<string, string>();
let receiverA: Awaited<ReturnType<typeof startReceiver>>;
let receiverB: Awaited<ReturnType<typeof startReceiver>>;
let slot = 0;
/** The notifier's log lines, parsed. */
const logLines: { msg: string; component?: string }[] = [];

async function book(provider: string): Promise<string> {
  const start = new Date(Date.UTC(2033, 0, 1) + slot++ * 3_600_000);
  const response = await writer.inject({
    method: 'POST',
    url: '/v1/reservations',
    headers: bearer('customer', 'erin'),
    payload: {
      resourceId: resources.get(provider),
      startsAt: start.toISOString(),
      endsAt: new Date(start.getTime() + 3_600_000).toISOString(),
    },
  });
  expect(response.statusCode).toBe(201);
  return response.json<{ id: string }>().id;
}

async function cancel(id: string) {
  const response = await writer.inject({ method: 'POST', url: `/v1/reservations/${id}/cancel`, headers: bearer('customer', 'erin') });
  expect(response.statusCode).toBe(200);
}

/** A counter's value from the registry (0 when absent). */
async function counter(name: string, label = ''): Promise<number> {
  const line = (await registry.metrics()).split('\n').find((l) => l.startsWith(name) && l.includes(label) && !l.startsWith('#'));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

const reservationsOf = (receiver: typeof receiverA) =>
  [...receiver.effects.values()].map((r) => JSON.parse(r.body).reservation.id as string);

beforeAll(async () => {
  const db = await migratedDatabase('ntf_fairness');
  const queue = await freshQueue('fairness');
  receiverA = await startReceiver(() => secrets.get(A));
  receiverB = await startReceiver(() => secrets.get(B));
  ({ app: writer } = await reservationApp({
    MYSQL_PRIMARY_URL: db.primaryUrl,
    OUTBOX_RELAY: 'in-process',
    SQS_QUEUE_URL: queue.queueUrl,
    OUTBOX_POLL_INTERVAL_MS: 200,
  }));
  registry = new Registry();
  notifier = await buildApp(
    notifierConfig(db.as.notifier.primaryUrl, queue, {
      // Few slots, so A's hanging POSTs would take them all without the per-provider cap; a
      // timeout far longer than the test, so none of them ends (and frees a slot) on its own.
      WEBHOOK_CONCURRENCY: 4,
      WEBHOOK_CONCURRENCY_PER_PROVIDER: PER_PROVIDER,
      WEBHOOK_TIMEOUT_MS: 120_000,
      WEBHOOK_BREAKER_FAILURES: BREAKER_FAILURES,
      WEBHOOK_BREAKER_COOLDOWN_MS: 1000,
    }),
    { registry, logger: { level: 'info', stream: { write: (line: string) => logLines.push(JSON.parse(line)) } } },
  );
  await notifier.ready();
  for (const [provider, receiver] of [
    [A, receiverA],
    [B, receiverB],
  ] as const) {
    resources.set(provider, await createResource(writer, { providerId: provider }));
    const put = await notifier.inject({
      method: 'PUT',
      url: `/v1/providers/${provider}/webhook`,
      headers: bearer('provider', provider),
      payload: { url: receiver.url },
    });
    expect(put.statusCode).toBe(201);
    secrets.set(provider, put.json().secret);
  }
});

afterAll(async () => {
  receiverA?.up();
  await Promise.all([writer?.close(), notifier?.close()]);
  await Promise.all([receiverA?.close(), receiverB?.close()]);
});

describe('a provider whose endpoint never answers', () => {
  const bookedA: string[] = [];
  const bookedB: string[] = [];

  it('holds at most its cap of the slots; every other provider’s webhook arrives meanwhile', async () => {
    receiverA.hang();
    // A steady stream for both: each of B's reservations is also cancelled, so half of B's
    // webhooks are the second event of their reservation, which the poll claims (not the fast path).
    for (let i = 0; i < ROUNDS; i++) {
      bookedA.push(await book(A));
      const b = await book(B);
      bookedB.push(b);
      await cancel(b);
    }
    await waitUntil('all of B’s webhooks arrive', () => receiverB.effects.size === 2 * ROUNDS);
    expect(new Set(reservationsOf(receiverB))).toEqual(new Set(bookedB));
    const typesB = [...receiverB.effects.values()].map((r) => JSON.parse(r.body).type as string);
    expect(typesB.filter((t) => t === 'reservation.cancelled')).toHaveLength(ROUNDS);
    // B never waited for an A slot to free: A's capped POSTs are all still hanging, none ever ended.
    await waitUntil('A holds its cap', () => receiverA.open() === PER_PROVIDER);
    expect(receiverA.mostOpen()).toBe(PER_PROVIDER);
    expect(receiverA.effects.size).toBe(0);
    // Nothing of B's was posted twice.
    expect(receiverB.receipts).toHaveLength(2 * ROUNDS);
  });

  it('gets its webhooks retried, its breaker opens, and once its endpoint is back each arrives, once in effect', async () => {
    // A's server drops the hanging connections and every new one for a while: failures, retried,
    // until the breaker opens and A's deliveries wait out the cool-down instead of being attempted.
    receiverA.reset();
    await waitUntil('A’s breaker opens and its deliveries wait', async () => {
      return (
        (await counter('webhook_breaker_transitions_total', 'state="open"')) >= 1 &&
        (await counter('webhook_deliveries_skipped_total')) >= 1
      );
    });
    expect(await counter('webhook_deliveries_total', 'result="retry"')).toBeGreaterThanOrEqual(BREAKER_FAILURES);
    // Skipped, not attempted: still pending, put off to the end of the cool-down with no attempt
    // used. (Read until seen: each failed trial opens the breaker again and puts them off anew.)
    await waitUntil('a delivery of A’s put off by the open breaker', async () => {
      const [rows] = await notifier.db.query<RowDataPacket[]>(
        `SELECT COUNT(*) AS n FROM webhook_deliveries
         WHERE provider_id = ? AND state = 'pending' AND attempts = 0 AND next_attempt_at > NOW(6)`,
        [A],
      );
      return Number(rows[0]?.n) > 0;
    });
    receiverA.up();
    await waitUntil('all of A’s webhooks arrive', () => receiverA.effects.size === ROUNDS);
    // A trial after the cool-down found the endpoint back and closed the breaker.
    await waitUntil('A’s breaker closed', async () => (await counter('webhook_breaker_transitions_total', 'state="closed"')) >= 1);
    expect(await counter('webhook_breaker_transitions_total', 'state="half_open"')).toBeGreaterThanOrEqual(1);
    // One log line per state change, not one per skipped delivery.
    const changes = (
      await Promise.all(['open', 'half_open', 'closed'].map((state) => counter('webhook_breaker_transitions_total', `state="${state}"`)))
    ).reduce((a, b) => a + b, 0);
    expect(logLines.filter((l) => /breaker/.test(l.msg))).toHaveLength(changes);
    expect(new Set(reservationsOf(receiverA))).toEqual(new Set(bookedA));
    expect([...receiverA.effects.values()].every((r) => r.invalid === undefined)).toBe(true);
    expect(receiverA.mostOpen()).toBeLessThanOrEqual(PER_PROVIDER);
    expect(receiverB.effects.size).toBe(2 * ROUNDS);
  });

  it('starts afresh when the provider points its endpoint elsewhere', async () => {
    const C = 'prov-fair-c';
    const failing = await startReceiver(() => secrets.get(C));
    const moved = await startReceiver(() => secrets.get(C));
    try {
      resources.set(C, await createResource(writer, { providerId: C }));
      const register = async (url: string) => {
        const put = await notifier.inject({
          method: 'PUT',
          url: `/v1/providers/${C}/webhook`,
          headers: bearer('provider', C),
          payload: { url },
        });
        expect(put.statusCode).toBeLessThan(300);
        if (put.json().secret) secrets.set(C, put.json().secret);
      };
      await register(failing.url);
      failing.down();
      const opened = await counter('webhook_breaker_transitions_total', 'state="open"');
      const booked = [await book(C), await book(C), await book(C), await book(C)];
      await waitUntil('C’s breaker opens', async () => (await counter('webhook_breaker_transitions_total', 'state="open"')) > opened);
      await register(moved.url);
      booked.push(await book(C));
      await waitUntil('every webhook of C’s arrives at its new endpoint', () => moved.effects.size === booked.length);
      expect(new Set(reservationsOf(moved))).toEqual(new Set(booked));
      expect(logLines.filter((l) => /breaker closed/.test(l.msg) && (l as { why?: string }).why === 'the endpoint changed')).toHaveLength(
        1,
      );
    } finally {
      await Promise.all([failing.close(), moved.close()]);
    }
  });
});
