import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createRoute53Client, createRoute53Provider } from '../../src/traffic/route53/provider.ts';

// An endpoint that accepts connections and never answers: a hung Route53 (or a proxy in front of it).
let silent: Server;
const sockets = new Set<Socket>();
let url: string;

beforeAll(async () => {
  silent = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => silent.close(resolve));
});

describe("the operator's Route53 client", () => {
  it('a call to an endpoint that never answers fails with a TimeoutError (not retried by the gate)', async () => {
    let attempts = 0;
    const provider = createRoute53Provider({
      client: createRoute53Client(
        { connectionTimeoutMs: 200, requestTimeoutMs: 200 },
        { endpoint: url, region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } },
      ),
      gate: { onAttempt: () => attempts++ },
    });
    await expect(provider.records('Z123', ['api.example.com'])).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(attempts).toBe(1);
  });
});
