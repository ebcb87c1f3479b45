import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { waitUntil } from '@reservations/testkit';
import Fastify from 'fastify';
import { closeConnectionsWhile, watchDrainSwitch } from '../src/drain-switch.ts';

const dir = mkdtempSync(join(tmpdir(), 'drain-switch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the operator's drain switch", () => {
  it('is off without the file, follows what the file says, and is re-read as the kubelet updates it', async () => {
    const file = join(dir, 'connection-close');
    const drain = watchDrainSwitch(file, 10);
    try {
      expect(drain.on).toBe(false);
      // Re-read every 10 ms by a timer; the default wait, since a loaded machine can hold it up for seconds.
      writeFileSync(file, 'true');
      await waitUntil('on', async () => drain.on, { intervalMs: 10 });
      expect(drain.on).toBe(true);
      writeFileSync(file, 'false\n');
      await waitUntil('off', async () => !drain.on, { intervalMs: 10 });
      expect(drain.on).toBe(false);
    } finally {
      drain.stop();
    }
  });

  it('makes keep-alive clients reconnect for every request while it is on', async () => {
    let closing = false;
    let connections = 0;
    const app = Fastify();
    closeConnectionsWhile(app, () => closing);
    app.get('/', async () => ({ ok: true }));
    app.server.on('connection', () => {
      connections += 1;
    });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const get = () =>
      new Promise<string | undefined>((resolve, reject) => {
        httpGet(url, { agent }, (response) => {
          response.resume();
          response.on('end', () => resolve(response.headers.connection));
        }).on('error', reject);
      });
    try {
      expect([await get(), await get(), await get()]).toEqual(['keep-alive', 'keep-alive', 'keep-alive']);
      expect(connections).toBe(1);
      closing = true;
      expect([await get(), await get(), await get()]).toEqual(['close', 'close', 'close']);
      // The first of those still came over the kept-alive connection; each one after needed a new one.
      expect(connections).toBe(3);
    } finally {
      agent.destroy();
      await app.close();
    }
  });
});
