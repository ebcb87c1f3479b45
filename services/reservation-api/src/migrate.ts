// `npm run migrate -w @reservations/reservation-api`: applies the numbered files in ../migrations.
import { join } from 'node:path';
import { loadConfigOrExit, loadMigrations, migrate, secret } from '@reservations/service-kit';
import { Type } from 'typebox';

export const MIGRATIONS_DIR = join(import.meta.dirname, '..', 'migrations');

if (import.meta.main) {
  const { MYSQL_PRIMARY_URL } = loadConfigOrExit(
    'migrate',
    Type.Object({ MYSQL_PRIMARY_URL: secret(Type.String({ pattern: '^mysql://', description: 'the MySQL primary to migrate' })) }),
  );
  const { applied, version } = await migrate(MYSQL_PRIMARY_URL, loadMigrations(MIGRATIONS_DIR));
  process.stdout.write(
    applied.length ? `migrated to version ${version} (applied ${applied.join(', ')})\n` : `schema already at version ${version}\n`,
  );
}
