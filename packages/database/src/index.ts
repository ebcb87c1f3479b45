export { createMysqlEventHistory, type EventHistory, type HistoryEntry, streamPositions } from './event-history.ts';
export { type GrantReport, grantServiceUsers, MissingAccountError, type ServiceAccount } from './grant-users.ts';
export {
  type Account,
  DB_SERVICES,
  type DbService,
  grantedTables,
  grantStatements,
  parseAccount,
  revokeStatements,
  SERVICE_GRANTS,
} from './grants.ts';
export {
  loadMigrations,
  MIGRATE_COMMAND,
  MIGRATIONS_DIR,
  type Migration,
  migrate,
  migrateToLatest,
  requireSchemaVersion,
  SchemaTooOldError,
} from './migrations.ts';
export {
  allocate,
  customerId,
  generateSeed,
  providerId,
  random,
  SEED_DEFAULTS,
  type SeedOptions,
  type SeedReservation,
  type SeedResource,
  sampler,
  uuid,
  zipfWeights,
} from './seed-data.ts';
export { type SeedProgress, type SeedReport, seedDatabase } from './seeding.ts';
export { activeReservation, NEAR_WINDOW, RESOURCE_LIST } from './sql.ts';
