import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from '@jest/globals';
import { harnessEnv, waitUntil } from '@reservations/testkit';
import type { Redis } from 'ioredis';
import { createRedis } from '../src/clients/redis.ts';
import { NearCache, trackInvalidations } from '../src/near-cache.ts';
import { createVersionedCache, type Versioned } from '../src/versioned-cache.ts';

type Entry = Versioned<'owner'>;
const entry = (version: number): Entry => ({ version, body: `{"v":${version}}`, fields: { owner: 'o' } });

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/**
 * A near cache over a tracked client of its own, the versioned cache on top, and a second client that writes.
 * The tests give invalidations and reconnects the poller's default wait: both come over other
 * connections (a reconnect after a backoff), which a loaded machine can delay by seconds.
 */
async function setup(url = harnessEnv('REDIS_URL')) {
  const name = `near-test-${randomUUID().slice(0, 8)}`;
  const redis = createRedis(url, { connectionName: name, enableAutoPipelining: true });
  const writer = createRedis(url);
  const near = new NearCache<Entry>({ maxEntries: 100, maxAgeMs: 60_000 });
  const stop = trackInvalidations(redis, near, { onError: (err) => console.error('tracking failed', err) });
  cleanups.push(() => {
    stop();
    redis.disconnect();
    writer.disconnect();
  });
  const prefix = `test:near:${name}:`;
  const cache = createVersionedCache(redis, { prefix, ttlMs: 60_000, fields: ['owner'], near });
  const writes = createVersionedCache(writer, { prefix, ttlMs: 60_000, fields: ['owner'] });
  await waitUntil('tracking is on', () => near.coherent);
  /** The id of a connection of this setup's, by the name ioredis gave it. */
  const clientId = async (connectionName: string) => {
    const list = (await writer.client('LIST')) as string;
    const line = list.split('\n').find((l) => l.includes(` name=${connectionName} `));
    const id = line && /(?:^|\s)id=(\d+)/.exec(line)?.[1];
    if (!id) throw new Error(`no connection named ${connectionName}`);
    return id;
  };
  return { redis, writer, near, cache, writes, prefix, name, clientId };
}

/** The commands `client` sends while `act` runs, as Redis's MONITOR sees them (a marker ends the window). */
async function commandsSentBy(client: Redis, watcher: Redis, act: () => Promise<unknown>): Promise<string[]> {
  const marker = `marker-${randomUUID()}`;
  const monitor = await watcher.monitor();
  const seen: string[] = [];
  const done = new Promise<void>((resolve) => {
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args[0]?.toLowerCase() === 'echo' && args[1] === marker) resolve();
      else seen.push(args.join(' '));
    });
  });
  await act();
  await client.echo(marker);
  await done;
  monitor.disconnect();
  return seen;
}

describe('near cache over real Redis (CLIENT TRACKING, REDIRECT to a subscriber)', () => {
  it('a second read of an entry is served from process memory: no command reaches Redis', async () => {
    const { redis, writer, cache, writes, prefix } = await setup();
    await writes.setIfNewer('a', entry(1));
    expect(await cache.get('a')).toEqual(entry(1));
    const sent = await commandsSentBy(redis, writer, async () => {
      expect(await cache.get('a')).toEqual(entry(1));
      expect(await cache.get('a')).toEqual(entry(1));
    });
    expect(sent.filter((command) => command.includes(`${prefix}a`))).toEqual([]);
  });

  it('a write by another client invalidates the entry, and the next read brings the new version', async () => {
    const { cache, writes, near } = await setup();
    await writes.setIfNewer('b', entry(1));
    expect(await cache.get('b')).toEqual(entry(1));
    expect(near.stats().size).toBe(1);
    await writes.setIfNewer('b', entry(2));
    await waitUntil('the invalidation arrives', () => near.stats().invalidations >= 1);
    expect(await cache.get('b')).toEqual(entry(2));
  });

  it('a read whose key changed while it was out is not kept, even though Redis answered it', async () => {
    const { redis, near, writes, prefix } = await setup();
    await writes.setIfNewer('c', entry(1));
    const key = `${prefix}c`;
    const read = near.begin(key);
    if (!read) throw new Error('tracking is on, so the read is tracked');
    const [version] = await redis.hmget(key, 'version');
    expect(version).toBe('1');
    await writes.setIfNewer('c', entry(2));
    await waitUntil('the invalidation arrives', () => near.stats().invalidations >= 1);
    near.finish(read, entry(1));
    expect(near.get(key)).toBeUndefined();
  });

  it('a killed subscriber flushes the near cache; once it is back, invalidations reach the new one', async () => {
    const { writer, cache, writes, near, name, clientId } = await setup();
    await writes.setIfNewer('d', entry(1));
    await cache.get('d');
    expect(near.stats().size).toBe(1);
    const flushes = near.stats().flushes;
    await writer.client('KILL', 'ID', await clientId(`${name}:invalidations`));
    await waitUntil('the near cache is flushed', () => near.stats().flushes > flushes);
    expect(near.stats().size).toBe(0);
    await waitUntil('tracking is back on', () => near.coherent);

    expect(await cache.get('d')).toEqual(entry(1));
    expect(await cache.get('d')).toEqual(entry(1));
    expect(near.stats().size).toBe(1);
    await writes.setIfNewer('d', entry(2));
    await waitUntil('the new subscriber gets the invalidation', async () => (await cache.get('d'))?.version === 2);
    expect(await cache.get('d')).toEqual(entry(2));
  });

  it('a killed data connection flushes the near cache; after the reconnect its reads are tracked again', async () => {
    const { writer, cache, writes, near, name, clientId } = await setup();
    await writes.setIfNewer('e', entry(1));
    await cache.get('e');
    const flushes = near.stats().flushes;
    await writer.client('KILL', 'ID', await clientId(name));
    await waitUntil('the near cache is flushed', () => near.stats().flushes > flushes);
    await waitUntil('tracking is back on', () => near.coherent);

    expect(await cache.get('e')).toEqual(entry(1));
    expect(near.stats().size).toBe(1);
    await writes.setIfNewer('e', entry(2));
    await waitUntil('the invalidation arrives', async () => (await cache.get('e'))?.version === 2);
    expect(await cache.get('e')).toEqual(entry(2));
  });

  it('FLUSHDB in Redis empties the near cache', async () => {
    // A database of its own, so the flush touches no other test's keys.
    const url = new URL(harnessEnv('REDIS_URL'));
    url.pathname = '/15';
    const { writer, cache, writes, near } = await setup(url.toString());
    await writes.setIfNewer('f', entry(1));
    await cache.get('f');
    expect(near.stats().size).toBe(1);
    const flushes = near.stats().flushes;
    await writer.flushdb();
    await waitUntil('the flush arrives', () => near.stats().flushes > flushes);
    expect(near.stats().size).toBe(0);
    expect(await cache.get('f')).toBeUndefined();
  });
});
