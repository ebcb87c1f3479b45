// The seed command: `npm run seed -w @reservations/database -- --resources 10000 --reservations 1000000`.
// Fills a migrated, empty database (MYSQL_PRIMARY_URL) with generated resources and reservations
// (seed-data.ts: a few hot resources, a long cold tail, holds and cancels), for benchmarks and
// query plans at production scale. Never run it against a database that serves users.
import { parseArgs } from 'node:util';
import { loadConfigOrExit, secret } from '@reservations/service-kit';
import { Type } from 'typebox';
import { SEED_DEFAULTS, type SeedOptions } from './seed-data.ts';
import { seedDatabase } from './seeding.ts';

const { MYSQL_PRIMARY_URL } = loadConfigOrExit(
  'seed',
  Type.Object({
    MYSQL_PRIMARY_URL: secret(Type.String({ pattern: '^mysql://', description: 'the migrated, empty MySQL primary to fill' })),
  }),
);

const INTEGER_OPTIONS = {
  resources: 'resources',
  reservations: 'reservations',
  providers: 'providers',
  customers: 'customers',
  seed: 'seed',
  'past-days': 'pastDays',
  'future-days': 'futureDays',
} as const satisfies Record<string, keyof SeedOptions>;

function options(): Partial<SeedOptions> {
  const { values } = parseArgs({
    options: {
      ...Object.fromEntries(Object.keys(INTEGER_OPTIONS).map((name) => [name, { type: 'string' }])),
      now: { type: 'string' },
    } as Record<string, { type: 'string' }>,
    strict: true,
  });
  const chosen: Partial<SeedOptions> = {};
  for (const [flag, key] of Object.entries(INTEGER_OPTIONS)) {
    const raw = values[flag];
    if (raw === undefined) continue;
    if (!/^\d+$/.test(raw)) throw new Error(`--${flag} must be a whole number, not ${JSON.stringify(raw)}`);
    chosen[key] = Number(raw);
  }
  // The default `now` is this minute, so the holds still running are running; pass the printed
  // value back to get the same rows again.
  const now = values.now === undefined ? new Date(Math.floor(Date.now() / 60_000) * 60_000) : new Date(values.now);
  if (Number.isNaN(now.getTime())) throw new Error(`--now must be an RFC 3339 instant, not ${JSON.stringify(values.now)}`);
  return { ...chosen, now };
}

let chosen: Partial<SeedOptions>;
try {
  chosen = options();
} catch (err) {
  process.stderr.write(`seed: ${(err as Error).message}\n`);
  process.exit(2);
}
const effective = { ...SEED_DEFAULTS, ...chosen };
process.stdout.write(
  `seeding ${effective.resources} resources and ${effective.reservations} reservations ` +
    `(--seed ${effective.seed} --now ${effective.now.toISOString()})\n`,
);
let last = '';
const report = await seedDatabase(MYSQL_PRIMARY_URL, chosen, ({ phase, done, total }) => {
  const text = `${phase} ${done}/${total}`;
  if (text !== last) process.stdout.write(`  ${text}\n`);
  last = text;
}).catch((err: unknown) => {
  // A database that is not empty, not migrated or not reachable: one line that says so.
  process.stderr.write(`seed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
process.stdout.write(
  `seeded ${report.resources} resources and ${report.reservations} reservations in ${(report.ms / 1000).toFixed(1)} s; ` +
    `hottest resource ${report.hot[0]?.id}, a cold one ${report.cold.id}, busiest customer ${report.busiestCustomer}\n`,
);
