import { apiConfigProperties, secret, serviceConfig } from '@reservations/service-kit';
import { type Static, Type } from 'typebox';

export const ReservationApiConfig = serviceConfig({
  ...apiConfigProperties,
  MYSQL_PRIMARY_URL: secret(Type.String({ pattern: '^mysql://', description: 'the MySQL primary (read-write)' })),
  REDIS_URL: Type.String({ pattern: '^rediss?://', description: 'Redis, where each change publishes the new version for readers' }),
  HOLD_TTL_SECONDS: Type.Number({ exclusiveMinimum: 0, default: 600, description: 'how long a hold keeps its time unless confirmed' }),
  IDEMPOTENCY_TTL_HOURS: Type.Number({ exclusiveMinimum: 0, default: 24, description: 'how long an Idempotency-Key is remembered' }),
  BODY_LIMIT_BYTES: Type.Integer({ minimum: 1024, default: 16384, description: 'largest request body accepted' }),
  MYSQL_POOL_SIZE: Type.Integer({ minimum: 1, default: 20, description: 'connections to the primary' }),
});
export type ReservationApiConfig = Static<typeof ReservationApiConfig>;
