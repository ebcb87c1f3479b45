import { Readable } from 'node:stream';
import mysql from 'mysql2/promise';
import { customerId, generateSeed, type SeedOptions, type SeedReservation } from './seed-data.ts';

export interface SeedProgress {
  phase: 'generate' | 'resources' | 'reservations' | 'analyze';
  done: number;
  total: number;
}

export interface SeedReport {
  resources: number;
  reservations: number;
  /** The hottest resources first (the Zipf ranks 1, 2, …), and a cold one. */
  hot: { id: string; providerId: string }[];
  cold: { id: string; providerId: string };
  /** The customer with the most reservations (rank 1). */
  busiestCustomer: string;
  ms: number;
}

/** Rows per LOAD DATA statement: progress at each, and no statement the size of the whole table. */
const CHUNK = 50_000;

const dt = (d: Date) => d.toISOString().slice(0, 23).replace('T', ' ');

/** A tab-separated line in the column order of RESERVATION_COLUMNS; ids and times need no escaping. */
function line(r: SeedReservation): string {
  return [
    r.id,
    r.resourceId,
    r.customerId,
    r.providerId,
    dt(r.startsAt),
    dt(r.endsAt),
    r.status,
    r.expiresAt ? dt(r.expiresAt) : '\\N',
    r.version,
    dt(r.createdAt),
    dt(r.updatedAt),
  ].join('\t');
}
const RESERVATION_COLUMNS =
  'id, resource_id, customer_id, provider_id, starts_at, ends_at, status, expires_at, version, created_at, updated_at';

/**
 * Writes the generated resources and reservations into the (migrated, empty) database at `url`:
 * the reservations sorted by id, so InnoDB appends to its clustered index rather than splitting
 * pages, in LOAD DATA LOCAL INFILE chunks; then ANALYZE TABLE, so the optimizer's statistics
 * describe the data the plans are checked and measured on.
 */
export async function seedDatabase(url: string, options: Partial<SeedOptions>, progress: (p: SeedProgress) => void = () => {}) {
  const t0 = performance.now();
  const { resources, reservations } = generateSeed(options);
  const lines: string[] = [];
  for (const r of reservations()) {
    lines.push(line(r));
    if (lines.length % 100_000 === 0) progress({ phase: 'generate', done: lines.length, total: options.reservations ?? lines.length });
  }
  lines.sort();
  const conn = await mysql.createConnection({ uri: url, timezone: 'Z', connectTimeout: 10_000 });
  try {
    const [[existing]] = (await conn.query('SELECT (SELECT COUNT(*) FROM resources) + (SELECT COUNT(*) FROM reservations) AS n')) as [
      { n: number }[],
      unknown,
    ];
    if (Number(existing?.n) > 0) throw new Error('the database already holds resources or reservations: seed an empty one');
    for (let i = 0; i < resources.length; i += 1000) {
      const batch = resources.slice(i, i + 1000);
      await conn.query('INSERT INTO resources (id, name, provider_id, time_zone, capacity, longest_reservation_ms) VALUES ?', [
        batch.map((r) => [r.id, r.name, r.providerId, r.timeZone, r.capacity, r.longestMs]),
      ]);
      progress({ phase: 'resources', done: i + batch.length, total: resources.length });
    }
    for (let i = 0; i < lines.length; i += CHUNK) {
      const chunk = lines.slice(i, i + CHUNK);
      await conn.query({
        sql: `LOAD DATA LOCAL INFILE 'reservations.tsv' INTO TABLE reservations
              FIELDS TERMINATED BY '\\t' LINES TERMINATED BY '\\n' (${RESERVATION_COLUMNS})`,
        infileStreamFactory: () => Readable.from([Buffer.from(`${chunk.join('\n')}\n`)]),
      });
      progress({ phase: 'reservations', done: i + chunk.length, total: lines.length });
    }
    progress({ phase: 'analyze', done: 0, total: 1 });
    await conn.query('ANALYZE TABLE resources, reservations');
    progress({ phase: 'analyze', done: 1, total: 1 });
  } finally {
    await conn.end();
  }
  const cold = resources.at(-1);
  if (!cold) throw new Error('resources must be at least 1');
  return {
    resources: resources.length,
    reservations: lines.length,
    hot: resources.slice(0, 3).map(({ id, providerId }) => ({ id, providerId })),
    cold: { id: cold.id, providerId: cold.providerId },
    busiestCustomer: customerId(0),
    ms: performance.now() - t0,
  } satisfies SeedReport;
}
