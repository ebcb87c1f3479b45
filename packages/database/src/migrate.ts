// The migrate command: `node packages/database/src/migrate.ts` (`dist/migrate.mjs` in the reservation-api image),
// or `npm run migrate -w @reservations/database`. Applies the numbered files in ../migrations.
import { loadConfigOrExit, secret } from '@reservations/service-kit';
import { Type } from 'typebox';
import { migrateToLatest } from './migrations.ts';

const { MYSQL_PRIMARY_URL } = loadConfigOrExit(
  'migrate',
  Type.Object({ MYSQL_PRIMARY_URL: secret(Type.String({ pattern: '^mysql://', description: 'the MySQL primary to migrate' })) }),
);
const { applied, version } = await migrateToLatest(MYSQL_PRIMARY_URL);
process.stdout.write(
  applied.length ? `migrated to version ${version} (applied ${applied.join(', ')})\n` : `schema already at version ${version}\n`,
);
