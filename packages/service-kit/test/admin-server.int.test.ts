import { afterAll, describe, expect, it } from '@jest/globals';
import { freePort, harnessEnv } from '@reservations/testkit';
import Fastify from 'fastify';
import { createAdminServer } from '../src/admin-server.ts';
import { createMysqlPool, mysqlCheck } from '../src/clients/mysql.ts';
import { createRedis, redisCheck } from '../src/clients/redis.ts';
import { createSqsClient, sqsCheck } from '../src/clients/sqs.ts';
import { createRegistry } from '../src/metrics.ts';

const logger = Fastify({ logger: false }).log;
const pool = createMysqlPool(harnessEnv('MYSQL_REPLICA_URL'));
const redis = createRedis(harnessEnv('REDIS_URL'));
const sqs = createSqsClient();
const deadRedisPort = await freePort(); // nothing listens there
const deadRedis = createRedis(`redis://127.0.0.1:${deadRedisPort}`, { lazyConnect: true });
deadRedis.on('error', () => {});
afterAll(async () => {
  await pool.end();
  redis.disconnect();
  deadRedis.disconnect();
  sqs.destroy();
});

describe('the admin port', () => {
  it('is ready when MySQL, Redis and SQS answer, and says so per dependency', async () => {
    const admin = createAdminServer({
      registry: createRegistry('test'),
      checks: [mysqlCheck(pool), redisCheck(redis), sqsCheck(sqs, harnessEnv('SQS_QUEUE_URL'))],
      logger,
    });
    const res = await admin.app.inject('/readyz');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok', checks: { mysql: 'ok', redis: 'ok', sqs: 'ok' } });
    expect((await admin.app.inject('/healthz')).statusCode).toBe(200);
  });

  it('is not ready while a dependency is down, naming it, and stays alive', async () => {
    const admin = createAdminServer({ registry: createRegistry('test'), checks: [mysqlCheck(pool), redisCheck(deadRedis)], logger });
    const res = await admin.app.inject('/readyz');
    expect(res.statusCode).toBe(503);
    const body = res.json() as { status: string; checks: Record<string, string> };
    expect(body.status).toBe('unavailable');
    expect(body.checks.mysql).toBe('ok');
    expect(body.checks.redis).not.toBe('ok');
    expect((await admin.app.inject('/healthz')).statusCode).toBe(200);
  });

  it('answers 503 once shutdown has begun, even with every dependency up', async () => {
    const admin = createAdminServer({ registry: createRegistry('test'), checks: [redisCheck(redis)], logger });
    admin.markShuttingDown();
    const res = await admin.app.inject('/readyz');
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ status: 'shutting-down' });
  });

  it('serves the registry in the Prometheus text format', async () => {
    const admin = createAdminServer({ registry: createRegistry('notifier'), checks: [], logger });
    const res = await admin.app.inject('/metrics');
    expect(res.headers['content-type']).toContain('text/plain');
    expect(res.body).toContain('process_cpu_seconds_total{service="notifier"}');
  });
});
