import {
  createAdminServer,
  createRegistry,
  loadConfigOrExit,
  mysqlCheck,
  redisCheck,
  runService,
  SchemaTooOldError,
} from '@reservations/service-kit';
import { buildApp } from './app.ts';
import { QueryApiConfig } from './config.ts';

const config = loadConfigOrExit('query-api', QueryApiConfig);
const registry = createRegistry('query-api');
const api = await buildApp(config, { registry }).catch((err: unknown) => {
  if (!(err instanceof SchemaTooOldError) && !(err instanceof Error && err.message.startsWith('set JWT_'))) throw err;
  process.stderr.write(`query-api: ${err.message}\n`);
  process.exit(1);
});
const admin = createAdminServer({
  registry,
  checks: [mysqlCheck(api.dbs.replica, 'mysql-replica'), mysqlCheck(api.dbs.primary, 'mysql-primary'), redisCheck(api.redis)],
  logger: api.log,
});
await runService({ config, api, admin });
