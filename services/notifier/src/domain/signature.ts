import { createHmac, createSecretKey, type KeyObject, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signatures as the Standard Webhooks specification (standardwebhooks.com) defines them,
 * so receivers can use its libraries: HMAC-SHA256, keyed with the endpoint's secret, over
 * `${webhook-id}.${webhook-timestamp}.${body}`, sent as `webhook-signature: v1,<base64>`.
 * Signing the event id and the timestamp with the body lets a receiver trust the id it
 * deduplicates on and refuse replays older than its tolerance.
 */
export const SECRET_PREFIX = 'whsec_';

export interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/** A new endpoint secret: 32 random bytes, base64, with the `whsec_` prefix. */
export function newSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(32).toString('base64')}`;
}

/** A KeyObject even for one HMAC: `createHmac` given a Buffer costs Node 24 about three times as much. */
function key(secret: string): KeyObject {
  return createSecretKey(Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64'));
}

export function signature(secret: string, id: string, timestampSeconds: number, body: string): string {
  return `v1,${createHmac('sha256', key(secret)).update(`${id}.${timestampSeconds}.${body}`).digest('base64')}`;
}

/**
 * The headers of one delivery, signed with each of `secrets` (space-separated, as Standard
 * Webhooks allows): during a rotation's overlap both the new and the old secret sign, so a
 * receiver verifies with whichever it has.
 */
export function signedHeaders(secrets: readonly string[], id: string, body: string, now: Date = new Date()): SignedHeaders {
  if (secrets.length === 0) throw new Error('a delivery needs at least one secret to sign with');
  const timestamp = Math.floor(now.getTime() / 1000);
  const signatures = secrets.map((secret) => signature(secret, id, timestamp, body)).join(' ');
  return { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': signatures };
}

/**
 * What a receiver does: recompute the signature over the raw body and compare in constant time,
 * and refuse a timestamp further than `toleranceSeconds` from now. Returns why it fails, or
 * undefined when the request is authentic.
 */
export function verificationFailure(
  secret: string,
  headers: Record<string, string | string[] | undefined>,
  body: string,
  { toleranceSeconds = 300, now = new Date() }: { toleranceSeconds?: number; now?: Date } = {},
): string | undefined {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signatures !== 'string') {
    return 'webhook-id, webhook-timestamp and webhook-signature are required';
  }
  const seconds = Number(timestamp);
  if (!Number.isInteger(seconds)) return 'webhook-timestamp is not a number of seconds';
  if (Math.abs(now.getTime() / 1000 - seconds) > toleranceSeconds) return 'webhook-timestamp is outside the tolerance';
  const expected = Buffer.from(signature(secret, id, seconds, body));
  // The header may carry several space-separated signatures (during a secret rotation).
  const match = signatures.split(' ').some((candidate) => {
    const given = Buffer.from(candidate);
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  return match ? undefined : 'no signature matches';
}
