// The booking paths at a million reservations: `npm run bench:million -w @reservations/query-api`.
// Starts its own MariaDB pair and Redis (the test harness), seeds BENCH_RESERVATIONS reservations
// on BENCH_RESOURCES resources (@reservations/database's seed: a few hot resources, a long cold
// tail, holds and cancels), runs reservation-api and query-api as the image does, and measures
// at BENCH_CONNECTIONS (50) connections, each against a baseline measured in the same run, the
// same statements through mysql2 (the services' own reader and store code, without HTTP):
//   GET /v1/reservations, first pages and cursor pages, per customer and per provider
//   GET /v1/resources/:id/availability, a busy day and a month of the hottest resources
//   POST /v1/reservations on one hot resource (50 bookings at once on one lock) and on cold ones
// With MariaDB's slow query log on (long_query_time 5 ms) on both servers, it prints how many
// statements took longer in each phase, and the slowest. Not a test: figures depend on the machine.
import { customerId, migrateToLatest, providerId, seedDatabase } from '@reservations/database';
import {
  CONNECTIONS,
  cannon,
  closedLoop,
  createReservationStore,
  DURATION_S,
  type Figures,
  figuresRow,
  harnessValue,
  primaryPool,
  serviceEnv,
  sign,
} from '@reservations/reservation-api/bench';
import { createMysqlPool, withTransaction } from '@reservations/service-kit';
import { bundled, startHarness, startServiceProcess, waitForReplica } from '@reservations/testkit';
import type autocannon from 'autocannon';
import mysql from 'mysql2/promise';
import { type Cursor, encodeCursor } from '../src/domain/cursor.ts';
import { createReservationReader } from '../src/stores/reservation-reader.ts';

const RESOURCES = Number(process.env.BENCH_RESOURCES ?? 10_000);
const RESERVATIONS = Number(process.env.BENCH_RESERVATIONS ?? 1_000_000);
/** InnoDB's buffer pool on both servers during the bench (the harness starts them with 128 MB, less than the table). */
const BUFFER_POOL_MB = Number(process.env.BENCH_BUFFER_POOL_MB ?? 1024);
const SLOW_MS = 5;
/** The services' pool size (MYSQL_POOL_SIZE's default), for the baselines too. */
const POOL_SIZE = 20;
/** How many principals (the busiest customers, the providers of the hottest resources) the reads rotate through. */
const PRINCIPALS = 50;
const DAY = 86_400_000;
const MINUTE = 60_000;

const log = (line: string) => process.stdout.write(`${line}\n`);
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

type Kind = 'list' | 'availability' | 'post-hot' | 'post-cold';
interface Phase {
  kind: Kind;
  http: () => Promise<Figures>;
  raw: () => Promise<Figures>;
}
interface Slow {
  server: string;
  sql: string;
  ms: number;
}

async function run(harness: Awaited<ReturnType<typeof startHarness>>) {
  const env = serviceEnv(harness.env);
  const primaryUrl = harnessValue(harness.env, 'MYSQL_PRIMARY_URL');
  const adminUrls = {
    MYSQL_PRIMARY_ADMIN_URL: harnessValue(harness.env, 'MYSQL_PRIMARY_ADMIN_URL'),
    MYSQL_REPLICA_ADMIN_URL: harnessValue(harness.env, 'MYSQL_REPLICA_ADMIN_URL'),
  };
  const admins = await Promise.all(Object.values(adminUrls).map((uri) => mysql.createConnection({ uri, connectTimeout: 10_000 })));
  for (const admin of admins) await admin.query(`SET GLOBAL innodb_buffer_pool_size = ${BUFFER_POOL_MB * 1024 * 1024}`);
  await migrateToLatest(primaryUrl);

  const now = new Date(Math.floor(Date.now() / MINUTE) * MINUTE);
  log(`seeding ${RESOURCES} resources, ${RESERVATIONS} reservations (--now ${now.toISOString()})`);
  let lastPhase = '';
  const seeded = await seedDatabase(primaryUrl, { resources: RESOURCES, reservations: RESERVATIONS, now }, (p) => {
    if (p.phase !== lastPhase || p.done === p.total || p.done % 200_000 === 0) log(`  ${p.phase} ${p.done}/${p.total}`);
    lastPhase = p.phase;
  });
  const replicaStart = performance.now();
  await waitForReplica(adminUrls, 3_600_000);
  log(`seeded in ${seconds(seeded.ms)}; the replica had applied it ${seconds(performance.now() - replicaStart)} later`);

  // The slow query log, as a table, on both servers; set before the services connect (a session
  // takes long_query_time when it opens).
  for (const admin of admins) {
    await admin.query(`SET GLOBAL log_output = 'TABLE', long_query_time = ${SLOW_MS / 1000}, slow_query_log = 1`);
  }
  /** What the slow log holds since the last call, then emptied. */
  const slowLog = async (): Promise<Slow[]> => {
    const rows: Slow[] = [];
    for (const [i, admin] of admins.entries()) {
      const [found] = (await admin.query(
        `SELECT LEFT(sql_text, 160) AS sql_text, TIME_TO_SEC(query_time) * 1000 AS ms FROM mysql.slow_log WHERE db = 'reservations'`,
      )) as unknown as [{ sql_text: string; ms: number }[]];
      rows.push(...found.map((r) => ({ server: i === 0 ? 'primary' : 'replica', sql: String(r.sql_text), ms: Number(r.ms) })));
      await admin.query('TRUNCATE mysql.slow_log');
    }
    return rows;
  };

  // As the images run them: their bundles.
  const service = async (name: 'reservation-api' | 'query-api') =>
    startServiceProcess((await bundled(name))['server.mjs'] as string, env, { logDir: harness.dir });
  const [writer, reader] = [await service('reservation-api'), await service('query-api')];
  const replica = createMysqlPool(harnessValue(harness.env, 'MYSQL_REPLICA_URL'), { connectionLimit: POOL_SIZE });
  const primary = primaryPool(primaryUrl, POOL_SIZE);
  const reads = createReservationReader();
  // reservation-api's defaults, with the horizon the bench's far-ahead windows need (as its env sets).
  const store = createReservationStore({
    holdTtlMs: 600_000,
    policy: { maxDurationMinutes: 1440, horizonDays: 36_500, clockSkewSeconds: 60 },
    maxActiveHolds: 5,
  });

  // The principals: the busiest customers (the seed's Zipf ranks) and the providers of the hottest resources.
  const customers = Array.from({ length: PRINCIPALS }, (_, i) => customerId(i));
  const providers = Array.from({ length: PRINCIPALS }, (_, i) => providerId(i));
  const tokens = new Map([
    ...customers.map((c) => [c, `Bearer ${sign({ sub: c, role: 'customer' })}`] as const),
    ...providers.map((p) => [p, `Bearer ${sign({ sub: p, role: 'provider' })}`] as const),
  ]);
  // Each principal's cursor to the sixth page of its list (or its last, on a small seed), as the reader hands them out.
  const sixthPage = async (filter: { customerId: string } | { providerId: string }): Promise<Cursor> => {
    let after: Cursor | undefined;
    for (let page = 0; page < 5; page++) {
      const next: Cursor | undefined = (await reads.list(replica, { ...filter, limit: 20, ...(after ? { after } : {}) })).next;
      if (!next) break;
      after = next;
    }
    if (!after) throw new Error(`${JSON.stringify(filter)} has a single page: seed more reservations`);
    return after;
  };
  const cursors = new Map<string, Cursor>();
  for (const c of customers) cursors.set(c, await sixthPage({ customerId: c }));
  for (const p of providers) cursors.set(p, await sixthPage({ providerId: p }));

  const hot = seeded.hot.map((h) => h.id);
  const busyDay = new Date(Math.floor(now.getTime() / DAY) * DAY + 3 * DAY);
  const spans = {
    day: { start: busyDay, end: new Date(busyDay.getTime() + DAY) },
    month: { start: busyDay, end: new Date(busyDay.getTime() + 31 * DAY) },
  };
  const [coldest] = (await replica.query('SELECT id FROM resources ORDER BY longest_reservation_ms, id LIMIT 1000')) as unknown as [
    { id: string }[],
  ];
  const cold = coldest.map((r) => r.id);

  let turn = 0;
  const rotate = <T>(items: T[]): T => items[turn++ % items.length] as T;
  const get = (name: string, next: () => { path: string; auth: string }) =>
    cannon(name, {
      url: reader.api,
      requests: [
        {
          setupRequest: (req: autocannon.Request) => {
            const { path, auth } = next();
            return { ...req, path, headers: { authorization: auth } };
          },
        },
      ],
    });

  // The POSTs' windows: 20 minutes each, one after another, past the seeded future (nothing is
  // booked there yet), on one hot resource or spread over the thousand coldest.
  const firstSlot = Math.floor(now.getTime() / DAY) * DAY + 200 * DAY;
  const slots = new Map<string, number>();
  const nextWindow = (resource: string) => {
    const n = slots.get(resource) ?? 0;
    slots.set(resource, n + 1);
    const start = new Date(firstSlot + n * 20 * MINUTE);
    return { start, end: new Date(start.getTime() + 20 * MINUTE) };
  };
  const booker = `Bearer ${sign({ sub: 'bench-booker', role: 'customer' })}`;
  const post = (name: string, pick: () => string) =>
    cannon(name, {
      url: `${writer.api}/v1/reservations`,
      method: 'POST',
      requests: [
        {
          setupRequest: (req: autocannon.Request) => {
            const resourceId = pick();
            const w = nextWindow(resourceId);
            return {
              ...req,
              headers: { authorization: booker, 'content-type': 'application/json' },
              body: JSON.stringify({ resourceId, startsAt: w.start.toISOString(), endsAt: w.end.toISOString() }),
            };
          },
        },
      ],
    });
  const rawPost = (pick: () => string) =>
    closedLoop('  baseline: its transaction through mysql2', async () => {
      const resourceId = pick();
      await withTransaction(primary, (conn) =>
        store.create(conn, { resourceId, customerId: 'bench-raw', window: nextWindow(resourceId), hold: false, notes: null }),
      );
    });

  const list = (who: 'customer' | 'provider', deep: boolean): Phase => {
    const names = who === 'customer' ? customers : providers;
    const label = `GET /v1/reservations per ${who}, ${deep ? 'page 6 (cursor)' : 'first page'}`;
    return {
      kind: 'list',
      http: () =>
        get(label, () => {
          const sub = rotate(names);
          const after = cursors.get(sub);
          const cursor = deep && after ? `&cursor=${encodeCursor(after)}` : '';
          return { path: `/v1/reservations?limit=20${cursor}`, auth: tokens.get(sub) ?? '' };
        }),
      raw: () =>
        closedLoop('  baseline: its SQL through mysql2', async () => {
          const sub = rotate(names);
          const after = cursors.get(sub);
          await reads.list(replica, {
            limit: 20,
            ...(who === 'customer' ? { customerId: sub } : { providerId: sub }),
            ...(deep && after ? { after } : {}),
          });
        }),
    };
  };
  const availability = (span: 'day' | 'month'): Phase => {
    const range = `from=${spans[span].start.toISOString()}&to=${spans[span].end.toISOString()}`;
    return {
      kind: 'availability',
      http: () =>
        get(`GET /v1/resources/:id/availability, ${span === 'day' ? 'a busy day' : 'a month'} (3 hottest)`, () => ({
          path: `/v1/resources/${rotate(hot)}/availability?${range}`,
          auth: tokens.get(customerId(0)) ?? '',
        })),
      raw: () =>
        closedLoop('  baseline: its SQL through mysql2', async () => {
          const id = rotate(hot);
          await reads.resource(replica, id);
          await reads.taken(replica, id, spans[span]);
        }),
    };
  };
  const hottest = () => hot[0] ?? '';
  const phases: Phase[] = [
    list('customer', false),
    list('customer', true),
    list('provider', false),
    list('provider', true),
    availability('day'),
    availability('month'),
    { kind: 'post-hot', http: () => post('POST /v1/reservations, one hot resource (50 at once)', hottest), raw: () => rawPost(hottest) },
    {
      kind: 'post-cold',
      http: () => post('POST /v1/reservations, cold resources', () => rotate(cold)),
      raw: () => rawPost(() => rotate(cold)),
    },
  ];

  await slowLog(); // what setting up logged
  const results: { phase: Phase; http: Figures; raw: Figures; slow: Slow[] }[] = [];
  for (const phase of phases) {
    const raw = await phase.raw();
    await slowLog(); // the baseline's own are not the service's
    const http = await phase.http();
    results.push({ phase, http, raw, slow: (await slowLog()).filter((s) => s.ms > SLOW_MS) });
    log(`  ${http.name}: ${http.rps.toFixed(0)} req/s, p99 ${http.p99} ms`);
  }
  await Promise.all([writer.server.stop(), reader.server.stop(), replica.end(), primary.end(), ...admins.map((a) => a.end())]);

  log(`\n${RESERVATIONS} reservations on ${RESOURCES} resources; ${CONNECTIONS} connections, ${DURATION_S} s each, no pipelining`);
  for (const { http, raw, slow } of results) {
    log(figuresRow(http));
    log(`${figuresRow(raw)}  service / baseline ${(http.rps / raw.rps).toFixed(2)}`);
    const worst = [...slow].sort((a, b) => b.ms - a.ms)[0];
    if (worst) {
      log(
        `    ${slow.length} statements over ${SLOW_MS} ms; slowest ${worst.ms.toFixed(1)} ms on the ${worst.server}: ${worst.sql.replace(/\s+/g, ' ')}`,
      );
      // Which statements they were: their first words, most frequent first.
      const kinds = new Map<string, number>();
      for (const slowOne of slow) {
        const kind = `${slowOne.server}: ${slowOne.sql.replace(/\s+/g, ' ').split(' ').slice(0, 6).join(' ')}`;
        kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      }
      for (const [kind, n] of [...kinds].sort((x, y) => y[1] - x[1]).slice(0, 4)) log(`      ${n} × ${kind} …`);
    }
  }
  const of = (kind: Kind) => results.filter((r) => r.phase.kind === kind);
  const worstP99 = (kind: Kind) => Math.max(...of(kind).map((r) => r.http.p99));
  const rps = (kind: Kind) => of(kind)[0]?.http.rps ?? Number.NaN;
  const slowTotal = results.reduce((n, r) => n + r.slow.length, 0);
  log(
    `\nlist p99, worst of the four: ${worstP99('list')} ms (target < 20 ms)\n` +
      `availability p99, worst of the two: ${worstP99('availability')} ms (target < 20 ms)\n` +
      `hot / cold POST throughput: ${(rps('post-hot') / rps('post-cold')).toFixed(2)} (target ≥ 0.5)\n` +
      `statements over ${SLOW_MS} ms at the database while the services ran: ${slowTotal} (target 0)\n` +
      `seed: ${seconds(seeded.ms)} for ${seeded.reservations} reservations`,
  );
}

const harness = await startHarness(['mysql', 'redis']);
try {
  await run(harness);
} finally {
  await harness.stop();
}
