// The grants command: `node packages/database/src/grant.ts [--create] [--dry-run]`, or
// `npm run grant -w @reservations/database`. Gives each service's MySQL account exactly its
// grants (src/grants.ts) on the database of MYSQL_PRIMARY_URL, as the owner that migrates it.
// docs/install.md#database-users.
import { parseArgs } from 'node:util';
import { loadConfigOrExit, secret } from '@reservations/service-kit';
import { type Static, Type } from 'typebox';
import { grantServiceUsers, MissingAccountError, type ServiceAccount } from './grant-users.ts';
import { DB_SERVICES, type DbService, parseAccount } from './grants.ts';

const variable = (service: DbService, what: 'USER' | 'PASSWORD') => `DB_${what}_${service.toUpperCase().replaceAll('-', '_')}`;

const Settings = Type.Object({
  MYSQL_PRIMARY_URL: secret(
    Type.String({ pattern: '^mysql://[^/]+/[^/?]+', description: "the owner's account on the primary, with the database to grant on" }),
  ),
  ...Object.fromEntries(
    DB_SERVICES.flatMap((service) => [
      [variable(service, 'USER'), Type.Optional(Type.String({ minLength: 1, description: `${service}'s account: name or name@host` }))],
      [
        variable(service, 'PASSWORD'),
        Type.Optional(secret(Type.String({ minLength: 1, description: `${service}'s password, for --create` }))),
      ],
    ]),
  ),
});

function fail(message: string): never {
  process.stderr.write(`grant: ${message}\n`);
  process.exit(1);
}

const { values: flags } = parseArgs({
  options: { create: { type: 'boolean', default: false }, 'dry-run': { type: 'boolean', default: false } },
});
const settings = loadConfigOrExit('grant', Settings) as Static<typeof Settings> & Record<string, string | undefined>;

const accounts: ServiceAccount[] = [];
for (const service of DB_SERVICES) {
  const name = settings[variable(service, 'USER')];
  if (name === undefined) continue;
  let account: ServiceAccount;
  try {
    account = { service, ...parseAccount(name, variable(service, 'USER')) };
  } catch (err) {
    fail((err as Error).message);
  }
  if (flags.create) {
    const password = settings[variable(service, 'PASSWORD')];
    if (password === undefined) fail(`${variable(service, 'PASSWORD')} is required with --create: the password of ${service}'s account`);
    account.password = password;
  }
  accounts.push(account);
}
if (accounts.length === 0) fail(`name at least one account: ${DB_SERVICES.map((s) => variable(s, 'USER')).join(', ')}`);

try {
  const reports = await grantServiceUsers(settings.MYSQL_PRIMARY_URL, accounts, { dryRun: flags['dry-run'] });
  for (const report of reports) {
    process.stdout.write(`${report.service}: ${report.account} (${report.user})\n${report.statements.map((s) => `  ${s}\n`).join('')}`);
  }
  if (flags['dry-run']) process.stdout.write('dry run: nothing was changed\n');
} catch (err) {
  if (err instanceof MissingAccountError) fail(err.message);
  throw err;
}
