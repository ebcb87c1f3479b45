import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { asDbAccount, harnessEnv, run, SERVICE_DB_ACCOUNTS, waitForReplica } from '@reservations/testkit';
import mysql, { type RowDataPacket } from 'mysql2/promise';
import { type DbService, grantedTables, SERVICE_GRANTS } from '../src/grants.ts';
import { migrateToLatest } from '../src/migrations.ts';

// The grants on the real MariaDB pair: the command run as an SRE runs it, then each service's
// account doing what it may and refused what it may not, on the primary and, through
// replication, on the replica.

const ER_DBACCESS_DENIED_ERROR = 1044;
const ER_TABLEACCESS_DENIED_ERROR = 1142;
const ER_OPTION_PREVENTS_STATEMENT = 1290;

const name = `grants_${randomUUID().slice(0, 8)}`;
const withDb = (url: string) => url.replace(/\/[^/]*$/, `/${name}`);
const adminUrl = () => withDb(harnessEnv('MYSQL_PRIMARY_ADMIN_URL'));
const admins = () => ({
  MYSQL_PRIMARY_ADMIN_URL: harnessEnv('MYSQL_PRIMARY_ADMIN_URL'),
  MYSQL_REPLICA_ADMIN_URL: harnessEnv('MYSQL_REPLICA_ADMIN_URL'),
});
const USERS = {
  DB_USER_RESERVATION_API: SERVICE_DB_ACCOUNTS['reservation-api'],
  DB_USER_QUERY_API: SERVICE_DB_ACCOUNTS['query-api'],
  DB_USER_NOTIFIER: SERVICE_DB_ACCOUNTS.notifier,
};

function grantCommand(env: Record<string, string>, ...args: string[]) {
  return run(process.execPath, [join(import.meta.dirname, '..', 'src', 'grant.ts'), ...args], {
    env: { PATH: process.env.PATH, MYSQL_PRIMARY_URL: adminUrl(), ...env },
    check: false,
  });
}

const connections: mysql.Connection[] = [];
async function as(service: DbService, server: 'primary' | 'replica' = 'primary') {
  const url = withDb(harnessEnv(server === 'primary' ? 'MYSQL_PRIMARY_URL' : 'MYSQL_REPLICA_URL'));
  const conn = await mysql.createConnection(asDbAccount(url, SERVICE_DB_ACCOUNTS[service]));
  connections.push(conn);
  return conn;
}

/** The server's errno for `sql`, or 'allowed' when it ran. */
async function outcome(conn: mysql.Connection, sql: string): Promise<number | 'allowed'> {
  try {
    await conn.query(sql);
    return 'allowed';
  } catch (err) {
    const errno = (err as { errno?: number }).errno;
    if (errno === undefined) throw err;
    return errno;
  }
}

beforeAll(async () => {
  const admin = await mysql.createConnection(harnessEnv('MYSQL_PRIMARY_ADMIN_URL'));
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  await migrateToLatest(adminUrl());
});
afterAll(async () => {
  await Promise.all(connections.map((c) => c.end()));
});

describe('the grant command', () => {
  it('grants each existing account its list, says what it ran, and a second run changes nothing', async () => {
    const first = await grantCommand(USERS);
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(first.stdout).toContain("query-api: 'query_api'@'%' (existing)\n");
    expect(first.stdout).toContain(`  GRANT SELECT ON \`${name}\`.\`event_history\` TO 'query_api'@'%'\n`);
    expect(first.stdout).toContain(`  GRANT SELECT, INSERT, DELETE ON \`${name}\`.\`processed_events\` TO 'notifier'@'%'\n`);
    expect(first.stdout).not.toContain('REVOKE');
    expect(await grantCommand(USERS)).toEqual(first);
  });

  it('grants exactly the tables the migrations create: none left to nobody, none that does not exist', async () => {
    const admin = await mysql.createConnection(adminUrl());
    try {
      const [rows] = await admin.query<RowDataPacket[]>(
        'SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME',
        [name],
      );
      expect(rows.map((r) => r.t)).toEqual(grantedTables());
    } finally {
      await admin.end();
    }
  });

  it('takes back what an account holds beyond its list (a database-wide grant from a shared-user past)', async () => {
    const admin = await mysql.createConnection(adminUrl());
    await admin.query(`GRANT ALL ON ${name}.* TO 'query_api'@'%'`);
    await admin.end();
    const writes = await as('query-api');
    expect(await outcome(writes, "UPDATE resources SET name = 'x' WHERE id = 'none'")).toBe('allowed');
    await writes.end();

    const narrowed = await grantCommand(USERS);
    expect(narrowed.code).toBe(0);
    expect(narrowed.stdout).toMatch(new RegExp(`  REVOKE SELECT, INSERT, UPDATE, DELETE, .* ON \`${name}\`\\.\\* FROM 'query_api'@'%'\\n`));
    expect(await outcome(await as('query-api'), "UPDATE resources SET name = 'x' WHERE id = 'none'")).toBe(ER_TABLEACCESS_DENIED_ERROR);
  });

  it('refuses an account that does not exist unless --create, which needs its password', async () => {
    const user = `grants_new_${randomUUID().slice(0, 6)}`;
    const missing = await grantCommand({ DB_USER_NOTIFIER: `${user}@127.0.0.1` });
    expect(missing).toEqual({
      code: 1,
      stdout: '',
      stderr: `grant: notifier: the account '${user}'@'127.0.0.1' does not exist; create it (CREATE USER '${user}'@'127.0.0.1' IDENTIFIED BY …) or run with --create and its password\n`,
    });
    expect(await grantCommand({ DB_USER_NOTIFIER: `${user}@127.0.0.1` }, '--create')).toEqual({
      code: 1,
      stdout: '',
      stderr: "grant: DB_PASSWORD_NOTIFIER is required with --create: the password of notifier's account\n",
    });

    const dry = await grantCommand({ DB_USER_NOTIFIER: `${user}@127.0.0.1`, DB_PASSWORD_NOTIFIER: 'pw-1' }, '--create', '--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/\(to create\)\n[\s\S]*dry run: nothing was changed\n$/);
    const created = await grantCommand({ DB_USER_NOTIFIER: `${user}@127.0.0.1`, DB_PASSWORD_NOTIFIER: 'pw-1' }, '--create');
    expect(created.code).toBe(0);
    expect(created.stdout).toContain(`notifier: '${user}'@'127.0.0.1' (created)\n`);
    expect(created.stdout).not.toContain('pw-1');
    const conn = await mysql.createConnection(`mysql://${user}:pw-1@127.0.0.1:${new URL(adminUrl()).port}/${name}`);
    connections.push(conn);
    expect(await outcome(conn, 'SELECT COUNT(*) FROM webhook_deliveries')).toBe('allowed');
    expect(await outcome(conn, 'SELECT COUNT(*) FROM reservations')).toBe(ER_TABLEACCESS_DENIED_ERROR);
    // Created again: it exists, so its password stays.
    expect((await grantCommand({ DB_USER_NOTIFIER: `${user}@127.0.0.1`, DB_PASSWORD_NOTIFIER: 'pw-2' }, '--create')).stdout).toContain(
      '(existing)',
    );
    const admin = await mysql.createConnection(harnessEnv('MYSQL_PRIMARY_ADMIN_URL'));
    await admin.query(`DROP USER '${user}'@'127.0.0.1'`);
    await admin.end();
  });

  it('refuses a malformed account or no account at all, naming the variable, before connecting', async () => {
    expect(await grantCommand({ DB_USER_QUERY_API: "q'@'%" })).toEqual({
      code: 1,
      stdout: '',
      stderr: `grant: DB_USER_QUERY_API: the user name "q'" must be 1 to 80 letters, digits, '_', '.' or '-'\n`,
    });
    expect(await grantCommand({})).toEqual({
      code: 1,
      stdout: '',
      stderr: 'grant: name at least one account: DB_USER_RESERVATION_API, DB_USER_QUERY_API, DB_USER_NOTIFIER\n',
    });
  });
});

describe("each service's account on the real server", () => {
  beforeAll(async () => {
    expect((await grantCommand(USERS)).code).toBe(0);
    await waitForReplica(admins());
  });

  it('reservation-api writes the booking core and the outbox, and cannot touch the notifier tables', async () => {
    const conn = await as('reservation-api');
    expect(await outcome(conn, "INSERT INTO resources (id, name, provider_id, time_zone) VALUES ('r-1', 'Room', 'acme', 'UTC')")).toBe(
      'allowed',
    );
    expect(await outcome(conn, 'UPDATE outbox SET sent_at = NOW(6) WHERE id = 0')).toBe('allowed');
    expect(await outcome(conn, 'DELETE FROM idempotency_keys WHERE expires_at < NOW(3)')).toBe('allowed');
    expect(await outcome(conn, 'SELECT secret_sealed FROM webhook_endpoints')).toBe(ER_TABLEACCESS_DENIED_ERROR);
    expect(await outcome(conn, 'DELETE FROM event_history')).toBe(ER_TABLEACCESS_DENIED_ERROR);
    expect(await outcome(conn, "INSERT INTO processed_events (event_id, type) VALUES ('e', 't')")).toBe(ER_TABLEACCESS_DENIED_ERROR);
    // Nor delete what it only ever changes, nor change the schema.
    expect(await outcome(conn, 'DELETE FROM reservations')).toBe(ER_TABLEACCESS_DENIED_ERROR);
    expect(await outcome(conn, 'DROP TABLE outbox')).toBe(ER_TABLEACCESS_DENIED_ERROR);
  });

  // The accounts and grants were made on the primary: the replica has them because it replays
  // the primary's binlog (GRANT is logged as a statement), which this reads there.
  it.each(['primary', 'replica'] as const)(
    'query-api reads the booking core and the history on the %s, and cannot read webhook secrets or deliveries',
    async (server) => {
      const conn = await as('query-api', server);
      expect(await outcome(conn, 'SELECT r.id, s.provider_id FROM reservations r JOIN resources s ON s.id = r.resource_id')).toBe(
        'allowed',
      );
      expect(await outcome(conn, 'SELECT event_id FROM event_history')).toBe('allowed');
      expect(await outcome(conn, 'SELECT secret, secret_sealed FROM webhook_endpoints')).toBe(ER_TABLEACCESS_DENIED_ERROR);
      expect(await outcome(conn, 'SELECT * FROM webhook_deliveries')).toBe(ER_TABLEACCESS_DENIED_ERROR);
    },
  );

  it('query-api cannot write anything on the primary (the replica refuses every write anyway: read-only)', async () => {
    const conn = await as('query-api');
    expect(await outcome(conn, "UPDATE reservations SET notes = 'x' WHERE id = 'none'")).toBe(ER_TABLEACCESS_DENIED_ERROR);
    expect(await outcome(conn, "INSERT INTO event_history (event_id) VALUES ('e')")).toBe(ER_TABLEACCESS_DENIED_ERROR);
    expect(await outcome(conn, 'DELETE FROM resources')).toBe(ER_TABLEACCESS_DENIED_ERROR);
    expect(await outcome(conn, "INSERT INTO outbox (event_id) VALUES ('e')")).toBe(ER_TABLEACCESS_DENIED_ERROR);
    expect(await outcome(await as('query-api', 'replica'), "UPDATE reservations SET notes = 'x' WHERE id = 'none'")).toBe(
      ER_OPTION_PREVENTS_STATEMENT,
    );
  });

  it('the notifier works its own tables and reads a resource, and cannot read or write reservations', async () => {
    const conn = await as('notifier');
    expect(await outcome(conn, "INSERT INTO processed_events (event_id, type) VALUES ('e-1', 'reservation.held')")).toBe('allowed');
    expect(await outcome(conn, "SELECT provider_id FROM resources WHERE id = 'r-1'")).toBe('allowed');
    expect(await outcome(conn, "DELETE FROM webhook_endpoints WHERE provider_id = 'none'")).toBe('allowed');
    expect(await outcome(conn, 'SELECT * FROM reservations')).toBe(ER_TABLEACCESS_DENIED_ERROR);
    expect(await outcome(conn, "UPDATE reservations SET status = 'cancelled'")).toBe(ER_TABLEACCESS_DENIED_ERROR);
    expect(await outcome(conn, "UPDATE resources SET provider_id = 'evil'")).toBe(ER_TABLEACCESS_DENIED_ERROR);
    expect(await outcome(conn, 'SELECT * FROM outbox')).toBe(ER_TABLEACCESS_DENIED_ERROR);
  });

  it('no account reaches a database it was not granted', async () => {
    for (const service of Object.keys(SERVICE_GRANTS) as DbService[]) {
      expect(await outcome(await as(service), 'USE reservations')).toBe(ER_DBACCESS_DENIED_ERROR);
    }
  });
});
