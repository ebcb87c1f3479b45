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
import { ReservationApiConfig } from './config.ts';

const config = loadConfigOrExit('reservation-api', ReservationApiConfig);
const registry = createRegistry('reservation-api');
const api = await buildApp(config, { registry }).catch((err: unknown) => {
  if (!(err instanceof SchemaTooOldError) && !(err instanceof Error && err.message.startsWith('set JWT_'))) throw err;
  process.stderr.write(`reservation-api: ${err.message}\n`);
  process.exit(1);
});
const admin = createAdminServer({ registry, checks: [mysqlCheck(api.db, 'mysql-primary'), redisCheck(api.redis)], logger: api.log });
await runService({ config, api, admin });
