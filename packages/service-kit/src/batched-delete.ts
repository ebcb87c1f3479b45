import type { Pool, ResultSetHeader } from 'mysql2/promise';
import type { Statement } from './transaction.ts';

/**
 * Runs a DELETE again and again, `batch` rows at a time (`LIMIT` is appended), until it deletes
 * fewer: retention sweeps never hold many row locks or a long transaction, and run on every
 * replica without coordination (a delete of what is already gone deletes nothing). Returns the
 * rows deleted.
 */
export async function deleteInBatches(pool: Pool, { sql, values = [] }: Statement, batch = 1000): Promise<number> {
  let total = 0;
  for (;;) {
    const [result] = await pool.query<ResultSetHeader>(`${sql} LIMIT ?`, [...values, batch]);
    total += result.affectedRows;
    if (result.affectedRows < batch) return total;
  }
}
