import { describe, expect, it } from '@jest/globals';
import { createCallGate } from '../../src/traffic/route53/throttle.ts';
import { ManualClock } from '../support/manual-clock.ts';

const awsError = (name: string) => Object.assign(new Error(`${name}: Rate exceeded`), { name });

/** A gate whose sleeps move a manual clock and are recorded, instead of waiting. */
function gate(options: Parameters<typeof createCallGate>[0] = {}) {
  const clock = new ManualClock();
  const sleeps: number[] = [];
  const call = createCallGate({
    clock,
    random: () => 1,
    sleep: async (ms) => {
      sleeps.push(ms);
      clock.advance(ms);
    },
    ...options,
  });
  return { call, sleeps };
}

describe('the Route53 call gate', () => {
  it('lets a burst through, then spaces calls at the bucket rate', async () => {
    const { call, sleeps } = gate({ qps: 2, burst: 3 });
    for (let i = 0; i < 5; i++) await call('GetChange', async () => i);
    expect(sleeps).toEqual([500, 500]);
  });

  it('backs off exponentially with jitter on Throttling and PriorRequestNotComplete, then returns the answer', async () => {
    const retries: unknown[] = [];
    const { call, sleeps } = gate({ qps: 1000, burst: 1000, baseDelayMs: 100, onRetry: (i) => retries.push(i) });
    const errors = [awsError('Throttling'), awsError('PriorRequestNotComplete'), awsError('Throttling')];
    let calls = 0;
    const result = await call('ChangeResourceRecordSets', async () => {
      calls += 1;
      const err = errors.shift();
      if (err) throw err;
      return 'C123';
    });
    expect(result).toBe('C123');
    expect(calls).toBe(4);
    expect(sleeps).toEqual([100, 200, 400]); // random() = 1: the top of each full-jitter window
    expect(retries).toEqual([
      { operation: 'ChangeResourceRecordSets', error: 'Throttling', attempt: 1, delayMs: 100 },
      { operation: 'ChangeResourceRecordSets', error: 'PriorRequestNotComplete', attempt: 2, delayMs: 200 },
      { operation: 'ChangeResourceRecordSets', error: 'Throttling', attempt: 3, delayMs: 400 },
    ]);
  });

  it('draws each delay at random below the window (full jitter) and caps it', async () => {
    const { call, sleeps } = gate({ qps: 1000, burst: 1000, baseDelayMs: 1000, maxDelayMs: 3000, random: () => 0.5, maxAttempts: 5 });
    await expect(
      call('GetChange', async () => {
        throw awsError('Throttling');
      }),
    ).rejects.toThrow('Throttling');
    expect(sleeps).toEqual([500, 1000, 2000, 3000]);
  });

  it('does not retry other errors', async () => {
    const { call, sleeps } = gate();
    let calls = 0;
    await expect(
      call('ChangeResourceRecordSets', async () => {
        calls += 1;
        throw awsError('InvalidChangeBatch');
      }),
    ).rejects.toThrow('InvalidChangeBatch');
    expect(calls).toBe(1);
    expect(sleeps).toEqual([]);
  });
});
