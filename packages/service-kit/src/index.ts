export { type AdminServer, createAdminServer, type ReadinessCheck } from './admin-server.ts';
export { apiServerOptions, MAX_PARAM_LENGTH, type OpenApiLink, placeLinks, plumbingResponses, type RouteLinks } from './api-document.ts';
export { type ApiFoundationOptions, type RateLimitConfig, registerApiFoundation } from './api-foundation.ts';
export { assetDir } from './assets.ts';
export {
  type AuthOptions,
  type AuthSettings,
  auth,
  authSettings,
  createPrincipalVerifier,
  type JwtConfig,
  type Principal,
  ROLES,
  type Role,
  requireRole,
} from './auth.ts';
export { backoffDelay, cappedBackoffDelay } from './backoff.ts';
export { deleteInBatches } from './batched-delete.ts';
export { type AwsHttpTimeouts, awsHttpHandler } from './clients/aws-http.ts';
export { createMysqlPool, ER_STATEMENT_TIMEOUT, mysqlCheck, mysqlOverload, type PoolLimits } from './clients/mysql.ts';
export { createRedis, createRedisGuard, type RedisGuard, RedisUnavailable, redisCheck } from './clients/redis.ts';
export { createSqsClient, DEFAULT_SQS_TIMEOUTS, sqsCheck, sqsClientConfigProperties } from './clients/sqs.ts';
export {
  apiConfigProperties,
  BaseConfig,
  baseConfigProperties,
  ConfigError,
  loadConfig,
  loadConfigOrExit,
  mysqlPoolConfigProperties,
  poolLimits,
  type RedisSettings,
  redisConfigProperties,
  redisSettings,
  requestLogConfigProperties,
  secret,
  serviceConfig,
} from './config.ts';
export {
  type ConsistencyTokenCheck,
  checkConsistencyToken,
  MAX_CONSISTENCY_TOKEN_LENGTH,
  signConsistencyToken,
} from './consistency-token.ts';
export {
  closeConnectionsBy,
  closesConnection,
  type DrainSwitchState,
  parseDrainSwitch,
  watchDrainSwitch,
} from './drain-switch.ts';
export {
  loggerOptions,
  OneLinePerRequest,
  REDACTED_PATHS,
  type RequestLogLevel,
  type RequestLogPolicy,
  requestLogLevel,
} from './logger.ts';
export { createRegistry, httpMetrics } from './metrics.ts';
export { INVALIDATION_CHANNEL, NearCache, type NearCacheOptions, type NearCacheStats, trackInvalidations } from './near-cache.ts';
export { registerPoolMetrics } from './pool-metrics.ts';
export {
  defineProblems,
  type FieldError,
  fieldErrors,
  frameworkErrors,
  KIT_PROBLEM_BASE,
  kitProblems,
  PROBLEM_CONTENT_TYPE,
  PROBLEM_MEDIA_TYPE,
  Problem,
  type ProblemRegistry,
  type ProblemSpec,
  problemHandler,
  problemResponse,
  problemSchema,
  sendProblem,
} from './problem.ts';
export {
  createSharedCounter,
  createStoreBreaker,
  RATE_LIMIT_CLASSES,
  type RateLimitClass,
  rateLimit,
  rateLimitClassOf,
  rateLimitKey,
  windowAt,
} from './rate-limit.ts';
export { runService, StartupError, startService } from './service-runner.ts';
export { SigningKeys, type SigningPurpose, signingConfigProperties } from './signing.ts';
export { type CallSignal, timeoutSignal } from './timeout-signal.ts';
export {
  atCommit,
  ER_DUP_ENTRY,
  ER_LOCK_DEADLOCK,
  ER_LOCK_WAIT_TIMEOUT,
  isMysqlError,
  type RetryOptions,
  type Statement,
  withTransaction,
} from './transaction.ts';
export { createValidatorCompiler } from './validation.ts';
export {
  createSingleFlight,
  createVersionedCache,
  jitteredTtl,
  type Versioned,
  type VersionedCache,
  type VersionedCacheOptions,
} from './versioned-cache.ts';
