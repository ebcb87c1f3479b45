import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createSqsClient, sqsCheck } from '../src/clients/sqs.ts';

// An endpoint that accepts connections and never answers: what a hung SQS (or a proxy in front of it) looks like.
let silent: Server;
const sockets = new Set<Socket>();
let url: string;

beforeAll(async () => {
  silent = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const address = silent.address() as { port: number };
  url = `http://127.0.0.1:${address.port}`;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => silent.close(resolve));
});

describe('the SQS client', () => {
  it('gives up on an endpoint that never answers with a TimeoutError, instead of waiting for the socket forever', async () => {
    const sqs = createSqsClient(
      { connectionTimeoutMs: 200, requestTimeoutMs: 200 },
      { endpoint: url, region: 'us-east-1', maxAttempts: 1, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } },
    );
    const check = sqsCheck(sqs, `${url}/000000000000/q.fifo`);
    await expect(check.check()).rejects.toMatchObject({ name: 'TimeoutError' });
    sqs.destroy();
  });
});
