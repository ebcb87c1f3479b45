import { afterAll, describe, expect, it } from '@jest/globals';
import { harnessEnv } from '@reservations/testkit';
import type { PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { createMysqlPool } from '../src/clients/mysql.ts';
import { atCommit, ER_LOCK_DEADLOCK, withTransaction } from '../src/transaction.ts';

const pool = createMysqlPool(harnessEnv('MYSQL_PRIMARY_URL'), { connectionLimit: 4 });
pool.on('connection', (conn) => {
  conn.query("SET SESSION session_track_system_variables = 'last_gtid'");
});
afterAll(async () => {
  await pool.end();
});

describe('withTransaction (real MariaDB)', () => {
  it('commits, and hands afterCommit the GTID of the commit from the OK packet', async () => {
    await pool.query('CREATE TABLE IF NOT EXISTS tx_test (id INT PRIMARY KEY, n INT)');
    let tracked: string | undefined;
    let selected: string | undefined;
    await withTransaction(
      pool,
      async (conn) => {
        await conn.query('REPLACE INTO tx_test VALUES (1, 1)');
      },
      {
        afterCommit: async (conn, commit: ResultSetHeader) => {
          tracked = (commit as { stateChanges?: { systemVariables?: Record<string, string> } }).stateChanges?.systemVariables?.last_gtid;
          const [[row]] = await conn.query<RowDataPacket[]>('SELECT @@last_gtid AS g');
          selected = row?.g;
        },
      },
    );
    expect(tracked).toMatch(/^\d+-\d+-\d+$/);
    expect(tracked).toBe(selected);
  });

  it('rolls back on an error and reruns a deadlock victim', async () => {
    let attempts = 0;
    const result = await withTransaction(
      pool,
      async (conn) => {
        attempts++;
        await conn.query('REPLACE INTO tx_test VALUES (2, ?)', [attempts]);
        if (attempts < 3) throw Object.assign(new Error('deadlock'), { errno: ER_LOCK_DEADLOCK });
        return attempts;
      },
      { random: () => 0 },
    );
    expect(result).toBe(3);
    await expect(
      withTransaction(pool, async (conn) => {
        await conn.query('REPLACE INTO tx_test VALUES (3, 3)');
        throw new Error('nope');
      }),
    ).rejects.toThrow('nope');
    const [rows] = await pool.query<RowDataPacket[]>('SELECT id, n FROM tx_test WHERE id IN (2, 3) ORDER BY id');
    expect(rows).toEqual([{ id: 2, n: 3 }]);
  });

  it('begin and commitWith put their statements in the transaction, in START TRANSACTION’s and COMMIT’s round trips', async () => {
    const multi = createMysqlPool(harnessEnv('MYSQL_PRIMARY_URL'), { connectionLimit: 1, multipleStatements: true });
    multi.on('connection', (conn) => {
      conn.query("SET SESSION session_track_system_variables = 'last_gtid'");
    });
    let gtid: string | undefined;
    const options = {
      begin: async (conn: PoolConnection) => {
        const [results] = await conn.query<ResultSetHeader[]>('START TRANSACTION; REPLACE INTO tx_test VALUES (4, ?)', [4]);
        return results.length;
      },
      commitWith: (n: number) => ({ sql: 'REPLACE INTO tx_test VALUES (5, ?)', values: [n] }),
      afterCommit: async (_conn: PoolConnection, commit: ResultSetHeader) => {
        gtid = (commit as { stateChanges?: { systemVariables?: Record<string, string> } }).stateChanges?.systemVariables?.last_gtid;
      },
    };
    try {
      expect(await withTransaction(multi, async (_conn, begun) => begun * 10, options)).toBe(20);
      expect(gtid).toMatch(/^\d+-\d+-\d+$/);
      const [rows] = await pool.query<RowDataPacket[]>('SELECT id, n FROM tx_test WHERE id IN (4, 5) ORDER BY id');
      expect(rows).toEqual([
        { id: 4, n: 4 },
        { id: 5, n: 20 },
      ]);
      await pool.query('DELETE FROM tx_test WHERE id IN (4, 5)');
      await expect(
        withTransaction(
          multi,
          async () => {
            throw new Error('refused');
          },
          options,
        ),
      ).rejects.toThrow('refused');
      const [after] = await pool.query<RowDataPacket[]>('SELECT id FROM tx_test WHERE id IN (4, 5)');
      expect(after).toEqual([]);
    } finally {
      await multi.end();
    }
  });

  it('atCommit sends its statements with COMMIT (after the work, before commitWith); one that fails rolls everything back', async () => {
    const multi = createMysqlPool(harnessEnv('MYSQL_PRIMARY_URL'), { connectionLimit: 1, multipleStatements: true });
    const ids = async () => (await pool.query<RowDataPacket[]>('SELECT id FROM tx_test WHERE id BETWEEN 10 AND 19 ORDER BY id'))[0];
    try {
      let seenBeforeCommit: unknown[] = ['not read'];
      let attempts = 0;
      await withTransaction(
        multi,
        async (conn) => {
          attempts++;
          await atCommit(conn, { sql: 'INSERT INTO tx_test VALUES (?, ?)', values: [10 + attempts, 1] });
          await conn.query('INSERT INTO tx_test VALUES (15, 1)');
          // Left for COMMIT's round trip: not in the transaction yet.
          [seenBeforeCommit] = await conn.query<RowDataPacket[]>('SELECT id FROM tx_test WHERE id BETWEEN 10 AND 14');
          if (attempts === 1) throw Object.assign(new Error('deadlock'), { errno: ER_LOCK_DEADLOCK });
        },
        { random: () => 0, commitWith: () => ({ sql: 'INSERT INTO tx_test VALUES (16, 1)' }) },
      );
      expect(seenBeforeCommit).toEqual([]);
      // The first attempt's statement went with its rollback; the second's with its COMMIT.
      expect(await ids()).toEqual([{ id: 12 }, { id: 15 }, { id: 16 }]);

      // A statement left for COMMIT that fails (a duplicate key): COMMIT never runs, nothing stays.
      await expect(
        withTransaction(multi, async (conn) => {
          await conn.query('INSERT INTO tx_test VALUES (17, 1)');
          await atCommit(conn, { sql: 'INSERT INTO tx_test VALUES (12, 1)' });
        }),
      ).rejects.toMatchObject({ code: 'ER_DUP_ENTRY' });
      expect(await ids()).toEqual([{ id: 12 }, { id: 15 }, { id: 16 }]);

      // Outside withTransaction it runs at once.
      const conn = await multi.getConnection();
      try {
        await atCommit(conn, { sql: 'INSERT INTO tx_test VALUES (18, 1)' });
      } finally {
        conn.release();
      }
      expect(await ids()).toEqual([{ id: 12 }, { id: 15 }, { id: 16 }, { id: 18 }]);
    } finally {
      await pool.query('DELETE FROM tx_test WHERE id BETWEEN 10 AND 19');
      await multi.end();
    }
  });
});
