import { mysqlCheck, redisCheck, startService } from '@reservations/service-kit';
import { buildApp } from './app.ts';
import { NotifierConfig } from './config.ts';

await startService(
  'notifier',
  NotifierConfig,
  (config, registry) => buildApp(config, { registry }),
  (api) => [mysqlCheck(api.db, 'mysql-primary'), redisCheck(api.bus.guard), api.queueCheck],
);
