import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startSilentServer } from '@reservations/testkit';
import { createRoute53Client, createRoute53Provider } from '../../src/traffic/route53/provider.ts';

let silent: Awaited<ReturnType<typeof startSilentServer>>;
beforeAll(async () => {
  silent = await startSilentServer();
});
afterAll(() => silent.close());

describe("the operator's Route53 client", () => {
  it('a call to an endpoint that never answers fails with a TimeoutError (not retried by the gate)', async () => {
    let attempts = 0;
    const provider = createRoute53Provider({
      client: createRoute53Client(
        { connectionTimeoutMs: 200, requestTimeoutMs: 200 },
        { endpoint: silent.url, region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } },
      ),
      gate: { onAttempt: () => attempts++ },
    });
    await expect(provider.records('Z123', ['api.example.com'])).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(attempts).toBe(1);
  });
});
