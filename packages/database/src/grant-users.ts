import mysql, { type RowDataPacket } from 'mysql2/promise';
import {
  type Account,
  accountSql,
  checkDatabaseName,
  type DbService,
  grantStatements,
  type HeldPrivilege,
  revokeStatements,
} from './grants.ts';

export interface ServiceAccount extends Account {
  service: DbService;
  /** Create the account with this password when it does not exist (`--create`); otherwise it must exist. */
  password?: string;
}

/** What the grants command did (or, dry, would do) for one service. */
export interface GrantReport {
  service: DbService;
  account: string;
  /** `existing`, `created`, or `to create` on a dry run. */
  user: 'existing' | 'created' | 'to create';
  statements: string[];
}

/** The account does not exist and was not to be created; the message says what to do. */
export class MissingAccountError extends Error {
  override name = 'MissingAccountError';
}

/**
 * Gives each service's account exactly its grants on the database of `adminUrl` (the owner's
 * account, as for migrate, on the primary: grants replicate): GRANTs for what it needs, REVOKEs
 * for what it holds beyond that on this database. Safe to run again: it converges. Run it after
 * migrating, since MySQL refuses a grant on a table that does not exist yet.
 */
export async function grantServiceUsers(
  adminUrl: string,
  accounts: readonly ServiceAccount[],
  { dryRun = false, timeoutMs = 10_000 }: { dryRun?: boolean; timeoutMs?: number } = {},
): Promise<GrantReport[]> {
  const conn = await mysql.createConnection({ uri: adminUrl, connectTimeout: timeoutMs });
  try {
    const database = checkDatabaseName(new URL(adminUrl).pathname.slice(1));
    const reports: GrantReport[] = [];
    for (const account of accounts) {
      const grantee = accountSql(account);
      const [found] = await conn.query<RowDataPacket[]>(
        { sql: 'SELECT 1 FROM mysql.user WHERE User = ? AND Host = ?', timeout: timeoutMs },
        [account.user, account.host],
      );
      let user: GrantReport['user'] = 'existing';
      if (found.length === 0) {
        if (account.password === undefined) {
          throw new MissingAccountError(
            `${account.service}: the account ${grantee} does not exist; create it (CREATE USER ${grantee} IDENTIFIED BY …) or run with --create and its password`,
          );
        }
        user = dryRun ? 'to create' : 'created';
        if (!dryRun)
          await conn.query({ sql: `CREATE USER IF NOT EXISTS ${grantee} IDENTIFIED BY ?`, timeout: timeoutMs }, [account.password]);
      }
      const statements = [
        ...grantStatements(account.service, account, database),
        ...revokeStatements(account.service, account, database, await heldPrivileges(conn, grantee, database, timeoutMs)),
      ];
      if (!dryRun) for (const sql of statements) await conn.query({ sql, timeout: timeoutMs });
      reports.push({ service: account.service, account: grantee, user, statements });
    }
    return reports;
  } finally {
    await conn.end();
  }
}

async function heldPrivileges(conn: mysql.Connection, grantee: string, database: string, timeoutMs: number): Promise<HeldPrivilege[]> {
  const [rows] = await conn.query<RowDataPacket[]>(
    {
      sql: `SELECT NULL AS tbl, PRIVILEGE_TYPE AS privilege FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = ? AND TABLE_SCHEMA = ?
            UNION ALL
            SELECT TABLE_NAME, PRIVILEGE_TYPE FROM information_schema.TABLE_PRIVILEGES WHERE GRANTEE = ? AND TABLE_SCHEMA = ?`,
      timeout: timeoutMs,
    },
    [grantee, database, grantee, database],
  );
  return rows.map((r) => ({ table: r.tbl === null ? undefined : String(r.tbl), privilege: String(r.privilege) }));
}
