import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, it } from '@jest/globals';
import { createQueueWithDlq, freePort, harnessEnv, summarizePlan, testSqs, waitUntil } from '@reservations/testkit';
import mysql, { type Pool } from 'mysql2/promise';
import { Registry } from 'prom-client';
import { primaryPool } from '../src/infra/db.ts';
import { createOutboxRelay, relayReads } from '../src/workers/outbox-relay.ts';
import { freshDatabase } from './support/app.ts';
import { sql } from './support/fixtures.ts';
import { appOnFreshDatabase, drainQueue as drainSqs, expectOncePerEventInOrder, makeEvents as makeAppEvents } from './support/relay.ts';

const sqs = testSqs();
const silent = { warn: () => undefined, info: () => undefined, error: () => undefined, debug: () => undefined } as never;
const ctx = appOnFreshDatabase('rsv_relay');
const pools: Pool[] = [];

afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
});

async function freshQueue(name: string) {
  return createQueueWithDlq(sqs, `${name}-${Date.now()}.fifo`);
}

const drainQueue = (queueUrl: string) => drainSqs(sqs, queueUrl);
const makeEvents = (count: number) => makeAppEvents(ctx.app, count);

function relay(queueUrl: string, batchSize: number, pool = primaryPool(ctx.serviceUrl, 4)) {
  pools.push(pool);
  const registry = new Registry();
  return { relay: createOutboxRelay({ pool, sqs, queueUrl, registry, log: silent, batchSize }), registry };
}

describe('the outbox relay', () => {
  it('with two relays at once, sends every event once, each reservation’s in order, and marks them sent', async () => {
    await makeEvents(20);
    const { queueUrl } = await freshQueue('relay-two');
    const a = relay(queueUrl, 7);
    const b = relay(queueUrl, 7);
    const [sentA, sentB] = await Promise.all([a.relay.drain(), b.relay.drain()]);
    // Rows one relay held back for the other's earlier row go on its next pass.
    const rest = (await a.relay.drain()) + (await b.relay.drain());
    const unsent = await sql<{ n: number }>(ctx.primaryUrl, 'SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NULL');
    expect(Number(unsent[0]?.n)).toBe(0);

    const messages = await drainQueue(queueUrl);
    const total = await sql<{ n: number }>(ctx.primaryUrl, 'SELECT COUNT(*) AS n FROM outbox');
    expect(sentA + sentB + rest).toBe(Number(total[0]?.n));
    expect(expectOncePerEventInOrder(messages)).toHaveLength(Number(total[0]?.n));
    expect(await a.registry.metrics()).toMatch(/outbox_lag_seconds 0/);
  });

  it('a pass that fails after sending leaves its rows unsent; the next pass sends them again and SQS drops the repeat', async () => {
    await makeEvents(2); // a resource, and 3 events for each of 2 reservations
    const { queueUrl } = await freshQueue('relay-crash');
    const pool = primaryPool(ctx.serviceUrl, 2);
    // The mark fails, as if the process died between SendMessageBatch and COMMIT.
    const crashing = new Proxy(pool, {
      get(target, prop, receiver) {
        if (prop !== 'getConnection') return Reflect.get(target, prop, receiver);
        return async () => {
          const conn = await target.getConnection();
          return new Proxy(conn, {
            get(c, p, r) {
              if (p !== 'query') return Reflect.get(c, p, r);
              return (sqlText: unknown, ...rest: unknown[]) => {
                if (typeof sqlText === 'string' && sqlText.startsWith('UPDATE outbox')) return Promise.reject(new Error('crashed'));
                return (c.query as (...args: unknown[]) => unknown).call(c, sqlText, ...rest);
              };
            },
          });
        };
      },
    });
    const broken = relay(queueUrl, 500, crashing as Pool);
    await expect(broken.relay.drain()).rejects.toThrow('crashed');
    const unsent = await sql<{ n: number }>(ctx.primaryUrl, 'SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NULL');
    expect(Number(unsent[0]?.n)).toBe(7);
    expect(await broken.registry.metrics()).toMatch(/outbox_lag_seconds [1-9]|outbox_lag_seconds 0\.\d*[1-9]/);

    // Passes until all are sent: on a loaded machine a pass's SQS call may time out, and its rows wait for the next.
    const healthy = relay(queueUrl, 500);
    let sent = 0;
    await waitUntil(
      'the healthy relay sent the 7 rows',
      async () => {
        sent += await healthy.relay.drain();
        if (sent >= 7) return true;
        throw new Error(`${sent} sent so far`);
      },
      { timeoutMs: 90_000, intervalMs: 200 },
    );
    expect(sent).toBe(7);
    const messages = await drainQueue(queueUrl);
    const ids = messages.map((m) => JSON.parse(m.Body as string).eventId);
    expect(ids).toHaveLength(7);
    expect(new Set(ids).size).toBe(7);
  }, 180_000);
});

describe('the relay on its own (src/relay.ts)', () => {
  function runRelay(env: NodeJS.ProcessEnv) {
    const child = spawn(process.execPath, [join(import.meta.dirname, '..', 'src', 'relay.ts')], {
      env: { PATH: process.env.PATH, ...env },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (out += d));
    const exited = new Promise<{ code: number | null; out: string }>((resolve) => child.on('exit', (code) => resolve({ code, out })));
    return { child, exited };
  }

  function relayEnv(queueUrl: string, adminPort: number, more: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return {
      HOST: '127.0.0.1',
      ADMIN_PORT: String(adminPort),
      MYSQL_PRIMARY_URL: ctx.serviceUrl,
      SQS_QUEUE_URL: queueUrl,
      AWS_ENDPOINT_URL_SQS: harnessEnv('AWS_ENDPOINT_URL_SQS'),
      AWS_REGION: harnessEnv('AWS_REGION'),
      AWS_ACCESS_KEY_ID: harnessEnv('AWS_ACCESS_KEY_ID'),
      AWS_SECRET_ACCESS_KEY: harnessEnv('AWS_SECRET_ACCESS_KEY'),
      OUTBOX_POLL_INTERVAL_MS: '100',
      ...more,
    };
  }

  it('refuses to start without its queue, naming the variable on one line', async () => {
    const { exited } = runRelay({ MYSQL_PRIMARY_URL: 'mysql://a@127.0.0.1:1/x' });
    expect(await exited).toEqual({
      code: 1,
      out: 'outbox-relay: invalid configuration: SQS_QUEUE_URL is required (the FIFO queue the outbox relay sends events to)\n',
    });
  });

  it('sends what is unsent, serves its metrics, and exits 0 on SIGTERM', async () => {
    await makeEvents(1);
    const { queueUrl } = await freshQueue('relay-alone');
    const adminPort = await freePort();
    const { child, exited } = runRelay(relayEnv(queueUrl, adminPort));
    await waitUntil(
      'every row sent',
      async () => {
        const [row] = await sql<{ n: number }>(ctx.primaryUrl, 'SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NULL');
        return Number(row?.n) === 0;
      },
      { timeoutMs: 90_000 },
    );
    const metrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
    expect(metrics).toMatch(/outbox_events_sent_total\{[^}]*\} [1-9]/);
    expect(metrics).toMatch(/outbox_lag_seconds\{[^}]*\} 0/);
    expect((await fetch(`http://127.0.0.1:${adminPort}/readyz`)).status).toBe(200);
    expect((await drainQueue(queueUrl)).length).toBeGreaterThanOrEqual(4);
    child.kill('SIGTERM');
    expect((await exited).code).toBe(0);
  }, 150_000);

  it('killed mid-pass (rows sent, not yet marked), nothing is lost and the consumer sees no event twice: the next relay sends them again and SQS drops the repeats', async () => {
    const [before] = await sql<{ last: string }>(ctx.primaryUrl, 'SELECT COALESCE(MAX(id), 0) AS last FROM outbox');
    await makeEvents(150);
    const mine = `id > ${Number(before?.last)}`;
    const total = Number((await sql<{ n: number }>(ctx.primaryUrl, `SELECT COUNT(*) AS n FROM outbox WHERE ${mine}`))[0]?.n);
    const { queueUrl } = await freshQueue('relay-killed');
    const depth = async () => {
      const { Attributes } = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
      );
      return Number(Attributes?.ApproximateNumberOfMessages);
    };
    const marked = async () =>
      Number((await sql<{ n: number }>(ctx.primaryUrl, `SELECT COUNT(*) AS n FROM outbox WHERE ${mine} AND sent_at IS NOT NULL`))[0]?.n);

    // One pass locks all of them and sends them in 10-message calls before its commit marks any.
    const first = runRelay(relayEnv(queueUrl, await freePort(), { OUTBOX_BATCH_SIZE: '500' }));
    await waitUntil('the first messages on the queue', async () => (await depth()) >= 10, { intervalMs: 10 });
    first.child.kill('SIGKILL');
    expect((await first.exited).code).toBeNull();
    // Killed mid-pass: messages went out that no row records as sent.
    const sentButUnmarked = (await depth()) - (await marked());
    expect(sentButUnmarked).toBeGreaterThan(0);

    const second = runRelay(relayEnv(queueUrl, await freePort(), { OUTBOX_BATCH_SIZE: '500' }));
    await waitUntil('every row sent', async () => (await marked()) === total, { timeoutMs: 120_000 });
    second.child.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
    const ids = expectOncePerEventInOrder(await drainQueue(queueUrl));
    expect(ids).toHaveLength(total);
    const rows = await sql<{ event_id: string }>(ctx.primaryUrl, `SELECT event_id FROM outbox WHERE ${mine}`);
    expect(new Set(ids)).toEqual(new Set(rows.map((r) => r.event_id)));
  }, 300_000);
});

describe("the relay's reads", () => {
  it('claim through the unsent index and find parked rows through the parked index, whatever statistics a backlog left', async () => {
    // Statistics taken while 3,000 rows were unsent, kept (no automatic recalculation) after they
    // were all sent: the plan MariaDB picks from them read the claim by the primary key, through
    // every sent row.
    const db = await freshDatabase('rsv_relay_plans');
    await db.migrate();
    const admin = await mysql.createConnection(db.adminUrl);
    try {
      await admin.query('ALTER TABLE outbox STATS_AUTO_RECALC = 0');
      const rows = Array.from({ length: 3000 }, (_, i) => [`e${i}`, 'reservation', `r${i}`, 'reservation.created', 1, '{}']);
      for (let i = 0; i < rows.length; i += 500) {
        await admin.query('INSERT INTO outbox (event_id, aggregate_type, aggregate_id, type, version, payload) VALUES ?', [
          rows.slice(i, i + 500),
        ]);
      }
      await admin.query('ANALYZE TABLE outbox');
      await admin.query('UPDATE outbox SET sent_at = NOW(6)');
      const planOf = async (statement: string, values: unknown[] = []) => {
        const [[row]] = (await admin.query(`EXPLAIN FORMAT=JSON ${statement}`, values)) as unknown as [Record<string, string>[]];
        return summarizePlan(JSON.parse(Object.values(row ?? {})[0] ?? '{}')).accesses.map((a) => `${a.table} ${a.access} ${a.key}`);
      };
      const claim = relayReads.claim([], 50);
      expect(await planOf(claim.sql, claim.values)).toEqual(['outbox ref outbox_unsent']);
      const claimPastParked = relayReads.claim([{ aggregate_type: 'reservation', aggregate_id: 'r1' }], 50);
      expect(await planOf(claimPastParked.sql, claimPastParked.values)).toEqual(['outbox ref outbox_unsent']);
      expect(await planOf(relayReads.parked)).toEqual(['outbox range outbox_parked']);
    } finally {
      await admin.end();
    }
  });
});
