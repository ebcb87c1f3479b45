import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { loadMigrations, MIGRATIONS_DIR, migrate } from '@reservations/database';
import { createResource } from '@reservations/reservation-api/testing';
import { ConfigError } from '@reservations/service-kit';
import { waitUntil } from '@reservations/testkit';
import type { FastifyInstance } from 'fastify';
import type { RowDataPacket } from 'mysql2/promise';
import mysql from 'mysql2/promise';
import { Registry } from 'prom-client';
import { Webhook } from 'standardwebhooks';
import { buildApp } from '../src/app.ts';
import { open, parseKeyRing } from '../src/domain/secret-box.ts';
import {
  bearer,
  bookHour,
  freshDatabase,
  freshQueue,
  migratedDatabase,
  notifierConfig,
  relayingWriter,
  startReceiver,
  WEBHOOK_SECRET_KEYS,
} from './support/pipeline.ts';

// Webhook secrets sealed at rest, rotations with an overlap, and a KEK rotation, against MariaDB,
// the queue and a real receiver. Signatures are checked with the `standardwebhooks` library, as
// a provider's receiver would, not with the notifier's own verifier.

const PROVIDER = 'prov-secrets';
const KEK_2 = `kek-2:${Buffer.alloc(32, 2).toString('base64')}`;
let writer: FastifyInstance;
let notifier: FastifyInstance | undefined;
let primaryUrl: string;
let queue: { queueUrl: string; dlqUrl: string };
let resourceId: string;
/** What the receiver verifies with: the secret the provider last received. */
let secret: string | undefined;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let slot = 0;

const startNotifier = (keys = WEBHOOK_SECRET_KEYS) =>
  buildApp(notifierConfig(primaryUrl, queue, { WEBHOOK_SECRET_KEYS: keys }), { registry: new Registry(), logger: false });

/** The notifier running now (one at a time: a KEK rotation replaces it). */
const running = () => notifier as FastifyInstance;

const book = () => bookHour(writer, resourceId, new Date(Date.UTC(2032, 0, 1) + slot++ * 3_600_000), 'carol');

/** The webhook of `reservationId`'s booking, once it has arrived and verified with the receiver's secret. */
async function delivered(reservationId: string) {
  let found: (typeof receiver.receipts)[number] | undefined;
  await waitUntil(`the webhook of ${reservationId} is accepted`, () => {
    found = [...receiver.effects.values()].find((r) => JSON.parse(r.body).reservation.id === reservationId);
    if (!found) {
      const refused = receiver.receipts.filter((r) => r.invalid).map((r) => r.invalid);
      throw new Error(`not yet; ${receiver.receipts.length} requests received, refused: ${JSON.stringify(refused)}`);
    }
    return true;
  });
  return found as NonNullable<typeof found>;
}

/** Whether the `standardwebhooks` library accepts the request with `key`. */
function verifies(key: string, { body, headers }: { body: string; headers: Record<string, unknown> }): boolean {
  try {
    new Webhook(key).verify(body, headers as Record<string, string>);
    return true;
  } catch {
    return false;
  }
}

async function storedRow(provider = PROVIDER) {
  const [[row]] = await running().db.query<RowDataPacket[]>(
    `SELECT secret, secret_key_id, secret_sealed, previous_secret_key_id, previous_secret_sealed, previous_secret_until
     FROM webhook_endpoints WHERE provider_id = ?`,
    [provider],
  );
  return row;
}

/** Whether any stored byte sequence holds the secret, as text or as its key bytes. */
function holdsPlaintext(row: RowDataPacket | undefined, key: string): boolean {
  const raw = [Buffer.from(key), Buffer.from(key.slice('whsec_'.length), 'base64')];
  return Object.values(row ?? {}).some((value) => {
    const bytes = Buffer.isBuffer(value) ? value : Buffer.from(String(value));
    return raw.some((r) => bytes.includes(r));
  });
}

const putWebhook = (payload: object) =>
  running().inject({ method: 'PUT', url: `/v1/providers/${PROVIDER}/webhook`, headers: bearer('provider', PROVIDER), payload });

const rotate = (payload?: unknown, provider = PROVIDER, as = bearer('provider', provider)) =>
  running().inject({
    method: 'POST',
    url: `/v1/providers/${provider}/webhook/rotate-secret`,
    headers: payload === undefined ? as : { ...as, 'content-type': 'application/json' },
    ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
  });

beforeAll(async () => {
  const db = await migratedDatabase('ntf_secrets');
  primaryUrl = db.primaryUrl;
  queue = await freshQueue('secrets');
  receiver = await startReceiver(() => secret);
  writer = await relayingWriter(primaryUrl, queue.queueUrl);
  notifier = await startNotifier();
  await notifier.ready();
  resourceId = await createResource(writer, { providerId: PROVIDER });
});

afterAll(async () => {
  await Promise.all([writer?.close(), notifier?.close()]);
  await receiver?.close();
});

describe('webhook secrets at rest', () => {
  it('the row holds the secret sealed under the first KEK, never in plaintext; the API never shows it again', async () => {
    const put = await putWebhook({ url: receiver.url });
    expect(put.statusCode).toBe(201);
    secret = put.json().secret as string;
    expect(secret).toMatch(/^whsec_/);
    const row = await storedRow();
    expect(row).toMatchObject({ secret: null, secret_key_id: 'kek-1', previous_secret_sealed: null });
    expect(holdsPlaintext(row, secret)).toBe(false);

    const again = await putWebhook({ url: receiver.url });
    expect(again.statusCode).toBe(200);
    expect(again.json().secret).toBeUndefined();
    const got = await running().inject({ method: 'GET', url: `/v1/providers/${PROVIDER}/webhook`, headers: bearer('provider', PROVIDER) });
    expect(got.json()).toEqual({ url: receiver.url, createdAt: expect.any(String), updatedAt: expect.any(String) });

    const hook = await delivered(await book());
    expect(String(hook.headers['webhook-signature']).split(' ')).toHaveLength(1);
    expect(verifies(secret, hook)).toBe(true);
  });

  it('a plaintext secret an older notifier left is sealed when a notifier starts, and still signs', async () => {
    const legacy = 'prov-secrets-legacy';
    const key = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
    await running().db.query('INSERT INTO webhook_endpoints (provider_id, url, secret) VALUES (?, ?, ?)', [legacy, receiver.url, key]);
    const other = await startNotifier();
    try {
      await other.ready();
      const row = await storedRow(legacy);
      expect(row).toMatchObject({ secret: null, secret_key_id: 'kek-1' });
      expect(holdsPlaintext(row, key)).toBe(false);
    } finally {
      await other.close();
    }
    const legacyResource = await createResource(writer, { providerId: legacy });
    const booked = await bookHour(writer, legacyResource, new Date(Date.UTC(2033, 0, 1)), 'carol');
    let hook: (typeof receiver.receipts)[number] | undefined;
    await waitUntil('the legacy provider’s webhook arrives', () => {
      hook = receiver.receipts.find((r) => JSON.parse(r.body).reservation.id === booked);
      return hook !== undefined;
    });
    expect(verifies(key, hook as NonNullable<typeof hook>)).toBe(true);
  });
});

describe('upgrading a database whose secrets are in plaintext', () => {
  it('migration 6 keeps the row as it was; the first notifier to start seals it, and the sealed box opens to the same secret', async () => {
    const db = await freshDatabase('ntf_secrets_upgrade');
    expect(await migrate(db.primaryUrl, loadMigrations(MIGRATIONS_DIR).slice(0, 5))).toEqual({ applied: [1, 2, 3, 4, 5], version: 5 });
    const key = `whsec_${Buffer.alloc(32, 3).toString('base64')}`;
    const conn = await mysql.createConnection(db.primaryUrl);
    try {
      await conn.query('INSERT INTO webhook_endpoints (provider_id, url, secret) VALUES (?, ?, ?)', [
        'acme',
        'https://hooks.example.com/a',
        key,
      ]);
      expect(await db.migrate()).toEqual({ applied: [6, 7, 8], version: 8 });
      const read = async () => (await conn.query<RowDataPacket[]>('SELECT * FROM webhook_endpoints'))[0];
      expect(await read()).toEqual([
        expect.objectContaining({ provider_id: 'acme', secret: key, secret_key_id: null, secret_sealed: null }),
      ]);

      const upgraded = await buildApp(notifierConfig(db.as.notifier.primaryUrl, await freshQueue('secrets-upgrade')), {
        registry: new Registry(),
        logger: false,
      });
      await upgraded.close();
      const [row] = await read();
      expect(row).toMatchObject({ provider_id: 'acme', url: 'https://hooks.example.com/a', secret: null, secret_key_id: 'kek-1' });
      expect(holdsPlaintext(row, key)).toBe(false);
      expect(open(parseKeyRing(WEBHOOK_SECRET_KEYS), { keyId: row?.secret_key_id, box: row?.secret_sealed }, 'acme')).toBe(key);
    } finally {
      await conn.end();
    }
  });
});

describe('rotating an endpoint’s signing secret', () => {
  it('during the overlap every delivery carries both signatures: the old secret and the new one each verify', async () => {
    const old = secret as string;
    const rotated = await rotate({ overlapSeconds: 3600 });
    expect(rotated.statusCode).toBe(200);
    const body = rotated.json();
    expect(body.secret).toMatch(/^whsec_/);
    expect(body.secret).not.toBe(old);
    const until = Date.parse(body.previousSecretExpiresAt);
    expect(until - Date.parse(body.updatedAt)).toBe(3_600_000);
    secret = body.secret;
    const row = await storedRow();
    expect(row).toMatchObject({ secret: null, secret_key_id: 'kek-1', previous_secret_key_id: 'kek-1' });
    expect(holdsPlaintext(row, body.secret) || holdsPlaintext(row, old)).toBe(false);
    // Shown on reads while it lasts; the secret never is.
    const got = await running().inject({ method: 'GET', url: `/v1/providers/${PROVIDER}/webhook`, headers: bearer('provider', PROVIDER) });
    expect(got.json()).toMatchObject({ previousSecretExpiresAt: body.previousSecretExpiresAt });
    expect(got.json().secret).toBeUndefined();

    const hook = await delivered(await book());
    const signatures = String(hook.headers['webhook-signature']).split(' ');
    expect(signatures).toHaveLength(2);
    expect(signatures.every((s) => s.startsWith('v1,'))).toBe(true);
    expect(verifies(body.secret, hook)).toBe(true);
    expect(verifies(old, hook)).toBe(true);
    expect(verifies(`whsec_${Buffer.alloc(32, 5).toString('base64')}`, hook)).toBe(false);
  });

  it('after the overlap only the new secret signs: the old one no longer verifies', async () => {
    const first = secret as string;
    // A rotation during an overlap ends that overlap: the secret it replaces is the one kept.
    const rotated = await rotate({ overlapSeconds: 1 });
    expect(rotated.statusCode).toBe(200);
    const newest = rotated.json().secret as string;
    secret = newest;
    await waitUntil('the overlap ends', async () => {
      const got = await running().inject({
        method: 'GET',
        url: `/v1/providers/${PROVIDER}/webhook`,
        headers: bearer('provider', PROVIDER),
      });
      if (got.json().previousSecretExpiresAt) throw new Error(`still in the overlap: ${got.body}`);
      return true;
    });
    const hook = await delivered(await book());
    expect(String(hook.headers['webhook-signature']).split(' ')).toHaveLength(1);
    expect(verifies(newest, hook)).toBe(true);
    expect(verifies(first, hook)).toBe(false);
  });

  it('with overlapSeconds 0 (a leaked secret) the old one stops at once; without overlapSeconds the default overlap applies', async () => {
    const leaked = secret as string;
    const now = await rotate({ overlapSeconds: 0 });
    expect(now.statusCode).toBe(200);
    expect(now.json().previousSecretExpiresAt).toBeUndefined();
    expect(await storedRow()).toMatchObject({ previous_secret_sealed: null, previous_secret_until: null });
    secret = now.json().secret;
    const hook = await delivered(await book());
    expect(verifies(leaked, hook)).toBe(false);
    expect(verifies(secret as string, hook)).toBe(true);

    const byDefault = await rotate({});
    expect(byDefault.statusCode).toBe(200);
    expect(Date.parse(byDefault.json().previousSecretExpiresAt) - Date.parse(byDefault.json().updatedAt)).toBe(86_400_000);
    secret = byDefault.json().secret;
  });

  it('PUT with rotateSecret rotates with the default overlap too', async () => {
    const old = secret as string;
    const put = await putWebhook({ url: receiver.url, rotateSecret: true });
    expect(put.statusCode).toBe(200);
    expect(Date.parse(put.json().previousSecretExpiresAt) - Date.parse(put.json().updatedAt)).toBe(86_400_000);
    secret = put.json().secret;
    const hook = await delivered(await book());
    expect(verifies(old, hook)).toBe(true);
    expect(verifies(secret as string, hook)).toBe(true);
  });

  it.each([
    ['a negative overlap', { overlapSeconds: -1 }, 'body/overlapSeconds'],
    ['an overlap past 7 days', { overlapSeconds: 604_801 }, 'body/overlapSeconds'],
    ['a fractional overlap', { overlapSeconds: 1.5 }, 'body/overlapSeconds'],
    ['an overlap as text', { overlapSeconds: 'a day' }, 'body/overlapSeconds'],
    ['an unknown field', { overlap: 60 }, 'body/overlap'],
    ['a body that is not an object', [60], 'body'],
    ['no body', undefined, 'body'],
  ])('refuses %s with a 400 naming %s, and changes nothing', async (_what, payload, field) => {
    const before = await storedRow();
    const refused = await rotate(payload);
    expect(refused.statusCode).toBe(400);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.json().errors).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
    expect(await storedRow()).toEqual(before);
  });

  it('another provider gets a 403 and an admin may rotate; a provider without an endpoint gets a 404; nothing is written', async () => {
    const before = await storedRow();
    const other = await rotate({}, PROVIDER, bearer('provider', 'prov-other'));
    expect(other.statusCode).toBe(403);
    expect(other.headers['content-type']).toMatch(/^application\/problem\+json/);
    const customer = await rotate({}, PROVIDER, bearer('customer', 'carol'));
    expect(customer.statusCode).toBe(403);
    expect(await storedRow()).toEqual(before);
    const none = await rotate({}, 'prov-without-endpoint');
    expect(none.statusCode).toBe(404);
    expect(none.json().type).toMatch(/webhook-not-found$/);
    expect(await storedRow('prov-without-endpoint')).toBeUndefined();

    const byAdmin = await rotate({ overlapSeconds: 600 }, PROVIDER, bearer('admin', 'admin-1'));
    expect(byAdmin.statusCode).toBe(200);
    secret = byAdmin.json().secret;
  });
});

describe('rotating the key-encryption key', () => {
  it('listed first, the new KEK re-wraps every data key when a notifier starts; the old KEK can then go, and deliveries still verify', async () => {
    const previous = await storedRow();
    expect(previous).toMatchObject({ secret_key_id: 'kek-1', previous_secret_key_id: 'kek-1' });
    await running().close();
    notifier = undefined;

    // Step 1: the new KEK first, the old one kept. The start re-wraps.
    const registry = new Registry();
    notifier = await buildApp(notifierConfig(primaryUrl, queue, { WEBHOOK_SECRET_KEYS: `${KEK_2},${WEBHOOK_SECRET_KEYS}` }), {
      registry,
      logger: false,
    });
    await notifier.ready();
    const rewrapped = await storedRow();
    expect(rewrapped).toMatchObject({ secret_key_id: 'kek-2', previous_secret_key_id: 'kek-2' });
    // Only the 60-byte wrapped data key changed: the secret's ciphertext is the one it was.
    expect(Buffer.from(rewrapped?.secret_sealed).subarray(60)).toEqual(Buffer.from(previous?.secret_sealed).subarray(60));
    expect(Buffer.from(rewrapped?.secret_sealed).subarray(0, 60)).not.toEqual(Buffer.from(previous?.secret_sealed).subarray(0, 60));
    const [[counts]] = await running().db.query<RowDataPacket[]>(
      "SELECT SUM(secret_key_id = 'kek-1') + SUM(COALESCE(previous_secret_key_id = 'kek-1', 0)) AS old FROM webhook_endpoints",
    );
    expect(Number(counts?.old)).toBe(0);
    // What an SRE watches before removing the old KEK.
    const metrics = await registry.metrics();
    expect(metrics).toMatch(/webhook_secrets_stored\{key_id="kek-2"\} [1-9]/);
    expect(metrics).not.toContain('key_id="kek-1"');
    await running().close();
    notifier = undefined;

    // Step 2: the old KEK removed. Deliveries still sign with both secrets of the overlap.
    notifier = await startNotifier(KEK_2);
    await notifier.ready();
    const hook = await delivered(await book());
    expect(verifies(secret as string, hook)).toBe(true);
    expect(String(hook.headers['webhook-signature']).split(' ')).toHaveLength(2);
  });

  it('a notifier whose keys do not open a stored secret refuses to start, naming the variable and the key id', async () => {
    const registry = new Registry();
    const boot = buildApp(notifierConfig(primaryUrl, queue, { WEBHOOK_SECRET_KEYS: WEBHOOK_SECRET_KEYS }), { registry, logger: false });
    await expect(boot).rejects.toThrow(ConfigError);
    await expect(boot).rejects.toThrow(/webhook secrets sealed with key ids kek-2 \(\d+\) do not open with WEBHOOK_SECRET_KEYS/);
    expect((await storedRow())?.secret_key_id).toBe('kek-2');
  });
});
