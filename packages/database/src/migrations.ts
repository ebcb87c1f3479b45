import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assetDir, StartupError } from '@reservations/service-kit';
import mysql, { type RowDataPacket } from 'mysql2/promise';

/** A numbered SQL file: `003_add_notes.sql` is version 3. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const FILE = /^(\d+)_([a-z0-9_]+)\.sql$/;

/** The migrations in `dir`, in order; a gap or a duplicate number is a mistake worth failing on. */
export function loadMigrations(dir: string): Migration[] {
  const migrations = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .map((file) => {
      const match = FILE.exec(file);
      if (!match) throw new Error(`migration file ${file} must be named NNN_snake_case.sql`);
      return { version: Number(match[1]), name: match[2] as string, sql: readFileSync(join(dir, file), 'utf8') };
    })
    .sort((a, b) => a.version - b.version);
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration versions must run 1, 2, 3…; found ${m.version} at position ${i + 1}`);
  });
  return migrations;
}

/** The platform's schema: every service's tables, one numbered file per change (beside the bundle in an image). */
export const MIGRATIONS_DIR = assetDir(import.meta.dirname, 'migrations', () => join(import.meta.dirname, '..', 'migrations'));

/** The migrate command's file, for running it as a process (`node <MIGRATE_COMMAND>`, as the image's Job does). */
export const MIGRATE_COMMAND = join(import.meta.dirname, 'migrate.ts');

const LOCK = 'schema_migrations';

/**
 * Applies the migrations newer than the database's version, each recorded in `schema_migrations`.
 * A named lock makes concurrent runs (two pods starting) take turns, so running it twice, or
 * twice at once, applies each file exactly once. MySQL commits DDL implicitly, so a migration
 * that fails halfway is not rolled back: keep each file to statements that are safe to repeat.
 */
export async function migrate(url: string, migrations: Migration[]): Promise<{ applied: number[]; version: number }> {
  const conn = await mysql.createConnection({ uri: url, multipleStatements: true, timezone: 'Z' });
  try {
    const [[lock]] = await conn.query<RowDataPacket[]>('SELECT GET_LOCK(?, 60) AS got', [LOCK]);
    if (lock?.got !== 1) throw new Error('another migration run holds the lock');
    await conn.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INT UNSIGNED NOT NULL PRIMARY KEY,
      name VARCHAR(200) NOT NULL,
      applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
    ) ENGINE=InnoDB`);
    const current = await schemaVersion(conn);
    const applied: number[] = [];
    for (const m of migrations.filter((m) => m.version > current)) {
      await conn.query(m.sql);
      await conn.query('INSERT INTO schema_migrations (version, name) VALUES (?, ?)', [m.version, m.name]);
      applied.push(m.version);
    }
    await conn.query('SELECT RELEASE_LOCK(?)', [LOCK]);
    return { applied, version: Math.max(current, ...applied) };
  } finally {
    await conn.end();
  }
}

async function schemaVersion(conn: Pick<mysql.Connection, 'query'>): Promise<number> {
  try {
    const [[row]] = await conn.query<RowDataPacket[]>('SELECT COALESCE(MAX(version), 0) AS version FROM schema_migrations');
    return Number(row?.version ?? 0);
  } catch (err) {
    if ((err as { errno?: number }).errno === 1146) return 0; // no such table: nothing applied yet
    throw err;
  }
}

/** The schema is older than this build needs; the message says what to run. */
export class SchemaTooOldError extends StartupError {
  override name = 'SchemaTooOldError';
}

/** Refuses to go on unless the database has at least `required` applied (checked at boot, not per request). */
export async function requireSchemaVersion(pool: Pick<mysql.Pool, 'query'>, required: number, where = 'the database'): Promise<number> {
  const version = await schemaVersion(pool);
  if (version < required) {
    throw new SchemaTooOldError(
      `schema version ${version} in ${where} is older than the ${required} this build needs: run \`npm run migrate -w @reservations/database\``,
    );
  }
  return version;
}

/** Brings the database at `url` to the newest schema in MIGRATIONS_DIR. */
export function migrateToLatest(url: string): Promise<{ applied: number[]; version: number }> {
  return migrate(url, loadMigrations(MIGRATIONS_DIR));
}
