// The booking core's benchmark: `npm run bench -w @reservations/reservation-api`.
// Starts its own MariaDB pair and Redis (the test harness), then measures with autocannon
// (no pipelining), each against a baseline measured in the same run:
//   cached GET /v1/reservations/:id   vs  a bare Fastify route
//   POST /v1/reservations (distinct)  vs  a raw mysql2 loop running the same insert transaction,
//                                         without and with the Idempotency-Key's statements
// and prints req/s, p50/p99 and the ratios, with the POST's ablation: without an Idempotency-Key
// (no lease, no key row), and keyed against a second reservation-api whose Redis is unreachable
// (no lease, no cache publish: the key row alone). Not a test: figures depend on the machine.
// Both services run as the image runs them (their bundle, `dist/server.mjs`, the service defaults, the
// operator's LOG_LEVEL=info with the log written to a file), so what is measured is what is
// deployed. The bare route and the raw loop run in a child process of their own, so the load
// generator shares no event loop with any server.
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { migrateToLatest } from '@reservations/database';
import { loadConfig, withTransaction } from '@reservations/service-kit';
import { bundled, startHarness, startServiceProcess } from '@reservations/testkit';
import type autocannon from 'autocannon';
import Fastify from 'fastify';
import { ReservationApiConfig } from '../src/config.ts';
import { keyStatements } from '../src/infra/commands.ts';
import { primaryPool } from '../src/infra/db.ts';
import { createReservationStore } from '../src/stores/reservation-store.ts';
import { cpuPerRequest, processesMatching } from './cpu-usage.ts';
import {
  CONNECTIONS,
  cannon,
  closedLoop,
  DURATION_S,
  type Figures,
  figuresRow,
  harnessValue,
  SERVER_NODE_FLAGS,
  serviceEnv,
  sign,
} from './shared.ts';

const RESOURCES = 50;
/** The keyed baseline's request hash: any fixed value (each transaction has a fresh key). */
const KEY_HASH = '0'.repeat(64);

/** The raw loops' next window; across both loops, so the second never meets the first's bookings. */
let rawSlot = 1_000_000;

interface RawLoop {
  primaryUrl: string;
  poolSize: number;
  resources: string[];
  /** With a fresh Idempotency-Key's claim and stored response in the transaction, as POST has them. */
  keyed: boolean;
}

/**
 * The same transaction POST runs (lock the resource, conditional insert, outbox; with `keyed`
 * also the key's statements, by the command runner's own `keyStatements`), minus HTTP, auth,
 * validation and the rest of idempotency, `CONNECTIONS` at a time on a pool set up as the service's.
 */
async function rawLoop({ primaryUrl, poolSize, resources, keyed }: RawLoop): Promise<Figures> {
  const pool = primaryPool(primaryUrl, poolSize);
  // The service's policy, with the horizon the bench's far-ahead windows need (as its env sets).
  const store = createReservationStore({
    holdTtlMs: 600_000,
    policy: { maxDurationMinutes: 1440, horizonDays: 36_500, clockSkewSeconds: 60 },
    maxActiveHolds: 5,
  });
  const name = keyed ? 'raw mysql2 insert transaction + key statements' : 'raw mysql2 insert transaction';
  const figures = await closedLoop(name, async (w) => {
    const n = rawSlot++;
    const start = new Date(Date.UTC(2050, 0, 1) + n * 60_000);
    const key = keyed
      ? keyStatements({ caller: `raw-${w}`, route: 'POST /v1/reservations', key: randomUUID() }, KEY_HASH, 86_400_000)
      : undefined;
    await withTransaction(
      pool,
      (conn) =>
        store.create(conn, {
          resourceId: resources[n % resources.length] ?? '',
          customerId: `raw-${w}`,
          window: { start, end: new Date(start.getTime() + 60_000) },
          hold: false,
          notes: null,
        }),
      key && {
        begin: key.begin,
        commitWith: ({ reservation }) =>
          key.store({ status: 201, headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify(reservation) }),
      },
    );
  });
  await pool.end();
  return figures;
}

/** The baselines' child: the bare route on a real port, and the raw loop when asked. */
async function baselines() {
  const bare = Fastify();
  bare.get('/bare', async () => ({ ok: true }));
  const bareUrl = await bare.listen({ port: 0, host: '127.0.0.1' });
  process.on('message', async (message: { raw?: RawLoop } | 'stop') => {
    if (message === 'stop') {
      await bare.close();
      process.exit(0);
    }
    if (message.raw) process.send?.({ raw: await rawLoop(message.raw) });
  });
  process.send?.({ bareUrl });
}

/** The parent: the harness, both services as processes, the baselines' child, and autocannon. */
async function drive() {
  const harness = await startHarness(['mysql', 'redis']);
  const primaryUrl = harnessValue(harness.env, 'MYSQL_PRIMARY_URL');
  await migrateToLatest(primaryUrl);
  const env = serviceEnv(harness.env);
  const server = async (name: 'reservation-api' | 'query-api') => (await bundled(name))['server.mjs'] as string;
  const service = async (name: 'reservation-api' | 'query-api') => startServiceProcess(await server(name), env, { logDir: harness.dir });
  const [writer, reader] = [await service('reservation-api'), await service('query-api')];
  // The ablation's writer: Redis at a port nothing listens on, so its breaker skips the lease and the publish.
  const redisless = await startServiceProcess(
    await server('reservation-api'),
    { ...env, REDIS_URL: 'redis://127.0.0.1:9' },
    { logDir: mkdirSync(join(harness.dir, 'redisless'), { recursive: true }) ?? harness.dir },
  );
  const child = fork(import.meta.filename, ['baselines'], { stdio: 'inherit', execArgv: SERVER_NODE_FLAGS.split(' ').filter(Boolean) });
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`the baselines' process exited (${code}) before it was ready`);
  });
  const [{ bareUrl }] = (await Promise.race([once(child, 'message'), exited])) as [{ bareUrl: string }];

  const admin = { authorization: `Bearer ${sign({ sub: 'admin', role: 'admin' })}`, 'content-type': 'application/json' };
  const resources: string[] = [];
  for (let i = 0; i < RESOURCES; i++) {
    const r = await fetch(`${writer.api}/v1/resources`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ name: `r${i}`, providerId: 'p', timeZone: 'UTC' }),
    });
    resources.push(((await r.json()) as { id: string }).id);
  }
  const customer = { authorization: `Bearer ${sign({ sub: 'bench', role: 'customer' })}`, 'content-type': 'application/json' };
  const first = await fetch(`${writer.api}/v1/reservations`, {
    method: 'POST',
    headers: customer,
    body: JSON.stringify({ resourceId: resources[0], startsAt: '2049-01-01T10:00:00Z', endsAt: '2049-01-01T11:00:00Z' }),
  });
  const { id } = (await first.json()) as { id: string };
  await fetch(`${reader.api}/v1/reservations/${id}`, { headers: customer });

  const cpu = cpuPerRequest({
    ...processesMatching({
      'mariadb primary': join(harness.dir, 'mysql-primary'),
      'mariadb replica': join(harness.dir, 'mysql-replica'),
      // redis-server rewrites its command line to `redis-server <host>:<port>`.
      redis: `redis-server ${new URL(env.REDIS_URL ?? '').host}`,
    }),
    'reservation-api': writer.server.pid,
    'reservation-api without Redis': redisless.server.pid,
    'query-api': reader.server.pid,
    baselines: child.pid ?? 0,
    autocannon: process.pid,
  });
  const results: Figures[] = [];
  const cpuLines: string[] = [];
  const measure = async (phase: () => Promise<Figures>) => {
    cpu.start();
    const figures = await phase();
    cpuLines.push(`  ${figures.name}: ${cpu.per(figures.requests)}`);
    results.push(figures);
  };
  await measure(() => cannon('bare Fastify route', { url: `${bareUrl}/bare` }));
  await measure(() => cannon('cached GET /v1/reservations/:id', { url: `${reader.api}/v1/reservations/${id}`, headers: customer }));
  let slot = 0;
  const post = (name: string, api: string, keyed: boolean) =>
    cannon(name, {
      url: `${api}/v1/reservations`,
      method: 'POST',
      requests: [
        {
          setupRequest: (req: autocannon.Request) => {
            const n = slot++;
            const start = new Date(Date.UTC(2040, 0, 1) + n * 60_000);
            return {
              ...req,
              headers: { ...customer, ...(keyed ? { 'idempotency-key': randomUUID() } : {}) },
              body: JSON.stringify({
                resourceId: resources[n % RESOURCES],
                startsAt: start.toISOString(),
                endsAt: new Date(start.getTime() + 60_000).toISOString(),
              }),
            };
          },
        },
      ],
    });
  await measure(() => post('POST /v1/reservations (distinct windows, Idempotency-Key)', writer.api, true));
  await measure(() => post('  ablation: POST without Idempotency-Key', writer.api, false));
  await measure(() => post('  ablation: POST keyed, Redis unreachable (no lease, no publish)', redisless.api, true));
  // The pool the service builds from the same environment.
  const { MYSQL_POOL_SIZE: poolSize } = loadConfig(ReservationApiConfig, env);
  for (const keyed of [false, true]) {
    await measure(async () => {
      child.send({ raw: { primaryUrl, poolSize, resources, keyed } satisfies RawLoop });
      const [{ raw }] = (await once(child, 'message')) as [{ raw: Figures }];
      return raw;
    });
  }
  child.send('stop');
  await once(child, 'exit');
  await Promise.all([writer.server.stop(), reader.server.stop(), redisless.server.stop()]);
  await harness.stop();

  process.stdout.write(`\n${CONNECTIONS} connections, ${DURATION_S} s each, no pipelining\n${results.map(figuresRow).join('\n')}\n`);
  process.stdout.write(`CPU per request, by process:\n${cpuLines.join('\n')}\n`);
  const [b, g, p, unkeyed, noRedis, raw, rawKeyed] = results as [Figures, Figures, Figures, Figures, Figures, Figures, Figures];
  process.stdout.write(
    `cached GET / bare route: ${(g.rps / b.rps).toFixed(2)} (target ≥ 0.6, p99 ${g.p99} ms, target < 10 ms)\n` +
      `POST / raw insert transaction: ${(p.rps / raw.rps).toFixed(2)} (target ≥ 0.8; the key's lease and row count against POST)\n` +
      `POST / raw insert transaction + key statements: ${(p.rps / rawKeyed.rps).toFixed(2)} (the key's row in the baseline too)\n` +
      `ablation, against the raw insert transaction: POST without a key ${(unkeyed.rps / raw.rps).toFixed(2)}, ` +
      `POST keyed without Redis ${(noRedis.rps / raw.rps).toFixed(2)}\n`,
  );
}

if (process.argv[2] === 'baselines') await baselines();
else await drive();
