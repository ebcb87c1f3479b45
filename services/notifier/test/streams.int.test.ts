import { randomUUID } from 'node:crypto';
import { get } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { harnessEnv, waitForReplica, waitUntil } from '@reservations/testkit';
import type { FastifyInstance } from 'fastify';
import mysql from 'mysql2/promise';
import { Registry } from 'prom-client';
import { buildApp } from '../src/app.ts';
import { bearer, freshQueue, migratedDatabase, notifierConfig, openStream } from './support/pipeline.ts';

const PROVIDER = 'prov-streams';
const EVENTS = 4000;
const MAX_STREAMS = 2;
let notifier: FastifyInstance;
let registry: Registry;
let base: string;
let eventIds: string[];

/**
 * A provider's history of `count` events, each carrying a few kilobytes (a long `notes`), written
 * as the notifier's own appends leave it: numbered 1…count in provider_streams and event_history.
 */
async function seedHistory(primaryUrl: string, providerId: string, count: number): Promise<string[]> {
  const conn = await mysql.createConnection({ uri: primaryUrl, timezone: 'Z' });
  const ids = Array.from({ length: count }, () => randomUUID());
  try {
    const notes = 'n'.repeat(4000);
    for (let from = 0; from < count; from += 200) {
      const rows = ids.slice(from, from + 200).map((id, i) => {
        const reservationId = randomUUID();
        const payload = JSON.stringify({ id: reservationId, status: 'confirmed', version: 1, notes });
        return [id, reservationId, providerId, from + i + 1, 'reservation.created', 1, new Date(), payload];
      });
      await conn.query(
        'INSERT INTO event_history (event_id, reservation_id, provider_id, provider_seq, type, version, occurred_at, payload) VALUES ?',
        [rows],
      );
    }
    await conn.query('INSERT INTO provider_streams (provider_id, last_seq) VALUES (?, ?)', [providerId, count]);
  } finally {
    await conn.end();
  }
  return ids;
}

const metric = async (line: string) =>
  Number(new RegExp(`^${line.replace(/[{}"]/g, '\\$&')} (\\d+)`, 'm').exec(await registry.metrics())?.[1] ?? 0);

const streamUrl = (provider = PROVIDER) => `${base}/v1/providers/${provider}/notifications`;

beforeAll(async () => {
  const db = await migratedDatabase('ntf_streams');
  registry = new Registry();
  notifier = await buildApp(
    notifierConfig(db.as.notifier.primaryUrl, await freshQueue('streams'), {
      MYSQL_REPLICA_URL: db.as.notifier.replicaUrl,
      SSE_MAX_STREAMS_PER_PROVIDER: MAX_STREAMS,
      SSE_CATCH_UP_PAGE: 50,
      SSE_SLOW_READER_TIMEOUT_MS: 1000,
    }),
    { registry, logger: false },
  );
  await notifier.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(notifier.server.address() as { port: number }).port}`;
  eventIds = await seedHistory(db.primaryUrl, PROVIDER, EVENTS);
  await waitForReplica({
    MYSQL_PRIMARY_ADMIN_URL: harnessEnv('MYSQL_PRIMARY_ADMIN_URL'),
    MYSQL_REPLICA_ADMIN_URL: harnessEnv('MYSQL_REPLICA_ADMIN_URL'),
  });
}, 120_000);

afterAll(async () => {
  await notifier?.close();
});

describe('SSE streams are bounded', () => {
  it(`a provider holds at most ${MAX_STREAMS} streams per process: the next is a 429 problem with Retry-After, freed when one closes`, async () => {
    const held = [await openStream(streamUrl(), bearer('provider', PROVIDER)), await openStream(streamUrl(), bearer('provider', PROVIDER))];
    expect(held.map((s) => s.status)).toEqual([200, 200]);

    const refused = await fetch(streamUrl(), { headers: bearer('provider', PROVIDER) });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await refused.json()).toMatchObject({ type: expect.stringMatching(/\/too-many-streams$/), status: 429, limit: MAX_STREAMS });
    // Another provider is not held back by this one's streams.
    const other = await openStream(streamUrl('prov-streams-other'), bearer('provider', 'prov-streams-other'));
    expect(other.status).toBe(200);
    await other.close();

    await held[0]?.close();
    await waitUntil('a stream is free again', async () => {
      const next = await openStream(streamUrl(), bearer('provider', PROVIDER));
      await next.close();
      if (next.status !== 200) throw new Error(`a new stream answered ${next.status}`);
      return true;
    });
    await held[1]?.close();
    expect(await metric('sse_streams_refused_total{reason="too-many"}')).toBeGreaterThanOrEqual(1);
  }, 120_000);

  it('a stale Last-Event-ID catches up in pages from the replica: every later event once, in order', async () => {
    const resumed = await openStream(streamUrl(), { ...bearer('provider', PROVIDER), 'last-event-id': eventIds[0] as string });
    expect(resumed.status).toBe(200);
    await waitUntil(
      'the whole history is replayed',
      () => {
        if (resumed.events.length < EVENTS - 1) throw new Error(`${resumed.events.length} of ${EVENTS - 1} events so far`);
        return true;
      },
      { timeoutMs: 120_000 },
    );
    await resumed.close();
    expect(resumed.events.map((e) => e.id)).toEqual(eventIds.slice(1));
    // The catch-up pages were read on the replica's pool, which nothing else here uses.
    expect(await metric('mysql_pool_connections{pool="replica",state="open"}')).toBeGreaterThan(0);
  }, 150_000);

  it('a reader that takes nothing is sent no more than the socket holds and is disconnected, not buffered for', async () => {
    const before = await metric('sse_streams_refused_total{reason="slow-reader"}');
    let received = 0;
    let ended = false;
    const request = get(streamUrl(), { headers: { ...bearer('provider', PROVIDER), 'last-event-id': eventIds[0] as string } });
    const response = await new Promise<import('node:http').IncomingMessage>((resolve) => request.once('response', resolve));
    expect(response.statusCode).toBe(200);
    response.pause(); // takes nothing: the server's writes back up
    await waitUntil(
      'the slow reader is disconnected',
      async () => {
        const now = await metric('sse_streams_refused_total{reason="slow-reader"}');
        if (now === before) throw new Error('the slow reader is still connected');
        return true;
      },
      { timeoutMs: 60_000 },
    );
    // What reached it before the server gave up: what the sockets could hold, never the whole history.
    response.on('data', (chunk: Buffer) => {
      received += chunk.toString('utf8').split('\nevent: ').length - 1;
    });
    response.on('close', () => {
      ended = true;
    });
    response.resume();
    await waitUntil('the client sees the stream end', () => ended);
    expect(received).toBeLessThan(EVENTS - 1);
    await waitUntil('no stream is left open', async () => {
      const open = await metric('sse_streams_open');
      if (open !== 0) throw new Error(`${open} streams open`);
      return true;
    });
  }, 120_000);
});
