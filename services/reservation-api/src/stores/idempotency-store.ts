import { ER_DUP_ENTRY, ER_LOCK_WAIT_TIMEOUT, isMysqlError, Problem, type Statement } from '@reservations/service-kit';
import type { PoolConnection, RowDataPacket } from 'mysql2/promise';
import { problems } from '../errors.ts';

/** A response as it went out the first time, replayed as is for the same key and request. */
export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface KeyScope {
  caller: string;
  route: string;
  key: string;
}

export type Claim = { kind: 'claimed' } | { kind: 'replay'; response: StoredResponse };

/**
 * Statements that share the claim's round trip (the pool allows multipleStatements): `before`
 * runs first whatever the claim finds (START TRANSACTION), `after` only once the key is claimed
 * (the command's savepoint).
 */
export interface ClaimOptions {
  ttlMs: number;
  before?: string;
  after?: string;
}

interface KeyRow extends RowDataPacket {
  request_hash: string;
  response_status: number | null;
  response_headers: Record<string, string> | string | null;
  response_body: string | null;
  expired: number;
}

/**
 * Claims an Idempotency-Key inside the command's transaction by inserting its row first.
 * A duplicate whose first request is still running blocks on that uncommitted row; waiting at
 * most a second (MariaDB's SET STATEMENT) turns it into a fast 409 instead of a pile of waiting
 * connections. When the first request commits, the waiter sees a duplicate key and replays it;
 * when it rolls back (a 5xx), the waiter's insert succeeds and it runs the command itself.
 */
export async function claimKey(
  conn: PoolConnection,
  scope: KeyScope,
  hash: string,
  { ttlMs, before, after }: ClaimOptions,
): Promise<Claim> {
  let first = before ? `${before}; ` : '';
  const then = after ? `; ${after}` : '';
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await conn.query(
        `${first}SET STATEMENT innodb_lock_wait_timeout = 1 FOR
         INSERT INTO idempotency_keys (caller, route, idempotency_key, request_hash, expires_at)
         VALUES (?, ?, ?, ?, NOW(3) + INTERVAL ? MICROSECOND)${then}`,
        [scope.caller, scope.route, scope.key, hash, ttlMs * 1000],
      );
      return { kind: 'claimed' };
    } catch (err) {
      // `before` ran even though the insert failed (statements run in order, up to the first error).
      first = '';
      if (isMysqlError(err, ER_LOCK_WAIT_TIMEOUT)) {
        throw new Problem(problems, 'idempotency-in-progress', 'a request with this Idempotency-Key is still running; retry later', {
          headers: { 'retry-after': '1' },
        });
      }
      if (!isMysqlError(err, ER_DUP_ENTRY)) throw err;
    }
    const [[row]] = await conn.query<KeyRow[]>(
      `SELECT request_hash, response_status, response_headers, response_body, expires_at <= NOW(3) AS expired
       FROM idempotency_keys WHERE caller = ? AND route = ? AND idempotency_key = ?`,
      [scope.caller, scope.route, scope.key],
    );
    if (!row) continue; // deleted between the insert and the read: claim again
    if (Number(row.expired) === 1) {
      // Past its retention (IDEMPOTENCY_TTL_HOURS, 24 h) the key is new again.
      await conn.query('DELETE FROM idempotency_keys WHERE caller = ? AND route = ? AND idempotency_key = ? AND expires_at <= NOW(3)', [
        scope.caller,
        scope.route,
        scope.key,
      ]);
      continue;
    }
    if (row.request_hash !== hash) {
      throw new Problem(problems, 'idempotency-key-reused', `Idempotency-Key ${scope.key} was first used with a different request`);
    }
    if (row.response_status === null || row.response_body === null) {
      throw new Problem(problems, 'idempotency-in-progress', 'a request with this Idempotency-Key is still running; retry later');
    }
    const headers = typeof row.response_headers === 'string' ? JSON.parse(row.response_headers) : (row.response_headers ?? {});
    return { kind: 'replay', response: { status: row.response_status, headers, body: row.response_body } };
  }
  throw new Problem(problems, 'idempotency-in-progress', 'the Idempotency-Key changed hands while claiming it; retry');
}

/** Stores the response on the claimed key row; the caller sends it with the COMMIT (one round trip). */
export function storeResponse(scope: KeyScope, response: StoredResponse): Statement {
  return {
    sql: `UPDATE idempotency_keys SET response_status = ?, response_headers = ?, response_body = ?
          WHERE caller = ? AND route = ? AND idempotency_key = ?`,
    values: [response.status, JSON.stringify(response.headers), response.body, scope.caller, scope.route, scope.key],
  };
}
