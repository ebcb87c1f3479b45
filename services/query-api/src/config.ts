import {
  apiConfigProperties,
  mysqlPoolConfigProperties,
  redisConfigProperties,
  requestLogConfigProperties,
  secret,
  serviceConfig,
  signingConfigProperties,
} from '@reservations/service-kit';
import { type Static, Type } from 'typebox';

export const QueryApiConfig = serviceConfig({
  ...apiConfigProperties,
  ...requestLogConfigProperties,
  ...signingConfigProperties,
  CONSISTENCY_TOKEN_CLOCK_SKEW_SECONDS: Type.Integer({
    minimum: 0,
    maximum: 300,
    default: 30,
    description: "how far reservation-api's clock may be from ours when checking a consistency token's expiry",
  }),
  ...redisConfigProperties,
  ...mysqlPoolConfigProperties,
  MYSQL_REPLICA_URL: secret(Type.String({ pattern: '^mysql://', description: 'the MySQL replica every read goes to first' })),
  MYSQL_PRIMARY_URL: secret(
    Type.String({ pattern: '^mysql://', description: 'the primary, for reads the replica has not caught up with' }),
  ),
  REDIS_URL: Type.String({ pattern: '^rediss?://', description: 'Redis, the read cache' }),
  CACHE_TTL_SECONDS: Type.Number({
    exclusiveMinimum: 0,
    default: 300,
    description: 'how long a reservation stays cached (plus up to 20 % jitter)',
  }),
  NEAR_CACHE_ENTRIES: Type.Integer({
    minimum: 0,
    default: 10_000,
    description: 'reservations held in process memory in front of Redis, kept coherent by its invalidations (0: no near cache)',
  }),
  NEAR_CACHE_MAX_AGE_SECONDS: Type.Number({
    exclusiveMinimum: 0,
    default: 30,
    description: 'the longest a near-cache entry is served without reading Redis again',
  }),
  CONSISTENCY_WAIT_MS: Type.Integer({
    minimum: 0,
    default: 500,
    description: 'how long a read with a consistency token waits for the replica before it reads the primary',
  }),
  CONSISTENCY_WAIT_POOL_SIZE: Type.Integer({
    minimum: 1,
    default: 4,
    description:
      'replica connections of their own for reads with a consistency token to wait on (MASTER_GTID_WAIT), apart from the pool that serves other reads',
  }),
  CONSISTENCY_WAIT_QUEUE: Type.Integer({
    minimum: 1,
    default: 32,
    description: 'reads with a consistency token that may queue for those connections; past it, 503 with Retry-After',
  }),
  MYSQL_POOL_SIZE: Type.Integer({ minimum: 1, default: 20, description: 'connections to each of replica and primary' }),
});
export type QueryApiConfig = Static<typeof QueryApiConfig>;
