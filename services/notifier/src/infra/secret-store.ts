import { ConfigError } from '@reservations/service-kit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Pool, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { Gauge, type Registry } from 'prom-client';
import {
  currentSealed,
  inOverlap,
  previousSealed,
  SECRET_COLUMN_NAMES,
  type SecretColumns,
  sealedColumns,
} from '../domain/endpoint-secrets.ts';
import { type KeyRing, parseKeyRing, rewrap, SECRET_KEYS_VARIABLE, type Sealed, SecretBoxError } from '../domain/secret-box.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** The KEKs webhook secrets are sealed with (WEBHOOK_SECRET_KEYS). */
    secretKeys: KeyRing;
  }
}

/** The endpoint's secret columns, for a SELECT (`w.secret, w.secret_key_id, …`). */
export const secretColumnsSql = (alias: string) => SECRET_COLUMN_NAMES.map((c) => `${alias}.${c}`).join(', ');

/** The secret columns of a row read with `secretColumnsSql`; null when the row (a LEFT JOIN's) has no endpoint. */
export function secretColumnsOf(row: RowDataPacket): SecretColumns | null {
  if (row.secret == null && row.secret_sealed == null) return null;
  return Object.fromEntries(SECRET_COLUMN_NAMES.map((c) => [c, row[c] ?? null])) as unknown as SecretColumns;
}

export interface SweepResult {
  /** Plaintext secrets sealed. */
  sealed: number;
  /** Secrets whose data key was re-wrapped with the first KEK. */
  rewrapped: number;
  /** Previous secrets past their overlap, dropped. */
  expired: number;
  /** Secrets that do not open, by the KEK id they name (unknown ids, or altered boxes). */
  unopened: Map<string, number>;
}

type SweptRow = RowDataPacket & SecretColumns & { provider_id: string };

/**
 * Brings every endpoint's secrets to the state this notifier writes: plaintext ones (from before
 * secrets were sealed, or written by an older notifier during an upgrade) sealed, data keys not
 * wrapped with the first KEK re-wrapped (a KEK rotation), previous secrets past their overlap
 * dropped. Each row is written only if it still holds what was read, so a rotation under way wins
 * and the next sweep looks again; running it on several replicas at once is harmless.
 */
export async function sweepSecrets(pool: Pool, ring: KeyRing): Promise<SweepResult> {
  const [rows] = await pool.query<SweptRow[]>(
    `SELECT provider_id, ${SECRET_COLUMN_NAMES.join(', ')} FROM webhook_endpoints
     WHERE secret IS NOT NULL OR secret_key_id <> ? OR previous_secret_key_id <> ? OR previous_secret_until <= NOW(3)`,
    [ring.primaryId, ring.primaryId],
  );
  const result: SweepResult = { sealed: 0, rewrapped: 0, expired: 0, unopened: new Map() };
  const now = new Date();
  for (const row of rows) {
    const provider = row.provider_id;
    const changes: Partial<SecretColumns> = {};
    const counts = { sealed: 0, rewrapped: 0, expired: 0 };
    const rewrapped = (sealed: Sealed | undefined): Sealed | undefined => {
      if (!sealed) return undefined;
      try {
        return rewrap(ring, sealed, provider);
      } catch (err) {
        if (!(err instanceof SecretBoxError)) throw err;
        result.unopened.set(sealed.keyId, (result.unopened.get(sealed.keyId) ?? 0) + 1);
        return undefined;
      }
    };
    const current = currentSealed(row);
    if (!current && row.secret) {
      Object.assign(changes, sealedColumns(ring, provider, row.secret));
      counts.sealed++;
    } else {
      if (row.secret !== null) changes.secret = null; // sealed already: the plaintext beside it goes
      const moved = rewrapped(current);
      if (moved) {
        Object.assign(changes, { secret_key_id: moved.keyId, secret_sealed: moved.box });
        counts.rewrapped++;
      }
    }
    if (previousSealed(row) && !inOverlap(row, now)) {
      Object.assign(changes, { previous_secret_key_id: null, previous_secret_sealed: null, previous_secret_until: null });
      counts.expired++;
    } else {
      const moved = rewrapped(previousSealed(row));
      if (moved) {
        Object.assign(changes, { previous_secret_key_id: moved.keyId, previous_secret_sealed: moved.box });
        counts.rewrapped++;
      }
    }
    const columns = Object.keys(changes) as (keyof SecretColumns)[];
    if (columns.length === 0) continue;
    const [written] = await pool.query<ResultSetHeader>(
      `UPDATE webhook_endpoints SET ${columns.map((c) => `${c} = ?`).join(', ')}
       WHERE provider_id = ? AND ${SECRET_COLUMN_NAMES.map((c) => `${c} <=> ?`).join(' AND ')}`,
      [...columns.map((c) => changes[c]), provider, ...SECRET_COLUMN_NAMES.map((c) => row[c])],
    );
    if (written.affectedRows === 0) continue; // rotated or removed meanwhile
    result.sealed += counts.sealed;
    result.rewrapped += counts.rewrapped;
    result.expired += counts.expired;
  }
  return result;
}

/** How many stored secrets each KEK id seals (`plaintext`: not sealed yet), for the SRE removing an old KEK. */
export async function secretsByKey(pool: Pool): Promise<Map<string, number>> {
  const [rows] = await pool.query<RowDataPacket[]>(
    `SELECT key_id, COUNT(*) AS n FROM (
       SELECT COALESCE(secret_key_id, 'plaintext') AS key_id FROM webhook_endpoints
       UNION ALL SELECT previous_secret_key_id FROM webhook_endpoints WHERE previous_secret_key_id IS NOT NULL
     ) AS s GROUP BY key_id`,
  );
  return new Map(rows.map((r) => [r.key_id as string, Number(r.n)]));
}

function unopenedMessage(unopened: Map<string, number>): string {
  const list = [...unopened].map(([id, n]) => `${id} (${n})`).join(', ');
  return `webhook secrets sealed with key ids ${list} do not open with ${SECRET_KEYS_VARIABLE}: list the key ids again (after the first) until they are re-wrapped`;
}

export interface SecretStoreOptions {
  /** WEBHOOK_SECRET_KEYS. */
  keys: string;
  /** How often the sweep runs after the one at start. */
  sweepIntervalMs: number;
  registry: Registry;
}

/**
 * The KEKs, and the sweep: once before the notifier serves (a secret that no configured KEK opens
 * stops the start with a config error naming WEBHOOK_SECRET_KEYS, so a rollout that dropped a KEK
 * still in use goes no further), then every `sweepIntervalMs`.
 */
export const secretStore = fp<SecretStoreOptions>(
  async (app: FastifyInstance, { keys, sweepIntervalMs, registry }) => {
    const ring = parseKeyRing(keys);
    app.decorate('secretKeys', ring);
    const pool = app.db;
    new Gauge({
      name: 'webhook_secrets_stored',
      help: 'webhook signing secrets stored, by the id of the key-encryption key that seals them (plaintext: not sealed yet)',
      labelNames: ['key_id'] as const,
      registers: [registry],
      async collect() {
        // A database that fails the read leaves the last figures rather than failing the scrape.
        try {
          const counts = await secretsByKey(pool);
          this.reset();
          for (const [keyId, n] of counts) this.set({ key_id: keyId }, n);
        } catch (err) {
          app.log.debug({ err }, 'counting the stored webhook secrets failed');
        }
      },
    });
    const sweep = async () => {
      const { unopened, ...counts } = await sweepSecrets(pool, ring);
      if (counts.sealed || counts.rewrapped || counts.expired) app.log.info(counts, 'webhook secrets swept');
      return unopened;
    };
    const unopened = await sweep();
    if (unopened.size) throw new ConfigError(unopenedMessage(unopened));
    const timer = setInterval(() => {
      sweep()
        .then((left) => {
          if (left.size) app.log.error(unopenedMessage(left));
        })
        .catch((err: unknown) => app.log.warn({ err }, 'the webhook secret sweep failed; it runs again at the next interval'));
    }, sweepIntervalMs);
    timer.unref();
    app.addHook('onClose', async () => clearInterval(timer));
  },
  { name: 'secret-store', dependencies: ['db'] },
);
