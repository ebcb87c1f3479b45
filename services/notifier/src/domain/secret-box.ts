import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ConfigError } from '@reservations/service-kit';

/**
 * Webhook signing secrets at rest, envelope-style: each secret is encrypted (AES-256-GCM) with a
 * data key of its own, and that data key with a key-encryption key (KEK) from
 * WEBHOOK_SECRET_KEYS. The KEK's id is stored beside the box, so the KEKs can be rotated: a new
 * one listed first seals from then on, the old ones still open, and a re-wrap re-encrypts only the
 * small data keys under the new one (the secrets' ciphertexts stay as they are). Both layers
 * authenticate the provider id (and the wrap the KEK id), so a box copied to another row, or
 * relabelled with another key id, does not open.
 */
export const SECRET_KEYS_VARIABLE = 'WEBHOOK_SECRET_KEYS';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** The wrapped data key at the head of each box: IV, tag, 32 encrypted bytes. */
const WRAPPED_BYTES = IV_BYTES + TAG_BYTES + KEY_BYTES;
const KEY_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** What the table keeps per secret: the KEK's id, and the wrapped data key followed by the encrypted secret. */
export interface Sealed {
  keyId: string;
  box: Buffer;
}

/** The KEKs: the first seals, every one opens. */
export interface KeyRing {
  primaryId: string;
  keys: ReadonlyMap<string, Buffer>;
}

/** A box that does not open: its key id is not configured, or it was altered. */
export class SecretBoxError extends Error {
  override name = 'SecretBoxError';
}

/**
 * WEBHOOK_SECRET_KEYS: `id:base64key,...`, each key 32 bytes (AES-256). A malformed entry is a
 * ConfigError naming the variable and the entry's position or id, never a key.
 */
export function parseKeyRing(list: string): KeyRing {
  const keys = new Map<string, Buffer>();
  const entries = list.split(',').map((e) => e.trim());
  entries.forEach((entry, i) => {
    const colon = entry.indexOf(':');
    const id = colon > 0 ? entry.slice(0, colon) : '';
    const where = `${SECRET_KEYS_VARIABLE} (value hidden): entry ${i + 1}`;
    if (!KEY_ID.test(id)) {
      throw new ConfigError(`${where} must be id:base64key, the id of 1 to 64 letters, digits, _ or -`);
    }
    const encoded = entry.slice(colon + 1);
    const key = Buffer.from(encoded, 'base64');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || key.length !== KEY_BYTES) {
      throw new ConfigError(`${where} (key id ${id}) must be ${KEY_BYTES} bytes in base64 (openssl rand -base64 32); it is not`);
    }
    if (keys.has(id)) throw new ConfigError(`${where}: key id ${id} is listed twice`);
    keys.set(id, key);
  });
  return { primaryId: entries[0]?.slice(0, entries[0].indexOf(':')) as string, keys };
}

function encrypt(key: Buffer, plaintext: Buffer, aad: string): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), ciphertext]);
}

function decrypt(key: Buffer, box: Buffer, aad: string, what: string): Buffer {
  if (box.length < IV_BYTES + TAG_BYTES) throw new SecretBoxError(`${what} is truncated`);
  const decipher = createDecipheriv('aes-256-gcm', key, box.subarray(0, IV_BYTES));
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(box.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(box.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
  } catch {
    throw new SecretBoxError(`${what} does not authenticate: it was altered, or belongs to another row`);
  }
}

const wrapAad = (keyId: string, context: string) => `webhook-secret-key:${keyId}:${context}`;
const secretAad = (context: string) => `webhook-secret:${context}`;

function kek(ring: KeyRing, keyId: string, context: string): Buffer {
  const key = ring.keys.get(keyId);
  if (!key) {
    throw new SecretBoxError(`the secret of ${context} is sealed with key id ${keyId}, which ${SECRET_KEYS_VARIABLE} does not list`);
  }
  return key;
}

function unwrap(ring: KeyRing, { keyId, box }: Sealed, context: string): Buffer {
  if (box.length < WRAPPED_BYTES) throw new SecretBoxError(`the secret of ${context} is truncated`);
  return decrypt(kek(ring, keyId, context), box.subarray(0, WRAPPED_BYTES), wrapAad(keyId, context), `the data key of ${context}`);
}

/** Seals `secret` for the row `context` (the provider id) under the ring's first key, with a fresh data key. */
export function seal(ring: KeyRing, secret: string, context: string): Sealed {
  const dataKey = randomBytes(KEY_BYTES);
  const keyId = ring.primaryId;
  const wrapped = encrypt(kek(ring, keyId, context), dataKey, wrapAad(keyId, context));
  return { keyId, box: Buffer.concat([wrapped, encrypt(dataKey, Buffer.from(secret, 'utf8'), secretAad(context))]) };
}

/**
 * Secrets already opened, per ring: every webhook is signed with its endpoint's secret, and its
 * two AES-GCM decryptions were about a tenth of the notifier's CPU. Keyed by all that the box
 * authenticates (key id, provider, every byte), so an altered or moved box is a miss, and fails.
 */
const opened = new WeakMap<KeyRing, Map<string, string>>();
const OPENED_LIMIT = 10_000;

/** The secret in `sealed`; a SecretBoxError when its key id is unknown or anything was altered. */
export function open(ring: KeyRing, sealed: Sealed, context: string): string {
  let cache = opened.get(ring);
  if (!cache) {
    cache = new Map();
    opened.set(ring, cache);
  }
  const key = `${sealed.keyId}\0${context}\0${sealed.box.toString('base64')}`;
  const known = cache.get(key);
  if (known !== undefined) return known;
  const dataKey = unwrap(ring, sealed, context);
  const secret = decrypt(dataKey, sealed.box.subarray(WRAPPED_BYTES), secretAad(context), `the secret of ${context}`).toString('utf8');
  if (cache.size >= OPENED_LIMIT) cache.clear();
  cache.set(key, secret);
  return secret;
}

/**
 * The same secret with its data key wrapped by the ring's first key (the secret's ciphertext
 * untouched), or undefined when it already is. A SecretBoxError when it does not open.
 */
export function rewrap(ring: KeyRing, sealed: Sealed, context: string): Sealed | undefined {
  if (sealed.keyId === ring.primaryId) return undefined;
  const dataKey = unwrap(ring, sealed, context);
  const keyId = ring.primaryId;
  const wrapped = encrypt(kek(ring, keyId, context), dataKey, wrapAad(keyId, context));
  return { keyId, box: Buffer.concat([wrapped, sealed.box.subarray(WRAPPED_BYTES)]) };
}
