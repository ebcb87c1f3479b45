export { createMysqlEventHistory, type EventHistory, type HistoryEntry } from './event-history.ts';
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
