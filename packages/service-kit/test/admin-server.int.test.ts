import { afterAll, describe, expect, it } from '@jest/globals';
import { freePort, harnessEnv, waitUntil } from '@reservations/testkit';
import Fastify from 'fastify';
import { createAdminServer } from '../src/admin-server.ts';
import { createMysqlPool, mysqlCheck } from '../src/clients/mysql.ts';
import { createRedis, createRedisGuard, redisCheck } from '../src/clients/redis.ts';
import { createSqsClient, sqsCheck } from '../src/clients/sqs.ts';
import { createRegistry } from '../src/metrics.ts';

const logger = Fastify({ logger: false }).log;
const pool = createMysqlPool(harnessEnv('MYSQL_REPLICA_URL'));
const deadPool = createMysqlPool(`mysql://app@127.0.0.1:${await freePort()}/none`, { connectTimeout: 500 });
// Not the service's 1 s command timeout: a loaded machine's shared Redis can take longer to
// answer, and this file is not about timeouts (the outage tests are).
const redis = createRedis(harnessEnv('REDIS_URL'), { commandTimeout: 15_000 });
const guard = createRedisGuard({ name: 'live', redis, resetMs: 1000, registry: createRegistry('test'), log: logger });
const sqs = createSqsClient();
const deadRedisPort = await freePort(); // nothing listens there
const deadRedis = createRedis(`redis://127.0.0.1:${deadRedisPort}`, { lazyConnect: true });
deadRedis.on('error', () => {});
const deadGuard = createRedisGuard({ name: 'dead', redis: deadRedis, resetMs: 60_000, registry: createRegistry('test'), log: logger });
afterAll(async () => {
  await Promise.all([pool.end(), deadPool.end()]);
  guard.close();
  deadGuard.close();
  redis.disconnect();
  deadRedis.disconnect();
  sqs.destroy();
});

describe('the admin port', () => {
  it('is ready when MySQL, Redis and SQS answer, and says so per dependency', async () => {
    const admin = createAdminServer({
      registry: createRegistry('test'),
      checks: [mysqlCheck(pool), redisCheck(guard), sqsCheck(sqs, harnessEnv('SQS_QUEUE_URL'))],
      logger,
    });
    const res = await admin.app.inject('/readyz');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok', checks: { mysql: 'ok', redis: 'ok', sqs: 'ok' } });
    expect((await admin.app.inject('/healthz')).statusCode).toBe(200);
  });

  it('is not ready while a dependency it cannot serve without is down, naming it, and stays alive', async () => {
    const admin = createAdminServer({ registry: createRegistry('test'), checks: [mysqlCheck(deadPool), redisCheck(guard)], logger });
    const res = await admin.app.inject('/readyz');
    expect(res.statusCode).toBe(503);
    const body = res.json() as { status: string; checks: Record<string, string> };
    expect(body.status).toBe('unavailable');
    expect(body.checks.redis).toBe('ok');
    expect(body.checks.mysql).not.toBe('ok');
    expect((await admin.app.inject('/healthz')).statusCode).toBe(200);
  });

  it('stays ready with Redis down (optional: the services answer without it), reporting it degraded', async () => {
    // The heartbeat's failed PINGs (five in the breaker's window) open the breaker.
    await waitUntil('the dead Redis judged failing', async () => {
      if (deadGuard.up) throw new Error('the breaker is still closed');
      return true;
    });
    const admin = createAdminServer({ registry: createRegistry('test'), checks: [mysqlCheck(pool), redisCheck(deadGuard)], logger });
    const res = await admin.app.inject('/readyz');
    expect(res.statusCode).toBe(200);
    const body = res.json() as { status: string; checks: Record<string, string> };
    expect(body.status).toBe('degraded');
    expect(body.checks.mysql).toBe('ok');
    expect(body.checks.redis).toContain('circuit breaker open');
  });

  it('answers 503 once shutdown has begun, even with every dependency up', async () => {
    const admin = createAdminServer({ registry: createRegistry('test'), checks: [redisCheck(guard)], logger });
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
