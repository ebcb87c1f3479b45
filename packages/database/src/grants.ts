/**
 * Least privilege in the data layer: each service connects as a MySQL user of its own, granted
 * exactly what its SQL does on exactly the tables it touches (read from its stores, workers and
 * infra, and this package's event history). A table nobody is granted, or a grant on a table the
 * migrations do not create, fails test/grants.int.test.ts, so a migration that adds a table must
 * say here who may use it.
 *
 * DELETE and UPDATE with a WHERE clause need SELECT as well (MySQL checks SELECT on the columns a
 * statement reads), so every table a service changes is also readable by it.
 */

export const DB_SERVICES = ['reservation-api', 'query-api', 'notifier'] as const;
export type DbService = (typeof DB_SERVICES)[number];

export type Privilege = 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE';

/** Read by every service at boot: the schema version check (requireSchemaVersion). */
const SCHEMA_VERSION = { schema_migrations: ['SELECT'] } as const;

export const SERVICE_GRANTS: Record<DbService, Readonly<Record<string, readonly Privilege[]>>> = {
  // Commands lock and change resources and reservations (never delete them: a cancel is a
  // status), keep Idempotency-Keys and write the outbox; the sweeper and the relay delete expired
  // keys and sent outbox rows.
  'reservation-api': {
    resources: ['SELECT', 'INSERT', 'UPDATE'],
    reservations: ['SELECT', 'INSERT', 'UPDATE'],
    idempotency_keys: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
    outbox: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
    ...SCHEMA_VERSION,
  },
  // Reads only, on the replica and on the primary (read-your-writes): reservations with their
  // resource, availability, and the event history. Never the notifier's webhook endpoints (their
  // secrets) or deliveries.
  'query-api': {
    resources: ['SELECT'],
    reservations: ['SELECT'],
    event_history: ['SELECT'],
    ...SCHEMA_VERSION,
  },
  // Its own tables, and a resource's provider (which stream and webhook an event goes to).
  // Never reservations: the event carries the booking.
  notifier: {
    processed_events: ['SELECT', 'INSERT', 'DELETE'],
    provider_streams: ['SELECT', 'INSERT', 'UPDATE'],
    event_history: ['SELECT', 'INSERT'],
    webhook_endpoints: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
    webhook_deliveries: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
    resources: ['SELECT'],
    ...SCHEMA_VERSION,
  },
};

/** Every table some service is granted, sorted. */
export function grantedTables(): string[] {
  return [...new Set(Object.values(SERVICE_GRANTS).flatMap((grants) => Object.keys(grants)))].sort();
}

/** A MySQL account: `'name'@'host'`. */
export interface Account {
  user: string;
  host: string;
}

// Names are spliced into GRANT statements (MySQL takes no placeholders there), so only plain
// characters get through: no quote, backtick or backslash can end the literal.
const USER = /^[A-Za-z0-9_.-]{1,80}$/;
const HOST = /^[A-Za-z0-9_.%:-]{1,255}$/;
const DATABASE = /^[A-Za-z0-9_$]{1,64}$/;

/** `name` or `name@host` (host `%`, any, when absent); throws naming `field` when malformed. */
export function parseAccount(value: string, field: string): Account {
  const at = value.lastIndexOf('@');
  const [user, host] = at < 0 ? [value, '%'] : [value.slice(0, at), value.slice(at + 1)];
  if (!USER.test(user)) throw new Error(`${field}: the user name "${user}" must be 1 to 80 letters, digits, '_', '.' or '-'`);
  if (!HOST.test(host)) throw new Error(`${field}: the host "${host}" must be 1 to 255 letters, digits, '_', '.', '%', ':' or '-'`);
  return { user, host };
}

export function checkDatabaseName(name: string): string {
  if (!DATABASE.test(name)) throw new Error(`the database name "${name}" must be 1 to 64 letters, digits, '_' or '$'`);
  return name;
}

export const accountSql = ({ user, host }: Account) => `'${user}'@'${host}'`;

/** The GRANT statements that give `account` what `service` needs on `database`, one per table. */
export function grantStatements(service: DbService, account: Account, database: string): string[] {
  checkDatabaseName(database);
  return Object.entries(SERVICE_GRANTS[service]).map(
    ([table, privileges]) => `GRANT ${privileges.join(', ')} ON \`${database}\`.\`${table}\` TO ${accountSql(account)}`,
  );
}

/** A privilege an account holds now, as information_schema lists it (table undefined: the whole database). */
export interface HeldPrivilege {
  table?: string;
  privilege: string;
}

/**
 * The REVOKE statements that take away what `account` holds on `database` beyond what `service`
 * needs: a database-wide privilege (GRANT ALL ON db.*, say, from the days of one shared user), a
 * privilege on a table it is not granted, or one more on a table it is. So running the command
 * again after a grant is narrowed leaves exactly the list above.
 */
export function revokeStatements(service: DbService, account: Account, database: string, held: readonly HeldPrivilege[]): string[] {
  checkDatabaseName(database);
  const wanted = SERVICE_GRANTS[service];
  const extra = new Map<string, string[]>();
  for (const { table, privilege } of held) {
    if (table !== undefined && (wanted[table] as readonly string[] | undefined)?.includes(privilege)) continue;
    const target = table === undefined ? `\`${database}\`.*` : `\`${database}\`.\`${table}\``;
    extra.set(target, [...(extra.get(target) ?? []), privilege]);
  }
  return [...extra].map(([target, privileges]) => `REVOKE ${privileges.join(', ')} ON ${target} FROM ${accountSql(account)}`);
}
