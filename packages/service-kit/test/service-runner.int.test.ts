import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { freePort, harnessEnv, waitUntil } from '@reservations/testkit';

const fixture = join(import.meta.dirname, 'fixtures', 'demo-service.ts');
let child: ChildProcess | undefined;
afterEach(() => {
  child?.kill('SIGKILL');
});

function startDemo(env: NodeJS.ProcessEnv) {
  const output: string[] = [];
  child = spawn(process.execPath, [fixture], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d: Buffer) => output.push(String(d)));
  child.stderr?.on('data', (d: Buffer) => output.push(String(d)));
  const exited = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)));
  return { output, exited, log: () => output.join('') };
}

describe('a service process', () => {
  it('on SIGTERM turns unready, finishes the request in flight, closes its pools and exits 0', async () => {
    const [port, adminPort] = [await freePort(), await freePort()];
    const demo = startDemo({
      PORT: String(port),
      ADMIN_PORT: String(adminPort),
      HOST: '127.0.0.1',
      MYSQL_PRIMARY_URL: harnessEnv('MYSQL_PRIMARY_URL'),
      REDIS_URL: harnessEnv('REDIS_URL'),
      SHUTDOWN_DELAY_MS: '300',
    });
    const admin = `http://127.0.0.1:${adminPort}`;
    await waitUntil('demo service ready', async () => (await fetch(`${admin}/readyz`)).status === 200);

    const item = await fetch(`http://127.0.0.1:${port}/items/42`);
    expect(await item.json()).toEqual({ id: '42' });
    // Observed in onResponse, once the response has gone: the client can ask /metrics before that.
    const counted = 'http_request_duration_seconds_count{service="demo-service",method="GET",route="/items/:id",status_code="200"} 1';
    let metrics = '';
    await waitUntil('the request is counted', async () => {
      metrics = await (await fetch(`${admin}/metrics`)).text();
      return metrics.includes(counted);
    });
    expect(metrics).toContain(counted);

    const slow = fetch(`http://127.0.0.1:${port}/slow`);
    await waitUntil('slow request in flight', async () => demo.log().includes('slow request started'));
    child?.kill('SIGTERM');
    await waitUntil('readiness 503', async () => (await fetch(`${admin}/readyz`)).status === 503);

    const response = await slow;
    expect(response.status).toBe(200);
    expect(response.headers.get('connection')).toBe('close');
    expect(await response.json()).toEqual({ done: true });
    expect(await demo.exited).toBe(0);
    expect(demo.log()).toContain('pools closed');
    expect(demo.log()).toContain('shut down cleanly');
    await expect(fetch(`http://127.0.0.1:${port}/items/1`)).rejects.toThrow();
  });

  it('refuses to start on bad configuration, with one line naming each variable', async () => {
    const demo = startDemo({ PORT: 'http', REDIS_URL: 'redis://127.0.0.1:1', MYSQL_PRIMARY_URL: 'postgres://u:hunter2@db/x' });
    expect(await demo.exited).toBe(1);
    expect(demo.log()).toBe(
      'demo-service: invalid configuration: PORT="http" must be integer; MYSQL_PRIMARY_URL (value hidden) must match pattern "^mysql://"\n',
    );
  });
});
