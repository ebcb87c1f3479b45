import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createReservationStore, STORE_POLICY } from '@reservations/reservation-api/testing';
import { freePort, harnessEnv, repoRoot, type Server, startServer, waitUntil } from '@reservations/testkit';
import mysql from 'mysql2/promise';
import { API_ENV, bearer, freshQueue, migratedDatabase, startReceiver } from './support/pipeline.ts';

/**
 * Issue 4's chaos test: reservations pour in through two reservation-api processes (each with
 * its relay) while those and two notifier processes are SIGKILLed at random moments and
 * restarted. Afterwards the receiver has taken effect exactly once per committed reservation's
 * event id, none is missing, and no event of a rolled-back transaction exists anywhere.
 * Sized (1,000 reservations, one process down at a time, each killed at least twice) to
 * finish in about a minute on 2 CPUs.
 */
const RESERVATIONS = 1000;
const CONFLICTS = 50;
const ROLLED_BACK = 50;
const WORKERS = 12;
const RESOURCES = 10;
const PROVIDER = 'prov-chaos';

interface Slot {
  name: string;
  entry: string;
  port: number;
  adminPort: number;
  server?: Server;
  kills: number;
}

let dir: string;
let env: NodeJS.ProcessEnv;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let secret: string | undefined;
const slots: Slot[] = [];

function start(slot: Slot): void {
  slot.server = startServer(slot.name, process.execPath, [join(repoRoot, slot.entry)], {
    logFile: join(dir, `${slot.name}.log`),
    env: { ...env, PORT: String(slot.port), ADMIN_PORT: String(slot.adminPort) },
  });
}

async function ready(slot: Slot): Promise<void> {
  await waitUntil(`${slot.name} ready`, async () => (await fetch(`http://127.0.0.1:${slot.adminPort}/readyz`)).ok, {
    server: slot.server,
    timeoutMs: 60_000,
  });
}

function kill(slot: Slot): Promise<unknown> {
  const server = slot.server;
  if (!server || server.hasExited()) return Promise.resolve();
  slot.kills++;
  try {
    process.kill(-server.pid, 'SIGKILL');
  } catch {
    // already gone
  }
  return server.exited;
}

const apis = () => slots.filter((s) => s.name.startsWith('reservation-api'));
const alive = (s: Slot) => s.server !== undefined && !s.server.hasExited();

beforeAll(async () => {
  const db = await migratedDatabase('ntf_chaos');
  const queue = await freshQueue('chaos', { maxReceiveCount: 100, visibilityTimeoutSeconds: 3 });
  dir = harnessEnv('HARNESS_DIR');
  receiver = await startReceiver(() => secret);
  env = {
    ...process.env,
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    MYSQL_PRIMARY_URL: db.primaryUrl,
    MYSQL_REPLICA_URL: db.replicaUrl,
    ...API_ENV,
    SQS_QUEUE_URL: queue.queueUrl,
    SQS_DLQ_URL: queue.dlqUrl,
    SHUTDOWN_DELAY_MS: '0',
    MYSQL_POOL_SIZE: '8',
    OUTBOX_POLL_INTERVAL_MS: '200',
    SQS_CONSUMERS: '2',
    SQS_WAIT_TIME_SECONDS: '1',
    SQS_VISIBILITY_TIMEOUT_SECONDS: '3',
    SQS_RETRY_BASE_SECONDS: '0',
    WEBHOOK_ALLOW_HTTP: 'true',
    WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true',
    WEBHOOK_TIMEOUT_MS: '1000',
    WEBHOOK_RETRY_BASE_MS: '100',
    WEBHOOK_RETRY_MAX_MS: '1000',
    WEBHOOK_POLL_INTERVAL_MS: '200',
  };
  for (const [name, entry] of [
    ['reservation-api-a', 'services/reservation-api/src/server.ts'],
    ['reservation-api-b', 'services/reservation-api/src/server.ts'],
    ['notifier-a', 'services/notifier/src/server.ts'],
    ['notifier-b', 'services/notifier/src/server.ts'],
  ] as const) {
    slots.push({ name, entry, port: await freePort(), adminPort: await freePort(), kills: 0 });
  }
  for (const slot of slots) start(slot);
  await Promise.all(slots.map(ready));
}, 120_000);

afterAll(async () => {
  await Promise.all(slots.map((s) => s.server?.stop(2000)));
  await receiver?.close();
});

const api = (slot: Slot) => `http://127.0.0.1:${slot.port}`;

async function post(path: string, body: unknown, headers: Record<string, string>, base = api(apis()[0] as Slot)) {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/**
 * Books until the API gives a definite answer (201, or 409 for a taken window), retrying with the same
 * Idempotency-Key on whichever replica is up: a request cut off by a kill either committed
 * (the replay returns it) or rolled back (the retry makes it).
 */
async function bookSurely(key: string, payload: Record<string, unknown>): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const candidates = apis().filter(alive);
    const slot = candidates[attempt % Math.max(1, candidates.length)];
    if (slot) {
      try {
        const { status, body } = await post(
          '/v1/reservations',
          payload,
          { ...bearer('customer', 'erin'), 'idempotency-key': key },
          api(slot),
        );
        // A 409 idempotency-in-progress means the killed request's transaction is still rolling back: retry.
        if (status === 201 || (status === 409 && String(body.type).endsWith('/slot-unavailable'))) return status;
      } catch {
        // connection refused or reset: the process died
      }
    }
    await sleep(50);
  }
}

describe('exactly once in effect under SIGKILL', () => {
  it(`${RESERVATIONS} reservations while relays and notifiers are killed at random: each committed event takes effect once`, async () => {
    const admin = bearer('admin', 'admin-chaos');
    const resources: string[] = [];
    for (let i = 0; i < RESOURCES; i++) {
      const created = await post('/v1/resources', { name: `Car ${i}`, providerId: PROVIDER, timeZone: 'UTC' }, admin);
      resources.push(created.body.id as string);
    }
    const notifier = slots.find((s) => s.name === 'notifier-a') as Slot;
    const put = await fetch(`http://127.0.0.1:${notifier.port}/v1/providers/${PROVIDER}/webhook`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', ...bearer('provider', PROVIDER) },
      body: JSON.stringify({ url: receiver.url }),
    });
    secret = ((await put.json()) as { secret: string }).secret;

    // The work: RESERVATIONS bookings on free windows, CONFLICTS on taken ones (409, rolled back).
    const jobs = Array.from({ length: RESERVATIONS + CONFLICTS }, (_, i) => {
      const n = i < RESERVATIONS ? i : i - RESERVATIONS; // a conflict reuses reservation n's window
      const start = new Date(Date.UTC(2033, 0, 1) + Math.floor(n / RESOURCES) * 3_600_000);
      return {
        key: `chaos-${i}`,
        payload: {
          resourceId: resources[n % RESOURCES],
          startsAt: start.toISOString(),
          endsAt: new Date(start.getTime() + 3_600_000).toISOString(),
        },
      };
    });
    const statuses: number[] = [];
    let next = 0;
    let loading = true;
    const load = Promise.all(
      Array.from({ length: WORKERS }, async () => {
        while (next < jobs.length) {
          const job = jobs[next++] as (typeof jobs)[number];
          statuses.push(await bookSurely(job.key, job.payload));
        }
      }),
    ).finally(() => {
      loading = false;
    });

    // Transactions that write a reservation and its outbox event, then roll back.
    // multipleStatements, as reservation-api's primary pool: the store sends a write and its read-back together.
    const conn = await mysql.createConnection({ uri: env.MYSQL_PRIMARY_URL as string, timezone: 'Z', multipleStatements: true });
    const store = createReservationStore({ holdTtlMs: 60_000, ...STORE_POLICY });
    const rolledBack: string[] = [];
    for (let i = 0; i < ROLLED_BACK; i++) {
      await conn.query('START TRANSACTION');
      const start = new Date(Date.UTC(2040, 0, 1) + i * 3_600_000);
      const change = await store.create(conn as never, {
        resourceId: resources[i % RESOURCES] as string,
        customerId: 'rolled-back',
        window: { start, end: new Date(start.getTime() + 3_600_000) },
        hold: false,
        notes: null,
      });
      const [rows] = (await conn.query('SELECT event_id FROM outbox WHERE aggregate_id = ?', [change.reservation.id])) as unknown as [
        { event_id: string }[],
      ];
      rolledBack.push(change.reservation.id, ...rows.map((r) => r.event_id));
      await sleep(20);
      await conn.query('ROLLBACK');
    }

    // The chaos: SIGKILL one process at a random moment (0.2–0.8 s after the previous victim is
    // back up), each of the four once per round in a random order, and restart it 0.1–0.5 s
    // later; until the load is done and each has died twice. Waiting for the restart to be ready
    // keeps the load moving (a process killed while still starting proves nothing more).
    const totalKills = () => slots.reduce((n, s) => n + s.kills, 0);
    const chaos = (async () => {
      let round: Slot[] = [];
      while (loading || totalKills() < 2 * slots.length) {
        await sleep(200 + Math.random() * 600);
        if (round.length === 0) round = [...slots].sort(() => Math.random() - 0.5);
        const victim = round.shift() as Slot;
        await kill(victim);
        await sleep(100 + Math.random() * 400);
        start(victim);
        await ready(victim);
      }
    })();
    await load;
    await chaos;
    await Promise.all(slots.map(ready));

    const [events] = (await conn.query(
      `SELECT o.event_id, o.aggregate_id FROM outbox o JOIN reservations r ON r.id = o.aggregate_id WHERE o.aggregate_type = 'reservation'`,
    )) as unknown as [{ event_id: string; aggregate_id: string }[]];
    const [[committed]] = (await conn.query("SELECT COUNT(*) AS n FROM reservations WHERE customer_id = 'erin'")) as unknown as [
      { n: number }[],
    ];
    expect(statuses.filter((s) => s === 201)).toHaveLength(RESERVATIONS);
    expect(statuses.filter((s) => s === 409)).toHaveLength(CONFLICTS);
    expect(Number(committed?.n)).toBe(RESERVATIONS);
    expect(events).toHaveLength(RESERVATIONS);

    const expected = new Set(events.map((e) => e.event_id));
    await waitUntil('every committed event reached the receiver', () => [...expected].every((id) => receiver.effects.has(id)), {
      timeoutMs: 120_000,
    });
    await sleep(1000); // anything late would show up as an extra

    // Exactly once in effect: one effect per committed event id, none for anything else.
    expect(receiver.receipts.filter((r) => r.invalid)).toEqual([]);
    expect(new Set(receiver.effects.keys())).toEqual(expected);
    const [history] = (await conn.query('SELECT event_id, reservation_id FROM event_history')) as unknown as [
      { event_id: string; reservation_id: string }[],
    ];
    expect(history).toHaveLength(RESERVATIONS);
    expect(new Set(history.map((h) => h.event_id))).toEqual(expected);
    for (const id of rolledBack) {
      expect(expected.has(id)).toBe(false);
      expect(history.some((h) => h.reservation_id === id)).toBe(false);
      expect([...receiver.effects.values()].some((r) => r.body.includes(id))).toBe(false);
    }
    await conn.end();

    const kills = Object.fromEntries(slots.map((s) => [s.name, s.kills]));
    const repeats = receiver.receipts.length - receiver.effects.size;
    console.info(
      `chaos: kills ${JSON.stringify(kills)}; ${receiver.receipts.length} webhook requests, ${repeats} repeats deduplicated by webhook-id`,
    );
    for (const slot of slots) expect(slot.kills).toBeGreaterThanOrEqual(2);
  }, 300_000);
});
