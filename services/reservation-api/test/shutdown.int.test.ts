import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { createQueueWithDlq } from '../../../scripts/harness/moto.ts';
import { freePort } from '../../../scripts/harness/ports.ts';
import { waitUntil } from '../../../scripts/harness/proc.ts';
import { testSqs } from '../../../scripts/harness/test/aws.ts';
import { harnessEnv } from '../../../scripts/harness/test/env.ts';
import { freshDatabase, JWT_SECRET, token } from './support/app.ts';
import { sql } from './support/fixtures.ts';

let child: ChildProcess | undefined;
afterEach(() => {
  child?.kill('SIGKILL');
});

describe('reservation-api process', () => {
  it('on SIGTERM under load: readiness 503, every request it accepted completes and is answered, then it exits 0', async () => {
    const db = await freshDatabase('rsv_shutdown');
    await db.migrate();
    const [port, adminPort] = [await freePort(), await freePort()];
    let log = '';
    child = spawn(process.execPath, [join(import.meta.dirname, '..', 'src', 'server.ts')], {
      env: {
        PATH: process.env.PATH,
        HOST: '127.0.0.1',
        PORT: String(port),
        ADMIN_PORT: String(adminPort),
        MYSQL_PRIMARY_URL: db.primaryUrl,
        REDIS_URL: harnessEnv('REDIS_URL'),
        JWT_SECRET,
        SHUTDOWN_DELAY_MS: '300',
        // With its outbox relay, which finishes its pass on the way out.
        SQS_QUEUE_URL: (await createQueueWithDlq(testSqs(), `rsv-shutdown-${Date.now()}.fifo`)).queueUrl,
        AWS_ENDPOINT_URL_SQS: harnessEnv('AWS_ENDPOINT_URL_SQS'),
        AWS_REGION: harnessEnv('AWS_REGION'),
        AWS_ACCESS_KEY_ID: harnessEnv('AWS_ACCESS_KEY_ID'),
        AWS_SECRET_ACCESS_KEY: harnessEnv('AWS_SECRET_ACCESS_KEY'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (d: Buffer) => (log += d));
    child.stderr?.on('data', (d: Buffer) => (log += d));
    const exited = new Promise<number | null>((resolve) => child?.once('exit', resolve));
    const admin = `http://127.0.0.1:${adminPort}`;
    await Promise.race([
      waitUntil('reservation-api ready', async () => (await fetch(`${admin}/readyz`)).status === 200),
      exited.then((code) => Promise.reject(new Error(`reservation-api exited (${code}) before it was ready:\n${log}`))),
    ]);

    const admin_ = { authorization: `Bearer ${token('admin', 'admin-1')}`, 'content-type': 'application/json' };
    const resource = await fetch(`http://127.0.0.1:${port}/v1/resources`, {
      method: 'POST',
      headers: admin_,
      body: JSON.stringify({ name: 'r', providerId: 'p', timeZone: 'UTC', capacity: 1 }),
    }).then((r) => r.json() as Promise<{ id: string }>);

    const headers = { authorization: `Bearer ${token('customer', 'c')}`, 'content-type': 'application/json' };
    let next = 0;
    let stop = false;
    const answered: number[] = [];
    const refused: string[] = [];
    const worker = async () => {
      while (!stop) {
        const hour = next++;
        const start = new Date(Date.UTC(2040, 0, 1) + hour * 3_600_000);
        try {
          const response = await fetch(`http://127.0.0.1:${port}/v1/reservations`, {
            method: 'POST',
            headers,
            body: JSON.stringify({
              resourceId: resource.id,
              startsAt: start.toISOString(),
              endsAt: new Date(start.getTime() + 3_600_000).toISOString(),
            }),
          });
          answered.push(response.status);
          await response.arrayBuffer();
        } catch (err) {
          // Only a connection the server refused or closed before taking the request is acceptable.
          refused.push(String((err as { cause?: { code?: string } }).cause?.code));
          if (refused.length > 0 && (err as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED') stop = true;
        }
      }
    };
    const workers = Array.from({ length: 16 }, worker);
    await waitUntil('load running', async () => answered.length >= 100, { intervalMs: 10 });
    child.kill('SIGTERM');
    await waitUntil('readiness 503', async () => (await fetch(`${admin}/readyz`)).status === 503, { intervalMs: 10 });
    const code = await exited;
    stop = true;
    await Promise.all(workers);

    expect(code).toBe(0);
    expect(log).toContain('shut down cleanly');
    // Once closing, Fastify refuses new requests on kept-alive connections with 503 + Connection: close (a retryable refusal, nothing written).
    expect([...new Set(answered)].filter((s) => s !== 201 && s !== 503)).toEqual([]);
    const created = answered.filter((s) => s === 201).length;
    for (const reason of refused) expect(['ECONNREFUSED', 'ECONNRESET', 'UND_ERR_SOCKET']).toContain(reason);
    // Nothing committed without its answer reaching the client, nothing answered that did not commit.
    const [row] = await sql<{ n: number }>(db.primaryUrl, 'SELECT COUNT(*) AS n FROM reservations');
    expect(Number(row?.n)).toBe(created);
  });
});
