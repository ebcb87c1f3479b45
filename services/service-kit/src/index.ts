export { type AdminServer, createAdminServer, type ReadinessCheck } from './admin-server.ts';
export { createMysqlPool, mysqlCheck } from './clients/mysql.ts';
export { createRedis, redisCheck } from './clients/redis.ts';
export { createSqsClient, sqsCheck } from './clients/sqs.ts';
export { BaseConfig, baseConfigProperties, ConfigError, loadConfig, secret, serviceConfig } from './config.ts';
export { loggerOptions, REDACTED_PATHS } from './logger.ts';
export { createRegistry, httpMetrics } from './metrics.ts';
export { loadConfigOrExit, runService } from './service-runner.ts';
