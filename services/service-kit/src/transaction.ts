import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool, PoolConnection, ResultSetHeader } from 'mysql2/promise';

/** InnoDB chose this transaction as a deadlock victim; it was rolled back and may simply run again. */
export const ER_LOCK_DEADLOCK = 1213;
export const ER_LOCK_WAIT_TIMEOUT = 1205;
export const ER_DUP_ENTRY = 1062;

export function isMysqlError(err: unknown, errno: number): boolean {
  return (err as { errno?: number } | null)?.errno === errno;
}

export interface RetryOptions {
  attempts?: number;
  baseDelayMs?: number;
  /** Injected so tests can make the jitter deterministic. */
  random?: () => number;
  /**
   * Runs right after COMMIT on the same connection, with COMMIT's OK packet (whose session state
   * changes carry `last_gtid` when the session tracks it).
   */
  afterCommit?: (conn: PoolConnection, commit: ResultSetHeader) => Promise<void>;
}

/** Full jitter (AWS architecture blog, "Exponential Backoff and Jitter"): a random delay up to base·2^attempt. */
export function backoffDelay(attempt: number, baseDelayMs: number, random: () => number = Math.random): number {
  return Math.floor(random() * baseDelayMs * 2 ** attempt);
}

/**
 * Runs `work` in a transaction on one pooled connection: commit when it resolves, roll back when
 * it throws, and run the whole thing again when InnoDB picks it as a deadlock victim (1213).
 */
export async function withTransaction<T>(
  pool: Pool,
  work: (conn: PoolConnection) => Promise<T>,
  { attempts = 5, baseDelayMs = 5, random = Math.random, afterCommit }: RetryOptions = {},
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const conn = await pool.getConnection();
    try {
      await conn.query('START TRANSACTION');
      const result = await work(conn);
      const [commit] = await conn.query<ResultSetHeader>('COMMIT');
      await afterCommit?.(conn, commit);
      return result;
    } catch (err) {
      // After a failed afterCommit this is a harmless no-op.
      await conn.query('ROLLBACK').catch(() => undefined);
      if (!isMysqlError(err, ER_LOCK_DEADLOCK) || attempt + 1 >= attempts) throw err;
      await sleep(backoffDelay(attempt, baseDelayMs, random));
    } finally {
      conn.release();
    }
  }
}
