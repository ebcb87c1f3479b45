import { spawn } from 'node:child_process';
import { describe, expect, it } from '@jest/globals';
import { loadMigrations, MIGRATE_COMMAND, MIGRATIONS_DIR, migrate, SchemaTooOldError } from '@reservations/database';
import mysql from 'mysql2/promise';
import { freshDatabase, testApp } from './support/app.ts';
import { sql } from './support/fixtures.ts';

/** Runs a script of several statements, as the migrate command does. */
async function script(url: string, text: string): Promise<void> {
  const conn = await mysql.createConnection({ uri: url, multipleStatements: true });
  try {
    await conn.query(text);
  } finally {
    await conn.end();
  }
}

function runMigrate(url: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MIGRATE_COMMAND], {
      env: { PATH: process.env.PATH, MYSQL_PRIMARY_URL: url },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (out += d));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

describe('migrations', () => {
  it('the migrate command applies every file once; running it again, even twice at once, changes nothing', async () => {
    const db = await freshDatabase('rsv_migrate');
    expect(await runMigrate(db.primaryUrl)).toEqual({ code: 0, out: 'migrated to version 8 (applied 1, 2, 3, 4, 5, 6, 7, 8)\n' });
    const [a, b] = await Promise.all([runMigrate(db.primaryUrl), runMigrate(db.primaryUrl)]);
    expect([a, b]).toEqual([
      { code: 0, out: 'schema already at version 8\n' },
      { code: 0, out: 'schema already at version 8\n' },
    ]);
    expect(await sql(db.primaryUrl, 'SELECT version, name FROM schema_migrations')).toEqual([
      { version: 1, name: 'booking_core' },
      { version: 2, name: 'event_pipeline' },
      { version: 3, name: 'exact_identities' },
      { version: 4, name: 'outbox_parking' },
      { version: 5, name: 'booking_policy' },
      { version: 6, name: 'sealed_webhook_secrets' },
      { version: 7, name: 'read_paths_at_scale' },
      { version: 8, name: 'overlap_reads_covered' },
    ]);
  });

  it('the service refuses to start on a schema older than it needs, saying what to run', async () => {
    const db = await freshDatabase('rsv_old_schema');
    const boot = testApp({ MYSQL_PRIMARY_URL: db.primaryUrl });
    await expect(boot).rejects.toThrow(SchemaTooOldError);
    await expect(boot).rejects.toThrow(/schema version 0 in the primary is older than the 8 this build needs: run `npm run migrate/);
  });

  it('3 makes every identity column exact: on a database at version 2 with rows in it, the data is unchanged', async () => {
    const db = await freshDatabase('rsv_exact');
    expect(await migrate(db.primaryUrl, loadMigrations(MIGRATIONS_DIR).slice(0, 2))).toEqual({ applied: [1, 2], version: 2 });
    const resource = '0b7e1f3a-9c2d-4e5f-8a6b-1c2d3e4f5a6b';
    const reservations = ['1a2b3c4d-0000-4000-8000-000000000001', '1a2b3c4d-0000-4000-8000-000000000002'];
    const event = (n: number) => `2b3c4d5e-0000-4000-8000-00000000000${n}`;
    const rows = `
      INSERT INTO resources (id, name, provider_id, time_zone) VALUES ('${resource}', 'Salle café', 'acme', 'Europe/Paris');
      INSERT INTO reservations (id, resource_id, customer_id, starts_at, ends_at, status, notes) VALUES
        ('${reservations[0]}', '${resource}', 'alice', '2034-01-01 10:00', '2034-01-01 11:00', 'confirmed', 'Café'),
        ('${reservations[1]}', '${resource}', 'café', '2034-01-01 11:00', '2034-01-01 12:00', 'held', NULL);
      INSERT INTO idempotency_keys (caller, route, idempotency_key, request_hash, expires_at) VALUES
        ('alice', 'POST /v1/reservations', 'k', '${'a'.repeat(64)}', '2034-01-02 00:00');
      INSERT INTO outbox (event_id, aggregate_type, aggregate_id, type, version, payload) VALUES
        ('${event(1)}', 'reservation', '${reservations[0]}', 'reservation.created', 1, '{}');
      INSERT INTO processed_events (event_id, type) VALUES ('${event(1)}', 'reservation.created');
      INSERT INTO provider_streams (provider_id, last_seq) VALUES ('acme', 1);
      INSERT INTO event_history (event_id, reservation_id, provider_id, provider_seq, type, version, occurred_at, payload) VALUES
        ('${event(1)}', '${reservations[0]}', 'acme', 1, 'reservation.created', 1, '2034-01-01 09:00', '{}');
      INSERT INTO webhook_endpoints (provider_id, url, secret) VALUES ('acme', 'https://acme.example/hook', 'whsec_x');
      INSERT INTO webhook_deliveries (event_id, provider_id, reservation_id, version, next_attempt_at) VALUES
        ('${event(1)}', 'acme', '${reservations[0]}', 1, '2034-01-01 09:00');`;
    await script(db.primaryUrl, rows);
    const tables = [
      'resources',
      'reservations',
      'idempotency_keys',
      'outbox',
      'processed_events',
      'provider_streams',
      'event_history',
      'webhook_endpoints',
      'webhook_deliveries',
    ];
    const dump = async () => Promise.all(tables.map((t) => sql(db.primaryUrl, `SELECT * FROM ${t} ORDER BY 1, 2`)));
    const before = await dump();

    expect(await migrate(db.primaryUrl, loadMigrations(MIGRATIONS_DIR).slice(0, 3))).toEqual({ applied: [3], version: 3 });
    expect(await dump()).toEqual(before);

    const collations = await sql<{ column: string; collation: string }>(
      db.primaryUrl,
      `SELECT CONCAT(TABLE_NAME, '.', COLUMN_NAME) AS \`column\`, COLLATION_NAME AS collation FROM information_schema.COLUMNS
        WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME <> 'schema_migrations' AND COLLATION_NAME IS NOT NULL ORDER BY 1`,
    );
    const exact = collations.filter((c) => c.collation === 'utf8mb4_nopad_bin').map((c) => c.column);
    expect(exact).toEqual([
      'event_history.event_id',
      'event_history.provider_id',
      'event_history.reservation_id',
      'idempotency_keys.caller',
      'idempotency_keys.idempotency_key',
      'idempotency_keys.request_hash',
      'idempotency_keys.route',
      'outbox.aggregate_id',
      'outbox.aggregate_type',
      'outbox.event_id',
      'processed_events.event_id',
      'provider_streams.provider_id',
      'reservations.customer_id',
      'reservations.id',
      'reservations.resource_id',
      'resources.id',
      'resources.provider_id',
      'webhook_deliveries.event_id',
      'webhook_deliveries.provider_id',
      'webhook_deliveries.reservation_id',
      'webhook_endpoints.provider_id',
    ]);
    // Human text keeps the default collation.
    expect(collations.filter((c) => ['resources.name', 'reservations.notes', 'resources.time_zone'].includes(c.column))).toEqual([
      { column: 'reservations.notes', collation: 'utf8mb4_unicode_ci' },
      { column: 'resources.name', collation: 'utf8mb4_unicode_ci' },
      { column: 'resources.time_zone', collation: 'utf8mb4_unicode_ci' },
    ]);
    // The foreign key came back, and the keys are exact: variants are other identities.
    expect(
      await sql(
        db.primaryUrl,
        `SELECT CONSTRAINT_NAME AS name FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE()`,
      ),
    ).toEqual([{ name: 'reservations_resource' }]);
    for (const provider of ['ACME', 'ácme', 'acme ']) {
      await sql(db.primaryUrl, `INSERT INTO webhook_endpoints (provider_id, url, secret) VALUES (?, 'https://x.example/', 'whsec_y')`, [
        provider,
      ]);
    }
    expect(await sql(db.primaryUrl, `SELECT provider_id FROM webhook_endpoints WHERE provider_id = 'acme'`)).toEqual([
      { provider_id: 'acme' },
    ]);
    expect(await sql(db.primaryUrl, `SELECT customer_id FROM reservations WHERE customer_id IN ('Alice', 'cafe')`)).toEqual([]);
    const after = await dump();

    // Running it again changes nothing (MySQL DDL is not transactional, so a half-applied run is retried).
    const again = loadMigrations(MIGRATIONS_DIR)[2];
    if (!again) throw new Error('migration 3 is missing');
    await script(db.primaryUrl, again.sql);
    expect(
      await sql(
        db.primaryUrl,
        'SELECT CONCAT(TABLE_NAME, COLUMN_NAME) AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND COLLATION_NAME = ?',
        ['utf8mb4_nopad_bin'],
      ),
    ).toHaveLength(exact.length);
    expect(await dump()).toEqual(after);
  });
  it('4 gives every outbox row a count of attempts and a parking mark: rows at version 3 keep their data, none parked', async () => {
    const db = await freshDatabase('rsv_parking');
    expect(await migrate(db.primaryUrl, loadMigrations(MIGRATIONS_DIR).slice(0, 3))).toEqual({ applied: [1, 2, 3], version: 3 });
    await sql(
      db.primaryUrl,
      `INSERT INTO outbox (event_id, aggregate_type, aggregate_id, type, version, payload) VALUES
        ('3c4d5e6f-0000-4000-8000-000000000001', 'resource', '4d5e6f70-0000-4000-8000-000000000001', 'resource.created', 1, '{"a":1}')`,
    );
    expect(await db.migrate()).toEqual({ applied: [4, 5, 6, 7, 8], version: 8 });
    expect(await sql(db.primaryUrl, 'SELECT event_id, payload, sent_at, attempts, last_error, parked_at FROM outbox')).toEqual([
      {
        event_id: '3c4d5e6f-0000-4000-8000-000000000001',
        payload: { a: 1 },
        sent_at: null,
        attempts: 0,
        last_error: null,
        parked_at: null,
      },
    ]);
  });
  it('7 gives each reservation its provider and each resource its longest window, from the rows at version 6', async () => {
    const db = await freshDatabase('rsv_scale');
    expect(await migrate(db.primaryUrl, loadMigrations(MIGRATIONS_DIR).slice(0, 6))).toEqual({ applied: [1, 2, 3, 4, 5, 6], version: 6 });
    const [busy, idle] = ['5e6f7081-0000-4000-8000-000000000001', '5e6f7081-0000-4000-8000-000000000002'];
    await script(
      db.primaryUrl,
      `INSERT INTO resources (id, name, provider_id, time_zone) VALUES ('${busy}', 'Court', 'acme', 'UTC'), ('${idle}', 'Shed', 'zenith', 'UTC');
       INSERT INTO reservations (id, resource_id, customer_id, starts_at, ends_at, status) VALUES
         ('6f708192-0000-4000-8000-000000000001', '${busy}', 'alice', '2034-01-01 10:00', '2034-01-01 11:30:00.250', 'confirmed'),
         ('6f708192-0000-4000-8000-000000000002', '${busy}', 'bob', '2034-01-01 12:00', '2034-01-01 12:30', 'cancelled');`,
    );
    expect(await db.migrate()).toEqual({ applied: [7, 8], version: 8 });
    expect(await sql(db.primaryUrl, 'SELECT id, provider_id FROM reservations ORDER BY id')).toEqual([
      { id: '6f708192-0000-4000-8000-000000000001', provider_id: 'acme' },
      { id: '6f708192-0000-4000-8000-000000000002', provider_id: 'acme' },
    ]);
    // 90 minutes and 250 ms; a resource without reservations has none.
    expect(await sql(db.primaryUrl, 'SELECT id, longest_reservation_ms FROM resources ORDER BY id')).toEqual([
      { id: busy, longest_reservation_ms: 5_400_250 },
      { id: idle, longest_reservation_ms: 0 },
    ]);
    const indexes = await sql<{ name: string }>(
      db.primaryUrl,
      `SELECT DISTINCT INDEX_NAME AS name FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'reservations' ORDER BY 1`,
    );
    expect(indexes.map((i) => i.name)).toEqual([
      'PRIMARY',
      'reservations_customer_holds',
      'reservations_customer_time',
      'reservations_provider_time',
      'reservations_resource_start',
      'reservations_resource_window',
      'reservations_status_time',
      'reservations_time',
    ]);
    // Again: nothing changes (every statement is safe to repeat).
    const seven = loadMigrations(MIGRATIONS_DIR)[6];
    if (!seven) throw new Error('migration 7 is missing');
    await script(db.primaryUrl, seven.sql);
    expect(await sql(db.primaryUrl, 'SELECT id, longest_reservation_ms FROM resources ORDER BY id')).toEqual([
      { id: busy, longest_reservation_ms: 5_400_250 },
      { id: idle, longest_reservation_ms: 0 },
    ]);
  });
  it('8 adds the index the overlap reads are served from, with every column they test; running it again changes nothing', async () => {
    const db = await freshDatabase('rsv_window');
    expect(await migrate(db.primaryUrl, loadMigrations(MIGRATIONS_DIR).slice(0, 7))).toEqual({
      applied: [1, 2, 3, 4, 5, 6, 7],
      version: 7,
    });
    expect(await db.migrate()).toEqual({ applied: [8], version: 8 });
    const columns = async () =>
      (
        await sql<{ name: string }>(
          db.primaryUrl,
          `SELECT COLUMN_NAME AS name FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()
             AND TABLE_NAME = 'reservations' AND INDEX_NAME = 'reservations_resource_window' ORDER BY SEQ_IN_INDEX`,
        )
      ).map((c) => c.name);
    const expected = ['resource_id', 'starts_at', 'ends_at', 'status', 'expires_at'];
    expect(await columns()).toEqual(expected);
    const eight = loadMigrations(MIGRATIONS_DIR)[7];
    if (!eight) throw new Error('migration 8 is missing');
    await script(db.primaryUrl, eight.sql);
    expect(await columns()).toEqual(expected);
  });
});
