import { mysqlCheck, redisCheck, startService } from '@reservations/service-kit';
import { buildApp } from './app.ts';
import { QueryApiConfig } from './config.ts';

await startService(
  'query-api',
  QueryApiConfig,
  (config, registry) => buildApp(config, { registry }),
  (api) => [mysqlCheck(api.dbs.replica, 'mysql-replica'), mysqlCheck(api.dbs.primary, 'mysql-primary'), redisCheck(api.redisGuard)],
);
