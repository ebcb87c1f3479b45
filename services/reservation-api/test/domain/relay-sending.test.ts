import { describe, expect, it } from '@jest/globals';
import {
  afterFailedSend,
  afterPass,
  classifyEntryFailure,
  describeFailure,
  isMessageRefusal,
  nextChunk,
  withoutAggregate,
} from '../../src/domain/relay-sending.ts';

const row = (id: string, aggregate: string) => ({ id, aggregate_type: 'reservation', aggregate_id: aggregate });

describe('nextChunk', () => {
  it('takes each aggregate’s first pending row only, in id order, up to the limit', () => {
    const pending = [row('1', 'a'), row('2', 'a'), row('3', 'b'), row('4', 'c'), row('5', 'b'), row('6', 'd')];
    expect(nextChunk(pending, 10).map((r) => r.id)).toEqual(['1', '3', '4', '6']);
    expect(nextChunk(pending, 2).map((r) => r.id)).toEqual(['1', '3']);
  });

  it('a later row of an aggregate comes in a later call, after the earlier one', () => {
    let pending = [row('1', 'a'), row('2', 'a'), row('3', 'a')];
    const calls: string[][] = [];
    while (pending.length > 0) {
      const chunk = nextChunk(pending, 10);
      calls.push(chunk.map((r) => r.id));
      pending = pending.filter((r) => !chunk.includes(r));
    }
    expect(calls).toEqual([['1'], ['2'], ['3']]);
  });

  it('tells a resource from a reservation with the same id', () => {
    const pending = [row('1', 'x'), { id: '2', aggregate_type: 'resource', aggregate_id: 'x' }];
    expect(nextChunk(pending, 10).map((r) => r.id)).toEqual(['1', '2']);
  });
});

describe('withoutAggregate', () => {
  it('drops every pending row of the failed row’s aggregate, keeps the others in order', () => {
    const pending = [row('2', 'a'), row('3', 'b'), row('4', 'a'), row('5', 'c')];
    expect(withoutAggregate(pending, row('1', 'a')).map((r) => r.id)).toEqual(['3', '5']);
  });
});

describe('classifyEntryFailure', () => {
  it.each([
    [{ Code: 'InvalidMessageContents', SenderFault: true }, 'permanent'],
    [{ Code: 'InvalidAttributeValue', Message: 'InvalidMessageContents', SenderFault: true }, 'permanent'],
    [{ Code: 'MessageTooLong', SenderFault: true }, 'permanent'],
    [{ Code: 'InvalidParameterValue', Message: 'MessageDeduplicationId can only include…', SenderFault: true }, 'permanent'],
    [{ Code: 'InternalError', SenderFault: false }, 'retry'],
    [{ Code: 'ThrottlingException', SenderFault: true }, 'retry'],
    [{ Code: 'InvalidMessageContents', SenderFault: false }, 'retry'],
    [{}, 'retry'],
  ] as const)('%j → %s', (failure, expected) => {
    expect(classifyEntryFailure(failure)).toBe(expected);
  });
});

describe('isMessageRefusal', () => {
  const sdkError = (name: string, fault: 'client' | 'server') => Object.assign(new Error(name), { name, $fault: fault });
  it('a call refused for what a message is', () => {
    expect(isMessageRefusal(sdkError('MessageTooLong', 'client'))).toBe(true);
    expect(isMessageRefusal(sdkError('BatchRequestTooLong', 'client'))).toBe(true);
    expect(
      isMessageRefusal(Object.assign(new Error('x'), { name: 'InvalidAttributeValue', Code: 'MessageTooLong', $fault: 'client' })),
    ).toBe(true);
  });
  it('not an outage, throttling, credentials or a timeout', () => {
    expect(isMessageRefusal(sdkError('InternalError', 'server'))).toBe(false);
    expect(isMessageRefusal(sdkError('ThrottlingException', 'client'))).toBe(false);
    expect(isMessageRefusal(sdkError('InvalidClientTokenId', 'client'))).toBe(false);
    expect(isMessageRefusal(sdkError('QueueDoesNotExist', 'client'))).toBe(false);
    expect(isMessageRefusal(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe(false);
    expect(isMessageRefusal(undefined)).toBe(false);
  });
});

describe('afterFailedSend', () => {
  it('a refusal parks at once; any other failure counts an attempt, and the last allowed one parks', () => {
    expect(afterFailedSend(0, true, 10)).toEqual({ attempts: 1, park: true });
    expect(afterFailedSend(0, false, 10)).toEqual({ attempts: 1, park: false });
    expect(afterFailedSend(8, false, 10)).toEqual({ attempts: 9, park: false });
    expect(afterFailedSend(9, false, 10)).toEqual({ attempts: 10, park: true });
    expect(afterFailedSend(0, false, 1)).toEqual({ attempts: 1, park: true });
  });
});

describe('describeFailure', () => {
  it('says the code and message, within the column’s 500 characters', () => {
    expect(describeFailure({ Code: 'InvalidParameterValue', Message: 'bad id' })).toBe('InvalidParameterValue: bad id');
    expect(describeFailure(Object.assign(new Error('too long'), { name: 'MessageTooLong' }))).toBe('MessageTooLong: too long');
    const long = describeFailure({ Code: 'X', Message: 'y'.repeat(1000) });
    expect(long).toHaveLength(500);
    expect(long.endsWith('...')).toBe(true);
  });
});

describe('afterPass (the relay’s backoff and its log lines)', () => {
  const opts = { baseMs: 100, maxMs: 1000 };
  it('a good pass on a healthy relay changes nothing and says nothing', () => {
    expect(afterPass({ failures: 0 }, true, 0, opts)).toEqual({ health: { failures: 0 }, delayMs: 0 });
  });

  it('the first failure is a change of state; the next ones are not; the first success after them is', () => {
    const first = afterPass({ failures: 0 }, false, 1000, opts, () => 0.5);
    expect(first).toEqual({ health: { failures: 1, since: 1000 }, delayMs: 50, transition: 'failing' });
    const second = afterPass(first.health, false, 2000, opts, () => 0.5);
    expect(second).toEqual({ health: { failures: 2, since: 1000 }, delayMs: 100 });
    expect(afterPass(second.health, true, 3000, opts)).toEqual({ health: { failures: 0 }, delayMs: 0, transition: 'recovered' });
  });

  it('the delay doubles per failure within the ceiling, is jittered, and never under a tenth of its step', () => {
    let health = { failures: 0 } as { failures: number; since?: number };
    const highs: number[] = [];
    const lows: number[] = [];
    for (let i = 0; i < 8; i++) {
      highs.push(afterPass(health, false, 0, opts, () => 0.999).delayMs);
      lows.push(afterPass(health, false, 0, opts, () => 0).delayMs);
      health = afterPass(health, false, 0, opts).health;
    }
    expect(highs).toEqual([99, 199, 399, 799, 1000, 1000, 1000, 1000]);
    expect(lows).toEqual([10, 20, 40, 80, 100, 100, 100, 100]);
  });
});
