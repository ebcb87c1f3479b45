import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from '@jest/globals';
import { timeoutSignal } from '../src/timeout-signal.ts';

describe('timeoutSignal', () => {
  it('aborts with a TimeoutError when the time is up', async () => {
    const call = timeoutSignal(5);
    await once(call.signal, 'abort');
    expect(call.timedOut).toBe(true);
    expect(call.signal.reason).toBeInstanceOf(DOMException);
    expect((call.signal.reason as DOMException).name).toBe('TimeoutError');
  });

  it("aborts with the caller's reason when the caller gives up first, and not as a timeout", async () => {
    const caller = new AbortController();
    const call = timeoutSignal(60_000, caller.signal);
    const reason = new Error('past its deadline');
    caller.abort(reason);
    expect(call.signal.aborted).toBe(true);
    expect(call.signal.reason).toBe(reason);
    expect(call.timedOut).toBe(false);
    call.clear();
  });

  it('is aborted from the start when the caller already gave up', () => {
    const call = timeoutSignal(60_000, AbortSignal.abort('gone'));
    expect(call.signal.reason).toBe('gone');
    call.clear();
  });

  it('once cleared, neither the time nor the caller aborts it', async () => {
    const caller = new AbortController();
    const call = timeoutSignal(5, caller.signal);
    call.clear();
    caller.abort();
    await sleep(50); // ten times its time: a live timer would have fired
    expect(call.signal.aborted).toBe(false);
    expect(call.timedOut).toBe(false);
  });

  it('takes its listener off the caller’s signal when cleared, so a long-lived caller holds none', () => {
    const caller = new AbortController();
    const added: unknown[] = [];
    const removed: unknown[] = [];
    const { addEventListener, removeEventListener } = caller.signal;
    caller.signal.addEventListener = ((type: string, listener: unknown, options?: unknown) => {
      added.push(listener);
      addEventListener.call(caller.signal, type, listener as never, options as never);
    }) as never;
    caller.signal.removeEventListener = ((type: string, listener: unknown) => {
      removed.push(listener);
      removeEventListener.call(caller.signal, type, listener as never);
    }) as never;
    for (let i = 0; i < 3; i++) timeoutSignal(60_000, caller.signal).clear();
    expect(added).toHaveLength(3);
    expect(removed).toEqual(added);
  });
});
