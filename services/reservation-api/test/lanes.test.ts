import { describe, expect, it } from '@jest/globals';
import { createLanes } from '../src/infra/lanes.ts';

/** A call that runs until `finish()`; `started` says whether it began. */
function gate() {
  let finish: () => void = () => {};
  const call = { started: false, finish: () => finish() };
  const work = () =>
    new Promise<void>((resolve) => {
      call.started = true;
      finish = resolve;
    });
  return { call, work };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));
const lanes = (width: number, queueLimit = 10) => createLanes({ width, queueLimit, full: () => new Error('full') });

describe('lanes', () => {
  it('runs at most `width` calls of a key at once, the rest in the order they came', async () => {
    const l = lanes(2);
    const gates = Array.from({ length: 4 }, gate);
    const runs = gates.map((g) => l.run('a', g.work));
    await tick();
    expect(gates.map((g) => g.call.started)).toEqual([true, true, false, false]);
    expect(l.waiting).toBe(2);
    gates[1]?.call.finish();
    await tick();
    expect(gates.map((g) => g.call.started)).toEqual([true, true, true, false]);
    gates[0]?.call.finish();
    await tick();
    expect(gates.map((g) => g.call.started)).toEqual([true, true, true, true]);
    expect(l.waiting).toBe(0);
    for (const g of gates) g.call.finish();
    await Promise.all(runs);
  });

  it('keeps keys apart: a full lane does not delay another key', async () => {
    const l = lanes(1);
    const [a1, a2, b] = [gate(), gate(), gate()];
    const runs = [l.run('a', a1.work), l.run('a', a2.work), l.run('b', b.work)];
    await tick();
    expect([a1.call.started, a2.call.started, b.call.started]).toEqual([true, false, true]);
    for (const g of [a1, b, a2]) {
      g.call.finish();
      await tick();
    }
    await Promise.all(runs);
  });

  it('refuses at once past `queueLimit` waiting for one key, and frees the place of a call that failed', async () => {
    const l = lanes(1, 1);
    const [first, second] = [gate(), gate()];
    const runs = [l.run('a', first.work), l.run('a', second.work)];
    await expect(l.run('a', async () => 'never')).rejects.toThrow('full');
    expect(await l.run('b', async () => 'other key')).toBe('other key');
    first.call.finish();
    await tick();
    expect(second.call.started).toBe(true);
    second.call.finish();
    await Promise.all(runs);
    await expect(l.run('a', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await l.run('a', async () => 'after a failure')).toBe('after a failure');
    expect(l.waiting).toBe(0);
  });
});
