import { Problem, type Statement } from '@reservations/service-kit';
import type { Pool, PoolConnection, RowDataPacket } from 'mysql2/promise';
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

/**
 * What the key's row says of a request: nothing yet (run it), its stored response (replay it),
 * or a Problem (another request used the key). An expired row counts as nothing: past its
 * retention (IDEMPOTENCY_TTL_HOURS, 24 h) the key is new again.
 */
export type KeyState = { kind: 'new' } | { kind: 'expired' } | { kind: 'replay'; response: StoredResponse; gtid: string };

interface KeyRow extends RowDataPacket {
  request_hash: string;
  response_status: number | null;
  response_headers: Record<string, string> | string | null;
  response_body: string | null;
  expired: number;
  gtid: string;
}

/**
 * The key's row, read outside any transaction, with the binlog position that includes it (the
 * replay's consistency token). Only a committed row exists: it is written once, with its
 * response, in the command's COMMIT round trip.
 */
export async function readKey(db: Pool | PoolConnection, scope: KeyScope, hash: string): Promise<KeyState> {
  const [[row]] = await db.query<KeyRow[]>(
    `SELECT request_hash, response_status, response_headers, response_body, expires_at <= NOW(3) AS expired, @@gtid_binlog_pos AS gtid
     FROM idempotency_keys WHERE caller = ? AND route = ? AND idempotency_key = ?`,
    [scope.caller, scope.route, scope.key],
  );
  if (!row) return { kind: 'new' };
  if (Number(row.expired) === 1) return { kind: 'expired' };
  if (row.request_hash !== hash) {
    throw new Problem(problems, 'idempotency-key-reused', `Idempotency-Key ${scope.key} was first used with a different request`);
  }
  if (row.response_status === null || row.response_body === null) {
    // A row of the former claim-first protocol, written by a request still running on an older pod.
    throw new Problem(problems, 'idempotency-in-progress', 'a request with this Idempotency-Key is still running; retry later', {
      headers: { 'retry-after': '1' },
    });
  }
  const headers = typeof row.response_headers === 'string' ? JSON.parse(row.response_headers) : (row.response_headers ?? {});
  return { kind: 'replay', response: { status: row.response_status, headers, body: row.response_body }, gtid: String(row.gtid ?? '') };
}

/** Deletes the key's row if it has expired, so the next insert can take the key. */
export async function deleteExpiredKey(db: Pool | PoolConnection, scope: KeyScope): Promise<void> {
  await db.query('DELETE FROM idempotency_keys WHERE caller = ? AND route = ? AND idempotency_key = ? AND expires_at <= NOW(3)', [
    scope.caller,
    scope.route,
    scope.key,
  ]);
}

/**
 * The key's row with the response, sent with the COMMIT (one round trip): the unique key makes it
 * the final guarantee. A duplicate that ran anyway (its lease skipped, Redis down) fails here with
 * a duplicate-key error, which stops the statements before the COMMIT: its change is rolled back
 * and it answers with the first request's stored response.
 */
export function insertKey(scope: KeyScope, hash: string, response: StoredResponse, ttlMs: number): Statement {
  return {
    sql: `INSERT INTO idempotency_keys
            (caller, route, idempotency_key, request_hash, expires_at, response_status, response_headers, response_body)
          VALUES (?, ?, ?, ?, NOW(3) + INTERVAL ? MICROSECOND, ?, ?, ?)`,
    values: [scope.caller, scope.route, scope.key, hash, ttlMs * 1000, response.status, JSON.stringify(response.headers), response.body],
  };
}
