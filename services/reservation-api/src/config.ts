import { secret, serviceConfig } from '@reservations/service-kit';
import { type Static, Type } from 'typebox';

export const ReservationApiConfig = serviceConfig({
  MYSQL_PRIMARY_URL: secret(Type.String({ pattern: '^mysql://', description: 'the MySQL primary (read-write)' })),
  REDIS_URL: Type.String({ pattern: '^rediss?://', description: 'Redis, where each change publishes the new version for readers' }),
  JWT_SECRET: Type.Optional(secret(Type.String({ minLength: 32, description: 'HS256 secret that signs bearer tokens' }))),
  JWT_PUBLIC_KEY: Type.Optional(Type.String({ pattern: 'BEGIN PUBLIC KEY', description: 'RS256 public key (PEM) of the token issuer' })),
  HOLD_TTL_SECONDS: Type.Number({ exclusiveMinimum: 0, default: 600, description: 'how long a hold keeps its time unless confirmed' }),
  IDEMPOTENCY_TTL_HOURS: Type.Number({ exclusiveMinimum: 0, default: 24, description: 'how long an Idempotency-Key is remembered' }),
  BODY_LIMIT_BYTES: Type.Integer({ minimum: 1024, default: 16384, description: 'largest request body accepted' }),
  MYSQL_POOL_SIZE: Type.Integer({ minimum: 1, default: 20, description: 'connections to the primary' }),
  MAX_EVENT_LOOP_DELAY_MS: Type.Integer({
    minimum: 0,
    default: 1000,
    description: 'shed load (503) past this event loop delay; 0 disables',
  }),
});
export type ReservationApiConfig = Static<typeof ReservationApiConfig>;
