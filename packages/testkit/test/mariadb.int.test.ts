import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import mysql from 'mysql2/promise';
import { harnessEnv } from '../src/env.ts';
import { type MariaDbEnv, setReplicaDelay, startMariaDbPair, waitForReplica } from '../src/harness/mariadb.ts';
import { type Server, stopServers } from '../src/harness/proc.ts';
import { runDir } from '../src/harness/run-dirs.ts';

describe('MariaDB primary and replica (the shared harness)', () => {
  it('replicates a row written on the primary to the read-only replica', async () => {
    const primary = await mysql.createConnection(harnessEnv('MYSQL_PRIMARY_URL'));
    const replica = await mysql.createConnection(harnessEnv('MYSQL_REPLICA_URL'));
    try {
      await primary.query('CREATE TABLE IF NOT EXISTS harness_probe (id INT PRIMARY KEY, note VARCHAR(40))');
      await primary.query('REPLACE INTO harness_probe VALUES (1, ?)', ['written on the primary']);
      await waitForReplica({
        MYSQL_PRIMARY_ADMIN_URL: harnessEnv('MYSQL_PRIMARY_ADMIN_URL'),
        MYSQL_REPLICA_ADMIN_URL: harnessEnv('MYSQL_REPLICA_ADMIN_URL'),
      });
      const [rows] = await replica.query('SELECT note FROM harness_probe WHERE id = 1');
      expect(rows).toEqual([{ note: 'written on the primary' }]);
      await expect(replica.query('INSERT INTO harness_probe VALUES (2, "x")')).rejects.toThrow(/read-only/);
    } finally {
      await primary.end();
      await replica.end();
    }
  });
});

describe('a delayed replica (its own pair, so the shared one keeps replicating at full speed)', () => {
  let env: MariaDbEnv;
  let servers: Server[];
  beforeAll(async () => {
    ({ env, servers } = await startMariaDbPair(runDir()));
  });
  afterAll(() => stopServers(servers));

  it('applies a commit only after MASTER_DELAY, then catches up', async () => {
    await setReplicaDelay(env.MYSQL_REPLICA_ADMIN_URL, 4);
    const primary = await mysql.createConnection(env.MYSQL_PRIMARY_URL);
    const replica = await mysql.createConnection(env.MYSQL_REPLICA_URL);
    try {
      await primary.query('CREATE TABLE lag_probe (id INT PRIMARY KEY)');
      await primary.query('INSERT INTO lag_probe VALUES (1)');
      // Right after the commit the delayed replica has not even created the table.
      await expect(replica.query('SELECT id FROM lag_probe')).rejects.toThrow(/doesn't exist/);
      await waitForReplica(env);
      const [rows] = await replica.query('SELECT id FROM lag_probe');
      expect(rows).toEqual([{ id: 1 }]);
    } finally {
      await setReplicaDelay(env.MYSQL_REPLICA_ADMIN_URL, 0);
      await primary.end();
      await replica.end();
    }
  });
});
