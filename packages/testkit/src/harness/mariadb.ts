import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { waitUntil } from '../poll.ts';
import { ensureDebianTools } from './debian.ts';
import { step } from './log.ts';
import { freePort } from './ports.ts';
import { run, type Server, startServer } from './proc.ts';

const COMPONENT = 'mariadb';
export const DATABASE = 'reservations';

export async function installMariaDb(): Promise<void> {
  await ensureDebianTools(COMPONENT, [
    { binary: 'mariadbd', pkg: 'mariadb-server' },
    { binary: 'mariadb-install-db', pkg: 'mariadb-server' },
  ]);
}

/** What the services and the tests connect with (exported as environment variables). */
export interface MariaDbEnv {
  /** The application's account on the primary: reads and writes `reservations`. */
  MYSQL_PRIMARY_URL: string;
  /** The same account on the read-only replica. */
  MYSQL_REPLICA_URL: string;
  /** A superuser on each server, for tests that steer replication or make databases. */
  MYSQL_PRIMARY_ADMIN_URL: string;
  MYSQL_REPLICA_ADMIN_URL: string;
}

/**
 * Each service's own account, as a DBA creates them before the grants command runs: the password
 * is the name, and they hold nothing until `@reservations/database`'s grants give them their
 * tables in a database (the tests' `freshDatabase` does, per database).
 */
export const SERVICE_DB_ACCOUNTS = { 'reservation-api': 'reservation_api', 'query-api': 'query_api', notifier: 'notifier' } as const;

/** The accounts as the grant command takes them (`grantServiceUsers` in @reservations/database). */
export function serviceDbAccounts() {
  return Object.entries(SERVICE_DB_ACCOUNTS).map(([service, user]) => ({
    service: service as keyof typeof SERVICE_DB_ACCOUNTS,
    user,
    host: '%',
  }));
}

/** `url` with `user` (and its harness password) instead of the account it names. */
export function asDbAccount(url: string, user: string): string {
  const u = new URL(url);
  u.username = user;
  u.password = user;
  return u.toString();
}

interface Instance {
  server: Server;
  port: number;
  socket: string;
}

/**
 * A primary (binlog + GTID) and a replica that follows it over real replication.
 * Settings trade durability for speed (no fsync per commit): the harness never kills
 * the database server itself, only the clients.
 */
export async function startMariaDbPair(dir: string, { replicaDelaySeconds = 0 } = {}) {
  const [primary, replica] = await Promise.all([
    startInstance(join(dir, 'mysql-primary'), 1),
    startInstance(join(dir, 'mysql-replica'), 2),
  ]);
  const asRoot = (i: Instance) => mysql.createConnection({ socketPath: i.socket, user: 'root', multipleStatements: true });

  const p = await asRoot(primary);
  await p.query(`
    CREATE DATABASE ${DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
    CREATE USER 'app'@'%' IDENTIFIED BY 'app';
    GRANT ALL ON ${DATABASE}.* TO 'app'@'%';
    CREATE USER 'harness'@'%' IDENTIFIED BY 'harness';
    GRANT ALL ON *.* TO 'harness'@'%' WITH GRANT OPTION;
    CREATE USER 'repl'@'%' IDENTIFIED BY 'repl';
    GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%';
    ${Object.values(SERVICE_DB_ACCOUNTS)
      .map((user) => `CREATE USER '${user}'@'%' IDENTIFIED BY '${user}';`)
      .join('\n')}`);
  await p.end();

  // The replica replays the primary's binlog from its first GTID, so the database and
  // the accounts above arrive there by replication too (and so do later grants).
  const r = await asRoot(replica);
  await r.query(`
    CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${primary.port},
      MASTER_USER='repl', MASTER_PASSWORD='repl', MASTER_USE_GTID=slave_pos,
      MASTER_CONNECT_RETRY=1, MASTER_DELAY=${Number(replicaDelaySeconds)};
    START SLAVE;`);
  await r.end();

  const url = (user: string, port: number, db = '') => `mysql://${user}:${user}@127.0.0.1:${port}/${db}`;
  const env: MariaDbEnv = {
    MYSQL_PRIMARY_URL: url('app', primary.port, DATABASE),
    MYSQL_REPLICA_URL: url('app', replica.port, DATABASE),
    MYSQL_PRIMARY_ADMIN_URL: url('harness', primary.port),
    MYSQL_REPLICA_ADMIN_URL: url('harness', replica.port),
  };
  await waitUntil('replica following the primary', () => replicaCaughtUp(env), {
    server: replica.server,
    timeoutMs: 30_000 + replicaDelaySeconds * 1000,
  });
  step(COMPONENT, `primary on 127.0.0.1:${primary.port}, replica on 127.0.0.1:${replica.port}`);
  return {
    env,
    servers: [replica.server, primary.server],
  };
}

async function startInstance(dataDir: string, serverId: number): Promise<Instance> {
  // Each instance gets its own tmpdir: with the shared /tmp, two runs side by side collide on
  // MariaDB's temporary table names ("Could not remove temporary table").
  const tmpDir = `${dataDir}-tmp`;
  mkdirSync(dataDir, { recursive: true });
  mkdirSync(tmpDir, { recursive: true });
  const asRoot = process.getuid?.() === 0 ? ['--user=root'] : [];
  await run('mariadb-install-db', [
    '--no-defaults',
    `--datadir=${dataDir}`,
    `--tmpdir=${tmpDir}`,
    '--auth-root-authentication-method=normal',
    '--skip-test-db',
    '--skip-name-resolve',
    ...asRoot,
  ]);
  const port = await freePort();
  const socket = join(dataDir, 'mysqld.sock');
  const role = serverId === 1 ? 'primary' : 'replica';
  const server = startServer(
    `mariadb-${role}`,
    'mariadbd',
    [
      '--no-defaults',
      ...asRoot,
      `--datadir=${dataDir}`,
      `--tmpdir=${tmpDir}`,
      `--socket=${socket}`,
      `--pid-file=${join(dataDir, 'mysqld.pid')}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      `--server-id=${serverId}`,
      '--log-bin=mysql-bin',
      '--binlog-format=ROW',
      '--log-slave-updates=ON',
      '--gtid-strict-mode=ON',
      `--read-only=${serverId === 1 ? 'OFF' : 'ON'}`,
      '--skip-name-resolve',
      '--character-set-server=utf8mb4',
      '--collation-server=utf8mb4_unicode_ci',
      '--default-time-zone=+00:00',
      '--max-connections=1000',
      '--performance-schema=OFF',
      '--innodb-buffer-pool-size=128M',
      '--innodb-flush-log-at-trx-commit=2',
      '--sync-binlog=0',
    ],
    { logFile: join(dataDir, '..', `mariadb-${role}.log`) },
  );
  await waitUntil(
    `mariadb ${role}`,
    async () => {
      const c = await mysql.createConnection({ socketPath: socket, user: 'root' });
      await c.end();
      return true;
    },
    { server, timeoutMs: 60_000 },
  );
  return { server, port, socket };
}

type AdminUrls = Pick<MariaDbEnv, 'MYSQL_PRIMARY_ADMIN_URL' | 'MYSQL_REPLICA_ADMIN_URL'>;

/** True when the replica's SQL thread has applied every transaction the primary logged. */
async function replicaCaughtUp(env: AdminUrls) {
  const p = await mysql.createConnection(env.MYSQL_PRIMARY_ADMIN_URL);
  const r = await mysql.createConnection(env.MYSQL_REPLICA_ADMIN_URL);
  try {
    const [[pos]] = (await p.query('SELECT @@gtid_binlog_pos AS pos')) as [{ pos: string }[], unknown];
    const [[status]] = (await r.query('SHOW SLAVE STATUS')) as [Record<string, string>[], unknown];
    if (status?.Slave_IO_Running !== 'Yes' || status.Slave_SQL_Running !== 'Yes') return false;
    const [[applied]] = (await r.query('SELECT @@gtid_slave_pos AS pos')) as [{ pos: string }[], unknown];
    return applied?.pos === pos?.pos;
  } finally {
    await Promise.all([p.end(), r.end()]);
  }
}

/**
 * Waits until the replica has applied everything the primary had committed when the wait began
 * (not "is level with the primary", which other tests' writes may never let happen).
 */
export async function waitForReplica(env: AdminUrls, timeoutMs = 30_000): Promise<void> {
  const p = await mysql.createConnection(env.MYSQL_PRIMARY_ADMIN_URL);
  const r = await mysql.createConnection(env.MYSQL_REPLICA_ADMIN_URL);
  try {
    const [[committed]] = (await p.query('SELECT @@gtid_binlog_pos AS pos')) as [{ pos: string }[], unknown];
    await waitUntil(
      `replica applying ${committed?.pos}`,
      async () => {
        // 0: reached; -1: not yet (a timeout of 0 only looks).
        const [[wait]] = (await r.query('SELECT MASTER_GTID_WAIT(?, 0) AS reached', [committed?.pos ?? ''])) as [
          { reached: number }[],
          unknown,
        ];
        return Number(wait?.reached) === 0;
      },
      { timeoutMs, intervalMs: 50 },
    );
  } finally {
    await Promise.all([p.end(), r.end()]);
  }
}

/**
 * Makes the replica apply each transaction only `seconds` after the primary committed it
 * (MASTER_DELAY), for read-your-writes and lag tests; 0 restores normal replication.
 */
export async function setReplicaDelay(replicaAdminUrl: string, seconds: number): Promise<void> {
  const r = await mysql.createConnection({ uri: replicaAdminUrl, multipleStatements: true });
  try {
    await r.query(`STOP SLAVE; CHANGE MASTER TO MASTER_DELAY=${Math.max(0, Math.floor(seconds))}; START SLAVE;`);
  } finally {
    await r.end();
  }
}
