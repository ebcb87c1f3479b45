import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startSilentServer } from '@reservations/testkit';
import { createSqsClient, sqsCheck } from '../src/clients/sqs.ts';

let silent: Awaited<ReturnType<typeof startSilentServer>>;
beforeAll(async () => {
  silent = await startSilentServer();
});
afterAll(() => silent.close());

describe('the SQS client', () => {
  it('gives up on an endpoint that never answers with a TimeoutError, instead of waiting for the socket forever', async () => {
    const sqs = createSqsClient(
      { connectionTimeoutMs: 200, requestTimeoutMs: 200 },
      { endpoint: silent.url, region: 'us-east-1', maxAttempts: 1, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } },
    );
    const check = sqsCheck(sqs, `${silent.url}/000000000000/q.fifo`);
    await expect(check.check()).rejects.toMatchObject({ name: 'TimeoutError' });
    sqs.destroy();
  });
});
