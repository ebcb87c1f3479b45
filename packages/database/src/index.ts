export { createMysqlEventHistory, type EventHistory, type HistoryEntry } from './event-history.ts';
export {
  loadMigrations,
  MIGRATIONS_DIR,
  type Migration,
  migrate,
  migrateToLatest,
  requireSchemaVersion,
  SchemaTooOldError,
} from './migrations.ts';
