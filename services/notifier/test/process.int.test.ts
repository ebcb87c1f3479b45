import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { freePort, harnessEnv, waitUntil } from '@reservations/testkit';
import { API_ENV, freshDatabase, freshQueue } from './support/pipeline.ts';

function runServer(env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [join(import.meta.dirname, '..', 'src', 'server.ts')], { env: { PATH: process.env.PATH, ...env } });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (out += d));
  const exited = new Promise<{ code: number | null; out: string }>((resolve) => child.on('exit', (code) => resolve({ code, out })));
  return { child, exited };
}

const aws = () => ({
  AWS_ENDPOINT_URL_SQS: harnessEnv('AWS_ENDPOINT_URL_SQS'),
  AWS_REGION: harnessEnv('AWS_REGION'),
  AWS_ACCESS_KEY_ID: harnessEnv('AWS_ACCESS_KEY_ID'),
  AWS_SECRET_ACCESS_KEY: harnessEnv('AWS_SECRET_ACCESS_KEY'),
});

describe('notifier process', () => {
  it('refuses to start without its queue, naming the variable on one line', async () => {
    const { exited } = runServer({ MYSQL_PRIMARY_URL: 'mysql://a@127.0.0.1:1/x', REDIS_URL: 'redis://127.0.0.1:1', ...API_ENV });
    expect(await exited).toEqual({
      code: 1,
      out: 'notifier: invalid configuration: SQS_QUEUE_URL is required (the FIFO queue the outbox relay fills)\n',
    });
  });

  it('refuses a per-provider webhook concurrency or a breaker setting out of range, naming the variables on one line', async () => {
    const { exited } = runServer({
      MYSQL_PRIMARY_URL: 'mysql://a@127.0.0.1:1/x',
      REDIS_URL: 'redis://127.0.0.1:1',
      ...API_ENV,
      SQS_QUEUE_URL: 'http://127.0.0.1:1/q.fifo',
      WEBHOOK_CONCURRENCY_PER_PROVIDER: '0',
      WEBHOOK_BREAKER_FAILURES: '0',
      WEBHOOK_BREAKER_COOLDOWN_MS: '10',
    });
    expect(await exited).toEqual({
      code: 1,
      out:
        'notifier: invalid configuration: WEBHOOK_CONCURRENCY_PER_PROVIDER="0" must be >= 1; WEBHOOK_BREAKER_FAILURES="0" must be >= 1; ' +
        'WEBHOOK_BREAKER_COOLDOWN_MS="10" must be >= 100\n',
    });
  });

  it.each([
    ['a key too short', `kek-1:${Buffer.alloc(16, 1).toString('base64')}`, /entry 1 \(key id kek-1\) must be 32 bytes in base64/],
    ['a key that is not base64', `kek-1:${'%'.repeat(44)}`, /entry 1 \(key id kek-1\) must be 32 bytes in base64/],
    ['an entry without an id', Buffer.alloc(32, 1).toString('base64'), /entry 1 must be id:base64key/],
    [
      'a second entry without its key',
      `kek-1:${Buffer.alloc(32, 1).toString('base64')},kek-0:`,
      /entry 2 \(key id kek-0\) must be 32 bytes/,
    ],
    [
      'an id listed twice',
      `a:${Buffer.alloc(32, 1).toString('base64')},a:${Buffer.alloc(32, 2).toString('base64')}`,
      /key id a is listed twice/,
    ],
  ])('refuses WEBHOOK_SECRET_KEYS with %s, naming the variable and never a key', async (_what, keys, message) => {
    const db = await freshDatabase('ntf_bad_kek');
    await db.migrate();
    const { exited } = runServer({
      ...aws(),
      MYSQL_PRIMARY_URL: db.primaryUrl,
      REDIS_URL: harnessEnv('REDIS_URL'),
      ...API_ENV,
      WEBHOOK_SECRET_KEYS: keys,
      SQS_QUEUE_URL: 'http://127.0.0.1:1/q.fifo',
      PORT: String(await freePort()),
      ADMIN_PORT: String(await freePort()),
    });
    const { code, out } = await exited;
    expect(code).toBe(1);
    expect(out).toMatch(/^notifier: WEBHOOK_SECRET_KEYS \(value hidden\): /);
    expect(out).toMatch(message);
    expect(out).not.toContain(Buffer.alloc(32, 1).toString('base64'));
  });

  it('refuses to start on a schema without its tables, saying what to run', async () => {
    const db = await freshDatabase('ntf_old_schema');
    const { exited } = runServer({
      MYSQL_PRIMARY_URL: db.primaryUrl,
      REDIS_URL: harnessEnv('REDIS_URL'),
      ...API_ENV,
      SQS_QUEUE_URL: 'http://127.0.0.1:1/q.fifo',
      PORT: String(await freePort()),
      ADMIN_PORT: String(await freePort()),
    });
    expect(await exited).toEqual({
      code: 1,
      out: 'notifier: schema version 0 in the primary is older than the 6 this build needs: run `npm run migrate -w @reservations/database`\n',
    });
  });

  it('serves /readyz and its metrics, and on SIGTERM turns unready, stops consuming and exits 0', async () => {
    const db = await freshDatabase('ntf_process');
    await db.migrate();
    const queue = await freshQueue('process');
    const adminPort = await freePort();
    const { child, exited } = runServer({
      ...aws(),
      HOST: '127.0.0.1',
      PORT: String(await freePort()),
      ADMIN_PORT: String(adminPort),
      MYSQL_PRIMARY_URL: db.as.notifier.primaryUrl,
      REDIS_URL: harnessEnv('REDIS_URL'),
      ...API_ENV,
      SQS_QUEUE_URL: queue.queueUrl,
      SQS_DLQ_URL: queue.dlqUrl,
      // Readiness is 503 only from SIGTERM until the process exits: a window wide enough for a
      // loaded machine's poll to see.
      SHUTDOWN_DELAY_MS: '1000',
    });
    const admin = `http://127.0.0.1:${adminPort}`;
    await waitUntil('notifier ready', async () => (await fetch(`${admin}/readyz`)).status === 200);
    const ready = (await (await fetch(`${admin}/readyz`)).json()) as { checks: Record<string, string> };
    expect(ready.checks).toEqual({ 'mysql-primary': 'ok', redis: 'ok', sqs: 'ok' });
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    for (const name of [
      'notifier_events_total',
      'notifier_processing_duration_seconds',
      'notifier_dlq_sends_total',
      'notifier_queue_messages{queue="main",state="visible"',
      'notifier_queue_messages{queue="dlq",state="visible"',
      'webhook_deliveries_total',
      'sse_streams_open',
    ]) {
      expect(metrics).toContain(name);
    }

    child.kill('SIGTERM');
    await waitUntil('readiness turns 503', async () => (await fetch(`${admin}/readyz`)).status === 503, { intervalMs: 20 });
    const { code, out } = await exited;
    expect(code).toBe(0);
    expect(out).toContain('shut down cleanly');
  });
});
