import type { Principal } from './auth.ts';
import type { SigningKeys } from './signing.ts';

/**
 * The consistency token (`X-Consistency-Token`): the GTID of a client's last write, which
 * query-api waits for its replica to reach. reservation-api signs it, bound to the principal that
 * wrote and with an expiry, so query-api waits only for GTIDs this platform handed to that same
 * principal recently: `<gtid>.<expires, unix seconds>.<HMAC-SHA256, base64url>`. The principal is
 * in the MAC, not in the token, so a token says nothing about who holds it.
 */

/** A GTID list as MariaDB prints it: `domain-server-sequence[,…]`. */
const GTID = '\\d{1,10}-\\d{1,10}-\\d{1,20}(?:,\\d{1,10}-\\d{1,10}-\\d{1,20})*';
const TOKEN = new RegExp(`^(${GTID})\\.(\\d{1,12})\\.([A-Za-z0-9_-]{43})$`);

/** The longest token accepted (a GTID list of a few replication domains, the expiry and the MAC). */
export const MAX_CONSISTENCY_TOKEN_LENGTH = 512;

function message(gtid: string, expires: number, principal: Principal): string {
  // JSON: unambiguous whatever characters `sub` holds.
  return JSON.stringify(['consistency-token/v1', gtid, expires, principal.role, principal.id]);
}

export function signConsistencyToken(
  keys: SigningKeys,
  { gtid, principal, ttlSeconds, now = Date.now() }: { gtid: string; principal: Principal; ttlSeconds: number; now?: number },
): string {
  const expires = Math.floor(now / 1000) + ttlSeconds;
  return `${gtid}.${expires}.${keys.sign('consistency-token', message(gtid, expires, principal))}`;
}

export type ConsistencyTokenCheck =
  | { ok: true; gtid: string; expires: number }
  | { ok: false; reason: 'malformed' | 'forged' | 'expired'; message: string };

/**
 * The GTID a token carries, if this platform signed it for `principal` and it has not expired
 * (with `clockSkewSeconds` of tolerance between the signer's clock and ours); otherwise why not,
 * as the message a 400 gives. A token of another principal cannot be told from a forged one.
 */
export function checkConsistencyToken(
  keys: SigningKeys,
  token: string,
  { principal, clockSkewSeconds, now = Date.now() }: { principal: Principal; clockSkewSeconds: number; now?: number },
): ConsistencyTokenCheck {
  const match = token.length <= MAX_CONSISTENCY_TOKEN_LENGTH ? TOKEN.exec(token) : null;
  if (!match) return { ok: false, reason: 'malformed', message: 'is not a consistency token' };
  const [, gtid = '', exp = '', mac = ''] = match;
  const expires = Number(exp);
  if (!keys.verify('consistency-token', message(gtid, expires, principal), mac)) {
    return { ok: false, reason: 'forged', message: 'is not a consistency token this platform issued to you' };
  }
  if (expires + clockSkewSeconds < Math.floor(now / 1000)) {
    return { ok: false, reason: 'expired', message: `expired at ${new Date(expires * 1000).toISOString()}` };
  }
  return { ok: true, gtid, expires };
}
