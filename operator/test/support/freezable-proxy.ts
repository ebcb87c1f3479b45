import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a real server that can freeze the connections open at that moment:
 * they stay established but deliver nothing more, which is what a half-dead network path looks
 * like to a long-lived watch. A frozen connection the client writes to again (a pooled
 * keep-alive socket picked for a new request) is reset, as a dead path eventually is, so the
 * client's request fails fast and its retry takes a new connection, which works normally.
 */
export async function startFreezableTcpProxy(target: URL) {
  const pairs = new Set<[Socket, Socket]>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const socket of pair) {
      socket.on('error', drop);
      socket.on('close', drop);
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy: no port');
  return {
    url: `${target.protocol}//127.0.0.1:${address.port}`,
    /** Silences every open connection (without closing it); returns how many there were. */
    freeze(): number {
      for (const pair of pairs) {
        const [client, upstream] = pair;
        upstream.unpipe(client);
        upstream.pause();
        client.unpipe(upstream);
        client.on('data', () => {
          pairs.delete(pair);
          client.resetAndDestroy();
          upstream.destroy();
        });
        client.resume(); // unpipe left it paused: without this, the 'data' above would never come
      }
      return pairs.size;
    },
    async close() {
      for (const [client, upstream] of pairs) {
        client.destroy();
        upstream.destroy();
      }
      server.close();
      await once(server, 'close');
    },
  };
}
