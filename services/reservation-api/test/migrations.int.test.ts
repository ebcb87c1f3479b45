import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { SchemaTooOldError } from '@reservations/database';
import { freshDatabase, testApp } from './support/app.ts';
import { sql } from './support/fixtures.ts';

function runMigrate(url: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [fileURLToPath(new URL('migrate.ts', import.meta.resolve('@reservations/database')))], {
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
    expect(await runMigrate(db.primaryUrl)).toEqual({ code: 0, out: 'migrated to version 2 (applied 1, 2)\n' });
    const [a, b] = await Promise.all([runMigrate(db.primaryUrl), runMigrate(db.primaryUrl)]);
    expect([a, b]).toEqual([
      { code: 0, out: 'schema already at version 2\n' },
      { code: 0, out: 'schema already at version 2\n' },
    ]);
    expect(await sql(db.primaryUrl, 'SELECT version, name FROM schema_migrations')).toEqual([
      { version: 1, name: 'booking_core' },
      { version: 2, name: 'event_pipeline' },
    ]);
  });

  it('the service refuses to start on a schema older than it needs, saying what to run', async () => {
    const db = await freshDatabase('rsv_old_schema');
    const boot = testApp({ MYSQL_PRIMARY_URL: db.primaryUrl });
    await expect(boot).rejects.toThrow(SchemaTooOldError);
    await expect(boot).rejects.toThrow(/schema version 0 in the primary is older than the 1 this build needs: run `npm run migrate/);
  });
});
