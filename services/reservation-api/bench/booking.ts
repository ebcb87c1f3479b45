// The booking core's benchmark (issue 3): `npm run bench -w @reservations/reservation-api`.
// Starts its own MariaDB pair and Redis (the test harness), then measures with autocannon
// (no pipelining), each against a baseline measured in the same run:
//   cached GET /v1/reservations/:id   vs  a bare Fastify route
//   POST /v1/reservations (distinct)  vs  a raw mysql2 loop running the same insert transaction
// and prints req/s, p50/p99 and the ratios. Not a test: figures depend on the machine.
// The servers run in a child process, so the load generator does not share their event loop.
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { loadMigrations, migrate, withTransaction } from '@reservations/service-kit';
import autocannon from 'autocannon';
import { createSigner } from 'fast-jwt';
import Fastify from 'fastify';
import type { Pool } from 'mysql2/promise';
import { Registry } from 'prom-client';
import { type HarnessEnv, startHarness } from '../../../scripts/harness/index.ts';
import { buildApp as buildQueryApp } from '../../query-api/src/app.ts';
import { buildApp } from '../src/app.ts';
import { MIGRATIONS_DIR } from '../src/migrate.ts';
import { createReservationStore } from '../src/plugins/reservation-store.ts';

const DURATION_S = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const RESOURCES = 50;
const SECRET = 'bench-secret-that-is-at-least-32-bytes-long';
const sign = createSigner({ key: SECRET, algorithm: 'HS256', expiresIn: 3_600_000 });

interface Figures {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

function cannon(name: string, opts: Omit<autocannon.Options, 'connections' | 'pipelining' | 'duration'>): Promise<Figures> {
  return new Promise((resolve, reject) => {
    autocannon({ connections: CONNECTIONS, pipelining: 1, duration: DURATION_S, ...opts }, (err, result) => {
      if (err) return reject(err);
      const errors = result.errors + result.timeouts + result.non2xx;
      resolve({ name, rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors });
    });
  });
}

/** The same transaction POST runs (lock the resource, conditional insert, outbox), minus HTTP, auth, validation and idempotency. */
async function rawLoop(pool: Pool, resources: string[]): Promise<Figures> {
  const store = createReservationStore({ holdTtlMs: 600_000 });
  const latencies: number[] = [];
  let slot = 1_000_000;
  const until = Date.now() + DURATION_S * 1000;
  const worker = async (w: number) => {
    while (Date.now() < until) {
      const n = slot++;
      const start = new Date(Date.UTC(2050, 0, 1) + n * 60_000);
      const t0 = performance.now();
      await withTransaction(pool, async (conn) => {
        const change = await store.create(conn, {
          resourceId: resources[n % resources.length] ?? '',
          customerId: `raw-${w}`,
          window: { start, end: new Date(start.getTime() + 60_000) },
          hold: false,
          notes: null,
        });
        return change;
      });
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, (_, w) => worker(w)));
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    Math.round((latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN) * 100) / 100;
  return { name: 'raw mysql2 insert transaction', rps: latencies.length / DURATION_S, p50: at(0.5), p99: at(0.99), errors: 0 };
}

/** The child: harness, migrations, both apps and the bare route on real ports; runs the raw loop when asked. */
async function serve() {
  const harness = await startHarness(['mysql', 'redis']);
  const need = (name: keyof HarnessEnv): string => {
    const value = harness.env[name];
    if (!value) throw new Error(`the harness did not export ${name}`);
    return value;
  };
  const env = { MYSQL_PRIMARY_URL: need('MYSQL_PRIMARY_URL'), MYSQL_REPLICA_URL: need('MYSQL_REPLICA_URL'), REDIS_URL: need('REDIS_URL') };
  await migrate(env.MYSQL_PRIMARY_URL, loadMigrations(MIGRATIONS_DIR));
  const common = {
    REDIS_URL: env.REDIS_URL,
    JWT_SECRET: SECRET,
    JWT_PUBLIC_KEY: undefined,
    MAX_EVENT_LOOP_DELAY_MS: 0,
    LOG_LEVEL: 'silent' as const,
    MYSQL_POOL_SIZE: CONNECTIONS,
  };
  const writer = await buildApp(
    {
      ...common,
      MYSQL_PRIMARY_URL: env.MYSQL_PRIMARY_URL,
      HOLD_TTL_SECONDS: 600,
      IDEMPOTENCY_TTL_HOURS: 24,
      BODY_LIMIT_BYTES: 16384,
      // The booking core alone: the event pipeline has its own benchmark (services/notifier/bench).
      OUTBOX_RELAY: 'off',
      OUTBOX_BATCH_SIZE: 50,
      OUTBOX_POLL_INTERVAL_MS: 500,
      OUTBOX_RETENTION_HOURS: 168,
      OUTBOX_RELAY_CONCURRENCY: 1,
    },
    { registry: new Registry(), logger: false },
  );
  const reader = await buildQueryApp(
    {
      ...common,
      MYSQL_PRIMARY_URL: env.MYSQL_PRIMARY_URL,
      MYSQL_REPLICA_URL: env.MYSQL_REPLICA_URL,
      CACHE_TTL_SECONDS: 300,
      CONSISTENCY_WAIT_MS: 500,
    },
    { registry: new Registry(), logger: false },
  );
  const bare = Fastify();
  bare.get('/bare', async () => ({ ok: true }));
  const [writerUrl, readerUrl, bareUrl] = await Promise.all([
    writer.listen({ port: 0, host: '127.0.0.1' }),
    reader.listen({ port: 0, host: '127.0.0.1' }),
    bare.listen({ port: 0, host: '127.0.0.1' }),
  ]);
  const admin = { authorization: `Bearer ${sign({ sub: 'admin', role: 'admin' })}`, 'content-type': 'application/json' };
  const resources: string[] = [];
  for (let i = 0; i < RESOURCES; i++) {
    const r = await writer.inject({
      method: 'POST',
      url: '/v1/resources',
      headers: admin,
      payload: { name: `r${i}`, providerId: 'p', timeZone: 'UTC' },
    });
    resources.push((r.json() as { id: string }).id);
  }
  process.on('message', async (message) => {
    if (message === 'raw') process.send?.({ raw: await rawLoop(writer.db, resources) });
    if (message === 'stop') {
      await Promise.all([writer.close(), reader.close(), bare.close()]);
      await harness.stop();
      process.exit(0);
    }
  });
  process.send?.({ writerUrl, readerUrl, bareUrl, resources });
}

/** The parent: autocannon against the child's ports. */
async function drive() {
  const child = fork(import.meta.filename, ['serve'], {
    stdio: 'inherit',
    execArgv: (process.env.BENCH_SERVER_NODE_FLAGS ?? '').split(' ').filter(Boolean),
  });
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`the server process exited (${code}) before it was ready`);
  });
  const [{ writerUrl, readerUrl, bareUrl, resources }] = (await Promise.race([once(child, 'message'), exited])) as [
    { writerUrl: string; readerUrl: string; bareUrl: string; resources: string[] },
  ];
  const customer = { authorization: `Bearer ${sign({ sub: 'bench', role: 'customer' })}`, 'content-type': 'application/json' };
  const first = await fetch(`${writerUrl}/v1/reservations`, {
    method: 'POST',
    headers: customer,
    body: JSON.stringify({ resourceId: resources[0], startsAt: '2049-01-01T10:00:00Z', endsAt: '2049-01-01T11:00:00Z' }),
  });
  const { id } = (await first.json()) as { id: string };
  await fetch(`${readerUrl}/v1/reservations/${id}`, { headers: customer });

  const results: Figures[] = [];
  results.push(await cannon('bare Fastify route', { url: `${bareUrl}/bare` }));
  results.push(await cannon('cached GET /v1/reservations/:id', { url: `${readerUrl}/v1/reservations/${id}`, headers: customer }));
  let slot = 0;
  results.push(
    await cannon('POST /v1/reservations (distinct windows, Idempotency-Key)', {
      url: `${writerUrl}/v1/reservations`,
      method: 'POST',
      requests: [
        {
          setupRequest: (req: autocannon.Request) => {
            const n = slot++;
            const start = new Date(Date.UTC(2040, 0, 1) + n * 60_000);
            return {
              ...req,
              headers: { ...customer, 'idempotency-key': randomUUID() },
              body: JSON.stringify({
                resourceId: resources[n % RESOURCES],
                startsAt: start.toISOString(),
                endsAt: new Date(start.getTime() + 60_000).toISOString(),
              }),
            };
          },
        },
      ],
    }),
  );
  child.send('raw');
  const [{ raw }] = (await once(child, 'message')) as [{ raw: Figures }];
  results.push(raw);
  child.send('stop');
  await once(child, 'exit');

  const row = (f: Figures) =>
    `${f.name.padEnd(58)} ${f.rps.toFixed(0).padStart(8)} req/s  p50 ${String(f.p50).padStart(6)} ms  p99 ${String(f.p99).padStart(6)} ms  errors ${f.errors}`;
  process.stdout.write(`\n${CONNECTIONS} connections, ${DURATION_S} s each, no pipelining\n${results.map(row).join('\n')}\n`);
  const [b, g, p, rawFigures] = results as [Figures, Figures, Figures, Figures];
  process.stdout.write(
    `cached GET / bare route: ${(g.rps / b.rps).toFixed(2)} (target ≥ 0.6, p99 ${g.p99} ms, target < 10 ms)\n` +
      `POST / raw insert transaction: ${(p.rps / rawFigures.rps).toFixed(2)} (target ≥ 0.8)\n`,
  );
}

if (process.argv[2] === 'serve') await serve();
else await drive();
