import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool, PoolConnection, ResultSetHeader } from 'mysql2/promise';
import { backoffDelay } from './backoff.ts';

/** InnoDB chose this transaction as a deadlock victim; it was rolled back and may simply run again. */
export const ER_LOCK_DEADLOCK = 1213;
export const ER_LOCK_WAIT_TIMEOUT = 1205;
export const ER_DUP_ENTRY = 1062;

export function isMysqlError(err: unknown, errno: number): boolean {
  return (err as { errno?: number } | null)?.errno === errno;
}

/** One SQL text (it may hold several statements) and its placeholder values. */
export interface Statement {
  sql: string;
  values?: unknown[];
}

export interface RetryOptions<T = unknown, B = void> {
  attempts?: number;
  baseDelayMs?: number;
  /** Injected so tests can make the jitter deterministic. */
  random?: () => number;
  /**
   * Starts the transaction instead of a bare START TRANSACTION, so its first statements can go in
   * the same round trip (`START TRANSACTION; INSERT …`, on a pool with `multipleStatements`). It
   * must start it; what it returns is handed to `work`.
   */
  begin?: (conn: PoolConnection) => Promise<B>;
  /**
   * Statements that commit with the work's result, sent in COMMIT's round trip (`UPDATE …; COMMIT`,
   * on a pool with `multipleStatements`); undefined sends COMMIT alone.
   */
  commitWith?: (result: T) => Statement | undefined;
  /**
   * Runs right after COMMIT on the same connection, with COMMIT's OK packet (whose session state
   * changes carry `last_gtid` when the session tracks it).
   */
  afterCommit?: (conn: PoolConnection, commit: ResultSetHeader) => Promise<void>;
}

/** The statements left for COMMIT's round trip (atCommit), per connection while withTransaction holds it. */
const leftForCommit = new WeakMap<PoolConnection, Statement[]>();

/**
 * Runs a write of the current transaction on `conn` that nothing reads back before the commit (an
 * outbox row, say): inside withTransaction it goes in COMMIT's round trip, before the statements
 * of `commitWith` (on a pool with `multipleStatements`), so a transaction that holds a lock holds
 * it one round trip less; anywhere else it runs now. If it fails, COMMIT is not reached and the
 * whole transaction rolls back.
 */
export async function atCommit(conn: PoolConnection, statement: Statement): Promise<void> {
  const left = leftForCommit.get(conn);
  if (left) left.push(statement);
  else await conn.query(statement.sql, statement.values);
}

async function commit(conn: PoolConnection, withIt: Statement | undefined): Promise<ResultSetHeader> {
  const statements = [...(leftForCommit.get(conn) ?? []), ...(withIt ? [withIt] : [])];
  if (statements.length === 0) return (await conn.query<ResultSetHeader>('COMMIT'))[0];
  // Each statement answers with its own OK packet; COMMIT's is the last.
  const [results] = await conn.query<ResultSetHeader[]>(
    `${statements.map((s) => s.sql).join('; ')}; COMMIT`,
    statements.flatMap((s) => s.values ?? []),
  );
  const last = results.at(-1);
  if (!last) throw new Error('COMMIT sent no answer');
  return last;
}

/**
 * Runs `work` in a transaction on one pooled connection: commit when it resolves, roll back when
 * it throws, and run the whole thing again when InnoDB picks it as a deadlock victim (1213). A
 * connection whose rollback failed is destroyed, not pooled: its session state is unknown.
 */
export async function withTransaction<T, B = void>(
  pool: Pool,
  work: (conn: PoolConnection, begun: B) => Promise<T>,
  { attempts = 5, baseDelayMs = 5, random = Math.random, begin, commitWith, afterCommit }: RetryOptions<T, B> = {},
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const conn = await pool.getConnection();
    leftForCommit.set(conn, []);
    let reusable = true;
    try {
      let begun = undefined as B;
      if (begin) begun = await begin(conn);
      else await conn.query('START TRANSACTION');
      const result = await work(conn, begun);
      const committed = await commit(conn, commitWith?.(result));
      await afterCommit?.(conn, committed);
      return result;
    } catch (err) {
      // After a failed afterCommit this is a harmless no-op.
      await conn.query('ROLLBACK').catch(() => {
        reusable = false;
      });
      if (!isMysqlError(err, ER_LOCK_DEADLOCK) || attempt + 1 >= attempts) throw err;
      await sleep(backoffDelay(attempt, baseDelayMs, random));
    } finally {
      leftForCommit.delete(conn);
      if (reusable) conn.release();
      else conn.destroy();
    }
  }
}
