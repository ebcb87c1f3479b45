import { mysqlCheck, redisCheck, startService } from '@reservations/service-kit';
import { buildApp } from './app.ts';
import { ReservationApiConfig } from './config.ts';

await startService(
  'reservation-api',
  ReservationApiConfig,
  (config, registry) => buildApp(config, { registry }),
  (api) => [mysqlCheck(api.db, 'mysql-primary'), redisCheck(api.redisGuard)],
);
