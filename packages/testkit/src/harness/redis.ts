import { join } from 'node:path';
import { Redis } from 'ioredis';
import { waitUntil } from '../poll.ts';
import { ensureDebianTools } from './debian.ts';
import { step } from './log.ts';
import { freePort } from './ports.ts';
import { startServer } from './proc.ts';

const COMPONENT = 'redis';

export async function installRedis(): Promise<void> {
  await ensureDebianTools(COMPONENT, [{ binary: 'redis-server', pkg: 'redis-server' }]);
}

export interface RedisEnv {
  REDIS_URL: string;
}

/**
 * One redis-server on loopback, no persistence: the cache is disposable by design. `port` starts
 * it again where a stopped one listened (a test of Redis coming back).
 */
export async function startRedis(dir: string, { port }: { port?: number } = {}) {
  port ??= await freePort();
  const server = startServer(
    'redis',
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'],
    { logFile: join(dir, 'redis.log') },
  );
  const env: RedisEnv = { REDIS_URL: `redis://127.0.0.1:${port}` };
  await waitUntil(
    'redis',
    async () => {
      const client = new Redis(env.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      client.on('error', () => {}); // connect() rejects with it; no need to print it too
      try {
        await client.connect();
        return (await client.ping()) === 'PONG';
      } finally {
        client.disconnect();
      }
    },
    { server, timeoutMs: 60_000 },
  );
  step(COMPONENT, `on 127.0.0.1:${port}`);
  return { env, servers: [server] };
}
